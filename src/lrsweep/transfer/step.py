"""``Step``, one scaling rule applied, and the rules that fit any axis: a power of the scale
ratio (an exponent) or the slope of a fitted ``Law``. The named rules of each axis build on
these (``batch``, ``depth_rule``, ``rules``)."""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Any

from ..errors import bad_arg


@dataclass(frozen=True)
class Step:
    """One rule applied: ``lr`` is multiplied by ``factor``; ``low_factor``/``high_factor``
    bound it (equal to ``factor`` for a closed rule). ``text`` explains it in one line;
    ``hyper`` holds other hyperparameters the rule changes (betas, eps)."""

    axis: str
    rule: str
    base: float
    target: float
    factor: float
    low_factor: float
    high_factor: float
    text: str
    hyper: dict[str, Any] = field(default_factory=dict)


def scale_ratio(axis: str, base: Any, target: Any) -> float:
    """``target / base``, both checked to be positive numbers."""
    for name, v in (("base", base), ("target", target)):
        if isinstance(v, bool) or not isinstance(v, (int, float)) or not math.isfinite(v) \
                or v <= 0:
            raise bad_arg(f"{name}[{axis!r}]", v, "a positive number",
                          f"Give the {axis} of the {name} as a positive number.")
    return float(target) / float(base)


def closed_step(axis: str, rule: str, base: float, target: float, factor: float, text: str,
                hyper: dict[str, Any] | None = None) -> Step:
    """A closed rule's step: no interval of its own."""
    return Step(axis, rule, float(base), float(target), factor, factor, factor, text,
                hyper or {})


def power_rule(axis: str, base: float, target: float, exponent: float,
               rule: str | None = None) -> Step:
    """LR x (target / base)^exponent."""
    k = scale_ratio(axis, base, target)
    f = k ** float(exponent)
    return closed_step(axis, rule or f"power {exponent:g}", base, target, f,
                       f"{axis} {base:g} -> {target:g}: lr x ({target:g}/{base:g})^"
                       f"{exponent:g} = x{f:.4g}")


def law_step(axis: str, base: float, target: float, law: Any) -> Step:
    """Use the slope of a fitted ``Law`` (and its interval) for one axis."""
    scale_ratio(axis, base, target)
    f, lo, hi = law.ratio(axis, base, target)
    b = law.exponent(axis)
    note = getattr(law, "note", "")
    return Step(axis, "fitted law", float(base), float(target), f, lo, hi,
                f"{axis} {base:g} -> {target:g}: fitted law lr* ~ {axis}^{b:.3g} "
                f"(from {law.n_points} sweeps): lr x {f:.4g} [{lo:.3g}, {hi:.3g}]"
                + (f"; {note}" if note else ""))


def custom_step(axis: str, base: float, target: float, rule: Any) -> Step:
    """Any axis: a fitted ``Law`` (anything with ``ratio`` and ``exponent``) or an exponent."""
    if hasattr(rule, "ratio") and hasattr(rule, "exponent"):
        return law_step(axis, base, target, rule)
    if isinstance(rule, (int, float)) and not isinstance(rule, bool) and math.isfinite(rule):
        return power_rule(axis, base, target, float(rule))
    raise bad_arg(f"rules[{axis!r}]", rule, "a rule name, an exponent or a fitted Law",
                  "See lrsweep.transfer.rules for the names.")

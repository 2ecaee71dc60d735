"""Scaling rules that carry an optimal LR from a proxy scale to a target scale, and
``transfer()``, which chains them and writes a plain-text account of each step.

Every rule is a pure function of (base value, target value) returning a ``Step``
(``lrsweep.transfer.step``): the LR factor, its interval, and one line of explanation. This
module holds the width and horizon rules and the dispatcher; each axis with more to say has
its own module, which imports only ``step`` and ``family``.

Batch size: ``lrsweep.transfer.batch`` (linear / sqrt / noise-scale / surge, the default
that saturates at the critical batch, each rule's calibrated error, and ``batch_law``).

Width ``N -> N'``: under muP (Yang et al. 2022, arXiv 2203.03466) the global LR is unchanged
and the per-layer multipliers come from ``mup_param_groups``; under standard parametrisation
no closed rule exists: pass a fitted ``Law`` (``fit_law(..., x="width")``) or an exponent.

Depth ``L -> L'`` (``lrsweep.transfer.depth_rules``) with residual branches multiplied by
``(L'/L)^-alpha``: the global LR is unchanged and the hidden blocks' LR is multiplied by
``(L'/L)^(alpha - 1)`` for Adam, ``(L'/L)^(2 alpha - 1)`` for SGD, through
``depth_param_groups`` (embeddings, readout and the final norm keep the global LR); the
step's ``hyper["block_lr_mult"]`` holds that factor. ``depth-mup`` is ``alpha = 1/2`` (Yang
et al. 2023, arXiv 2310.02244; Bordelon et al. 2023, arXiv 2309.16620), ``completep`` is
``alpha = 1`` (Dey et al. 2025, arXiv 2505.01618).

Horizon (training steps ``S -> S'``): the rules in print disagree (``S^-1/2``, ``D^-0.3``);
fit it from sweeps at two or three budgets (``fit_law(..., x="steps")``) or pass an exponent;
``inverse-sqrt`` names ``S^-1/2``.

Any axis also takes a number ``e`` (LR x ``(target / base)^e``) or a fitted ``Law``.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from ..errors import bad_arg
from ._inputs import Point, as_point
from .batch import batch_rule
from .depth_rules import DEPTH_RULES, depth_rule
from .family import optimizer_family
from .step import Step, closed_step, custom_step, law_step, power_rule, scale_ratio

AXES = ("batch", "width", "depth", "steps")
HORIZON_RULES = {"inverse-sqrt": -0.5}
PARAMETRIZATIONS = ("mup", "sp")

__all__ = ["AXES", "DEPTH_RULES", "HORIZON_RULES", "PARAMETRIZATIONS", "Step", "Transferred",
           "depth_rule", "horizon_rule", "law_step", "optimizer_family", "power_rule",
           "transfer", "width_rule"]


# --------------------------------------------------------------------------- width ----
def width_rule(base: float, target: float, parametrization: str = "mup", *,
               optimizer: Any = "adam") -> Step:
    """muP: the global LR transfers unchanged across width (the per-layer multipliers come
    from ``mup_param_groups``). Standard parametrisation has no closed rule."""
    scale_ratio("width", base, target)
    family = optimizer_family(optimizer)
    if parametrization == "mup":
        layer = ("hidden matrices x base/width, vectors and readout x 1" if family == "adam"
                 else "input weights and biases x width/base, readout x width/base, "
                      "hidden x 1")
        return closed_step("width", "mup", base, target, 1.0,
                       f"width {base:g} -> {target:g}: muP (Yang et al. 2022): global lr "
                       f"unchanged, given per-layer multipliers from mup_param_groups("
                       f"base_width={base:g}) ({layer}) and readout x base/width")
    if parametrization == "sp":
        raise bad_arg("rules['width']", None,
                      "a fitted Law or an exponent under standard parametrisation",
                      "SP has no closed width rule: fit one from sweeps at three or more small "
                      "widths (fit_law(results, x='width')) and pass rules={'width': law}, or "
                      "parametrise the model with muP (parametrization='mup'). CLI: "
                      "--width-exponent E, with E from `lrsweep fit`.")
    raise bad_arg("parametrization", parametrization, f"one of {PARAMETRIZATIONS}",
                  "Pass parametrization='mup' or 'sp'.")


# -------------------------------------------------------------------------- horizon ---
def horizon_rule(base: float, target: float, rule: Any) -> Step:
    """LR factor for a change in training steps: a named rule, an exponent, or a Law."""
    if isinstance(rule, str):
        if rule not in HORIZON_RULES:
            raise bad_arg("rules['steps']", rule, f"one of {tuple(HORIZON_RULES)}, an exponent "
                          "or a Law", "Fit a law from sweeps at 2-3 budgets "
                          "(fit_law(results, x='steps')) or pass an exponent such as -0.3.")
        return power_rule("steps", base, target, HORIZON_RULES[rule], rule)
    return custom_step("steps", base, target, rule)


# ------------------------------------------------------------------------- transfer ---
@dataclass(frozen=True)
class Transferred:
    """The LR at the target scale, its interval, and the account of each rule applied.

    The interval carries the measured optimum's own uncertainty, that of any fitted law and
    each batch rule's calibrated error (combined in log space, in quadrature); width and
    depth rules add none of their own, which is why ``confirm()`` exists."""

    lr: float
    low: float
    high: float
    steps: tuple[str, ...]
    factor: float
    rules: tuple[Step, ...]
    base_lr: float
    hyper: dict[str, Any] = field(default_factory=dict)
    level: float = 0.9
    base_low: float | None = None
    base_high: float | None = None

    @property
    def block_lr(self) -> float | None:
        """The hidden blocks' LR after a depth change (``lr x block_lr_mult``), else None."""
        m = self.hyper.get("block_lr_mult")
        return None if m is None else self.lr * m

    def __str__(self) -> str:
        import textwrap

        lines = [f"base lr {self.base_lr:.4g}"]
        for i, s in enumerate(self.steps):
            lines += textwrap.wrap(s, 96, initial_indent=f"  {i + 1}. ",
                                   subsequent_indent="     ", break_on_hyphens=False)
        if self.high <= self.low:
            interval = "(interval unknown: the base LR came without one)"
        elif self.base_low == self.base_lr == self.base_high:
            interval = (f"[{self.low:.4g}, {self.high:.4g}] ({self.level:.0%}; the rules' error "
                        "only: the base LR came without an interval)")
        else:
            interval = f"[{self.low:.4g}, {self.high:.4g}] ({self.level:.0%})"
        lines.append(f"=> lr {self.lr:.4g}  {interval}  (x{self.factor:.4g} overall)")
        for k, v in self.hyper.items():
            if k == "block_lr_mult":
                lines.append(f"   hidden blocks: lr x {v:.4g} = {self.lr * v:.4g} "
                             "(depth_param_groups)")
                continue
            shown = tuple(round(x, 6) for x in v) if isinstance(v, tuple) else f"{v:.4g}"
            lines.append(f"   also set {k} = {shown}")
        return "\n".join(lines)


def transfer(optimum: Any, base: Mapping[str, float], target: Mapping[str, float],
             rules: Mapping[str, Any] | None = None, *, optimizer: Any = "adam",
             parametrization: str = "mup", b_noise: float | None = None,
             adjust_betas: bool = False, betas: tuple[float, float] = (0.9, 0.999),
             eps: float = 1e-8) -> Transferred:
    """Carry ``optimum`` (an Optimum, SweepResult, SearchResult, (lr, low, high) or an LR)
    measured at ``base`` scale to ``target`` scale.

    ``base`` and ``target`` map axes (``batch``, ``width``, ``depth``, ``steps``) to values;
    an axis in only one of them is an error, an axis with equal values is skipped.
    ``rules`` overrides the default rule per axis: batch ``noise_scale`` when ``b_noise`` is
    given, else ``sqrt`` (Adam) or ``linear`` (SGD), each with its calibrated error
    (``lrsweep.transfer.batch``), or a Law from ``batch_law``; width ``mup`` (or a Law under
    ``parametrization="sp"``); depth ``depth-mup``; steps has no default (a Law, an exponent
    or ``inverse-sqrt``).

    >>> t = transfer(1e-3, base={"batch": 64}, target={"batch": 1024})
    >>> round(t.lr, 6)
    0.004
    """
    point = as_point(optimum)
    base, target = dict(base or {}), dict(target or {})
    rules = dict(rules or {})
    for name, d in (("base", base), ("target", target), ("rules", rules)):
        unknown = sorted(set(d) - set(AXES))
        if unknown:
            raise bad_arg(name, unknown, f"axes among {AXES}",
                          "Name the scales batch=, width=, depth= or steps=.")
    if set(base) != set(target):
        raise bad_arg("target", sorted(target), f"the same axes as base ({sorted(base)})",
                      "Give every axis both its base value and its target value.")
    optimizer_family(optimizer)  # fail early on an unknown optimizer
    steps: list[Step] = []
    for axis in AXES:
        if axis not in base or float(base[axis]) == float(target[axis]):
            continue
        b, t, rule = base[axis], target[axis], rules.get(axis)
        if axis == "batch":
            step = (batch_rule(b, t, rule, optimizer=optimizer, b_noise=b_noise,
                               adjust_betas=adjust_betas, betas=betas, eps=eps,
                               level=point.level)
                    if rule is None or isinstance(rule, str) else custom_step(axis, b, t, rule))
        elif axis == "width":
            step = (width_rule(b, t, rule or parametrization, optimizer=optimizer)
                    if rule is None or isinstance(rule, str) else custom_step(axis, b, t, rule))
        elif axis == "depth":
            step = (depth_rule(b, t, rule or "depth-mup", optimizer=optimizer)
                    if rule is None or isinstance(rule, str) else custom_step(axis, b, t, rule))
        else:
            if rule is None:
                raise bad_arg("rules['steps']", None, "a horizon rule for a change of steps",
                              "The published horizon rules disagree: fit a law from sweeps "
                              "at 2-3 budgets (fit_law(results, x='steps')) and pass "
                              "rules={'steps': law}, or an exponent such as -0.3, or "
                              "'inverse-sqrt'.")
            step = horizon_rule(b, t, rule)
        steps.append(step)
    return _combine(point, steps)


def _combine(point: Point, steps: list[Step]) -> Transferred:
    factor = math.prod(s.factor for s in steps) if steps else 1.0
    lr = point.lr * factor
    down = [math.log(point.lr / point.low)] + [math.log(s.factor / s.low_factor) for s in steps]
    up = [math.log(point.high / point.lr)] + [math.log(s.high_factor / s.factor) for s in steps]
    low = lr * math.exp(-math.sqrt(sum(d * d for d in down)))
    high = lr * math.exp(math.sqrt(sum(u * u for u in up)))
    hyper: dict[str, Any] = {}
    for s in steps:
        hyper.update(s.hyper)
    texts = tuple(s.text for s in steps) or ("no scale changed: lr unchanged",)
    return Transferred(lr, low, high, texts, factor, tuple(steps), point.lr, hyper, point.level,
                       point.low, point.high)



"""Scaling rules that carry an optimal LR from a proxy scale to a target scale, and
``transfer()``, which chains them and writes a plain-text account of each step.

Every rule is a pure function of (base value, target value) returning a ``Step``: the LR
factor, its interval (non-trivial only for a fitted law), and one line of explanation.

Batch size: ``lrsweep.transfer.batch`` (linear / sqrt / noise-scale / surge, the default
that saturates at the critical batch, each rule's calibrated error, and ``batch_law``).

Width ``N -> N'``: under muP (Yang et al. 2022, arXiv 2203.03466) the global LR is unchanged
and the per-layer multipliers come from ``mup_param_groups``; under standard parametrisation
no closed rule exists: pass a fitted ``Law`` (``fit_law(..., x="width")``) or an exponent.

Depth ``L -> L'`` with residual branches multiplied by ``(L'/L)^-alpha``: the global LR is
unchanged and the hidden blocks' LR is multiplied by ``(L'/L)^(alpha - 1)`` for Adam,
``(L'/L)^(2 alpha - 1)`` for SGD, through ``depth_param_groups`` (embeddings, readout and the
final norm keep the global LR); the step's ``hyper["block_lr_mult"]`` holds that factor.
``depth-mup`` is ``alpha = 1/2`` (Yang et al. 2023, arXiv 2310.02244; Bordelon et al. 2023,
arXiv 2309.16620), ``completep`` is ``alpha = 1`` (Dey et al. 2025, arXiv 2505.01618).

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

AXES = ("batch", "width", "depth", "steps")
DEPTH_RULES = {"depth-mup": 0.5, "completep": 1.0}
HORIZON_RULES = {"inverse-sqrt": -0.5}
PARAMETRIZATIONS = ("mup", "sp")

_SGD_LIKE = ("sgd", "momentum", "nesterov", "asgd")
_ADAM_LIKE = ("adam", "adamw", "adamax", "nadam", "radam", "rmsprop", "adagrad", "adafactor",
              "lamb", "lion", "sparseadam", "adadelta")


def optimizer_family(optimizer: Any) -> str:
    """``"sgd"`` or ``"adam"`` for an optimizer name, class or instance.

    >>> optimizer_family("AdamW"), optimizer_family("sgd")
    ('adam', 'sgd')
    """
    name = optimizer if isinstance(optimizer, str) else getattr(
        optimizer, "__name__", type(optimizer).__name__)
    key = str(name).lower().replace("_", "").replace("-", "")
    if key in _SGD_LIKE:
        return "sgd"
    if key in _ADAM_LIKE:
        return "adam"
    raise bad_arg("optimizer", name, "an SGD-like ('sgd') or Adam-like ('adam', 'adamw') "
                  "optimizer", "Say which family your optimizer belongs to: "
                  "optimizer='sgd' or optimizer='adam'.")


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


def _ratio(axis: str, base: Any, target: Any) -> float:
    for name, v in (("base", base), ("target", target)):
        if isinstance(v, bool) or not isinstance(v, (int, float)) or not math.isfinite(v) \
                or v <= 0:
            raise bad_arg(f"{name}[{axis!r}]", v, "a positive number",
                          f"Give the {axis} of the {name} as a positive number.")
    return float(target) / float(base)


def _closed(axis: str, rule: str, base: float, target: float, factor: float, text: str,
            hyper: dict[str, Any] | None = None) -> Step:
    return Step(axis, rule, float(base), float(target), factor, factor, factor, text,
                hyper or {})


def power_rule(axis: str, base: float, target: float, exponent: float,
               rule: str | None = None) -> Step:
    """LR x (target / base)^exponent."""
    k = _ratio(axis, base, target)
    f = k ** float(exponent)
    return _closed(axis, rule or f"power {exponent:g}", base, target, f,
                   f"{axis} {base:g} -> {target:g}: lr x ({target:g}/{base:g})^{exponent:g} "
                   f"= x{f:.4g}")


# --------------------------------------------------------------------------- batch ----
def malladi_adjust(k: float, betas: tuple[float, float], eps: float) -> tuple[dict, str]:
    """Malladi et al. (2022) SDE scaling of Adam's other hyperparameters for batch x ``k``:
    ``1 - beta -> k (1 - beta)`` and ``eps -> eps / sqrt(k)``. Where ``k (1 - beta) >= 1``
    the linear form breaks; ``beta^k`` (same half-life in samples) is used instead."""
    out, parts = [], []
    for i, b in enumerate(betas):
        nb = 1 - k * (1 - b)
        if not 0 < nb < 1:
            nb = b**k
            parts.append(f"beta{i + 1} {b:g} -> {nb:.6g} (beta^k; 1 - k(1 - beta) left (0, 1))")
        else:
            parts.append(f"beta{i + 1} {b:g} -> {nb:.6g}")
        out.append(nb)
    new_eps = eps / math.sqrt(k)
    parts.append(f"eps {eps:g} -> {new_eps:.4g}")
    return {"betas": (out[0], out[1]), "eps": new_eps}, ", ".join(parts)


# --------------------------------------------------------------------------- width ----
def width_rule(base: float, target: float, parametrization: str = "mup", *,
               optimizer: Any = "adam") -> Step:
    """muP: the global LR transfers unchanged across width (the per-layer multipliers come
    from ``mup_param_groups``). Standard parametrisation has no closed rule."""
    _ratio("width", base, target)
    family = optimizer_family(optimizer)
    if parametrization == "mup":
        layer = ("hidden matrices x base/width, vectors and readout x 1" if family == "adam"
                 else "input weights and biases x width/base, readout x width/base, "
                      "hidden x 1")
        return _closed("width", "mup", base, target, 1.0,
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


# --------------------------------------------------------------------------- depth ----
def depth_rule(base: float, target: float, rule: str = "depth-mup", *,
               optimizer: Any = "adam") -> Step:
    """A depth change when each residual branch is multiplied by ``(L'/L)^-alpha``: the
    global LR is unchanged (factor 1); the hidden blocks' LR is multiplied by
    ``(L'/L)^(alpha - 1)`` (Adam) or ``(L'/L)^(2 alpha - 1)`` (SGD), in
    ``hyper["block_lr_mult"]``, which ``depth_param_groups`` applies to the blocks only.

    >>> step = depth_rule(4, 16)
    >>> step.factor, round(step.hyper["block_lr_mult"], 6)
    (1.0, 0.5)
    """
    from .depth import block_lr_multiplier

    if rule not in DEPTH_RULES:
        raise bad_arg("rules['depth']", rule, f"one of {tuple(DEPTH_RULES)}, an exponent or a "
                      "Law", "Use 'depth-mup' (branch x depth^-1/2) or 'completep' "
                      "(branch x 1/depth).")
    k = _ratio("depth", base, target)
    alpha = DEPTH_RULES[rule]
    f = block_lr_multiplier(base, target, rule, optimizer)
    e = math.log(f) / math.log(k) if k != 1 else 0.0
    who = "Depth-muP (Yang et al. 2023)" if rule == "depth-mup" else "CompleteP (Dey et al. 2025)"
    return _closed("depth", rule, base, target, 1.0,
                   f"depth {base:g} -> {target:g}: {who}: global lr unchanged; hidden "
                   f"blocks' lr x ({target:g}/{base:g})^{e:.3g} = x{f:.4g} via "
                   f"depth_param_groups(model, base_depth={base:g}, rule={rule!r}) "
                   f"(embeddings, readout, final norm x1); the model must multiply each "
                   f"residual branch by ({target:g}/{base:g})^-{alpha:g}",
                   {"block_lr_mult": f})


# -------------------------------------------------------------------------- horizon ---
def horizon_rule(base: float, target: float, rule: Any) -> Step:
    """LR factor for a change in training steps: a named rule, an exponent, or a Law."""
    if isinstance(rule, str):
        if rule not in HORIZON_RULES:
            raise bad_arg("rules['steps']", rule, f"one of {tuple(HORIZON_RULES)}, an exponent "
                          "or a Law", "Fit a law from sweeps at 2-3 budgets "
                          "(fit_law(results, x='steps')) or pass an exponent such as -0.3.")
        return power_rule("steps", base, target, HORIZON_RULES[rule], rule)
    return _custom("steps", base, target, rule)


def law_step(axis: str, base: float, target: float, law: Any) -> Step:
    """Use the slope of a fitted ``Law`` (and its interval) for one axis."""
    _ratio(axis, base, target)
    f, lo, hi = law.ratio(axis, base, target)
    b = law.exponent(axis)
    note = getattr(law, "note", "")
    return Step(axis, "fitted law", float(base), float(target), f, lo, hi,
                f"{axis} {base:g} -> {target:g}: fitted law lr* ~ {axis}^{b:.3g} "
                f"(from {law.n_points} sweeps): lr x {f:.4g} [{lo:.3g}, {hi:.3g}]"
                + (f"; {note}" if note else ""))


def _custom(axis: str, base: float, target: float, rule: Any) -> Step:
    if hasattr(rule, "ratio") and hasattr(rule, "exponent"):
        return law_step(axis, base, target, rule)
    if isinstance(rule, (int, float)) and not isinstance(rule, bool) and math.isfinite(rule):
        return power_rule(axis, base, target, float(rule))
    raise bad_arg(f"rules[{axis!r}]", rule, "a rule name, an exponent or a fitted Law",
                  "See lrsweep.transfer.rules for the names.")


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
    from .batch import batch_rule

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
                    if rule is None or isinstance(rule, str) else _custom(axis, b, t, rule))
        elif axis == "width":
            step = (width_rule(b, t, rule or parametrization, optimizer=optimizer)
                    if rule is None or isinstance(rule, str) else _custom(axis, b, t, rule))
        elif axis == "depth":
            step = (depth_rule(b, t, rule or "depth-mup", optimizer=optimizer)
                    if rule is None or isinstance(rule, str) else _custom(axis, b, t, rule))
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



"""Batch-size rules with their own error, and ``batch_law`` (LR vs batch fitted from the
user's own sweeps).

Rules for ``B -> B'`` (``k = B'/B``):

- ``linear`` (SGD; Goyal et al. 2017, arXiv 1706.02677): ``lr x k``; breaks above the
  critical batch.
- ``sqrt`` (Adam family; Malladi et al. 2022, arXiv 2205.10287): ``lr x sqrt(k)``; optionally
  ``1 - beta -> k (1 - beta)``, ``eps -> eps / sqrt(k)``. Valid well below ``B_noise``.
- ``noise_scale`` (McCandlish et al. 2018, arXiv 1812.06162): ``lr_opt(B) = lr_max / (1 +
  B_noise / B)`` for SGD; for Adam the square root of that ratio: the ``sqrt`` rule far below
  ``B_noise``, saturating above it.
- ``surge`` (Adam; Li et al. 2024, arXiv 2405.14578): the optimum peaks at ``B_noise`` and
  falls beyond it.

The default: with ``B_noise`` known (``b_noise=``, measured by ``estimate_noise_scale``) the
``noise_scale`` rule, which saturates at the critical batch; without it ``linear`` (SGD) or
``sqrt`` (Adam), with a note that they are unchecked above the critical batch and the call
that measures it.

**Each rule's own error.** A rule is not exact: on real LR x batch grids the measured optimum
lands off the rule's prediction by an amount that grows with the size of the change. Each
rule carries a standard deviation in log2-LR of ``RULE_ERROR[rule, family] x |log2 k|``,
calibrated so that the transferred 90% interval (the base optimum's own interval and this,
in quadrature) holds the measured optimum 90% of the time on the Step Law MoE grid and the
built-in tasks' grids (``benchmarks/transfer_real.py``: the constants are refitted there,
and their coverage is judged leaving each configuration out of the calibration).
"""

from __future__ import annotations

import math
from typing import Any

from ..errors import bad_arg
from ._inputs import DEFAULT_LEVEL, normal_quantile
from .family import optimizer_family
from .laws import Law, fit_law
from .step import Step, scale_ratio

BATCH_RULES = ("linear", "sqrt", "noise_scale", "surge")

#: (rule, optimizer family) -> sd of the rule's error in log2-LR per octave of batch change.
#: Fitted by ``benchmarks/transfer_real.py --calibrate`` on the Step Law MoE grid (Adam) and
#: the built-in grids (teacher-mlp Adam and SGD, digits-mlp Adam, stdlib-gpt AdamW), each grid
#: weighted equally; see benchmarks/RESULTS.md ("batch transfer on real grids").
RULE_ERROR: dict[tuple[str, str], float] = {
    ("sqrt", "adam"): 0.20,
    ("noise_scale", "adam"): 0.22,
    ("surge", "adam"): 0.36,
    ("linear", "adam"): 0.42,
    # SGD: one grid only (teacher-mlp, SGD + momentum), where the base intervals alone held
    # the linear rule's errors (fit: c = 0); the Adam counterparts stand in until more grids
    ("linear", "sgd"): 0.20,
    ("noise_scale", "sgd"): 0.22,
    ("sqrt", "sgd"): 0.35,
    ("surge", "sgd"): 0.53,
}

MEASURE_HINT = ("measure it with lrsweep.transfer.estimate_noise_scale(task, lr=<base lr>, "
                "train_steps=<about half the run>) and pass b_noise= (CLI: --b-noise)")


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


def rule_error(rule: str, family: str, base: float, target: float) -> float:
    """Standard deviation (log2 LR) of ``rule``'s error for ``base -> target``."""
    c = RULE_ERROR.get((rule, family))
    if c is None:
        raise bad_arg("rule", rule, f"one of {BATCH_RULES}", "See lrsweep.transfer.batch.")
    return c * abs(math.log2(float(target) / float(base)))


def batch_rule(base: float, target: float, rule: str | None = None, *,
               optimizer: Any = "adam", b_noise: float | None = None,
               adjust_betas: bool = False, betas: tuple[float, float] = (0.9, 0.999),
               eps: float = 1e-8, level: float = DEFAULT_LEVEL) -> Step:
    """The LR factor for a batch size change ``base -> target``, with the interval of the
    rule's own error at ``level``. ``rule=None``: the default (see the module).

    >>> batch_rule(64, 1024, "sqrt").factor
    4.0
    >>> batch_rule(64, 1024, "linear", optimizer="sgd").factor
    16.0
    >>> round(batch_rule(64, 1024, b_noise=256).factor, 3)   # saturates above B_noise
    2.0
    """
    k = scale_ratio("batch", base, target)
    family = optimizer_family(optimizer)
    if b_noise is not None:
        if isinstance(b_noise, bool) or not isinstance(b_noise, (int, float)) \
                or not math.isfinite(b_noise) or b_noise <= 0:
            raise bad_arg("b_noise", b_noise, "a positive gradient noise scale (samples)",
                          "Measure it with lrsweep.transfer.estimate_noise_scale(task); a "
                          "measurement that came out inf means the gradient is all noise "
                          "there: train longer before measuring.")
        b_noise = float(b_noise)
    why = ""
    if rule is None:
        if b_noise is not None:
            rule, why = "noise_scale", "the default when B_noise is known"
        else:
            rule = "linear" if family == "sgd" else "sqrt"
            why = f"the default for {'SGD' if family == 'sgd' else 'Adam-family optimizers'}"
    if rule not in BATCH_RULES:
        raise bad_arg("rules['batch']", rule, f"one of {BATCH_RULES}, an exponent or a Law",
                      "Use 'sqrt' for Adam, 'linear' for SGD, or 'noise_scale' with b_noise=.")
    if rule in ("noise_scale", "surge") and b_noise is None:
        raise bad_arg("b_noise", None, f"the gradient noise scale for rule={rule!r}",
                      "Measure it with lrsweep.transfer.estimate_noise_scale(task) and pass "
                      "b_noise=.")
    if not 0 < level < 1:
        raise bad_arg("level", level, "a coverage in (0, 1)", "Pass e.g. level=0.9.")
    head = f"batch {base:g} -> {target:g} (x{k:.4g})"
    hyper: dict[str, Any] = {}
    if rule == "linear":
        f = k
        text = f"linear rule (Goyal et al. 2017): lr x {k:.4g}; keep a warmup"
        if family == "adam":
            text += "; the linear rule is meant for SGD (Adam-family: 'sqrt')"
    elif rule == "sqrt":
        f = math.sqrt(k)
        text = f"square-root rule (Malladi et al. 2022): lr x sqrt({k:.4g}) = x{f:.4g}"
        if adjust_betas:
            hyper, note = malladi_adjust(k, betas, eps)
            text += "; " + note
        if family == "sgd":
            text += "; the sqrt rule is meant for Adam-family optimizers (SGD: 'linear')"
    elif rule == "surge":
        def g(b: float) -> float:
            return 0.5 * (math.sqrt(b_noise / b) + math.sqrt(b / b_noise))  # type: ignore

        f = g(base) / g(target)
        text = (f"surge rule (Li et al. 2024) with B_noise={b_noise:.4g}: lr x {f:.4g} (the "
                "optimum peaks at B = B_noise)")
    else:
        sgd_ratio = (1 + b_noise / base) / (1 + b_noise / target)  # type: ignore[operator]
        f = sgd_ratio if family == "sgd" else math.sqrt(sgd_ratio)
        how = "" if family == "sgd" else " (square root of the SGD ratio for Adam)"
        text = (f"noise-scale rule (McCandlish et al. 2018) with B_noise={b_noise:.4g}: lr x "
                f"(1 + B_noise/{base:g}) / (1 + B_noise/{target:g}){how} = x{f:.4g}")
    if why:
        text += f" [{why}]"
    text += "; " + _where(rule, family, base, target, b_noise)
    sd = rule_error(rule, family, base, target) * math.log(2)
    half = normal_quantile((1 + level) / 2) * sd
    text += (f"; the rule's own error: x{math.exp(-half):.3g}..x{math.exp(half):.3g} at "
             f"{level:.0%} (calibrated on real LR x batch grids)")
    return Step("batch", rule, float(base), float(target), f, f * math.exp(-half),
                f * math.exp(half), head + ": " + text, hyper)


def _where(rule: str, family: str, base: float, target: float, b_noise: float | None) -> str:
    """Where the rule stops holding, for this change."""
    if b_noise is None:
        if rule in ("sqrt", "linear"):
            return ("holds below the critical batch B_noise, unchecked here (above it the "
                    "optimum stops growing and this rule overshoots): " + MEASURE_HINT)
        return ""
    hi, lo = max(base, target), min(base, target)
    if rule in ("sqrt", "linear"):
        if hi > b_noise:
            return (f"{hi:g} is above B_noise={b_noise:.4g}, where this rule overshoots: use "
                    "the noise-scale rule (the default with b_noise=)")
        return f"both batches are below B_noise={b_noise:.4g}, where it holds"
    if lo >= b_noise:
        return (f"both batches are above B_noise={b_noise:.4g}: the LR stops growing; "
                "measured gains shrink")
    if hi > b_noise:
        return (f"{hi:g} is above B_noise={b_noise:.4g}: the LR stops growing there; "
                "measured gains shrink")
    return f"both batches are below B_noise={b_noise:.4g}"


# ------------------------------------------------------------------------- batch law ---
#: scatter (ln LR) of per-batch optima about a power law in batch, and the degrees of freedom
#: it is worth as a prior for ``batch_law``: measured on the grids of
#: ``benchmarks/transfer_real.py`` (RESULTS.md, "batch transfer on real grids").
BATCH_LAW_PRIOR = (0.155, 4.0)


def batch_law(results: Any, batches: Any = None, *, level: float = DEFAULT_LEVEL,
              b_noise: float | None = None) -> Law:
    """Fit ``lr* = c * batch^b`` from the user's own sweeps at two or more batch sizes.

    Args:
        results: as for ``fit_law`` (``{batch: optimum}``, ``(batch, optimum)`` pairs, or
            sweeps whose batch size is recorded: ``protocol['train_data']['batch_size']``).
        batches: the batch size of each result, when they do not record it.
        b_noise: the critical batch, if known: the law is then said to stop holding above it.

    The interval is the law's (``fit_law``): the scatter of the optima about it, pooled with a
    prior scatter measured on real grids (``BATCH_LAW_PRIOR``), so that two sweeps suffice.
    Pass the result as ``transfer(..., rules={"batch": law})`` or call ``law.predict(B)``.
    """
    if batches is None and not isinstance(results, dict):
        seq = list(results)
        if seq and not all(isinstance(r, tuple) and len(r) == 2 for r in seq):
            batches = [_recorded_batch(r, i) for i, r in enumerate(seq)]
        results = seq
    law = fit_law(results, x="batch", values=batches, level=level, min_points=2,
                  prior=BATCH_LAW_PRIOR)
    lo, hi = float(law.scales.min()), float(law.scales.max())
    note = (f"fitted on your sweeps at batch {lo:g}..{hi:g}: it holds between them; beyond, "
            "the interval grows with the distance (a power law may bend at the critical "
            "batch)")
    if b_noise is not None and positive_number(b_noise):
        note += (f"; above B_noise={float(b_noise):.4g} the LR stops growing and this law "
                 "overshoots" if hi <= b_noise else
                 f"; your sweeps reach past B_noise={float(b_noise):.4g}")
    law.note = note
    return law


def positive_number(v: Any) -> bool:
    return isinstance(v, (int, float)) and not isinstance(v, bool) and math.isfinite(v) \
        and v > 0


def _recorded_batch(result: Any, i: int) -> float:
    proto = getattr(result, "protocol", None) or {}
    train = proto.get("train_data") if isinstance(proto, dict) else None
    b = train.get("batch_size") if isinstance(train, dict) else None
    if b is None and isinstance(proto, dict):
        b = proto.get("batch_size") or proto.get("batch")
    if not positive_number(b):
        raise bad_arg(f"results[{i}]", type(result).__name__, "a sweep that records its "
                      "batch size", "Pass batches=[...] with one batch size per sweep.")
    return float(b)

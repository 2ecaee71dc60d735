"""What the report says, as plain data (no HTML, no matplotlib): the answer, what its
interval means, whether the search converged, and what to do next. Tested on its own; the
page (``lrsweep.report.page``) only lays it out.

Everything is read from the ``Optimum`` by name, with a fallback for fields an older or
newer ``Optimum`` lacks, and the fields the answer does not use are listed as they are
(``extra``), so that a field added to the estimate shows in the report without a change
here.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from ..plot.fmt import fmt_lr, fmt_metric
from .next_steps import NextStep, Recipe, next_steps

__all__ = ["Answer", "Recipe", "NextStep", "answer"]

# fields of Optimum.to_dict() the answer shows in its own words (the rest go to ``extra``)
SHOWN = {"lr", "low", "high", "metric", "band", "at_low_edge", "at_high_edge",
         "diverged_above", "n_seeds", "level", "direction", "band_tol", "note", "basis",
         "converged", "stopped", "metric_name", "metric_fitted", "measured"}


@dataclass(frozen=True)
class Answer:
    found: bool
    lr: str
    interval: str                    # "5.79e-3 - 9.66e-3", open ends spelled out
    ratio: str                       # "a factor of 1.67", "" when open or unknown
    meaning: str                     # what the interval covers (seeds or one seed)
    status: str                      # converged | not-converged | single-sweep | none
    status_text: str                 # the chip: "converged", "not converged", ...
    status_detail: str
    facts: list[tuple[str, str]]     # label, value: band, predicted metric, best trial...
    warnings: list[str]
    next: list[NextStep]
    extra: list[tuple[str, Any]] = field(default_factory=list)
    interval_name: str = "interval"


def _get(opt: Any, name: str, default: Any = None) -> Any:
    return getattr(opt, name, default)


def interval_text(opt: Any) -> tuple[str, str]:
    """The interval as text, and its width as a factor ("" when an end is open)."""
    low, high = _get(opt, "low"), _get(opt, "high")
    lo_s = fmt_lr(low) if low is not None else "open (below the range)"
    hi_s = fmt_lr(high) if high is not None else "open (above the range)"
    ratio = ""
    if low and high and low > 0:
        ratio = f"a factor of {high / low:.2f} wide"
    return f"{lo_s} – {hi_s}", ratio


def _one_seed(opt: Any) -> bool:
    basis = _get(opt, "basis")
    if basis in ("seeds", "one-seed"):
        return basis == "one-seed"
    return int(_get(opt, "n_seeds", 1) or 1) < 2  # an estimate that does not say


def interval_name(opt: Any) -> str:
    """"90% interval" over seeds; one seed's interval has no confidence level."""
    return "interval, one seed" if _one_seed(opt) else \
        f"{_get(opt, 'level', 0.9):.0%} interval"


def meaning(opt: Any) -> str:
    """What the interval covers, in words, from ``opt.basis`` (or the number of seeds)."""
    n = int(_get(opt, "n_seeds", 1) or 1)
    if _one_seed(opt):
        text = ("One seed: the interval says only how precisely this seed's curve places its "
                "own optimum, and carries no confidence level. Another data order moves the "
                "optimum sideways, often by a few tenths of an octave; one seed cannot say by "
                "how much. Run 3 seeds for an interval that covers that.")
    else:
        text = (f"Over {n} seeds: a {_get(opt, 'level', 0.9):.0%} interval for the optimum "
                "of the seed-mean curve, the LR that is best on average over data orders (the "
                "spread of the seeds' optima, with the grid's resolution).")
    if _get(opt, "method") == "grid":
        text += (" No curvature could be fitted near the best point: the interval is the "
                 "best point's grid neighbours.")
    if _get(opt, "at_low_edge") or _get(opt, "low", 0) is None:
        text += " It is open at the low end: the best LR is the lowest one tried."
    if _get(opt, "at_high_edge") or _get(opt, "high", 0) is None:
        text += " It is open at the high end: the best LR is the highest one tried."
    return text


def _status(opt: Any, search: dict[str, Any] | None) -> tuple[str, str, str]:
    """(state, chip text, detail): converged | not-converged | single-sweep | none."""
    if not _get(opt, "found", _get(opt, "lr") is not None):
        return "none", "no optimum", ""
    conv = _get(opt, "converged")
    stopped = str(_get(opt, "stopped", "") or (search or {}).get("stopped", "") or "")
    if search is None and conv is None:
        return "single-sweep", "one sweep, not refined by a search", ""
    ok = stopped.startswith("converged") if conv is None else bool(conv)
    rounds = (search or {}).get("n_rounds")
    after = f" after {rounds} rounds" if rounds else ""
    detail = f"The search stopped{after}: {stopped}." if stopped else ""
    if ok:
        flat = stopped.startswith("converged, flat") or str(
            getattr((search or {}).get("stop_reason"), "value",
                    (search or {}).get("stop_reason"))) == "flat"
        return "converged", "converged, flat top" if flat else "converged", detail
    chip = "noise-limited, not converged" if stopped.startswith("noise-limited") else \
        "not converged"
    return "not-converged", chip, detail


def answer(opt: Any, *, metric_name: str = "metric", lr_range: tuple[float, float] | None = None,
           search: dict[str, Any] | None = None, n_failed: int = 0,
           best: Any = None, recipe: Recipe | None = None, batch_size: int | None = None,
           optimizer: str | None = None, n_lrs: int | None = None,
           saturated: str = "") -> Answer:
    """The answer section's content for ``opt`` (an ``Optimum``).

    ``lr_range``: the lowest and highest LR tried; ``search``: ``stopped``, ``n_rounds`` of a
    ``SearchResult`` (None for a plain sweep); ``best``: the best measured LR (a
    ``lrsweep.results.sweep_result.Best``, or an (lr, metric) pair); ``recipe``: how to run more trials into
    the study (``lrsweep.report.next_steps.Recipe``), so that each next step runs as printed;
    ``batch_size``/``optimizer``: the study's, for the transfer step; ``saturated``: a warning
    that the metric is saturated at the best LRs (``SweepResult.saturated``).
    """
    found = bool(_get(opt, "found", _get(opt, "lr") is not None))
    status, status_text, status_detail = _status(opt, search)
    d = opt.to_dict() if hasattr(opt, "to_dict") else {}
    extra = [(k, v) for k, v in d.items() if k not in SHOWN]
    lr_range = lr_range or _get(opt, "lr_range")
    warnings: list[str] = []
    facts: list[tuple[str, str]] = []
    stopped = _get(opt, "stopped", "") or (search or {}).get("stopped", "")
    steps = next_steps(opt, recipe=recipe, kind="search" if search is not None else "sweep",
                       stopped=stopped, reason=(search or {}).get("stop_reason"),
                       lr_range=lr_range,
                       n_failed=n_failed, batch_size=batch_size, optimizer=optimizer,
                       n_lrs=n_lrs)
    if not found:
        note = str(_get(opt, "note", "") or "")
        return Answer(False, "none", "", "", note or "no trial finished", status,
                      status_text, status_detail, facts, warnings, steps, extra)

    interval, ratio = interval_text(opt)
    metric = _get(opt, "metric")
    if metric is not None:
        fitted = _get(opt, "metric_fitted", _get(opt, "fit") is not None)
        label = (f"fitted {metric_name} at the optimum" if fitted
                 else f"{metric_name} at the optimum (as measured)")
        facts.append((label, fmt_metric(metric)))
    if best is not None:
        if isinstance(best, tuple):
            facts.append(("best measured", f"lr {fmt_lr(best[0])}: {metric_name} "
                                           f"{fmt_metric(best[1])}"))
        else:
            facts.append(("best measured" + (" (one seed's)" if best.one_seed else ""),
                          f"lr {fmt_lr(best.lr)}: {metric_name} {fmt_metric(best.metric)}, "
                          f"{best.label}"))
    band = _get(opt, "band")
    if band is not None:
        tol = _get(opt, "band_tol", 0.01)
        facts.append((f"near-optimal band (within {tol:.0%} of the best {metric_name})",
                      f"{fmt_lr(band[0])} – {fmt_lr(band[1])}"))
    div = _get(opt, "diverged_above")
    if div is not None:
        facts.append(("diverged", f"at and above {fmt_lr(div)}"))
    n = int(_get(opt, "n_seeds", 1) or 1)
    facts.append(("seeds", str(n)))
    if _get(opt, "at_low_edge"):
        warnings.append("The best LR is the lowest one tried: the optimum may lie below the "
                        "range.")
    if _get(opt, "at_high_edge"):
        warnings.append("The best LR is the highest one tried: the optimum may lie above the "
                        "range.")
    if saturated:
        warnings.append(saturated)
    return Answer(True, fmt_lr(opt.lr), interval, ratio, meaning(opt), status, status_text,
                  status_detail, facts, warnings, steps, extra, interval_name(opt))

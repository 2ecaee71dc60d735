"""What the report says, as plain data (no HTML, no matplotlib): the answer, what its
interval means, whether the search converged, and what to do next. Tested on its own; the
page (``lrsweep.report.page``) only lays it out.

Everything is read from the ``Optimum`` by name, with a fallback for fields an older or
newer ``Optimum`` lacks, and the fields the answer does not use are listed as they are
(``extra``), so that a field added to the estimate shows in the report without a change
here.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Any

from ..plot.fmt import fmt_lr, fmt_metric

__all__ = ["Answer", "Step", "answer"]

# fields of Optimum.to_dict() the answer shows in its own words (the rest go to ``extra``)
SHOWN = {"lr", "low", "high", "metric", "band", "at_low_edge", "at_high_edge",
         "diverged_above", "n_seeds", "level", "direction", "band_tol", "note", "basis",
         "converged", "stopped", "metric_name", "metric_fitted"}
TIGHT = 2**0.25  # search()'s default tolerance: an interval this narrow needs no refining


@dataclass(frozen=True)
class Step:
    """One thing to do next: ``text``, and the flag or argument that does it."""

    text: str
    cli: str = ""
    api: str = ""


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
    next: list[Step]
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
        return "converged", "converged", detail
    chip = "noise-limited, not converged" if stopped.startswith("noise-limited") else \
        "not converged"
    return "not-converged", chip, detail


def answer(opt: Any, *, metric_name: str = "metric", lr_range: tuple[float, float] | None = None,
           search: dict[str, Any] | None = None, n_failed: int = 0,
           best: tuple[float, float] | None = None) -> Answer:
    """The answer section's content for ``opt`` (an ``Optimum``).

    ``lr_range``: the lowest and highest LR tried; ``search``: ``stopped``, ``n_rounds``,
    ``tolerance`` of a ``SearchResult`` (None for a plain sweep); ``best``: the best trial's
    (lr, metric).
    """
    found = bool(_get(opt, "found", _get(opt, "lr") is not None))
    status, status_text, status_detail = _status(opt, search)
    d = opt.to_dict() if hasattr(opt, "to_dict") else {}
    extra = [(k, v) for k, v in d.items() if k not in SHOWN]
    lr_range = lr_range or _get(opt, "lr_range")
    lo_tried, hi_tried = lr_range if lr_range else (None, None)
    steps: list[Step] = []
    warnings: list[str] = []
    facts: list[tuple[str, str]] = []
    div = _get(opt, "diverged_above")
    if not found:
        note = str(_get(opt, "note", "") or "")
        if div is not None:
            steps.append(Step(f"Every LR diverged: sweep lower LRs, below {fmt_lr(div)}.",
                              f"--lr-max {fmt_lr(div / 10)}", f"lr_range=(..., {div / 10:.3g})"))
        else:
            steps.append(Step("No trial finished: the error of each failed trial is in the "
                              "table below."))
        return Answer(False, "none", "", "", note or "no trial finished", status,
                      status_text, status_detail, facts, warnings, steps, extra)

    interval, ratio = interval_text(opt)
    metric = _get(opt, "metric")
    if metric is not None:
        fitted = _get(opt, "metric_fitted", _get(opt, "fit") is not None)
        label = (f"fitted {metric_name} at the optimum" if fitted
                 else f"best seed-mean {metric_name} measured")
        facts.append((label, fmt_metric(metric)))
    if best is not None:
        facts.append(("best trial", f"lr {fmt_lr(best[0])}: {metric_name} {fmt_metric(best[1])}"))
    band = _get(opt, "band")
    if band is not None:
        tol = _get(opt, "band_tol", 0.01)
        facts.append((f"near-optimal band (within {tol:.0%} of the best {metric_name})",
                      f"{fmt_lr(band[0])} – {fmt_lr(band[1])}"))
    if div is not None:
        facts.append(("diverged", f"at and above {fmt_lr(div)}"))
    n = int(_get(opt, "n_seeds", 1) or 1)
    facts.append(("seeds", str(n)))

    if _get(opt, "at_low_edge"):
        warnings.append("The best LR is the lowest one tried: the optimum may lie below the "
                        "range.")
        new = lo_tried / 100 if lo_tried else None
        steps.append(Step("Widen the range downwards: the best LR is the lowest one tried.",
                          f"--lr-min {fmt_lr(new)}" if new else "--lr-min",
                          f"lr_range=({new:.3g}, ...)" if new else ""))
    if _get(opt, "at_high_edge"):
        warnings.append("The best LR is the highest one tried: the optimum may lie above the "
                        "range.")
        new = hi_tried * 100 if hi_tried else None
        steps.append(Step("Widen the range upwards: the best LR is the highest one tried.",
                          f"--lr-max {fmt_lr(new)}" if new else "--lr-max",
                          f"lr_range=(..., {new:.3g})" if new else ""))
    if _one_seed(opt):
        steps.append(Step("Run more seeds, so that the interval covers the seed-to-seed "
                          "noise and not only this seed's curve.", "--seeds 3",
                          "seeds=(0, 1, 2)"))
    elif hasattr(opt, "with_seeds") and (
            status == "not-converged" or "noise-limited" in str(_get(opt, "stopped", ""))):
        more = 2 * n
        width = opt.with_seeds(more) if hasattr(opt, "with_seeds") else math.inf
        if math.isfinite(width) and width < _get(opt, "ratio", math.inf):
            steps.append(Step(f"More seeds narrow it: with {more} seeds the interval would "
                              f"be about a factor of {width:.2f} wide.", f"--seeds {more}",
                              f"seeds=range({more})"))
    r = _get(opt, "ratio")
    if r is None and _get(opt, "low") and _get(opt, "high"):
        r = opt.high / opt.low
    if status == "not-converged" and search is not None:
        more = int(search.get("n_rounds") or 0) + 3
        steps.append(Step("Let the search run longer: it stopped before the interval was "
                          "tight.", f"--max-rounds {more}", f"max_rounds={more}"))
    elif status == "single-sweep" and (r is None or not math.isfinite(r) or r > TIGHT):
        if band is not None:
            lo, hi = band[0] / 3, band[1] * 3
            steps.append(Step("Narrow it down: a search adds LRs inside the interval until "
                              "its high/low is at most 1.19.",
                              f"lrsweep search --lr-min {fmt_lr(lo)} --lr-max {fmt_lr(hi)}",
                              f"lrsweep.search(task, lr_range=({lo:.3g}, {hi:.3g}))"))
    if n_failed:
        steps.append(Step(f"{n_failed} trial(s) failed: their errors are in the trial table."))
    if not steps or all(s.text.startswith(f"{n_failed} trial") for s in steps):
        steps.insert(0, Step(f"Use lr {fmt_lr(opt.lr)}. Any LR in the band does within "
                             f"{_get(opt, 'band_tol', 0.01):.0%} as well. To carry it to a "
                             "larger batch, width or depth, apply the scaling rules.",
                             f"lrsweep transfer --lr {fmt_lr(opt.lr)} --batch B:B2",
                             "lrsweep.transfer.transfer(optimum, base=..., target=...)"))
    return Answer(True, fmt_lr(opt.lr), interval, ratio, meaning(opt), status, status_text,
                  status_detail, facts, warnings, steps, extra, interval_name(opt))

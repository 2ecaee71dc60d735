"""``search()``: rounds of sweeps that close in on the optimal LR.

Round one is a coarse log grid over ``lr_range``. After each round the optimum is estimated
(``lrsweep.analysis``); the next round spreads new LRs over its interval, stretched over the
near-optimal band (up to three interval half-widths, so that the fit sees the curvature),
more finely each time; or beyond the range when the best point sits on its edge. Every earlier trial is kept and reused: an (lr, seed) is never trained twice, and no
LR at or above one that diverged is tried again. It stops when the interval's ``high / low``
is at most ``tolerance``, or after ``max_rounds`` rounds, or when ``max_trials`` is spent.
"""

from __future__ import annotations

import logging
import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from .analysis import Optimum, estimate_optimum, optimum_from_trials
from .errors import bad_arg
from .grid import canonical_lr, check_lr_range, log_grid
from .result import SweepResult
from .sweep import as_task, check_seeds, sweep
from .trial import TrialResult

log = logging.getLogger("lrsweep")

__all__ = ["SearchResult", "SearchRound", "search"]


@dataclass(frozen=True)
class SearchRound:
    """One round: the LRs it added, the range they were drawn from, the optimum after it."""

    index: int
    lrs: tuple[float, ...]
    lr_range: tuple[float, float]
    reason: str
    optimum: Optimum
    n_trials: int
    steps: int

    def summary(self) -> str:
        lo, hi = self.lr_range
        return (f"round {self.index}: +{len(self.lrs)} LRs in {lo:.3g}..{hi:.3g} ({self.reason}); "
                f"{self.n_trials} trials so far -> {self.optimum.summary()}")


@dataclass
class SearchResult:
    """What ``search`` found: every round, every trial, and the optimum over all of them."""

    rounds: list[SearchRound]
    result: SweepResult
    stopped: str
    options: dict[str, Any] = field(default_factory=dict)

    @property
    def trials(self) -> list[TrialResult]:
        return self.result.trials

    @property
    def steps_used(self) -> int:
        """Total optimizer steps over all trials (diverged ones count what they ran)."""
        return sum(t.steps for t in self.result.trials)

    def optimum(self, **options: Any) -> Optimum:
        """The optimum over all trials (options as in ``SweepResult.optimum``)."""
        if not options and self.rounds:
            return self.rounds[-1].optimum
        return self.result.optimum(**{**self.options, **options})

    def round_of(self) -> dict[float, int]:
        """LR -> the round (1-based) that first tried it."""
        out: dict[float, int] = {}
        for r in self.rounds:
            for lr in r.lrs:
                out.setdefault(lr, r.index)
        return out

    def table(self) -> str:
        lines = [r.summary() for r in self.rounds]
        lines.append(f"stopped: {self.stopped}; {len(self.trials)} trials, "
                     f"{self.steps_used} trial-steps")
        lines.append(self.result.table())
        return "\n".join(lines)

    def plot(self, path: str | Path | None = None, **options: Any) -> Any:
        from .plot import plot_search

        return plot_search(self, path, **options)

    def to_dict(self) -> dict[str, Any]:
        return {
            "stopped": self.stopped,
            "steps_used": self.steps_used,
            "optimum": self.optimum().to_dict(),
            "rounds": [{"index": r.index, "lrs": list(r.lrs), "lr_range": list(r.lr_range),
                        "reason": r.reason, "n_trials": r.n_trials, "steps": r.steps,
                        "optimum": r.optimum.to_dict()} for r in self.rounds],
        }

    def __repr__(self) -> str:
        return (f"SearchResult({len(self.rounds)} rounds, {len(self.trials)} trials, "
                f"stopped={self.stopped!r}, {self.optimum().summary()})")


def search(
    task: Any,
    lr_range: tuple[float, float] = (1e-8, 1.0),
    *,
    seeds: Sequence[int] | int = (0,),
    tolerance: float = 2**0.25,
    max_rounds: int = 6,
    max_trials: int | None = None,
    points: int | None = None,
    refine_points: int = 5,
    engine: Any = "auto",
    store: Any = None,
    study: str | None = None,
    direction: str | None = None,
    progress: bool = False,
    on_round: Callable[[SearchRound], None] | None = None,
    band_tol: float = 0.01,
    level: float = 0.9,
    confirm: int = 2,
    **engine_options: Any,
) -> SearchResult:
    """Find the optimal LR by rounds of sweeps, each finer than the last.

    Args:
        task: a ``Task``, or ``objective(trial) -> metric`` (then ``direction=`` is required).
        lr_range: (low, high) of the first, coarse round.
        seeds: seeds of every LR tried; two or more give the interval its noise estimate.
        tolerance: stop when the interval's ``high / low`` is at most this factor.
        max_rounds: at most this many rounds (round one included).
        max_trials: at most this many trials (lr x seed) in all.
        points: LRs in round one (default: about one per decade, at least 7).
        refine_points: new LRs per later round.
        engine, store, study, progress: as in ``sweep`` (with a store, a rerun reuses every
            finished trial).
        on_round: called with each ``SearchRound`` as it completes.
        band_tol, level: as in ``SweepResult.optimum``.
        confirm: stop only after this many tight rounds in a row (guards against stopping
            on an interval that came out narrow by chance).
    """
    lo, hi = _check_range(lr_range)
    t = as_task(task, direction)
    seed_list = check_seeds(seeds)
    _check_num("tolerance", tolerance, 1.0, float, "a factor > 1, e.g. 2**0.25")
    _check_num("max_rounds", max_rounds, 1, int, "an integer >= 1")
    _check_num("refine_points", refine_points, 1, int, "an integer >= 1")
    _check_num("confirm", confirm, 1, int, "an integer >= 1")
    if max_trials is not None:
        _check_num("max_trials", max_trials, len(seed_list) * 3, int,
                   f"an integer >= {3 * len(seed_list)} (3 LRs x {len(seed_list)} seeds)")
    decades = math.log10(hi / lo)
    if points is None:
        points = max(7, int(round(decades)) + 1)
    _check_num("points", points, 3, int, "an integer >= 3")
    opt_kw = dict(band_tol=band_tol, level=level)
    estimate_optimum([], [], [], [], t.direction, **opt_kw)  # checks them before any training

    results: dict[tuple[float, int], TrialResult] = {}
    rounds: list[SearchRound] = []
    engine_name = engine if isinstance(engine, str) else getattr(engine, "name", "engine")
    study_name = study

    def budget_left() -> int | None:
        return None if max_trials is None else max_trials - len(results)

    def run(lrs: list[float]) -> None:
        nonlocal engine_name, study_name
        new = [lr for lr in lrs if any((lr, s) not in results for s in seed_list)]
        if not new:
            return
        res = sweep(t, new, seeds=seed_list, engine=engine, store=store, study=study,
                    progress=progress, **engine_options)
        engine_name, study_name = res.engine, res.study
        for r in res.trials:
            results.setdefault(r.key, r)

    plan_lrs, plan_range, reason = log_grid(lo, hi, points), (lo, hi), "coarse grid"
    stopped = "max_rounds"
    streak = 0
    for index in range(1, max_rounds + 1):
        left = budget_left()
        if left is not None and len(plan_lrs) > left // len(seed_list):
            # what the budget allows, spread over the planned range
            k = max(0, left // len(seed_list))
            keep = sorted({int(i) for i in np.linspace(0, len(plan_lrs) - 1, k).round()})
            plan_lrs = [plan_lrs[i] for i in keep] if k else []
        if not plan_lrs:
            stopped = "max_trials"
            break
        run(plan_lrs)
        opt = optimum_from_trials(results.values(), t.direction, **opt_kw)
        rnd = SearchRound(index, tuple(plan_lrs), plan_range, reason, opt, len(results),
                          sum(r.steps for r in results.values()))
        rounds.append(rnd)
        log.info("%s", rnd.summary())
        if on_round is not None:
            on_round(rnd)
        tight = opt.found and not opt.at_edge and opt.ratio <= tolerance
        # an interval that is tight by luck is more likely to stop a search than one that is
        # tight for good: ask for two tight rounds in a row (the second adds points inside)
        streak = streak + 1 if tight else 0
        if streak >= confirm:
            stopped = "converged"
            break
        if index == max_rounds:
            break
        left = budget_left()
        if left is not None and left < len(seed_list):
            stopped = "max_trials"
            break
        plan = _next_round(results, opt, refine_points)
        if plan is None:
            stopped = "no new LRs to try"
            break
        plan_lrs, plan_range, reason = plan

    result = SweepResult(results.values(), t.direction, t.metric_name, engine=engine_name,
                         study=study_name, protocol=_protocol(t))
    return SearchResult(rounds, result, stopped, options=opt_kw)


def _next_round(results: dict[tuple[float, int], TrialResult], opt: Optimum, k: int,
                reach: float = 3.0) -> tuple[list[float], tuple[float, float], str] | None:
    """Where the next round's LRs go, or None if nothing useful is left to try."""
    tried = sorted({lr for lr, _ in results})
    x_tried = np.log10(tried)
    spacing = float(np.median(np.diff(x_tried))) if len(tried) > 1 else 1.0
    ceiling = opt.diverged_above  # never at or above an LR that diverged
    if not opt.found:
        if ceiling is None:
            return None  # everything failed: more LRs will not help
        # everything diverged: go lower, by as many decades as the first grid spanned
        span = max(float(x_tried[-1] - x_tried[0]), 1.0)
        lo, hi = 10 ** (x_tried[0] - span), 10 ** x_tried[0]
        return _fresh(log_grid(lo, hi, k + 1), tried, ceiling, 0.0), (lo, hi), "all diverged"
    if opt.low is None or opt.high is None:
        return None
    if opt.at_low_edge or opt.at_high_edge:
        # widen by about the span of the points we have, at the current coarse spacing
        step = max(spacing, 0.25)
        n = max(k, 3)
        if opt.at_low_edge:
            x0 = float(x_tried[0])
            xs = x0 - step * np.arange(n, 0, -1)
            why = "best at the low edge: widening down"
        else:
            x0 = float(x_tried[-1])
            xs = x0 + step * np.arange(1, n + 1)
            why = "best at the high edge: widening up"
        lrs = _fresh([canonical_lr(10**v) for v in xs], tried, ceiling, 0.0)
        if lrs:
            return lrs, (min(lrs), max(lrs)), why
    # refine: new points over the interval (where the optimum is uncertain) and the band
    # (where the metric is still near its best, so the fit sees its curvature), the band
    # taken at most ``reach`` interval half-widths from the estimate
    x_lo, x_hi = math.log10(opt.low), math.log10(opt.high)
    if opt.band is not None:
        xc = math.log10(opt.lr)
        b_lo, b_hi = math.log10(opt.band[0]), math.log10(opt.band[1])
        x_lo = min(x_lo, max(b_lo, xc - reach * (xc - x_lo)))
        x_hi = max(x_hi, min(b_hi, xc + reach * (x_hi - xc)))
    if ceiling is not None:
        x_hi = min(x_hi, math.log10(ceiling))
    width = x_hi - x_lo
    if width <= 0:
        return None
    lrs = _fresh([canonical_lr(10**v) for v in _spread(x_lo, x_hi, x_tried, k)], tried,
                 ceiling, 0.0)
    if not lrs:
        return None
    return lrs, (10**x_lo, 10**x_hi), "refining the interval"


def _spread(x_lo: float, x_hi: float, x_tried: np.ndarray, k: int) -> list[float]:
    """``k`` new positions (log10) in [x_lo, x_hi]: an even grid, less the points that fall
    within a third of its spacing of one already tried; topped up by splitting the widest
    gaps, so a region that barely moved between rounds still gets ``k`` new points."""
    step = (x_hi - x_lo) / (k + 1)
    chosen = [float(v) for v in np.linspace(x_lo, x_hi, k + 2)[1:-1]
              if not x_tried.size or np.min(np.abs(x_tried - v)) >= step / 3]
    pts = sorted([float(v) for v in x_tried if x_lo < v < x_hi] + chosen)
    while len(chosen) < k:
        bounds = [x_lo, *pts, x_hi]
        size, mid = max((b - a, (a + b) / 2) for a, b in zip(bounds, bounds[1:]))
        if size < 1e-4:  # 0.02% apart in LR: nothing left worth training
            break
        chosen.append(mid)
        pts = sorted([*pts, mid])
    return chosen


def _fresh(lrs: list[float], tried: list[float], ceiling: float | None,
           min_gap: float) -> list[float]:
    """LRs not yet tried, below ``ceiling``, at least ``min_gap`` (log10) from any tried."""
    x_tried = np.log10(tried) if tried else np.zeros(0)
    out: list[float] = []
    for lr in sorted(set(lrs)):
        if lr in tried or (ceiling is not None and lr >= ceiling):
            continue
        if min_gap > 0 and x_tried.size and np.min(np.abs(x_tried - math.log10(lr))) < min_gap:
            continue
        out.append(lr)
    return out


def _check_range(lr_range: Any) -> tuple[float, float]:
    try:
        lo, hi = (float(v) for v in lr_range)
    except (TypeError, ValueError):
        raise bad_arg("lr_range", lr_range, "a pair (low, high) of positive LRs",
                      "Pass e.g. lr_range=(1e-6, 1.0).") from None
    check_lr_range(lo, hi, "lr_range")
    return lo, hi


def _check_num(name: str, value: Any, low: float, kind: type, expected: str) -> None:
    ok = isinstance(value, (int, float)) and not isinstance(value, bool)
    if kind is int:
        ok = ok and float(value).is_integer()
    if not ok or not math.isfinite(value) or value < low or (kind is float and value <= low):
        raise bad_arg(name, value, expected, f"Pass {name}= as {expected}.")


def _protocol(task: Any) -> dict[str, Any]:
    try:
        return task.protocol()
    except Exception:  # a description must never sink a search
        return {}

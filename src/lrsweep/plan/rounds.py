"""Where ``search``'s next round goes: new LRs, one more seed, or a stop. Pure numpy.

After each round, the interval's half-width is the seeds' part (a Student-t multiple of the
jackknife standard error) and the resolution part (grid cell, model error) in quadrature.
The next round removes the larger one: new LRs on a 1/6-decade grid at the estimate (halved
where already tried) when the resolution dominates, the fit has no point on one side of the
best, fewer than 5 LRs or a coarser grid there; one more seed at the LRs the fit uses when
the seeds' spread dominates. With every seed in use and the seeds dominating (or new LRs no
longer shrinking the interval), the search is noise-limited. Before that, round two brackets
the one-seed coarse round's best point with every seed (fewer seeds on a finer grid when
the budget is small).

A search stops with a ``Stop``: its ``StopReason`` and the same in words.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from enum import Enum

import numpy as np

from ..analysis import Optimum
from ..results.trial import TrialResult
from ..stats import t_quantile
from ..text import plural
from .grid import canonical_lr, log_grid

Results = dict[tuple[float, int], TrialResult]


class StopReason(str, Enum):
    """Why a search stopped. ``TIGHT`` and ``FLAT`` are converged: the interval's high/low is
    at most the tolerance, or every LR in it is within ``band_tol / 2`` of the best with the
    interval's confidence (a flat top: the LR is uncertain, the answer is good)."""

    TIGHT = "tight"
    FLAT = "flat"
    NOISE_LIMITED = "noise-limited"
    BUDGET = "budget"
    MAX_ROUNDS = "max-rounds"
    NOTHING_TO_TRY = "nothing-to-try"

    @property
    def converged(self) -> bool:
        return self in (StopReason.TIGHT, StopReason.FLAT)


@dataclass(frozen=True)
class Stop:
    """The end of a search: why (``reason``) and the same in words (``text``, the
    ``SearchResult.stopped`` a user reads)."""

    reason: StopReason
    text: str


@dataclass(frozen=True)
class Plan:
    """The (lr, seed) trials of the next round, the LR range they cover and why."""

    pairs: list[tuple[float, int]]
    lr_range: tuple[float, float]
    reason: str


def trim(plan: Plan | None, results: Results, max_trials: int | None, max_steps: int | None,
         step_cost: float, steps_used: int) -> Plan | None:
    """``plan`` cut to what the budgets allow (LRs evenly spread over the plan's, each with
    all its seeds), or None when nothing fits."""
    if plan is None:
        return None
    pairs = [p for p in plan.pairs if p not in results]
    if not pairs:
        return None
    allowed = math.inf
    if max_trials is not None:
        allowed = min(allowed, max_trials - len(results))
    if max_steps is not None:
        allowed = min(allowed, math.floor((max_steps - steps_used) / max(step_cost, 1.0)))
    if len(pairs) <= allowed:
        return Plan(pairs, plan.lr_range, plan.reason)
    if allowed < 1:
        return None
    by_lr: dict[float, list[tuple[float, int]]] = {}
    for p in pairs:
        by_lr.setdefault(p[0], []).append(p)
    lrs = sorted(by_lr)
    per = max(len(v) for v in by_lr.values())
    k = int(allowed // per)
    if k < 1:  # not one LR with all its seeds: the first seeds of the middle LR
        mid = lrs[len(lrs) // 2]
        return Plan(by_lr[mid][: int(allowed)], plan.lr_range, plan.reason + " (budget)")
    keep = sorted({int(i) for i in np.linspace(0, len(lrs) - 1, k).round()})
    kept = [p for i in keep for p in by_lr[lrs[i]]][: int(allowed)]
    return Plan(kept, plan.lr_range, plan.reason + " (budget)")


def next_round(results: Results, opt: Optimum, rounds: Sequence[object], pool: list[int],
               base: int, k: int, left: float | None = None, fine: float = 1 / 6,
               first: bool | None = None) -> Plan | Stop:
    """The next round's plan, or why the search stops (see the module docstring). LRs come
    first while the fit has fewer than 5 LRs or the grid at the estimate is coarser than
    ``fine`` decades: on a coarse grid the seeds' spread is not yet measured well. ``left``:
    the trials the budget still allows (None: no budget). ``first``: the coarse round was
    the only one so far (default: one round in ``rounds``)."""
    tried = sorted({lr for lr, _ in results})
    x_tried = np.log10(tried)
    seeds_in = sorted({s for _, s in results})
    coarse = (len(rounds) == 1) if first is None else first
    coarse = coarse and base > 1
    cur = pool[:base] if coarse else sorted(set(seeds_in) | set(pool[:base]))
    ceiling = opt.diverged_above
    if not opt.found:
        if ceiling is None:
            return Stop(StopReason.NOTHING_TO_TRY, "no new LRs to try: every trial failed")
        span = max(float(x_tried[-1] - x_tried[0]), 1.0)
        lo, hi = 10 ** (x_tried[0] - span), 10 ** x_tried[0]
        first = seeds_in[:1] or pool[:1]
        lrs = _fresh(log_grid(lo, hi, k + 1), tried, ceiling)
        return Plan(_pairs(lrs, first), (lo, hi), "every LR diverged: going lower")

    ran = [s for s in pool if any(s == t for _, t in results)]  # the seeds run so far
    edge = _edge(opt, x_tried, tried, ceiling, k, (ran or pool)[:2] if coarse else cur)
    if edge is not None:
        return edge
    if coarse:
        return _bracket(opt, x_tried, tried, ceiling, cur, results, left)
    if opt.window_edge:
        ext = _extend(opt, tried, ceiling, cur, results)
        if ext is not None:
            return ext

    seed_half = 0.0
    if opt.basis == "seeds" and opt.seed_se is not None:
        seed_half = t_quantile((1 + opt.level) / 2, opt.n_seeds - 1) * opt.seed_se
    res = opt.resolution or 0.0
    window = _window_lrs(opt, tried)
    one_sided = opt.fit_range is not None and opt.best_lr in opt.fit_range
    coarse_top = len(window) < 5 or _spacing_at(opt, x_tried) > fine + 1e-9
    stalled = _stalled(rounds)
    if opt.basis != "seeds" or ((res >= seed_half or one_sided or coarse_top) and not stalled):
        plan = _refine(opt, x_tried, tried, ceiling, k, cur, results, window)
        if plan is not None:
            return plan
        if opt.basis != "seeds":
            return Stop(StopReason.NOTHING_TO_TRY,
                        "no new LRs to try: the grid is as fine as it is useful")
    extra = [s for s in pool if s not in seeds_in]
    if extra:
        return _add_seed(window, results, extra[0])
    n = opt.n_seeds
    more = opt.with_seeds(2 * n)
    why = "new LRs no longer shrink it" if stalled else "set by the spread of the seeds"
    where = ""
    if opt.plausible is not None:  # the projection is the fit's part only
        where = (f" where the fit is, if they also tell {opt.plausible[0]:.3g}.."
                 f"{opt.plausible[1]:.3g} from the best")
    return Stop(StopReason.NOISE_LIMITED,
                f"noise-limited: interval x{opt.ratio:.2f} is {why} ({n} seeds); "
                f"{2 * n} seeds would give about x{more:.2f}{where}")


def _window_lrs(opt: Optimum, tried: list[float]) -> list[float]:
    """The LRs tried inside the fit's window (that did not diverge: the window holds none)."""
    lo, hi = opt.fit_range or (opt.lr, opt.lr)
    return [lr for lr in tried if lo * (1 - 1e-9) <= lr <= hi * (1 + 1e-9)]


def _spacing_at(opt: Optimum, x_tried: np.ndarray) -> float:
    """The grid's spacing (log10) at the estimate: the gap between the LRs tried either side
    of it (the larger of its two gaps when it is an LR tried; inf at an end)."""
    xc = math.log10(opt.lr)  # type: ignore[arg-type]
    below, above = x_tried[x_tried < xc - 1e-9], x_tried[x_tried > xc + 1e-9]
    if not below.size or not above.size:
        return math.inf
    if np.any(np.abs(x_tried - xc) <= 1e-9):
        return float(max(xc - below.max(), above.min() - xc))
    return float(above.min() - below.max())


def _pairs(lrs: list[float], seeds: Sequence[int]) -> list[tuple[float, int]]:
    return [(lr, s) for lr in lrs for s in seeds]


def _edge(opt: Optimum, x_tried: np.ndarray, tried: list[float], ceiling: float | None,
          k: int, seeds: Sequence[int]) -> Plan | None:
    """LRs beyond the range tried when the interval is open on a side."""
    if not (opt.open_low or opt.open_high):
        return None
    spacing = float(np.median(np.diff(x_tried))) if len(tried) > 1 else 1.0
    step = max(spacing, 0.25)
    n = max(k, 3)
    if opt.open_low:
        xs = float(x_tried[0]) - step * np.arange(n, 0, -1)
        why = "open at the low end: widening down"
    else:
        xs = float(x_tried[-1]) + step * np.arange(1, n + 1)
        why = "open at the high end: widening up"
    lrs = _fresh([canonical_lr(10**v) for v in xs], tried, ceiling)
    if not lrs:
        return None
    return Plan(_pairs(lrs, seeds), (min(lrs), max(lrs)), why)


def _bracket(opt: Optimum, x_tried: np.ndarray, tried: list[float], ceiling: float | None,
             seeds: Sequence[int], results: Results, left: float | None = None) -> Plan:
    """After the coarse round: every seed on a grid of 1/3 decade from 1/3 decade below the
    lowest to 1/3 above the highest LR whose mean over the coarse round's seeds is within
    noise of the best one (two standard errors of a difference; with one seed, the best LR
    alone), at least 2/3 of a decade either side of the best point, below the first
    divergence above it. So one seed's luck at one LR does not decide where the search
    looks. With fewer trials left than that needs, fewer seeds on a finer grid: at least 5
    LRs within half a decade."""
    half, step = 2 / 3, 1 / 3
    xb = math.log10(opt.best_lr or opt.lr)  # type: ignore[arg-type]
    lo_c, hi_c = _within_noise(results, opt, xb)
    x_lo, x_hi = min(xb - half, lo_c - step), max(xb + half, hi_c + step)
    if left is not None and left < 5 * len(seeds) - 1:
        n_seeds = max(1, min(len(seeds), int(left // 6)))
        seeds = list(seeds[:n_seeds])
        n_lr = max(3, min(7, int((left + 1) // n_seeds)))
        half, step = 0.5, 1.0 / (n_lr - 1)
        x_lo, x_hi = xb - half, xb + half
    elif left is not None:  # a wide candidate range on a coarser grid, to fit the budget
        while step < 1.0 and (x_hi - x_lo) / step + 1 > max(left / len(seeds), 5):
            step *= 1.5
    if ceiling is not None:
        x_hi = min(x_hi, math.log10(ceiling) - 1e-9)
    grid = [float(v) for v in np.arange(xb, x_lo - 1e-9, -step)][::-1]
    grid += [float(v) for v in np.arange(xb + step, x_hi + 1e-9, step)]
    new = _fresh([canonical_lr(10**v) for v in grid if abs(v - xb) > 1e-9], tried, ceiling,
                 min_gap=step / 3)
    old = [lr for lr in tried if x_lo - 1e-9 <= math.log10(lr) <= x_hi + 1e-9
           and (ceiling is None or lr < ceiling)]
    pairs = [p for p in _pairs(sorted(new + old), seeds) if p not in results]
    lrs = [lr for lr, _ in pairs] or [10**xb]
    return Plan(pairs, (min(lrs), max(lrs)),
                f"bracketing the best point with {plural(len(seeds), 'seed')}")


def _within_noise(results: Results, opt: Optimum, xb: float, z: float = 2.0
                  ) -> tuple[float, float]:
    """(lowest, highest) log10 LR whose mean over the seeds that ran every LR so far is
    within ``z`` standard errors of a difference of the best mean (the best LR alone with
    one seed or no noise estimate)."""
    sign = 1.0 if opt.direction == "max" else -1.0
    by: dict[float, dict[int, float]] = {}
    for (lr, s), r in results.items():
        if r.ok and r.metric is not None and math.isfinite(r.metric):
            by.setdefault(lr, {})[s] = sign * float(r.metric)
    if not by:
        return xb, xb
    common = set.intersection(*(set(v) for v in by.values()))
    if len(common) < 2:
        return xb, xb
    cols = sorted(common)
    lrs = sorted(by)
    U = np.array([[by[lr][s] for s in cols] for lr in lrs])
    resid = U - U.mean(axis=1, keepdims=True) - (U - U.mean(axis=1, keepdims=True)).mean(axis=0)
    df = (U.shape[0] - 1) * (U.shape[1] - 1)
    if df < 1:
        return xb, xb
    sigma = math.sqrt(float(np.sum(resid * resid)) / df)
    mean = U.mean(axis=1)
    thr = mean.max() - z * sigma * math.sqrt(2 / len(cols))
    x = np.log10(lrs)
    near = x[mean >= thr]
    return min(float(near.min()), xb), max(float(near.max()), xb)


def _extend(opt: Optimum, tried: list[float], ceiling: float | None, seeds: Sequence[int],
            results: Results) -> Plan | None:
    """The best LR is the end of the LRs every seed ran, and LRs beyond it were tried with
    fewer seeds: give the nearest two beyond every seed first (before more seeds or LRs),
    so that the edge is a measured one."""
    xb = math.log10(opt.best_lr or opt.lr)  # type: ignore[arg-type]
    side = -1 if opt.window_edge == "low" else 1
    beyond = sorted((lr for lr in tried if side * (math.log10(lr) - xb) > 1e-9
                     and (ceiling is None or lr < ceiling)
                     and any(r.ok for (l2, _), r in results.items() if l2 == lr)),
                    key=lambda lr: abs(math.log10(lr) - xb))[:2]
    pairs = [(lr, s) for lr in beyond for s in seeds if (lr, s) not in results]
    if not pairs:
        return None
    lrs = [lr for lr, _ in pairs]
    return Plan(pairs, (min(lrs), max(lrs)),
                f"the best LR is the {opt.window_edge} end of the seeded window: "
                "every seed beyond it first")


def _refine(opt: Optimum, x_tried: np.ndarray, tried: list[float], ceiling: float | None,
            k: int, seeds: Sequence[int], results: Results, window: list[float],
            fine: float = 1 / 6, levels: int = 3) -> Plan | None:
    """Up to ``k`` new LRs nearest the estimate on a grid of ``fine`` decades over +-3 steps
    (7 points); where that grid is already tried, on one twice as fine (up to ``levels``
    halvings). The window's LRs also get the seeds they lack."""
    xc = math.log10(opt.lr)  # type: ignore[arg-type]
    top = math.inf if ceiling is None else math.log10(ceiling)
    lrs: list[float] = []
    step = fine
    for _ in range(levels):
        grid = [xc + step * i for i in range(-3, 4)]
        free = [v for v in grid if v < top - 1e-9
                and (not x_tried.size or np.min(np.abs(x_tried - v)) >= step / 3)]
        free.sort(key=lambda v: abs(v - xc))
        lrs = _fresh([canonical_lr(10**v) for v in free[:k]], tried, ceiling)
        if lrs:
            break
        step /= 2
    if not lrs:
        return None
    missing = [(lr, s) for lr in window for s in seeds if (lr, s) not in results]
    return Plan(_pairs(lrs, seeds) + missing, (min(lrs), max(lrs)), "refining the interval")


def _add_seed(window: list[float], results: Results, seed: int) -> Plan:
    """One more seed at the LRs the fit uses."""
    lrs = [lr for lr in window if (lr, seed) not in results]
    return Plan(_pairs(lrs, [seed]), (min(window), max(window)),
                f"one more seed ({seed}) where the fit is: the seeds' spread dominates")


def _stalled(rounds: Sequence[object]) -> bool:
    """The last round added LRs and the interval did not shrink by a tenth."""
    if len(rounds) < 2:
        return False
    last, prev = rounds[-1], rounds[-2]
    if getattr(last, "reason", "") != "refining the interval":
        return False
    r_now, r_prev = last.optimum.ratio, prev.optimum.ratio  # type: ignore[attr-defined]
    if not (math.isfinite(r_now) and math.isfinite(r_prev)):
        return False
    return math.log(r_now) > 0.9 * math.log(r_prev)


def _fresh(lrs: list[float], tried: list[float], ceiling: float | None,
           min_gap: float = 0.0) -> list[float]:
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

"""``search()``: rounds of sweeps that close in on the optimal LR, spending seeds where they
matter.

Round one is a coarse log grid over ``lr_range`` with the first seed only: one seed places
the optimum to within a grid cell, and a decade-wide cell is far wider than the sideways
spread of the seeds. Round two brackets the best point with a finer grid and every seed.
Each later round removes the larger part of the uncertainty (``lrsweep.search_plan``): new
LRs where the curve is unresolved (the grid or the fit's model error dominates the
interval), or one more seed at the LRs the fit uses (the seeds' spread dominates), or LRs
beyond the edge when the best point sits on one. Every earlier trial is kept and reused: an
(lr, seed) is never trained twice, and no LR at or above the first one that diverged above
the best is tried again.

It stops when the interval's ``high / low`` is at most ``tolerance`` in ``confirm`` rounds in
a row ("converged"), or when it is noise-limited: the seeds' spread dominates and
``max_seeds`` are in use, so new LRs would not shrink it ("noise-limited", not converged: the
interval is honest but wider than ``tolerance``, and the stop says what more seeds would buy);
or when a budget (``max_rounds``, ``max_trials`` (40 by default),
``max_steps``) is spent ("not converged"). Calibration: ``benchmarks/search_quality.py``.
"""

from __future__ import annotations

import logging
import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field, replace
from enum import Enum
from pathlib import Path
from typing import Any

from .analysis import Optimum, estimate_optimum, optimum_from_trials
from .errors import bad_arg
from .grid import check_lr_range, log_grid
from .result import SweepResult
from .search_plan import Plan, next_round, trim
from .sweep import as_task, check_seeds, sweep
from .trial import TrialResult

log = logging.getLogger("lrsweep")

__all__ = ["SearchResult", "SearchRound", "StopReason", "search"]


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
class SearchRound:
    """One round: the LRs it added (with ``seeds``), the range they were drawn from, why,
    and the optimum after it."""

    index: int
    lrs: tuple[float, ...]
    lr_range: tuple[float, float]
    reason: str
    optimum: Optimum
    n_trials: int
    steps: int
    seeds: tuple[int, ...] = ()
    added: int = 0

    def summary(self) -> str:
        lo, hi = self.lr_range
        return (f"round {self.index}: +{self.added} trials ({len(self.lrs)} LRs in "
                f"{lo:.3g}..{hi:.3g}; {self.reason}); {self.n_trials} trials so far -> "
                f"{self.optimum.summary()}")


@dataclass
class SearchResult:
    """What ``search`` found: every round, every trial, and the optimum over all of them
    (with ``converged`` and ``stopped`` set). ``stop_reason``: a ``StopReason`` (``TIGHT``
    and ``FLAT`` are converged); ``stopped``: the same in words. ``prior_trials``: trials the
    study held before the search began (they enter every estimate; the budgets count only
    the search's own)."""

    rounds: list[SearchRound]
    result: SweepResult
    stopped: str
    options: dict[str, Any] = field(default_factory=dict)
    converged: bool = False
    stop_reason: StopReason = StopReason.MAX_ROUNDS
    prior_trials: int = 0

    @property
    def trials(self) -> list[TrialResult]:
        return self.result.trials

    @property
    def steps_used(self) -> int:
        """Total optimizer steps over all trials (diverged ones count what they ran)."""
        return sum(t.steps for t in self.result.trials)

    def optimum(self, **options: Any) -> Optimum:
        """The optimum over all trials, saying whether the search converged (options as in
        ``SweepResult.optimum``)."""
        if not options and self.rounds:
            opt = self.rounds[-1].optimum
        else:
            opt = self.result.optimum(**{**self.options, **options})
        return replace(opt, converged=self.converged, stopped=self.stopped)

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

    def report(self, path: str | Path, *, overwrite: bool = False, **options: Any) -> Path:
        """Write the HTML report of the search (its rounds included); see
        ``SweepResult.report``."""
        from .report import build_report, write_report

        return write_report(path, build_report(self.result, search=self, **options),
                            overwrite=overwrite)

    def to_dict(self) -> dict[str, Any]:
        return {
            "stopped": self.stopped,
            "converged": self.converged,
            "stop_reason": self.stop_reason.value,
            "prior_trials": self.prior_trials,
            "steps_used": self.steps_used,
            "optimum": self.optimum().to_dict(),
            "rounds": [{"index": r.index, "lrs": list(r.lrs), "seeds": list(r.seeds),
                        "added": r.added, "lr_range": list(r.lr_range), "reason": r.reason,
                        "n_trials": r.n_trials, "steps": r.steps,
                        "optimum": r.optimum.to_dict()} for r in self.rounds],
        }

    def __repr__(self) -> str:
        return (f"SearchResult({len(self.rounds)} rounds, {len(self.trials)} trials, "
                f"stopped={self.stopped!r}, {self.optimum().summary()})")


def search(
    task: Any,
    lr_range: tuple[float, float] = (1e-8, 1.0),
    *,
    seeds: Sequence[int] | int = 3,
    max_seeds: int | None = None,
    extra_seeds: Sequence[int] | None = None,
    tolerance: float = 2**0.5,
    max_rounds: int = 6,
    max_trials: int | None = 48,
    max_steps: int | None = None,
    points: int | None = None,
    refine_points: int = 4,
    engine: Any = "auto",
    store: Any = None,
    study: str | None = None,
    direction: str | None = None,
    progress: bool | None = None,
    on_round: Callable[[SearchRound], None] | None = None,
    band_tol: float = 0.01,
    level: float = 0.9,
    confirm: int = 2,
    tensorboard: str | None = None,
    estimator: str | None = None,
    **engine_options: Any,
) -> SearchResult:
    """Find the optimal LR by rounds of sweeps (see the module docstring).

    Args:
        task: a ``Task``, or ``objective(trial) -> metric`` (then ``direction=`` is required).
        lr_range: (low, high) of the first, coarse round.
        seeds: the seeds of the curve: a count (3: seeds 0, 1, 2) or the seeds themselves.
            With two or more the interval covers the seed-mean optimum at ``level``; with one
            it describes that seed's curve only.
        max_seeds: at most this many seeds near the optimum (default: two more than
            ``seeds``); the extra ones are added one at a time where the fit needs them.
        extra_seeds: which seeds those are, in order (default: the integers after the
            largest of ``seeds``).
        tolerance: stop when the interval's ``high / low`` is at most this factor.
        max_rounds: at most this many rounds (round one included).
        max_trials: at most this many new trials (lr x seed) in all (default 48: under a
            quarter of a dense grid of 41 LRs x 5 seeds; None for no limit). Trials the
            study held before do not count against it.
        max_steps: at most this many trial-steps (optimizer steps summed over trials; a
            diverged trial counts the steps it ran) in all.
        points: LRs in round one (default: about one per decade, at least 7).
        refine_points: new LRs per refining round.
        engine, store, study, progress: as in ``sweep`` (with a store, a rerun reuses every
            finished trial; a progress bar per round where the output is a terminal).
        on_round: called with each ``SearchRound`` as it completes.
        band_tol, level: as in ``SweepResult.optimum``.
        confirm: stop as converged only after this many converged rounds in a row.
        tensorboard: a folder for one TensorBoard run per trial (as in ``sweep``).
        estimator: the estimator of every round's optimum (``estimate_optimum``'s
            ``estimator=``; default: its default).
    """
    lo, hi = _check_range(lr_range)
    t = as_task(task, direction)
    seed_list = _seeds(seeds)
    extra: list[int] = []
    if extra_seeds is not None:
        check_seeds(extra_seeds)  # validates; the order given is kept
        extra = [s for s in dict.fromkeys(extra_seeds) if s not in seed_list]
    if max_seeds is None:
        max_seeds = (len(seed_list) + (len(extra) if extra_seeds is not None else 2)
                     if len(seed_list) > 1 else 1)
    _check_num("max_seeds", max_seeds, len(seed_list), int,
               f"an integer >= {len(seed_list)} (the seeds given)")
    _check_num("tolerance", tolerance, 1.0, float, "a factor > 1, e.g. 2**0.5")
    _check_num("max_rounds", max_rounds, 1, int, "an integer >= 1")
    _check_num("refine_points", refine_points, 1, int, "an integer >= 1")
    _check_num("confirm", confirm, 1, int, "an integer >= 1")
    if max_trials is not None:
        _check_num("max_trials", max_trials, 3, int, "an integer >= 3 (three LRs)")
    if max_steps is not None:
        _check_num("max_steps", max_steps, 1, int, "a positive number of trial-steps")
    if points is None:
        points = max(7, int(round(math.log10(hi / lo))) + 1)
    _check_num("points", points, 3, int, "an integer >= 3")
    opt_kw: dict[str, Any] = dict(band_tol=band_tol, level=level, metric_name=t.metric_name)
    if estimator is not None:
        opt_kw["estimator"] = estimator
    estimate_optimum([], [], [], [], t.direction, **opt_kw)  # checks them before any training
    n_extra = max_seeds - len(seed_list)
    extra += [max(seed_list + extra) + 1 + i for i in range(max(0, n_extra - len(extra)))]
    pool = seed_list + extra[:n_extra]

    results: dict[tuple[float, int], TrialResult] = {}
    rounds: list[SearchRound] = []
    names = {"engine": engine if isinstance(engine, str) else getattr(engine, "name", "engine"),
             "study": study}
    if store is not None:  # what the study already holds counts and is used
        from .store import open_study

        handle = open_study(store, t, study)
        names["study"] = handle.name
        for r in handle.results(curves=False):
            if r.status.value in ("ok", "diverged"):
                results.setdefault(r.key, r)
    prior = len(results)
    prior_steps = sum(r.steps for r in results.values())
    if prior:
        log.info("search: %d trials already in study %s", prior, names["study"])
    # the budgets count the search's own trials
    trial_cap = None if max_trials is None else max_trials + prior
    step_cap = None if max_steps is None else max_steps + prior_steps

    def run(pairs: list[tuple[float, int]]) -> int:
        todo = [p for p in pairs if p not in results]
        by_seed: dict[int, list[float]] = {}
        for lr, s in todo:
            by_seed.setdefault(s, []).append(lr)
        # one sweep per group of seeds sharing the same LRs (a vectorized engine stacks them)
        groups: dict[tuple[float, ...], list[int]] = {}
        for s, lrs in by_seed.items():
            groups.setdefault(tuple(sorted(lrs)), []).append(s)
        for lrs, ss in groups.items():
            res = sweep(t, list(lrs), seeds=ss, engine=engine, store=store,
                        study=names["study"], progress=progress, tensorboard=tensorboard,
                        **engine_options)
            names["engine"], names["study"] = res.engine, res.study
            for r in res.trials:
                results.setdefault(r.key, r)
        return len(todo)

    def step_cost() -> float:
        """Steps of one full trial (the task's budget, else the longest trial seen)."""
        steps = getattr(t, "steps", None)
        if isinstance(steps, int) and steps > 0:
            return float(steps)
        return float(max([r.steps for r in results.values()] or [1]))

    # round one: a coarse grid; two seeds (unless the budget is small), so that one seed's
    # luck does not decide where the search looks
    first_seeds = pool[:2] if len(seed_list) > 1 and (max_trials is None or max_trials >= 30) \
        else pool[:1]
    grid = log_grid(lo, hi, points)
    cell = math.log10(hi / lo) / max(points - 1, 1)
    tried = sorted({lr for lr, _ in results})
    grid = [lr for lr in grid if not tried or min(
        abs(math.log10(lr / v)) for v in tried) > cell / 3]  # a tried LR near it serves
    plan: Plan | str | None = Plan(_pairs_of(grid, first_seeds), (lo, hi),
                                   f"coarse grid, {len(first_seeds)} seed"
                                   f"{'s' * (len(first_seeds) > 1)}")
    first = True
    stopped, reason, streak = "max_rounds", StopReason.MAX_ROUNDS, 0
    if prior:
        opt0 = optimum_from_trials(results.values(), t.direction, **opt_kw)
        done = _converged(opt0, tolerance, band_tol)
        if done is not None:  # the study's trials already answer it: nothing to train
            stopped, reason = done
            plan = None
        elif opt0.found and opt0.basis == "seeds":  # the study already located the top
            plan = next_round(results, opt0, rounds, pool, len(seed_list), refine_points,
                              _left(results, trial_cap, step_cap, step_cost()), first=False)
            first = False
        elif not plan.pairs:  # the study holds the coarse grid already
            plan = next_round(results, opt0, rounds, pool, len(seed_list), refine_points,
                              _left(results, trial_cap, step_cap, step_cost()), first=True)
            first = False
    for index in range(1, max_rounds + 1):
        if plan is None and reason.converged:
            break
        if isinstance(plan, str):
            stopped, reason = plan, _reason_of(plan)
            break
        plan = trim(plan, results, trial_cap, step_cap, step_cost(),
                    sum(r.steps for r in results.values()))
        if plan is None:
            stopped = (f"budget spent ({_budget_text(max_trials, max_steps)}): not converged; "
                       f"{_what_next(rounds)}")
            reason = StopReason.BUDGET
            break
        added = run(plan.pairs)
        opt = optimum_from_trials(results.values(), t.direction, **opt_kw)
        rnd = SearchRound(index, tuple(sorted({lr for lr, _ in plan.pairs})), plan.lr_range,
                          plan.reason, opt, len(results), sum(r.steps for r in results.values()),
                          tuple(sorted({s for _, s in plan.pairs})), added)
        rounds.append(rnd)
        log.info("%s", rnd.summary())
        if on_round is not None:
            on_round(rnd)
        done = _converged(opt, tolerance, band_tol)
        streak = streak + 1 if done is not None else 0
        if done is not None and streak >= confirm:
            stopped, reason = done
            break
        left = _left(results, trial_cap, step_cap, step_cost())
        plan = next_round(results, opt, rounds, pool, len(seed_list), refine_points, left,
                          first=first and index == 1)
        if isinstance(plan, str):
            stopped, reason = plan, _reason_of(plan)  # noise-limited, or nothing to try
            break
        if index == max_rounds:
            stopped = (f"max_rounds={max_rounds}: not converged"
                       + (f" (next: {plan.reason})" if isinstance(plan, Plan) else ""))
            reason = StopReason.MAX_ROUNDS

    result = SweepResult(results.values(), t.direction, t.metric_name, engine=names["engine"],
                         study=names["study"], protocol=_protocol(t))
    return SearchResult(rounds, result, stopped, options=opt_kw, converged=reason.converged,
                        stop_reason=reason, prior_trials=prior)


def _converged(opt: Optimum, tolerance: float, band_tol: float
               ) -> tuple[str, StopReason] | None:
    """(words, reason) when ``opt`` is converged: tight (high/low <= ``tolerance``) or flat
    (every LR in the interval within ``band_tol / 2`` of the best); None otherwise. An open
    end, one seed, or a best LR at the end of the seeded window is never converged."""
    if not (opt.found and not opt.at_edge and opt.basis == "seeds" and not opt.window_edge):
        return None
    if opt.ratio <= tolerance:
        return f"converged: interval x{opt.ratio:.2f} <= x{tolerance:.2f}", StopReason.TIGHT
    if opt.flat:
        return (f"converged, flat top: any LR in {opt.low:.3g}..{opt.high:.3g} is within "
                f"{band_tol / 2:.1%} of the best ({opt.level:.0%} confidence)", StopReason.FLAT)
    return None


def _pairs_of(lrs: Sequence[float], seeds: Sequence[int]) -> list[tuple[float, int]]:
    return [(lr, s) for s in seeds for lr in lrs]


def _reason_of(text: str) -> StopReason:
    return StopReason.NOISE_LIMITED if text.startswith("noise-limited") \
        else StopReason.NOTHING_TO_TRY


def _budget_text(max_trials: int | None, max_steps: int | None) -> str:
    parts = [f"max_trials={max_trials}"] if max_trials is not None else []
    parts += [f"max_steps={max_steps}"] if max_steps is not None else []
    return ", ".join(parts)


def _what_next(rounds: list[SearchRound]) -> str:
    if not rounds:
        return "raise the budget"
    opt = rounds[-1].optimum
    if opt.basis == "seeds" and math.isfinite(opt.ratio):
        n = opt.n_seeds
        return (f"interval x{opt.ratio:.2f} over {n} seeds ({n + 2} seeds would give about "
                f"x{opt.with_seeds(n + 2):.2f}); raise the budget to go on")
    return "raise the budget to go on"


def _left(results: dict, max_trials: int | None, max_steps: int | None,
          step_cost: float) -> float | None:
    """Full trials the budgets still allow (None: no budget)."""
    left = math.inf
    if max_trials is not None:
        left = max_trials - len(results)
    if max_steps is not None:
        used = sum(r.steps for r in results.values())
        left = min(left, (max_steps - used) / max(step_cost, 1.0))
    return None if math.isinf(left) else left


def _seeds(seeds: Any) -> list[int]:
    if isinstance(seeds, int) and not isinstance(seeds, bool):
        if seeds < 1:
            raise bad_arg("seeds", seeds, "a count >= 1 or a sequence of seeds",
                          "Pass seeds=3 (seeds 0, 1, 2) or seeds=(0, 1, 2).")
        return list(range(seeds))
    return check_seeds(seeds)


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

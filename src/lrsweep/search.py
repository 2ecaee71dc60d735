"""``search()``: rounds of sweeps that close in on the optimal LR, spending seeds where they
matter.

Round one is a coarse log grid over ``lr_range`` with the first seed only: one seed places
the optimum to within a grid cell, and a decade-wide cell is far wider than the sideways
spread of the seeds. Round two brackets the best point with a finer grid and every seed.
Each later round removes the larger part of the uncertainty (``lrsweep.plan.rounds``): new
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
from dataclasses import dataclass
from typing import Any

from .analysis import Optimum, estimate_optimum, optimum_from_trials
from .errors import bad_arg
from .plan.grid import check_lr_range, log_grid
from .plan.rounds import Plan, Stop, StopReason, next_round, trim
from .results.search_result import SearchResult, SearchRound
from .results.sweep_result import SweepResult
from .results.trial import TrialResult
from .sweep import as_task, check_seeds, protocol_of, sweep
from .text import plural

log = logging.getLogger("lrsweep")

__all__ = ["SearchResult", "SearchRound", "StopReason", "search"]


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
        confirm: stop as converged only after this many converged rounds in a row; when
            the budget (or ``max_rounds``) ends right after a converged round, the
            search is converged and its stop says the round was not confirmed.
        tensorboard: a folder for one TensorBoard run per trial (as in ``sweep``).
        estimator: the estimator of every round's optimum (``estimate_optimum``'s
            ``estimator=``; default: its default).
    """
    lo, hi = _check_range(lr_range)
    t = as_task(task, direction)
    seed_list = _seeds(seeds)
    pool = _seed_pool(seed_list, max_seeds, extra_seeds)
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

    trials = _Trials(t, engine, store, study, max_trials, max_steps,
                     dict(progress=progress, tensorboard=tensorboard, **engine_options))
    how = _Rules(pool, len(seed_list), refine_points, tolerance, band_tol, confirm,
                 max_rounds, max_trials, max_steps, opt_kw)
    plan, first = _first_plan(trials, lo, hi, points, how)
    rounds, stop = _rounds(trials, plan, first, how, on_round)
    result = SweepResult(trials.results.values(), t.direction, t.metric_name,
                         engine=trials.names["engine"], study=trials.names["study"],
                         protocol=protocol_of(t))
    return SearchResult(rounds, result, stop.text, options=opt_kw,
                        converged=stop.reason.converged, stop_reason=stop.reason,
                        prior_trials=trials.prior)


@dataclass(frozen=True)
class _Rules:
    """A search's settings, as its rounds use them (see ``search``'s arguments):
    ``pool`` the seeds it may use, ``base`` how many of them the curve starts with."""

    pool: list[int]
    base: int
    refine_points: int
    tolerance: float
    band_tol: float
    confirm: int
    max_rounds: int
    max_trials: int | None
    max_steps: int | None
    opt_kw: dict[str, Any]


def _rounds(trials: _Trials, plan: Plan | Stop, first: bool, how: _Rules,
            on_round: Callable[[SearchRound], None] | None
            ) -> tuple[list[SearchRound], Stop]:
    """Run rounds from ``plan`` until a stop: converged ``confirm`` rounds in a row,
    noise-limited or nothing to try, a budget spent, or ``max_rounds``."""
    rounds: list[SearchRound] = []
    stop, streak = Stop(StopReason.MAX_ROUNDS, "max_rounds"), 0
    done: Stop | None = None
    for index in range(1, how.max_rounds + 1):
        if isinstance(plan, Stop):  # the study already answers it, or nothing to try
            return rounds, plan
        trimmed = trials.trim(plan)
        if trimmed is None:
            budget = _budget_text(how.max_trials, how.max_steps)
            if done is not None:  # the last round converged; no budget left to confirm it
                return rounds, Stop(done.reason, f"{done.text} (in the last round only: "
                                                 f"the budget ({budget}) left none to "
                                                 "confirm it)")
            return rounds, Stop(StopReason.BUDGET,
                                f"budget spent ({budget}): not converged; "
                                f"{_what_next(rounds)}")
        rnd = trials.run_round(index, trimmed, how.opt_kw)
        rounds.append(rnd)
        log.info("%s", rnd.summary())
        if on_round is not None:
            on_round(rnd)
        done = _converged(rnd.optimum, how.tolerance, how.band_tol)
        streak = streak + 1 if done is not None else 0
        if done is not None and streak >= how.confirm:
            return rounds, done
        plan = next_round(trials.results, rnd.optimum, rounds, how.pool, how.base,
                          how.refine_points, trials.left(), first=first and index == 1)
        if isinstance(plan, Stop):  # noise-limited, or nothing to try
            return rounds, plan
        if index == how.max_rounds:
            stop = (Stop(done.reason, f"{done.text} (in the last round only: max_rounds="
                                      f"{how.max_rounds} left none to confirm it)")
                    if done is not None else
                    Stop(StopReason.MAX_ROUNDS,
                         f"max_rounds={how.max_rounds}: not converged (next: {plan.reason})"))
    return rounds, stop


def _seed_pool(seed_list: list[int], max_seeds: int | None,
               extra_seeds: Sequence[int] | None) -> list[int]:
    """The seeds the search may use, in order: ``seed_list``, then the extra ones up to
    ``max_seeds`` (``extra_seeds``, then the integers after the largest seed)."""
    extra: list[int] = []
    if extra_seeds is not None:
        check_seeds(extra_seeds)  # validates; the order given is kept
        extra = [s for s in dict.fromkeys(extra_seeds) if s not in seed_list]
    if max_seeds is None:
        max_seeds = (len(seed_list) + (len(extra) if extra_seeds is not None else 2)
                     if len(seed_list) > 1 else 1)
    _check_num("max_seeds", max_seeds, len(seed_list), int,
               f"an integer >= {len(seed_list)} (the seeds given)")
    n_extra = max_seeds - len(seed_list)
    extra += [max(seed_list + extra) + 1 + i for i in range(max(0, n_extra - len(extra)))]
    return seed_list + extra[:n_extra]


class _Trials:
    """The search's trials so far (a study's earlier ones included) and the budgets that
    count the search's own: runs a round's (lr, seed) pairs as sweeps, and says how many
    full trials the budgets still allow."""

    def __init__(self, task: Any, engine: Any, store: Any, study: str | None,
                 max_trials: int | None, max_steps: int | None,
                 sweep_options: dict[str, Any]) -> None:
        self.task, self.engine, self.store = task, engine, store
        self.sweep_options = sweep_options
        self.results: dict[tuple[float, int], TrialResult] = {}
        self.names = {"engine": engine if isinstance(engine, str)
                      else getattr(engine, "name", "engine"), "study": study}
        if store is not None:  # what the study already holds counts and is used
            from .store import open_study

            handle = open_study(store, task, study)
            self.names["study"] = handle.name
            for r in handle.results(curves=False):
                if r.status.value in ("ok", "diverged"):
                    self.results.setdefault(r.key, r)
        self.prior = len(self.results)
        prior_steps = self.steps_used()
        if self.prior:
            log.info("search: %s already in study %s", plural(self.prior, "trial"),
                     self.names["study"])
        self.trial_cap = None if max_trials is None else max_trials + self.prior
        self.step_cap = None if max_steps is None else max_steps + prior_steps

    def steps_used(self) -> int:
        return sum(r.steps for r in self.results.values())

    def step_cost(self) -> float:
        """Steps of one full trial (the task's budget, else the longest trial seen)."""
        steps = getattr(self.task, "steps", None)
        if isinstance(steps, int) and steps > 0:
            return float(steps)
        return float(max([r.steps for r in self.results.values()] or [1]))

    def left(self) -> float | None:
        """Full trials the budgets still allow (None: no budget)."""
        return _left(self.results, self.trial_cap, self.step_cap, self.step_cost())

    def trim(self, plan: Plan) -> Plan | None:
        return trim(plan, self.results, self.trial_cap, self.step_cap, self.step_cost(),
                    self.steps_used())

    def optimum(self, opt_kw: dict[str, Any]) -> Optimum:
        return optimum_from_trials(self.results.values(), self.task.direction, **opt_kw)

    def run(self, pairs: list[tuple[float, int]]) -> int:
        """Train the pairs not run yet; how many that was."""
        todo = [p for p in pairs if p not in self.results]
        by_seed: dict[int, list[float]] = {}
        for lr, s in todo:
            by_seed.setdefault(s, []).append(lr)
        # one sweep per group of seeds sharing the same LRs (a vectorized engine stacks them)
        groups: dict[tuple[float, ...], list[int]] = {}
        for s, lrs in by_seed.items():
            groups.setdefault(tuple(sorted(lrs)), []).append(s)
        for lrs, ss in groups.items():
            res = sweep(self.task, list(lrs), seeds=ss, engine=self.engine, store=self.store,
                        study=self.names["study"], **self.sweep_options)
            self.names["engine"], self.names["study"] = res.engine, res.study
            for r in res.trials:
                self.results.setdefault(r.key, r)
        return len(todo)

    def run_round(self, index: int, plan: Plan, opt_kw: dict[str, Any]) -> SearchRound:
        """Run ``plan``; the round, with the optimum over every trial after it."""
        added = self.run(plan.pairs)
        return SearchRound(index, tuple(sorted({lr for lr, _ in plan.pairs})), plan.lr_range,
                           plan.reason, self.optimum(opt_kw), len(self.results),
                           self.steps_used(), tuple(sorted({s for _, s in plan.pairs})), added)


def _first_plan(trials: _Trials, lo: float, hi: float, points: int, how: _Rules
                ) -> tuple[Plan | Stop, bool]:
    """Round one's plan (or a stop, when a study's earlier trials already answer it), and
    whether round one is still the coarse one.

    Round one is a coarse grid; two seeds (unless the budget is small), so that one seed's
    luck does not decide where the search looks. An LR a study tried near a grid point
    serves for it; a study that already located the top goes on from there."""
    results, pool = trials.results, how.pool
    first_seeds = pool[:2] if how.base > 1 and (how.max_trials is None
                                                or how.max_trials >= 30) else pool[:1]
    grid = log_grid(lo, hi, points)
    cell = math.log10(hi / lo) / max(points - 1, 1)
    tried = sorted({lr for lr, _ in results})
    grid = [lr for lr in grid if not tried or min(
        abs(math.log10(lr / v)) for v in tried) > cell / 3]  # a tried LR near it serves
    plan = Plan(_pairs_of(grid, first_seeds), (lo, hi),
                f"coarse grid, {plural(len(first_seeds), 'seed')}")
    if not trials.prior:
        return plan, True
    opt0 = trials.optimum(how.opt_kw)
    done = _converged(opt0, how.tolerance, how.band_tol)
    if done is not None:  # the study's trials already answer it: nothing to train
        return done, True
    if opt0.found and opt0.basis == "seeds":  # the study already located the top
        return next_round(results, opt0, [], pool, how.base, how.refine_points,
                          trials.left(), first=False), False
    if not plan.pairs:  # the study holds the coarse grid already
        return next_round(results, opt0, [], pool, how.base, how.refine_points,
                          trials.left(), first=True), False
    return plan, True


def _converged(opt: Optimum, tolerance: float, band_tol: float) -> Stop | None:
    """The stop when ``opt`` is converged: tight (high/low <= ``tolerance``) or flat
    (every LR in the interval within ``band_tol / 2`` of the best); None otherwise. An open
    end, one seed, or a best LR at the end of the seeded window is never converged."""
    if not (opt.found and not opt.at_edge and opt.basis == "seeds" and not opt.window_edge):
        return None
    if opt.ratio <= tolerance:
        return Stop(StopReason.TIGHT,
                    f"converged: interval x{opt.ratio:.2f} <= x{tolerance:.2f}")
    if opt.flat:
        return Stop(StopReason.FLAT,
                    f"converged, flat top: any LR in {opt.low:.3g}..{opt.high:.3g} is within "
                    f"{band_tol / 2:.1%} of the best ({opt.level:.0%} confidence)")
    return None


def _pairs_of(lrs: Sequence[float], seeds: Sequence[int]) -> list[tuple[float, int]]:
    return [(lr, s) for s in seeds for lr in lrs]


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
        where = "" if opt.plausible is None else " where the fit is"
        return (f"interval x{opt.ratio:.2f} over {n} seeds ({n + 2} seeds would give about "
                f"x{opt.with_seeds(n + 2):.2f}{where}); raise the budget to go on")
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

"""``sweep()``: plan -> engine -> store -> ``SweepResult``."""

from __future__ import annotations

import logging
import math
from collections.abc import Callable, Iterable, Sequence
from typing import Any, Protocol

from .engines import get_engine
from .engines.base import Engine
from .errors import bad_arg
from .plan.grid import canonical_lr, log_grid
from .results.sweep_result import SweepResult
from .results.trial import Status, TrialResult, TrialSpec
from .task import Task
from .task.objective import as_task
from .tensorboard_log import tensorboard_logger
from .text import plural
from .train.progress import progress_hook
from .train.threads import check_threads, sweep_threads

log = logging.getLogger("lrsweep")


class StudyHandle(Protocol):
    """What ``sweep`` needs from a store's study (see ``lrsweep.store``)."""

    name: str

    store: Any  # the Store: leases (lrsweep.store.lease) write through it

    def results(self) -> list[TrialResult]: ...
    def record(self, result: TrialResult) -> None: ...


def check_lrs(lrs: Any) -> list[float]:
    if lrs is None or isinstance(lrs, (str, bytes)) or not isinstance(lrs, Iterable):
        raise bad_arg("lrs", lrs, "a list of positive learning rates",
                      "Pass e.g. lrs=lrsweep.log_grid(1e-5, 1e-1, 10).")
    out = []
    for v in lrs:
        try:
            f = float(v)
        except (TypeError, ValueError):
            f = math.nan
        if not math.isfinite(f) or f <= 0:
            raise bad_arg("lrs", v, "positive finite learning rates",
                          "Every LR must be > 0; use a log grid such as log_grid(1e-5, 1e-1).")
        out.append(canonical_lr(f))
    if not out:
        raise bad_arg("lrs", lrs, "at least one learning rate", "Pass a non-empty list.")
    return sorted(set(out))


def check_seeds(seeds: Any, name: str = "seeds") -> list[int]:
    """The seeds to run: an integer is a count (``3``: seeds 0, 1, 2), a sequence names the
    seeds themselves (``(0, 5, 9)``), as in ``search`` and the CLI's ``--seeds``."""
    if isinstance(seeds, int) and not isinstance(seeds, bool):
        if seeds < 1:
            raise bad_arg(name, seeds, "a count >= 1 or a sequence of seeds",
                          f"Pass e.g. {name}=3 (seeds 0, 1, 2) or {name}=(0, 5, 9).")
        return list(range(seeds))
    try:
        vals = list(seeds)
    except TypeError:
        vals = None
    if isinstance(seeds, (str, bytes)) or not vals or not all(
            isinstance(s, int) and not isinstance(s, bool) and s >= 0 for s in vals):
        raise bad_arg(name, seeds, "a count >= 1 or a non-empty sequence of integers >= 0",
                      f"Pass e.g. {name}=3 (seeds 0, 1, 2) or {name}=(0, 5, 9).")
    return sorted(set(vals))


def sweep(
    task: Task | Callable[..., float],
    lrs: Sequence[float] | None = None,
    *,
    seeds: Sequence[int] | int = (0,),
    engine: str | Engine = "auto",
    store: Any = None,
    study: str | None = None,
    direction: str | None = None,
    lr_range: tuple[float, float] | None = None,
    num: int = 10,
    progress: bool | None = None,
    threads: int | str | None = "auto",
    on_result: Callable[[TrialResult], None] | None = None,
    tensorboard: str | None = None,
    **engine_options: Any,
) -> SweepResult:
    """Run one trial per (lr, seed) and return the results.

    Args:
        task: a ``Task``, or ``objective(trial) -> metric`` (then ``direction=`` is required).
        lrs: the LRs; default ``log_grid(*lr_range, num)``.
        seeds: data-order (and dropout) seeds: a count (``3``: seeds 0, 1, 2) or the seeds
            themselves (``(0, 5, 9)``); several give a noise estimate. Default: seed 0.
        engine: ``"auto"``, ``"sequential"``, ``"vectorized"``, ``"ray"`` or an Engine.
        store: None (in memory), a path to a SQLite file, or a store object; finished trials
            found there are reused, never recomputed.
        study: the study's name in the store (default: derived from the task).
        progress: a progress bar that advances by optimizer step: None (default) shows it
            where the output is a terminal (tqdm's auto-detection), True always, False never.
        threads: torch's CPU threads during the sweep, restored after it: ``"auto"`` (the
            idle cores, never more than torch's setting; see ``lrsweep.train.threads``), ``None``
            (torch's setting, untouched) or a number.
        tensorboard: a folder: each trial trained by this call is written there as a
            TensorBoard run (loss curve, HParams lr/seed/status -> metric).
    """
    t = as_task(task, direction)
    grid = _grid(lrs, lr_range, num)
    seed_list = check_seeds(seeds)
    threads = check_threads(threads)
    eng = get_engine(engine, t, **engine_options)
    specs = [TrialSpec(lr, s) for s in seed_list for lr in grid]
    handle, done = _open_study(store, t, study, specs)
    todo = [s for s in specs if (s.lr, s.seed) not in done]
    board = tensorboard_logger(tensorboard, t)
    run = _Run(t, eng.name, handle, study, done, len(specs) - len(todo),
               on_result=on_result, writers=[board] if board is not None else [])
    try:
        if todo:
            run.bar = _progress(len(todo) * run.per_trial, eng.name, run.unit, progress)
            with sweep_threads(threads, t) as run.policy, progress_hook(run.on_steps):
                if handle is not None:
                    from .store.lease import run_leased

                    # one unit (a trial, a stacked group) claimed at a time: N processes
                    # on one study share its trials, and what a live peer sweep trains is
                    # waited for, not trained twice
                    units = getattr(eng, "units", None)
                    run_leased(handle, todo, eng.name,
                               lambda specs: eng.run(t, specs, run.collect),
                               lambda r: run.collect(r, here=False),
                               None if units is None else (lambda specs: units(t, specs)))
                else:
                    eng.run(t, todo, run.collect)
    except BaseException as e:
        # nothing finished is lost: the store has it, and the exception carries it too
        e.partial_result = run.result()  # type: ignore[attr-defined]
        raise
    finally:
        if run.bar is not None:
            run.bar.close()
    return run.result()


def _grid(lrs: Sequence[float] | None, lr_range: tuple[float, float] | None,
          num: int) -> list[float]:
    """The sweep's LRs: ``lrs`` checked, or ``log_grid(*lr_range, num)``."""
    if lrs is None:
        lo, hi = lr_range if lr_range is not None else (1e-5, 1e-1)
        lrs = log_grid(lo, hi, num)
    grid = check_lrs(lrs)
    if isinstance(lrs, tuple) and len(grid) == 2 and grid[1] / grid[0] > 10:
        log.warning("sweep: 2 LRs (%.3g and %.3g); for a range use lrsweep.log_grid(lo, hi, n)"
                    " (search(task, (lo, hi)) takes a pair as a range)", grid[0], grid[1])
    return grid


def _open_study(store: Any, task: Any, study: str | None, specs: list[TrialSpec]
                ) -> tuple[StudyHandle | None, dict[tuple[float, int], TrialResult]]:
    """The study in ``store`` (None without a store) and its finished trials among
    ``specs`` (ok or diverged: reused, never trained again)."""
    if store is None:
        return None, {}
    from .store import open_study

    handle = open_study(store, task, study)
    wanted = {(s.lr, s.seed) for s in specs}
    done = {r.key: r for r in handle.results()
            if r.status in (Status.OK, Status.DIVERGED) and r.key in wanted}
    if done:
        log.info("reusing %s from the store; %d to run",
                 plural(len(done), "finished trial"), len(specs) - len(done))
    return handle, done


class _Run:
    """One sweep's bookkeeping while its engine runs: the results so far, the store's
    record, the progress bar, the per-trial writers (TensorBoard) and ``on_result``."""

    def __init__(self, task: Any, engine: str, handle: StudyHandle | None,
                 study: str | None, done: dict[tuple[float, int], TrialResult], reused: int,
                 *, on_result: Callable[[TrialResult], None] | None,
                 writers: list[Callable[[TrialResult], None]]) -> None:
        self.task, self.engine, self.handle, self.study = task, engine, handle, study
        self.results = dict(done)
        self.reused = reused
        self.on_result = on_result
        self.writers = writers
        # the bar counts trial-steps (a Task's budget is known) or trials (an objective's
        # is not)
        self.per_trial = task.steps if isinstance(task, Task) else 1
        self.unit = "step" if isinstance(task, Task) else "trial"
        self.bar: Any = None
        self.policy: Any = None  # the sweep's threads (lrsweep.train.threads.Threads)
        self.finished = 0

    def on_steps(self, n: int) -> None:  # engines report steps as they run (progress.advance)
        if self.bar is not None:
            self.bar.update(max(0, min(n, self.bar.total - self.bar.n)))

    def collect(self, r: TrialResult, *, here: bool = True) -> None:
        """A finished trial: ``here`` False for a peer sweep's (not trained here: not
        recorded again, not passed to ``on_result``)."""
        self.results[r.key] = r
        if self.handle is not None and here:
            self.handle.record(r)
        for write in self.writers:
            write(r)
        self.finished += 1
        bar = self.bar
        if bar is not None:  # a finished trial's whole budget is done (diverged: skipped)
            bar.update(max(0, self.finished * self.per_trial - bar.n))
            bar.set_postfix_str(f"lr={r.lr:.2e} {r.status.value}", refresh=False)
        if self.policy is not None:
            self.policy.recheck()  # threads="auto": follow a load that came or went
        if self.on_result is not None and here:
            self.on_result(r)

    def result(self) -> SweepResult:
        res = SweepResult(self.results.values(), self.task.direction, self.task.metric_name,
                          engine=self.engine, study=getattr(self.handle, "name", self.study),
                          protocol=protocol_of(self.task))
        res.reused = self.reused
        path = getattr(getattr(self.handle, "store", None), "path", None)
        res.store = None if path is None or str(path) == ":memory:" else str(path)
        policy = self.policy
        res.threads = (None if policy is None  # type: ignore[attr-defined]
                       else sorted(policy.used) if len(policy.used) > 1 else policy.threads)
        return res


def protocol_of(task: Any) -> dict[str, Any]:
    """``task.protocol()`` for a result's record, ``{}`` where the task cannot describe
    itself (a description must never sink a sweep or a search)."""
    try:
        return task.protocol()
    except Exception:
        return {}


def _progress(total: int, engine: str, unit: str, progress: bool | None) -> Any:
    """A tqdm bar: ``progress=None`` lets tqdm hide it where stderr is not a terminal."""
    if progress is False:
        return None
    from tqdm.auto import tqdm  # a core dependency; imported here to keep `import lrsweep` light

    return tqdm(total=total, desc=f"sweep ({engine})", unit=unit, leave=False,
                disable=None if progress is None else False, dynamic_ncols=True)

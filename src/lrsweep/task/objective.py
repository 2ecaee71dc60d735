"""User-owned training loops: ``sweep(objective, lrs=..., direction=...)``.

``objective(trial)`` trains however it likes at ``trial.lr`` (seeded by ``trial.seed``),
calls ``trial.report(step, loss)`` as it goes (which applies the divergence rule and stops a
diverging trial by raising ``TrialDiverged``), and returns the validation metric.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from typing import Any

from ..errors import TrialDiverged, bad_arg
from ..results.trial import TrialResult, TrialSpec, outcome, outcome_of_error
from ..train.divergence import DIVERGENCE_FACTOR, DivergenceMonitor
from ..train.rng import isolated_rng, seed_everything

log = logging.getLogger("lrsweep")


class Trial:
    """What ``objective(trial)`` receives."""

    def __init__(self, lr: float, seed: int, divergence_factor: float = DIVERGENCE_FACTOR) -> None:
        self.lr = lr
        self.seed = seed
        self.curve: list[float] = []
        self.steps: list[int] = []
        self._monitor = DivergenceMonitor(divergence_factor)

    def report(self, step: int, loss: float) -> None:
        """Record the training loss at ``step``; raises ``TrialDiverged`` if it diverged."""
        value = float(loss)
        self.steps.append(int(step))
        self.curve.append(value)
        if self._monitor.update(value):
            raise TrialDiverged(f"loss {value:.4g} at step {step} diverged "
                                f"(initial {self._monitor.initial})")

    def __repr__(self) -> str:
        return f"Trial(lr={self.lr:g}, seed={self.seed})"


class ObjectiveTask:
    """Adapter that lets a user's ``objective(trial) -> metric`` go through ``sweep``."""

    unstackable_reason = ("an objective function trains in its own loop, which cannot be "
                          "stacked; only a Task can be vectorized")

    def __init__(self, objective: Callable[[Trial], float], direction: str | None,
                 divergence_factor: float = DIVERGENCE_FACTOR, name: str | None = None) -> None:
        from . import normalize_direction

        if not callable(objective):
            raise bad_arg("objective", objective, "callable(trial) -> metric",
                          "Pass a Task or a function.")
        self.objective = objective
        self.direction = normalize_direction(direction)
        self.divergence_factor = float(divergence_factor)
        self.metric_name = "metric"
        self.name = name or getattr(objective, "__qualname__", "objective")

    def run_trial(self, spec: TrialSpec, engine: str = "sequential") -> TrialResult:
        """Call the objective at ``spec``'s LR, its RNG seeded by ``spec.seed`` (global state
        restored after). Never raises for the trial's own failure: a ``TrialDiverged`` (from
        ``trial.report``) or a non-finite value is ``diverged``, an exception ``failed``."""
        t0 = time.perf_counter()
        trial = Trial(spec.lr, spec.seed, self.divergence_factor)
        try:
            with isolated_rng():
                seed_everything(spec.seed)
                value = self.objective(trial)
            return outcome(spec, float(value), trial.curve, time.perf_counter() - t0, engine)
        except Exception as e:
            if not isinstance(e, TrialDiverged):
                log.warning("objective lr=%g seed=%d failed: %s", spec.lr, spec.seed, e)
            return outcome_of_error(spec, e, trial.curve, time.perf_counter() - t0, engine)

    def protocol(self) -> dict[str, Any]:
        """The objective's code with its closure cells, defaults and the globals it reads
        (``make_objective(width)`` gives each width its own protocol), and the direction."""
        from ..fingerprint import FORMAT, describe, qualname

        return {
            "fingerprint_format": FORMAT,
            "objective": qualname(self.objective),
            "objective_code": describe(self.objective),
            "direction": self.direction,
            "divergence_factor": self.divergence_factor,
        }


def as_task(task: Any, direction: str | None, divergence_factor: float = DIVERGENCE_FACTOR) -> Any:
    """``task`` as something an engine runs: a ``Task`` as it is (``direction`` must agree),
    a callable ``objective(trial)`` wrapped in an ``ObjectiveTask`` (``direction`` needed)."""
    from . import Task

    if isinstance(task, (Task, ObjectiveTask)):
        if isinstance(task, Task) and direction is not None and direction != task.direction:
            raise bad_arg("direction", direction, f"{task.direction!r} (the task's direction)",
                          "Set the direction on the Task, not on sweep().")
        return task
    if callable(task):
        if direction is None:
            raise bad_arg("direction", None, "'max' or 'min' for an objective function",
                          "Say how the value your objective returns improves, e.g. "
                          "sweep(objective, lrs=..., direction='min').")
        return ObjectiveTask(task, direction, divergence_factor)
    raise bad_arg("task", type(task).__name__, "an lrsweep.Task or callable(trial) -> metric",
                  "Build a Task(model=..., optimizer=..., train_data=..., val_data=...).")

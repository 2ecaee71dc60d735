"""The engine protocol, and what an engine needs from a task (``TaskKind``, ``TrainableTask``,
defined with the task in ``lrsweep.task.kind``): the types every engine imports.
The engines by name (``get_engine``, ``engine="auto"``) are in ``lrsweep.engines``."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Protocol, runtime_checkable

from ..results.trial import TrialResult, TrialSpec
from ..task.kind import TaskKind, TrainableTask

__all__ = ["Engine", "ResultCallback", "TaskKind", "TrainableTask"]

ResultCallback = Callable[[TrialResult], None]


@runtime_checkable
class Engine(Protocol):
    name: str

    def run(self, task: TaskKind, specs: Sequence[TrialSpec], on_result: ResultCallback) -> None:
        """Run every spec; call ``on_result`` once per trial as it finishes. A trial that
        raises is reported as failed; the others go on.

        An engine may also define ``units(task, specs) -> list[list[TrialSpec]]``: how it
        would split ``specs`` into units of work it runs together (one trial each for the
        sequential engine, one stacked group for the vectorized engine). A sweep on a shared
        study claims them one unit at a time, so that several processes share the work;
        without it, a sweep claims all its trials at once."""

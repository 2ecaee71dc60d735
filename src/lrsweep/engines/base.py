"""The engine protocol and what an engine needs from a task: the types every engine imports.
The engines by name (``get_engine``, ``engine="auto"``) are in ``lrsweep.engines``."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any, Protocol, runtime_checkable

from ..results.trial import TrialResult, TrialSpec

ResultCallback = Callable[[TrialResult], None]


class TaskKind(Protocol):
    """What an engine needs from a task, whatever its kind (``Task``, an objective).

    Each kind runs its own trial, so no engine needs to know which kinds exist; a kind whose
    trials cannot be stacked says why in ``unstackable_reason`` (None for a ``Task``, whose
    model, optimizer and data the vectorized engine stacks)."""

    direction: str
    unstackable_reason: str | None

    def run_trial(self, spec: TrialSpec, engine: str) -> TrialResult:
        """Train and score one trial; never raises for the trial's own failure."""

    def protocol(self) -> dict[str, Any]:
        """Everything that defines a trial except its LR and seed."""


@runtime_checkable
class Engine(Protocol):
    name: str

    def run(self, task: Any, specs: Sequence[TrialSpec], on_result: ResultCallback) -> None:
        """Run every spec; call ``on_result`` once per trial as it finishes. A trial that
        raises is reported as failed; the others go on.

        An engine may also define ``units(task, specs) -> list[list[TrialSpec]]``: how it
        would split ``specs`` into units of work it runs together (one trial each for the
        sequential engine, one stacked group for the vectorized engine). A sweep on a shared
        study claims them one unit at a time, so that several processes share the work;
        without it, a sweep claims all its trials at once."""

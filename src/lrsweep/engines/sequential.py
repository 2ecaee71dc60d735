"""The sequential engine: one trial after another, eager. The reference semantics every other
engine must reproduce.

Each task kind runs its own trial (``task.run_trial(spec, engine)``): a ``Task`` through the
training loop in ``lrsweep.train.loop``, an objective through the user's function. The engine
only orders the trials and reports each result as it finishes.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from ..results.trial import TrialSpec
from .base import ResultCallback

__all__ = ["SequentialEngine"]


class SequentialEngine:
    """One trial after another: the reference."""

    name = "sequential"

    def units(self, task: Any, specs: Sequence[TrialSpec]) -> list[list[TrialSpec]]:
        """The units a sweep on a shared study claims one at a time: one trial each."""
        return [[s] for s in specs]

    def run(self, task: Any, specs: Sequence[TrialSpec], on_result: ResultCallback) -> None:
        for spec in specs:
            on_result(task.run_trial(spec, self.name))

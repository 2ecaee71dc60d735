"""The engine protocol and the lookup by name."""

from __future__ import annotations

import logging
from collections.abc import Callable, Sequence
from typing import Any, Protocol, runtime_checkable

from ..errors import EngineUnavailable, bad_arg, bad_choice
from ..progress import advance, progress_hook  # noqa: F401 (engines report steps: advance)
from ..trial import TrialResult, TrialSpec

log = logging.getLogger("lrsweep")

ResultCallback = Callable[[TrialResult], None]
ENGINES = ("auto", "sequential", "vectorized", "ray")


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


def get_engine(engine: str | Engine, task: Any = None, **options: Any) -> Engine:
    """Resolve ``engine`` (a name or an Engine) for ``task``. ``"auto"`` picks the fastest
    engine that supports the task and logs why."""
    if not isinstance(engine, str):
        if isinstance(engine, Engine):
            return engine
        raise bad_arg("engine", engine, f"one of {ENGINES} or an Engine object",
                      "Pass engine='sequential'.")
    if engine not in ENGINES:
        raise bad_choice("engine", engine, ENGINES, "Pass engine='auto'.")
    from .sequential import SequentialEngine

    if engine == "sequential":
        return SequentialEngine(**options)
    if engine == "vectorized":
        from .vectorized import VectorizedEngine  # noqa: PLC0415

        return VectorizedEngine(task=task, **options)
    if engine == "ray":
        from .ray import RayEngine  # noqa: PLC0415

        return RayEngine(**options)
    # auto
    try:
        from .vectorized import choose_auto  # noqa: PLC0415
    except ImportError:
        return SequentialEngine()
    try:
        return choose_auto(task, **options)
    except EngineUnavailable as e:
        log.info("engine='auto': using sequential (%s)", e)
        return SequentialEngine()

"""Engines: how the trials of a sweep execute. Each takes a task and a list of
``TrialSpec`` and calls ``on_result`` with every ``TrialResult`` as soon as it is known.

``base`` holds the protocol every engine implements; each engine is its own module
(``sequential``, ``vectorized``, ``ray``) and imports only ``base``; ``local`` resolves the
engines that run in this process by name, and makes the ``engine="auto"`` choice;
``get_engine`` here resolves any name.
"""

from __future__ import annotations

from typing import Any

from ..errors import bad_arg, bad_choice
from .base import Engine, ResultCallback, TaskKind
from .local import LOCAL_ENGINES, choose_auto, local_engine
from .sequential import SequentialEngine

__all__ = ["ENGINES", "Engine", "ResultCallback", "SequentialEngine", "TaskKind",
           "choose_auto", "get_engine", "local_engine"]

ENGINES = (*LOCAL_ENGINES, "ray")


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
    if engine == "ray":
        from .ray import RayEngine  # noqa: PLC0415 (loaded when asked for)

        return RayEngine(**options)
    return local_engine(engine, task, **options)

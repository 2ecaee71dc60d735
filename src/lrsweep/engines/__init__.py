"""Engines: how the trials of a sweep execute. Each takes a task and a list of
``TrialSpec`` and calls ``on_result`` with every ``TrialResult`` as soon as it is known."""

from __future__ import annotations

from .base import Engine, get_engine
from .sequential import SequentialEngine

__all__ = ["Engine", "SequentialEngine", "get_engine"]

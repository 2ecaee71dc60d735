"""Progress within trials, for the sweep's progress bar.

An engine (or the trial loop it runs) calls ``advance(n)`` when n trial-steps are done: one
optimizer step of n trials. ``sweep`` routes the calls to its bar with ``progress_hook``, so
the bar moves by step, not by finished trial, and its ETA is honest. Optional for an engine:
``sweep`` also counts each finished trial's whole budget as done. Outside a sweep (or in
another process, such as a Ray worker) ``advance`` does nothing.
"""

from __future__ import annotations

import contextlib
import contextvars
from collections.abc import Callable, Iterator

_PROGRESS: contextvars.ContextVar[Callable[[int], None] | None] = contextvars.ContextVar(
    "lrsweep_progress", default=None)


def advance(n: int = 1) -> None:
    """Report ``n`` trial-steps done to the sweep's progress bar (a no-op without one)."""
    hook = _PROGRESS.get()
    if hook is not None:
        hook(n)


@contextlib.contextmanager
def progress_hook(fn: Callable[[int], None] | None) -> Iterator[None]:
    """Route ``advance`` calls made in this context (this thread) to ``fn``."""
    token = _PROGRESS.set(fn)
    try:
        yield
    finally:
        _PROGRESS.reset(token)

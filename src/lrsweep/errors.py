"""The exceptions lrsweep raises. One root, ``LRSweepError``; messages say what was given,
what was expected, and what to do."""

from __future__ import annotations

import contextlib
import difflib
import os
import sys
import traceback
from collections.abc import Iterable


class LRSweepError(Exception):
    """Root of every error lrsweep raises on purpose."""


class ConfigError(LRSweepError, ValueError):
    """A bad argument, caught before any training starts."""


class StoreError(LRSweepError):
    """A store file that cannot be used (foreign, corrupted, newer schema, wrong protocol)."""


class EngineUnavailable(LRSweepError):
    """An engine that cannot run this task (the reason says why)."""


class TrialDiverged(LRSweepError):
    """Raised inside a trial to stop it as diverged (also by ``Trial.report`` in the
    objective API)."""


def bad_arg(name: str, given: object, expected: str, todo: str) -> ConfigError:
    """Build the standard message: what was given, what was expected, what to do."""
    shown = repr(given)
    if len(shown) > 80:
        shown = shown[:77] + "..."
    return ConfigError(f"{name}={shown}: expected {expected}. {todo}")


def closest(value: object, choices: Iterable[object]) -> str | None:
    """The choice nearest to ``value`` (``difflib``, case-insensitive), or None.

    >>> closest("vectorised", ("auto", "sequential", "vectorized", "ray"))
    'vectorized'
    """
    names = [str(c) for c in choices]
    lowered = {n.lower(): n for n in names}
    hit = difflib.get_close_matches(str(value).lower(), list(lowered), n=1, cutoff=0.6)
    return lowered[hit[0]] if hit else None


def bad_choice(name: str, given: object, choices: Iterable[object],
               todo: str | None = None) -> ConfigError:
    """``bad_arg`` for a value outside a fixed set: suggests the closest choice."""
    names = [str(c) for c in choices]
    near = closest(given, names)
    hint = f"Did you mean {near!r}?" if near is not None else (
        todo or f"Pick one of {', '.join(names)}.")
    return bad_arg(name, given, f"one of {', '.join(repr(n) for n in names)}", hint)


def user_error(e: BaseException) -> str:
    """``TypeError: message (at mymod.py:12 in make)``: an exception raised by the user's
    code, with the deepest frame of that code (outside lrsweep, the standard library and
    installed packages; the deepest frame of all when there is none)."""
    frames = traceback.extract_tb(e.__traceback__)
    here = os.path.dirname(os.path.abspath(__file__))
    system = {os.path.abspath(p) for p in (sys.prefix, sys.base_prefix, sys.exec_prefix)}

    def user(f: traceback.FrameSummary) -> bool:
        path = os.path.abspath(f.filename)
        return not (path.startswith(here + os.sep) or f.filename.startswith("<")
                    or any(path.startswith(p + os.sep) for p in system)
                    or "site-packages" in path)

    mine = [f for f in frames if user(f)]
    pick = mine[-1] if mine else (frames[-1] if frames else None)
    where = ""
    if pick is not None:
        shown = os.path.abspath(pick.filename)
        with contextlib.suppress(ValueError):  # another drive (Windows)
            rel = os.path.relpath(shown)
            shown = rel if not rel.startswith("..") else shown
        where = f" (at {shown}:{pick.lineno} in {pick.name})"
    first = str(e).strip().splitlines()[0] if str(e).strip() else ""
    return f"{type(e).__name__}: {first}{where}"

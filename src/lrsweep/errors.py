"""The exceptions lrsweep raises. One root, ``LRSweepError``; messages say what was given,
what was expected, and what to do."""

from __future__ import annotations


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

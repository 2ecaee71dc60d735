"""Optional dependencies: imported when a feature needs them, with the extra that installs
them named when they are missing (as optuna's ``try_import``)."""

from __future__ import annotations

import importlib
from types import ModuleType

from .errors import LRSweepError


class MissingDependency(LRSweepError, ImportError):
    """An optional dependency is not installed (the message names the extra that installs
    it)."""


def require(module: str, extra: str, what: str) -> ModuleType:
    """Import ``module`` or raise ``MissingDependency`` naming the extra to install."""
    try:
        return importlib.import_module(module)
    except ImportError as e:
        raise MissingDependency(
            f"{what} needs the {module.split('.')[0]!r} package, which is not installed "
            f"({e}). Install it with: pip install \"lrsweep[{extra}]\"") from e

"""lrsweep: find the optimal learning rate by controlled sweeps, and carry it to scale.

The names below load on first use (PEP 562): ``import lrsweep`` and the read-only commands
(``lrsweep studies``, ``show``, ``export``, ``report``, ``--version``) do not import torch.
"""

from __future__ import annotations

import importlib
import sys
import types
from typing import TYPE_CHECKING, Any

from ._version import __version__

# public name -> the submodule that defines it
_LAZY = {
    "ConfigError": "errors",
    "EngineUnavailable": "errors",
    "LRSweepError": "errors",
    "StoreError": "errors",
    "TrialDiverged": "errors",
    "Optimum": "analysis",
    "log_grid": "plan.grid",
    "lr_finder": "lr_finder",
    "Trial": "task.objective",
    "SweepResult": "results.sweep_result",
    "SearchResult": "results.search_result",
    "search": "search",
    "sweep": "sweep",
    "Task": "task",
    "Status": "results.trial",
    "TrialResult": "results.trial",
    "TrialSpec": "results.trial",
}

__all__ = [
    "ConfigError",
    "EngineUnavailable",
    "LRSweepError",
    "Optimum",
    "SearchResult",
    "Status",
    "StoreError",
    "SweepResult",
    "Task",
    "Trial",
    "TrialDiverged",
    "TrialResult",
    "TrialSpec",
    "__version__",
    "log_grid",
    "lr_finder",
    "search",
    "sweep",
]

if TYPE_CHECKING:  # for type checkers and IDEs; at run time the names load lazily
    from .analysis import Optimum
    from .errors import ConfigError, EngineUnavailable, LRSweepError, StoreError, TrialDiverged
    from .lr_finder import lr_finder
    from .plan.grid import log_grid
    from .results.sweep_result import SweepResult
    from .results.trial import Status, TrialResult, TrialSpec
    from .search import SearchResult, search
    from .sweep import sweep
    from .task import Task
    from .task.objective import Trial


class _Package(types.ModuleType):
    """The package's module type. Three public names are functions named like the module
    that defines them (``search``, ``sweep``, ``lr_finder``); when the import system loads
    such a submodule it sets it on the package, and this keeps the function there instead,
    as the eager imports did."""

    def __setattr__(self, name: str, value: Any) -> None:
        if (isinstance(value, types.ModuleType) and _LAZY.get(name) == name
                and value.__name__ == f"{__name__}.{name}" and hasattr(value, name)):
            value = getattr(value, name)
        super().__setattr__(name, value)


sys.modules[__name__].__class__ = _Package


# subpackages reached as attributes (``lrsweep.fingerprint.exclude``, ``lrsweep.transfer``),
# imported on first use as the eager package did
_SUBPACKAGES = ("analysis", "engines", "examples", "fingerprint", "integrations", "plan",
                "plot", "report", "results", "store", "task", "train", "transfer")


def __getattr__(name: str) -> Any:
    if name in _SUBPACKAGES:
        return importlib.import_module(f".{name}", __name__)
    module = _LAZY.get(name)
    if module is None:
        raise AttributeError(f"module 'lrsweep' has no attribute {name!r}")
    value = getattr(importlib.import_module(f".{module}", __name__), name)
    globals()[name] = value  # later look-ups skip __getattr__
    return value


def __dir__() -> list[str]:
    return sorted(set(globals()) | set(_LAZY))

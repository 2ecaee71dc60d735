"""lrsweep: find the optimal learning rate by controlled sweeps, and carry it to scale."""

from __future__ import annotations

from .analysis import Optimum
from .errors import ConfigError, EngineUnavailable, LRSweepError, StoreError, TrialDiverged
from .grid import log_grid
from .lr_finder import lr_finder
from .objective import Trial
from .result import SweepResult
from .search import SearchResult, search
from .sweep import sweep
from .task import Task
from .trial import Status, TrialResult, TrialSpec

__version__ = "0.1.0"

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

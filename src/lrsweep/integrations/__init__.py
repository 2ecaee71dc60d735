"""Sweep the training set-ups users already have: Hugging Face ``Trainer`` arguments and
PyTorch Lightning modules as lrsweep Tasks, and TensorBoard logging of sweeps.

Each module imports its framework lazily and says which extra to install when it is missing:

- ``lrsweep.integrations.transformers.task_from_trainer`` (``pip install "lrsweep[hf]"``)
- ``lrsweep.integrations.lightning.task_from_lightning`` (``pip install "lrsweep[lightning]"``)
- ``lrsweep.integrations.tensorboard`` (``pip install "lrsweep[tensorboard]"``), used by
  ``sweep(..., tensorboard=DIR)``, ``search(..., tensorboard=DIR)`` and ``--tensorboard DIR``
"""

from __future__ import annotations

import importlib
from types import ModuleType

from ..errors import LRSweepError


class MissingDependency(LRSweepError, ImportError):
    """An optional dependency of an integration is not installed (the message names the
    extra that installs it)."""


def require(module: str, extra: str, what: str) -> ModuleType:
    """Import ``module`` or raise ``MissingDependency`` naming the extra to install."""
    try:
        return importlib.import_module(module)
    except ImportError as e:
        raise MissingDependency(
            f"{what} needs the {module.split('.')[0]!r} package, which is not installed "
            f"({e}). Install it with: pip install \"lrsweep[{extra}]\"") from e

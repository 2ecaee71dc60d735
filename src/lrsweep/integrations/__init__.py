"""Sweep the training set-ups users already have: Hugging Face ``Trainer`` arguments and
PyTorch Lightning modules as lrsweep Tasks, and TensorBoard logging of sweeps.

Each module imports its framework lazily and says which extra to install when it is missing:

- ``lrsweep.integrations.transformers.task_from_trainer`` (``pip install "lrsweep[hf]"``)
- ``lrsweep.integrations.lightning.task_from_lightning`` (``pip install "lrsweep[lightning]"``)
- ``lrsweep.integrations.tensorboard`` (``pip install "lrsweep[tensorboard]"``), used by
  ``sweep(..., tensorboard=DIR)``, ``search(..., tensorboard=DIR)`` and ``--tensorboard DIR``
"""

from __future__ import annotations

from ..optional import MissingDependency, require

__all__ = ["MissingDependency", "require"]

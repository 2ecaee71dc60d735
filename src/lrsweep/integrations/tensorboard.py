"""TensorBoard logging of a sweep, one run per trial: ``lrsweep.tensorboard_log`` (an output
of the core, like the JSON and the CSV), re-exported here beside the other integrations.
Used by ``sweep(..., tensorboard=DIR)``, ``search(..., tensorboard=DIR)`` and the CLI's
``--tensorboard DIR`` (``pip install "lrsweep[tensorboard]"``)."""

from __future__ import annotations

from ..tensorboard_log import STATUSES, TensorBoardLog, run_name, tensorboard_logger

__all__ = ["STATUSES", "TensorBoardLog", "run_name", "tensorboard_logger"]

"""TensorBoard logging of a sweep: one run per trial, named by its LR and seed, holding the
training-loss curve (scalar ``train/loss`` per optimizer step) and the trial's HParams
(``lr``, ``seed``, ``status``) with the metric, so that TensorBoard's HParams view plots the
metric against the LR.

Used by ``sweep(..., tensorboard=DIR)``, ``search(..., tensorboard=DIR)`` and the CLI's
``--tensorboard DIR``; it logs each trial as ``sweep`` receives it from the engine (every
engine), and only trials trained in that call, so a resumed study does not log twice. A run
folder that already exists (a failed trial trained again) is never written into: the new run
gets a ``,try=N`` suffix.

An output of a sweep like its JSON and CSV (it reads only ``TrialResult``s), so it lives in
the core; ``tensorboard`` is an optional dependency, imported when a folder is given
(``pip install "lrsweep[tensorboard]"``). ``lrsweep.integrations.tensorboard`` re-exports it.
"""

from __future__ import annotations

import math
from pathlib import Path
from typing import Any

from .optional import require
from .results.trial import Status, TrialResult

__all__ = ["STATUSES", "TensorBoardLog", "run_name", "tensorboard_logger"]

STATUSES = [s.value for s in Status]


def run_name(lr: float, seed: int) -> str:
    """The run folder of a trial: ``lr=0.001,seed=0``."""
    return f"lr={lr:.6g},seed={seed}"


class TensorBoardLog:
    """Writes each ``TrialResult`` it is called with as a TensorBoard run under ``logdir``."""

    def __init__(self, logdir: str | Path, metric_name: str, direction: str) -> None:
        require("tensorboard", "tensorboard", "tensorboard=")
        from torch.utils.tensorboard import SummaryWriter  # noqa: F401  (checks the import)

        self.logdir = Path(logdir)
        self.metric_tag = f"metric/{metric_name}"
        self.direction = direction
        self.written: list[Path] = []

    def _folder(self, r: TrialResult) -> Path:
        base = self.logdir / run_name(r.lr, r.seed)
        folder, n = base, 1
        while folder.exists():
            n += 1
            folder = base.with_name(f"{base.name},try={n}")
        return folder

    def __call__(self, r: TrialResult) -> None:
        from torch.utils.tensorboard import SummaryWriter
        from torch.utils.tensorboard.summary import hparams

        folder = self._folder(r)
        with SummaryWriter(log_dir=str(folder)) as w:
            for step, loss in enumerate(r.curve):
                if math.isfinite(loss):
                    w.add_scalar("train/loss", loss, step)
            exp, ssi, sei = hparams({"lr": r.lr, "seed": r.seed, "status": r.status.value},
                                    {self.metric_tag: 0.0},
                                    hparam_domain_discrete={"status": STATUSES})
            for s in (exp, ssi, sei):
                w.file_writer.add_summary(s)
            if r.ok:
                w.add_scalar(self.metric_tag, float(r.metric), len(r.curve))  # type: ignore[arg-type]
        self.written.append(folder)


def tensorboard_logger(logdir: Any, task: Any) -> TensorBoardLog | None:
    """The logger for ``sweep(..., tensorboard=logdir)``, or None when not asked for."""
    if logdir is None:
        return None
    return TensorBoardLog(logdir, task.metric_name, task.direction)

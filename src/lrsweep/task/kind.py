"""What the engines need of a task, as typed contracts (``typing.Protocol``).

- ``TaskKind``: what every engine needs of any kind of task (an ``lrsweep.Task``, an
  objective function): which way its metric improves, its protocol, and a trial it runs
  itself. A kind whose trials cannot be stacked says why in ``unstackable_reason``.
- ``TrainableTask``: what the code that trains a task's model itself reads of it (the
  vectorized engine, which stacks the trials of a ``Task``; the trial loop in
  ``lrsweep.train.loop``; the noise-scale measurement): its device, budget, data, optimizer,
  precision, forward and metric. ``lrsweep.Task`` is one.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, Protocol

if TYPE_CHECKING:  # annotations only: importing this module loads no torch of its own
    from contextlib import AbstractContextManager

    import torch
    from torch import nn

    from ..results.trial import TrialResult, TrialSpec
    from ..train.schedule import Table
    from .data import Batch, DataSource


class TaskKind(Protocol):
    """What an engine needs from a task, whatever its kind (``Task``, an objective).

    Each kind runs its own trial, so no engine needs to know which kinds exist; a kind whose
    trials cannot be stacked says why in ``unstackable_reason`` (None for a ``Task``, whose
    model, optimizer and data the vectorized engine stacks)."""

    direction: str
    unstackable_reason: str | None

    def run_trial(self, spec: TrialSpec, engine: str) -> TrialResult:
        """Train and score one trial; never raises for the trial's own failure."""

    def protocol(self) -> dict[str, Any]:
        """Everything that defines a trial except its LR and seed."""


class TrainableTask(TaskKind, Protocol):
    """A task whose trials lrsweep trains itself: the attributes and methods the trial loop
    and the vectorized engine read (``lrsweep.Task`` has them all)."""

    device: torch.device
    precision: str  # "fp32" | "bf16" | "fp16"
    steps: int  # the budget, in optimizer steps
    warmup_steps: int
    schedule: str | Table
    accumulation_steps: int  # micro-batches per optimizer step
    clip_grad_norm: float | None
    divergence_factor: float
    seed_init: bool  # each seed re-initialises the model
    train: DataSource
    val: DataSource
    evaluate_fn: Any  # callable(model, val_data) -> float replacing the metric, or None

    def initial_model(self, seed: int = 0) -> nn.Module:
        """A fresh copy of the initial weights on the task's device."""

    def make_optimizer(self, model: nn.Module, lr: float) -> torch.optim.Optimizer:
        """A fresh optimizer over ``model``'s trainable parameters at ``lr``."""

    def compute_loss(self, model: nn.Module, batch: Batch) -> tuple[torch.Tensor, Any]:
        """Loss (a scalar tensor) and outputs of one batch."""

    def batch_metric(self, model: nn.Module, batch: Batch) -> torch.Tensor:
        """Mean metric over one validation batch (a 0-d tensor)."""

    def evaluate(self, model: nn.Module) -> float:
        """Validation metric of ``model``."""

    def autocast(self) -> AbstractContextManager[Any]:
        """The autocast context of the task's precision."""

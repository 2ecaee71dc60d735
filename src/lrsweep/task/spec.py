"""The ``Task`` class: what one trial trains (model, optimizer, data, loss, metric, budget,
warmup, schedule), every argument checked and a dry run made when it is built; a trial's
fresh model and optimizer; its loss, metric and protocol (from ``batch`` and
``protocol``)."""

from __future__ import annotations

import copy
from collections.abc import Callable
from typing import Any

import torch
from torch import nn

from ..errors import bad_arg
from ..fingerprint import callable_name
from ..results.trial import TrialResult, TrialSpec
from ..train.divergence import DIVERGENCE_FACTOR
from ..train.loop import run_trial
from ..train.rng import fork_devices
from ..train.schedule import SCHEDULES, Table
from .arguments import (
    PRECISIONS,
    build_from_factory,
    check_choice,
    check_clip_grad_norm,
    check_device,
    check_divergence_factor,
    check_forward,
    check_int,
    check_optimizer,
    loss_function,
    metric_choice,
    model_template,
    task_data,
)
from .batch import (
    autocast,
    forward_loss,
    loss_of,
    mean_over_samples,
    metric_of,
    model_outputs,
)
from .budget import budget, check_table
from .data import Batch, TensorData, num_batches
from .dry_run import check_by_dry_run
from .protocol import task_protocol


class Task:
    """What one trial trains.

    Args:
        model: an ``nn.Module`` (deep-copied now; the original is never trained) or a
            zero-argument factory returning one (called under ``init_seed``).
        optimizer: an optimizer class (``torch.optim.AdamW``) or ``callable(params, lr)``
            returning an optimizer (param groups allowed: their LR ratios are kept).
        train_data, val_data: DataLoaders, re-iterables of batches, or in-memory tensors
            ``(x, y)`` / dicts of tensors with ``batch_size=``.
        loss: module, class or ``callable(outputs, targets)``; ignored when the model returns
            its own loss or ``forward=`` is given. Default cross-entropy.
        metric: ``"accuracy"`` (max), ``"loss"`` (min), or ``callable(outputs, targets)``
            averaged over validation samples, with ``direction=``.
        epochs / steps: the budget (optimizer steps). warmup_epochs / warmup_steps: linear
            warmup that reaches the full LR at its last step. schedule: after warmup,
            ``"constant"``, ``"cosine"`` or ``"linear"``; or a ``schedule.Table`` of
            per-step multipliers (warmup included, at least ``steps`` long).
        forward: optional ``callable(model, batch) -> loss`` or ``-> (loss, outputs)``.
        evaluate: optional ``callable(model, val_data) -> float`` replacing the metric
            (``direction=`` required); it gets ``val_data`` as given (tensors on the device).
        precision: ``"fp32"``, ``"bf16"`` or ``"fp16"`` (autocast; fp16 with a grad scaler).
        accumulation_steps: micro-batches per optimizer step. clip_grad_norm: max grad norm.
        divergence_factor: a smoothed training loss above this many times the initial loss
            (or a non-finite loss) stops the trial as diverged.
        init_seed: RNG seed for building the model from a factory. seed_init: if True, each
            sweep seed re-initialises the model (factory only).
        device: where to train; default CUDA when available.
        data_version: any label (``"2024-06-01"``, ``3``) for data that changed in ways the
            fingerprint cannot see (files behind a DataLoader: only its length and 64
            samples spread over it are hashed); a new label makes a new protocol.
    """

    unstackable_reason: str | None = None  # a Task's trials can be stacked (vectorized)

    def __init__(
        self,
        model: nn.Module | Callable[[], nn.Module],
        optimizer: type[torch.optim.Optimizer] | Callable[..., torch.optim.Optimizer],
        train_data: Any,
        val_data: Any,
        *,
        loss: Any = None,
        metric: str | Callable[[Any, Any], Any] = "accuracy",
        direction: str | None = None,
        epochs: float | None = None,
        steps: int | None = None,
        warmup_epochs: float = 0,
        warmup_steps: int | None = None,
        schedule: str | Table = "constant",
        batch_size: int | None = None,
        val_batch_size: int | None = None,
        shuffle: bool = True,
        drop_last: bool = False,
        forward: Callable[[nn.Module, Batch], Any] | None = None,
        evaluate: Callable[[nn.Module, Any], float] | None = None,
        precision: str = "fp32",
        accumulation_steps: int = 1,
        clip_grad_norm: float | None = None,
        divergence_factor: float = DIVERGENCE_FACTOR,
        init_seed: int = 0,
        seed_init: bool = False,
        device: str | torch.device | None = None,
        name: str | None = None,
        data_version: Any = None,
    ) -> None:
        self.name = name
        self.data_version = data_version
        self.device = check_device(device)
        self.precision = check_choice("precision", precision, PRECISIONS)
        self.schedule = (schedule if isinstance(schedule, Table)
                         else check_choice("schedule", schedule, SCHEDULES))
        self.accumulation_steps = check_int("accumulation_steps", accumulation_steps, 1)
        self.init_seed = check_int("init_seed", init_seed, 0)
        self.seed_init = bool(seed_init)
        self.clip_grad_norm = check_clip_grad_norm(clip_grad_norm)
        self.divergence_factor = check_divergence_factor(divergence_factor, DIVERGENCE_FACTOR)
        self._factory, self._template = model_template(model, init_seed=self.init_seed,
                                                       seed_init=self.seed_init)
        self.optimizer = check_optimizer(optimizer)

        self.batch_size = batch_size
        self.train, self.val = task_data(train_data, val_data, batch_size=batch_size,
                                         val_batch_size=val_batch_size, shuffle=shuffle,
                                         drop_last=drop_last, device=self.device)
        # what ``evaluate=`` receives: the validation data in the form the user gave it
        # (in-memory tensors already on the device)
        self.val_data = (self.val.tensors if isinstance(self.val, TensorData)
                         else self.val.source)
        self.batches_per_epoch = num_batches(self.train)  # -1 when unknown

        self.epochs, self.steps, self.warmup_steps = budget(
            epochs, steps, warmup_epochs, warmup_steps,
            batches_per_epoch=self.batches_per_epoch,
            accumulation_steps=self.accumulation_steps)
        check_table(self.schedule, self.steps, self.warmup_steps)

        self.forward = check_forward(forward)
        self.loss = loss_function(loss)
        self.evaluate_fn = evaluate
        self.metric_name, self.metric_fn, self.direction = metric_choice(
            metric, direction, evaluate)

        check_by_dry_run(self, copy.deepcopy(self._template).to(self.device),
                         default_loss=loss is None)

    # ------------------------------------------------------------------------- building ----
    def _rng_devices(self) -> list[int]:
        """The devices whose RNG a fork must save (``rng.fork_devices``), for the
        integrations' own dry runs."""
        return fork_devices(self.device)

    def initial_model(self, seed: int = 0) -> nn.Module:
        """A fresh copy of the initial weights on the task's device."""
        if self.seed_init:
            assert self._factory is not None  # seed_init without a factory is refused
            return build_from_factory(self._factory, seed).to(self.device)
        return copy.deepcopy(self._template).to(self.device)

    def make_optimizer(self, model: nn.Module, lr: float) -> torch.optim.Optimizer:
        """A fresh optimizer over ``model``'s trainable parameters at ``lr``."""
        params = [p for p in model.parameters() if p.requires_grad]
        opt = self.optimizer(params, lr=lr)
        if not isinstance(opt, torch.optim.Optimizer):
            raise bad_arg("optimizer", callable_name(self.optimizer),
                          "a callable returning a torch.optim.Optimizer",
                          "Return the optimizer from your function.")
        return opt

    def run_trial(self, spec: TrialSpec, engine: str = "sequential") -> TrialResult:
        """Train and evaluate one trial (``lrsweep.train.loop.run_trial``): how every engine
        runs a Task's trial on its own. Never raises for the trial's own failure."""
        return run_trial(self, spec, engine)

    # ------------------------------------------------------------------------ compute -----
    # (the forms of batches and outputs: ``lrsweep.task.batch``)
    def compute_loss(self, model: nn.Module, batch: Batch) -> tuple[torch.Tensor, Any]:
        """Loss (a scalar tensor) and outputs of one batch, in the task's forward form."""
        if self.forward is not None:
            return forward_loss(self.forward, model, batch)
        return self.loss_of(self.model_outputs(model, batch), batch)

    model_outputs = staticmethod(model_outputs)  # the model called on a batch (batch.py)

    def loss_of(self, out: Any, batch: Batch) -> tuple[torch.Tensor, Any]:
        """The loss of outputs ``out`` on ``batch``: the model's own, or ``loss(logits,
        targets)``."""
        return loss_of(self.loss, out, batch)

    def autocast(self) -> Any:
        """The autocast context of the task's precision (off for fp32)."""
        return autocast(self.device, self.precision)

    @torch.no_grad()
    def evaluate(self, model: nn.Module) -> float:
        """Validation metric of ``model`` (under ``eval()`` and ``no_grad``)."""
        model.eval()
        with self.autocast():
            if self.evaluate_fn is not None:
                return float(self.evaluate_fn(model, self.val_data))
            return mean_over_samples(self.val, self.device,
                                     lambda batch: self.batch_metric(model, batch))

    def batch_metric(self, model: nn.Module, batch: Batch) -> torch.Tensor:
        """Mean metric over one validation batch (a 0-d tensor)."""
        loss, out = self.compute_loss(model, batch)
        return metric_of(loss, out, batch, self.metric_name, self.metric_fn)

    # ---------------------------------------------------------------------- description ----
    def protocol(self) -> dict[str, Any]:
        """Description of everything that defines a trial except the LR and seed (see
        ``lrsweep.fingerprint``): two tasks with the same protocol produce the same trials.
        The costly parts (hashes of the weights and of the data, the optimizer probe) are
        computed once per object; tensors are hashed again only if modified in place.
        ``lrsweep.fingerprint.fields(task.protocol())`` gives it as short printable fields."""
        return task_protocol(self, self._template, self._factory)

    def __repr__(self) -> str:
        return (f"Task(model={type(self._template).__name__}, optimizer="
                f"{callable_name(self.optimizer)}, steps={self.steps}, "
                f"warmup_steps={self.warmup_steps}, schedule={self.schedule!r}, "
                f"metric={self.metric_name!r} ({self.direction}), device={self.device})")

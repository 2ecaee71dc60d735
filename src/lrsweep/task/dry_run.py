"""The dry run a ``Task`` makes when it is built: the optimizer built once and one forward
on the first training batch, on a copy of the model with the RNG isolated, so that a task
that cannot train fails before any training, with a message that says what to do."""

from __future__ import annotations

from typing import Any

import torch
from torch import nn

from ..errors import ConfigError, bad_arg
from ..fingerprint import callable_name
from ..train.rng import fork_devices
from .batch import batch_targets, output_logits, output_loss
from .checks import all_targets, check_targets, wrapped
from .data import to_device


def check_by_dry_run(task: Any, model: nn.Module, *, default_loss: bool) -> None:
    """One forward of ``model`` (a copy of ``task``'s initial model, on its device): the
    loss is a finite scalar, the outputs fit the metric. ``default_loss``: the task's loss
    is the default cross-entropy (the messages say so)."""
    batch = next(iter(task.train.batches(0, 0)), None)
    vbatch = next(iter(task.val.batches(0, 0)), None)
    if batch is None:
        raise bad_arg("train_data", "an empty loader", "at least one batch",
                      "The training data yielded no batch.")
    if vbatch is None:
        raise bad_arg("val_data", "an empty loader", "at least one batch",
                      "The validation data yielded no batch.")
    with torch.random.fork_rng(devices=fork_devices(task.device)):
        try:
            task.make_optimizer(model, 1e-3)
        except Exception as e:  # user code: report what to do
            raise ConfigError(
                f"optimizer={callable_name(task.optimizer)}: calling it as "
                f"optimizer(params, lr=...) failed: {e}. Pass an optimizer class or a "
                "callable(params, lr) returning an optimizer.") from e
        model.train()
        dev_batch = to_device(batch, task.device)
        if task.forward is not None:
            loss, out = wrapped("forward", task.compute_loss, model, dev_batch)
        else:
            out = wrapped("model", task.model_outputs, model, dev_batch)
            if output_loss(out) is None:
                check_targets(task, output_logits(out), batch_targets(dev_batch),
                              default_loss=default_loss,
                              train_targets=all_targets(task.train),
                              val_targets=all_targets(task.val))
            loss, out = wrapped("loss", task.loss_of, out, dev_batch)
        _check_scalar(loss)
        if task.evaluate_fn is None and task.metric_name == "accuracy":
            _check_accuracy_fits(out, batch)


def _check_scalar(loss: Any) -> None:
    if not isinstance(loss, torch.Tensor) or loss.numel() != 1:
        shape = tuple(loss.shape) if isinstance(loss, torch.Tensor) else type(loss)
        raise bad_arg("loss", shape, "a scalar loss tensor",
                      "The loss must reduce to one number (use reduction='mean').")


def _check_accuracy_fits(out: Any, batch: Any) -> None:
    logits = output_logits(out)
    targets = batch_targets(batch)
    if logits is None or targets is None or logits.dim() < 1:
        raise bad_arg("metric", "accuracy",
                      "model outputs with class scores and batches with targets",
                      "Use metric='loss', or make forward= return "
                      "(loss, outputs), or pass evaluate=.")

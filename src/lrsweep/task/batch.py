"""From a batch to a loss and a metric: the model's outputs, the loss the model computed
itself or ``loss(logits, targets)``, the metric of a validation batch averaged over the
validation data, and the autocast of the task's precision.

Batches are tuples ``(inputs..., targets)``, dicts (targets under ``labels``, ``label``,
``targets``, ``target`` or ``y``) or single tensors; outputs are tensors, objects with
``.logits`` / ``.loss`` (Hugging Face), dicts, or tuples whose first element is the
prediction.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any

import torch
from torch import nn

from ..errors import bad_arg
from .data import Batch, batch_size_of, to_device

TARGET_KEYS = ("labels", "label", "targets", "target", "y")


def output_logits(out: Any) -> Any:
    """The prediction tensor inside a model output (tensor, .logits, ['logits'], tuple[0])."""
    if isinstance(out, torch.Tensor):
        return out
    if isinstance(out, Mapping):
        if "logits" in out:
            return out["logits"]
        return None
    logits = getattr(out, "logits", None)
    if isinstance(logits, torch.Tensor):
        return logits
    if isinstance(out, (tuple, list)) and out and isinstance(out[0], torch.Tensor):
        return out[0]
    return None


def output_loss(out: Any) -> torch.Tensor | None:
    """The loss a model computed itself (``out.loss`` or ``out['loss']``), if any."""
    if isinstance(out, Mapping):
        v = out.get("loss")
    else:
        v = getattr(out, "loss", None)
    return v if isinstance(v, torch.Tensor) else None


def batch_targets(batch: Batch) -> torch.Tensor | None:
    """The targets of a batch: a dict's ``labels`` (or another target key), a tuple's last
    element; None for a batch without targets."""
    if isinstance(batch, Mapping):
        for k in TARGET_KEYS:
            if k in batch:
                return batch[k]
        return None
    if isinstance(batch, (tuple, list)) and len(batch) >= 2:
        return batch[-1]
    return None


def model_outputs(model: nn.Module, batch: Batch) -> Any:
    """The model's outputs on a batch: ``model(**dict)``, ``model(*inputs)`` (a tuple's
    last element is the target) or ``model(batch)``."""
    if isinstance(batch, Mapping):
        return model(**batch)
    if isinstance(batch, (tuple, list)):
        return model(*batch) if len(batch) < 2 else model(*batch[:-1])
    return model(batch)


def loss_of(loss: Callable[..., Any], out: Any, batch: Batch) -> tuple[torch.Tensor, Any]:
    """The loss of outputs ``out`` on ``batch``: the model's own, or ``loss(logits,
    targets)``."""
    own = output_loss(out)
    if own is not None:
        return own, out
    targets = batch_targets(batch)
    logits = output_logits(out)
    if targets is None or logits is None:
        raise bad_arg("train_data", type(batch).__name__,
                      "batches (inputs, targets), dicts with 'labels', or a model that "
                      "returns its own loss",
                      "Pass forward=callable(model, batch) -> loss for other shapes.")
    return loss(logits, targets), out


def forward_loss(forward: Callable[[nn.Module, Batch], Any], model: nn.Module,
                 batch: Batch) -> tuple[torch.Tensor, Any]:
    """Loss and outputs of a ``forward=`` function, which returns ``loss``, ``(loss,
    outputs)`` or outputs carrying their own loss."""
    res = forward(model, batch)
    if isinstance(res, tuple) and len(res) == 2:
        return res[0], res[1]
    own = output_loss(res)
    return (own, res) if own is not None else (res, None)


def metric_of(loss: torch.Tensor, out: Any, batch: Batch, metric_name: str,
              metric_fn: Callable[[Any, Any], Any] | None) -> torch.Tensor:
    """Mean metric over one validation batch (a 0-d tensor), from its loss and outputs:
    the loss itself, ``metric_fn(logits or outputs, targets)`` or the accuracy."""
    if metric_name == "loss" and metric_fn is None:
        return loss.detach().float()
    logits = output_logits(out)
    targets = batch_targets(batch)
    if metric_fn is not None:
        return torch.as_tensor(metric_fn(logits if logits is not None else out, targets),
                               dtype=torch.float32)
    return (logits.argmax(dim=-1) == targets).float().mean()


def mean_over_samples(data: Any, device: torch.device,
                      metric: Callable[[Batch], torch.Tensor]) -> float:
    """``metric(batch)`` averaged over every sample of ``data`` (its batches weighted by
    their sizes), each batch moved to ``device`` first."""
    total, n = 0.0, 0
    for batch in data.batches(0, 0):
        batch = to_device(batch, device)
        bs = batch_size_of(batch)
        total += float(metric(batch)) * bs
        n += bs
    return total / max(n, 1)


def autocast(device: torch.device, precision: str) -> Any:
    """The autocast context of a precision: off for fp32, bf16 or fp16 otherwise."""
    if precision == "fp32":
        return torch.autocast(device.type, enabled=False)
    dtype = torch.bfloat16 if precision == "bf16" else torch.float16
    return torch.autocast(device.type, dtype=dtype)

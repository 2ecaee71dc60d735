"""Build-time checks of a ``Task`` on its first batch: that the targets fit the loss and the
metric, and that an error raised by the user's model or loss is reported as a one-line
message that says where it happened and what to do.

Each check raises ``ConfigError`` before any training. They cover the default forward
(``model(inputs)`` scored by ``loss(outputs, targets)``); a ``forward=`` function or a model
that computes its own loss is only run, and its errors wrapped.
"""

from __future__ import annotations

import inspect
import warnings
from typing import Any

import torch
from torch import nn

from ..errors import ConfigError, LRSweepError, bad_arg, user_error
from .batch import batch_targets
from .data import TensorData

# losses that compare outputs and targets element by element: their shapes must agree, or
# torch broadcasts them ((N, 1) against (N,) becomes (N, N)) and trains on the wrong objective
ELEMENTWISE = (nn.MSELoss, nn.L1Loss, nn.SmoothL1Loss, nn.HuberLoss, nn.BCELoss,
               nn.BCEWithLogitsLoss)
CLASS_LOSSES = (nn.CrossEntropyLoss, nn.NLLLoss)
BROADCAST_WARNING = "that is different to the input size"


def check_targets(task: Any, logits: Any, targets: Any, *, default_loss: bool,
                  train_targets: torch.Tensor | None = None,
                  val_targets: torch.Tensor | None = None) -> None:
    """The targets of the first batch against the loss and the metric."""
    if not isinstance(logits, torch.Tensor) or not isinstance(targets, torch.Tensor):
        return
    loss = task.loss
    floating = targets.is_floating_point()
    if isinstance(loss, CLASS_LOSSES):
        if floating and tuple(targets.shape) != tuple(logits.shape):
            given = ("loss: the default loss is nn.CrossEntropyLoss(), for classification"
                     if default_loss else f"loss={type(loss).__name__}() is for classification")
            raise ConfigError(
                f"{given}: it expects integer class labels, but the targets of train_data are "
                f"{targets.dtype} of shape {tuple(targets.shape)}. For regression pass "
                "loss=nn.MSELoss(), metric=\"loss\" (targets shaped like the outputs, "
                f"{tuple(logits.shape)}); for classification pass the labels as integers "
                "(y.long()).")
        if not floating and logits.dim() >= 2:
            check_label_range(task, logits, targets if train_targets is None
                              else train_targets, "train_data")
            if val_targets is not None:
                check_label_range(task, logits, val_targets, "val_data")
    elif isinstance(loss, ELEMENTWISE) and tuple(targets.shape) != tuple(logits.shape):
        raise ConfigError(
            f"loss={type(loss).__name__}(): the model outputs shape {tuple(logits.shape)} but "
            f"the targets have shape {tuple(targets.shape)}; torch would broadcast them and "
            "train on the wrong objective. Make them the same shape: reshape the targets "
            "(y.unsqueeze(-1) for (N, 1) outputs) or the outputs (out.squeeze(-1)).")
    if (task.evaluate_fn is None and task.metric_fn is None and task.metric_name == "accuracy"
            and floating):
        raise ConfigError(
            f"metric: the default metric is 'accuracy' (classification), but the targets are "
            f"{targets.dtype}. For regression pass metric=\"loss\" (with loss=nn.MSELoss()); "
            "or a callable metric with direction=.")


def check_label_range(task: Any, logits: torch.Tensor, targets: torch.Tensor,
                      name: str) -> None:
    n_classes = int(logits.shape[1])
    ignore = getattr(task.loss, "ignore_index", None)
    valid = targets[targets != ignore] if ignore is not None else targets
    if valid.numel() == 0:
        return
    lo, hi = int(valid.min()), int(valid.max())
    if lo < 0 or hi >= n_classes:
        bad = hi if hi >= n_classes else lo
        raise bad_arg(name, f"labels {lo}..{hi}",
                      f"class labels in 0..{n_classes - 1} (the model outputs {n_classes} "
                      "class scores)",
                      f"Label {bad} is out of range: give the model's last layer "
                      f"{max(hi + 1, n_classes)} outputs, or relabel the classes "
                      f"0..{n_classes - 1}.")


def wrapped(what: str, fn: Any, *args: Any) -> Any:
    """``fn(*args)`` with the user's errors as one ``ConfigError``, and torch's broadcast
    warning (targets shaped unlike the outputs) refused."""
    try:
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always")
            out = fn(*args)
    except LRSweepError:
        raise
    except Exception as e:  # the user's model, data or loss: say where and what to do
        raise ConfigError(
            f"{what}: the build-time check on the first training batch failed with "
            f"{user_error(e)}. Check that the model accepts the batches of train_data and "
            "that the loss fits its outputs and targets (classification: integer labels "
            "with the default cross-entropy; regression: loss=nn.MSELoss(), "
            "metric=\"loss\").") from e
    for w in caught:
        if BROADCAST_WARNING in str(w.message):
            raise ConfigError(f"loss: {str(w.message).split('. ')[0]}: torch would broadcast "
                              "them and train on the wrong objective. Make the outputs and "
                              "the targets the same shape: reshape the targets "
                              "(y.unsqueeze(-1)) or the outputs (out.squeeze(-1)).")
        warnings.warn_explicit(w.message, w.category, w.filename, w.lineno)
    return out


def check_factory(model: Any, name: str = "model") -> None:
    """A model factory is called with no argument: refuse one that needs arguments (a class
    such as ``nn.Linear``, ``make_net(width)``) before calling it, naming what to pass."""
    try:
        sig = inspect.signature(model)
    except (TypeError, ValueError):  # a builtin or C callable: its call tells
        return
    missing = [p.name for p in sig.parameters.values()
               if p.default is p.empty and p.kind in (p.POSITIONAL_ONLY,
                                                      p.POSITIONAL_OR_KEYWORD, p.KEYWORD_ONLY)]
    if not missing:
        return
    label = getattr(model, "__qualname__", type(model).__name__)
    if isinstance(model, type) and model.__module__.startswith("torch.nn."):
        label = f"nn.{label}"
    args = ", ".join(missing)
    kind = "the class" if isinstance(model, type) else "the function"
    if "<lambda>" in label:
        todo = f"Pass a zero-argument factory ({name}=lambda: MyNet(...)) or a model."
    elif isinstance(model, type) and issubclass(model, nn.Module):
        todo = (f"Pass a model, {name}={label}(...), or a zero-argument factory, "
                f"{name}=lambda: {label}(...), with its arguments filled in.")
    else:
        todo = (f"Pass a zero-argument factory with the arguments filled in, "
                f"{name}=lambda: {label}(...), or a model.")
    raise ConfigError(f"{name}={label}: {kind} needs arguments ({args}), but lrsweep builds "
                      f"the model by calling it with none. {todo}")


def all_targets(data: Any) -> torch.Tensor | None:
    """Every target of in-memory data (None for a loader: only its first batch is seen)."""
    if not isinstance(data, TensorData):
        return None
    t = batch_targets(data.tensors)
    return t if isinstance(t, torch.Tensor) else None

"""The arguments of a ``Task``, each checked when the task is built: the device, the model
(a module or a factory), the optimizer, the data, the loss, forward and metric. Each check
raises ``ConfigError`` with what was given, what was expected and what to do."""

from __future__ import annotations

import copy
import math
from collections.abc import Callable
from typing import Any

import torch
from torch import nn

from ..errors import bad_arg, bad_choice
from .checks import check_factory
from .data import DataSource, TensorData, make_data, num_batches

METRICS = {"accuracy": "max", "loss": "min"}
DIRECTIONS = {"max": "max", "maximize": "max", "min": "min", "minimize": "min"}
PRECISIONS = ("fp32", "bf16", "fp16")


def is_num(v: Any) -> bool:
    """A finite int or float (not a bool)."""
    return isinstance(v, (int, float)) and not isinstance(v, bool) and math.isfinite(v)


def check_int(name: str, value: Any, low: int) -> int:
    if not isinstance(value, int) or isinstance(value, bool) or value < low:
        raise bad_arg(name, value, f"an integer >= {low}", f"Pass an integer >= {low}.")
    return value


def check_choice(name: str, value: Any, choices: tuple[str, ...]) -> str:
    if value not in choices:
        raise bad_choice(name, value, choices)
    return value


def check_device(device: Any) -> torch.device:
    """The device to train on; default CUDA when available."""
    if device is None:
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    try:
        dev = torch.device(device)
    except (RuntimeError, TypeError) as e:
        raise bad_arg("device", device, "a torch device such as 'cpu' or 'cuda'",
                      "Pass device='cpu' or 'cuda'.") from e
    if dev.type == "cuda" and not torch.cuda.is_available():
        raise bad_arg("device", device, "a device that exists here",
                      "CUDA is not available on this machine; use device='cpu'.")
    return dev


def check_clip_grad_norm(clip_grad_norm: Any) -> float | None:
    if clip_grad_norm is not None and not (is_num(clip_grad_norm) and clip_grad_norm > 0):
        raise bad_arg("clip_grad_norm", clip_grad_norm, "a positive number or None",
                      "Pass e.g. clip_grad_norm=1.0, or leave it unset.")
    return None if clip_grad_norm is None else float(clip_grad_norm)


def check_divergence_factor(divergence_factor: Any, default: float) -> float:
    if not (is_num(divergence_factor) and divergence_factor > 1):
        raise bad_arg("divergence_factor", divergence_factor, "a number > 1",
                      f"The default {default} stops a trial whose loss grows {default:g}x.")
    return float(divergence_factor)


# ----------------------------------------------------------------------- model ----
def build_from_factory(factory: Callable[[], nn.Module], seed: int) -> nn.Module:
    """``factory()`` under ``torch.manual_seed(seed)``, the global RNG left as it was; on
    the CPU."""
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(seed)
        m = factory()
    if not isinstance(m, nn.Module):
        raise bad_arg("model", type(m).__name__, "a factory that returns an nn.Module",
                      "Make the factory return the model.")
    return m.cpu()


def model_template(model: Any, *, init_seed: int, seed_init: bool,
                   ) -> tuple[Callable[[], nn.Module] | None, nn.Module]:
    """``(factory or None, the initial model on the CPU)``: a module is deep-copied (the
    user's is never trained), a factory called under ``init_seed``."""
    factory: Callable[[], nn.Module] | None = None
    if isinstance(model, nn.Module):
        template = copy.deepcopy(model).cpu()
    elif callable(model):
        check_factory(model)
        factory = model
        template = build_from_factory(model, init_seed)
    else:
        raise bad_arg("model", type(model).__name__,
                      "an nn.Module or a zero-argument function returning one",
                      "Pass your model (it is copied, never trained in place).")
    if seed_init and factory is None:
        raise bad_arg("seed_init", True, "a model factory (model=lambda: MyNet())",
                      "A module has one set of initial weights; pass a factory to "
                      "re-initialise per seed.")
    n_params = sum(p.numel() for p in template.parameters())
    if n_params == 0:
        raise bad_arg("model", type(template).__name__, "a model with parameters",
                      "The model has no parameters, so there is nothing to train.")
    if not any(p.requires_grad for p in template.parameters()):
        raise bad_arg("model", type(template).__name__,
                      "at least one parameter with requires_grad=True",
                      "Every parameter is frozen; unfreeze what should train.")
    return factory, template


def check_optimizer(optimizer: Any) -> Any:
    if not callable(optimizer):
        raise bad_arg("optimizer", optimizer,
                      "an optimizer class (torch.optim.AdamW) or callable(params, lr)",
                      "Pass e.g. optimizer=torch.optim.AdamW.")
    return optimizer


# ------------------------------------------------------------------------ data ----
def task_data(train_data: Any, val_data: Any, *, batch_size: int | None,
              val_batch_size: int | None, shuffle: bool, drop_last: bool,
              device: torch.device) -> tuple[DataSource, DataSource]:
    """The training and validation data as batch sources (in-memory tensors moved to the
    device once), each with at least one batch."""
    train = make_data(train_data, name="train_data", batch_size=batch_size,
                      shuffle=shuffle, drop_last=drop_last)
    val = make_data(val_data, name="val_data",
                    batch_size=val_batch_size or max(batch_size or 0, 1024),
                    shuffle=False, drop_last=False)
    if isinstance(train, TensorData):
        train = train.to(device)
    if isinstance(val, TensorData):
        val = val.to(device)
    if num_batches(train) == 0:
        raise bad_arg("train_data", "an empty loader", "at least one batch",
                      "The training data yielded no batch; check the dataset and "
                      "batch size (drop_last=True drops a short dataset entirely).")
    if num_batches(val) == 0:
        raise bad_arg("val_data", "an empty loader", "at least one batch",
                      "The validation data yielded no batch.")
    return train, val


# ------------------------------------------------------- forward, loss, metric ----
def check_forward(forward: Any) -> Callable[[nn.Module, Any], Any] | None:
    if forward is not None and not callable(forward):
        raise bad_arg("forward", forward, "callable(model, batch) -> loss or (loss, out)",
                      "Pass a function or leave forward unset.")
    return forward


def loss_function(loss: Any) -> Callable[..., Any]:
    """The ``loss=`` argument as a callable: default cross-entropy, a class instantiated."""
    if loss is None:
        loss = nn.CrossEntropyLoss()
    elif isinstance(loss, type) and issubclass(loss, nn.Module):
        loss = loss()
    if not callable(loss):
        raise bad_arg("loss", loss, "a loss module, class or callable(outputs, targets)",
                      "Pass e.g. loss=nn.CrossEntropyLoss().")
    return loss


def normalize_direction(direction: str | None, name: str = "direction") -> str:
    """``"max"`` or ``"min"`` from ``max``/``maximize``/``min``/``minimize`` (any case).

    >>> normalize_direction("Maximize")
    'max'
    """
    if direction is None or str(direction).lower() not in DIRECTIONS:
        raise bad_arg(name, direction, "'max' (higher is better) or 'min' (lower is better)",
                      "Say which way the metric improves, e.g. direction='max' for accuracy.")
    return DIRECTIONS[str(direction).lower()]


def metric_choice(metric: Any, direction: str | None, evaluate: Any,
                  ) -> tuple[str, Callable[[Any, Any], Any] | None, str]:
    """``(metric_name, metric_fn, direction)`` of the ``metric=``, ``direction=`` and
    ``evaluate=`` arguments: ``evaluate=`` replaces the metric, a built-in metric has its
    own direction, a callable one needs ``direction=``."""
    if evaluate is not None:
        if not callable(evaluate):
            raise bad_arg("evaluate", evaluate, "callable(model, val_data) -> float",
                          "Pass a function or leave evaluate unset.")
        return getattr(evaluate, "__name__", "evaluate"), None, normalize_direction(direction)
    if isinstance(metric, str):
        if metric not in METRICS:
            raise bad_choice("metric", metric, sorted(METRICS),
                             "Use metric='accuracy' or 'loss', or pass "
                             "metric=fn(outputs, targets) with direction=.")
        chosen = (normalize_direction(direction) if direction is not None
                  else METRICS[metric])
        if chosen != METRICS[metric]:
            raise bad_arg("direction", direction, f"{METRICS[metric]!r} for {metric}",
                          "Leave direction unset for a built-in metric.")
        return metric, None, chosen
    if callable(metric):
        return getattr(metric, "__name__", "metric"), metric, normalize_direction(direction)
    raise bad_arg("metric", metric, "'accuracy', 'loss' or a callable",
                  "Pass metric='accuracy'.")

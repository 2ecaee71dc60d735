"""``ScaledOptimizer``: an ``optimizer=`` for ``lrsweep.Task`` that builds the user's own
optimizer class with per-parameter LR and weight-decay multipliers, as microsoft/mup's
``MuAdam`` does. ``mup_optimizer`` returns a ``MuOptimizer`` (width), ``depth_optimizer`` a
``DepthOptimizer`` (depth, with the width multipliers folded in when combined with muP)."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any, Protocol

import torch

from ..errors import bad_arg


class ScaledEntry(Protocol):
    """What the optimizer needs of one parameter: its shape and multipliers."""

    shape: tuple[int, ...]
    lr_mult: float
    wd_mult: float


class ScaledOptimizer:
    """``callable(params, lr) -> Optimizer`` with per-parameter LR and weight-decay
    multipliers, one entry per trainable parameter of the model it was built from."""

    #: the function that builds it, named in the error when the parameters do not match
    builder = "the optimizer"

    def __init__(self, optimizer: Callable[..., torch.optim.Optimizer],
                 entries: Sequence[ScaledEntry], defaults: dict[str, Any]) -> None:
        self.optimizer = optimizer
        self.entries = entries
        self.defaults = defaults

    def __call__(self, params: Any, lr: float) -> torch.optim.Optimizer:
        params = list(params)
        if len(params) != len(self.entries) or any(
                tuple(p.shape) != e.shape for p, e in zip(params, self.entries)):
            raise bad_arg("params", f"{len(params)} tensors",
                          f"the {len(self.entries)} trainable parameters of the model given to "
                          f"{self.builder}, in order", f"Build {self.builder} from the same "
                          "model the Task trains.")
        wd = float(self.defaults.get("weight_decay", 0.0))
        groups: dict[tuple[float, float], dict[str, Any]] = {}
        for p, e in zip(params, self.entries):
            g = groups.setdefault((e.lr_mult, e.wd_mult), {"params": [], "lr": lr * e.lr_mult})
            if wd:
                g["weight_decay"] = wd * e.wd_mult
            g["params"].append(p)
        return self.optimizer(list(groups.values()), lr=lr, **self.defaults)

    def __repr__(self) -> str:
        name = getattr(self.optimizer, "__name__", repr(self.optimizer))
        mults = sorted({round(e.lr_mult, 6) for e in self.entries})
        return f"{type(self).__name__}({name}, lr_mults={mults})"

"""``digits-mlp``: scikit-learn's bundled 8x8 handwritten digits (1797 images, shipped inside
the package: no download), a fixed train/validation split, an MLP, Adam, accuracy."""

from __future__ import annotations

from typing import Any

import torch

from ..errors import LRSweepError
from ..task import Task
from .models import MLP, parametrize


def load_digits_tensors(val_fraction: float = 0.2) -> tuple[tuple, tuple]:
    try:
        from sklearn.datasets import load_digits
    except ImportError as e:
        raise LRSweepError("the digits-mlp task needs scikit-learn: "
                           "pip install 'lrsweep[examples]' (or pip install scikit-learn)") from e
    x, y = load_digits(return_X_y=True)
    x = torch.tensor(x, dtype=torch.float32) / 16.0
    y = torch.tensor(y, dtype=torch.long)
    perm = torch.randperm(len(y), generator=torch.Generator().manual_seed(1234))
    n_val = int(round(len(y) * val_fraction))
    val, train = perm[:n_val], perm[n_val:]
    return (x[train], y[train]), (x[val], y[val])


def digits_mlp(*, width: int = 128, depth: int = 2, batch_size: int = 32,
               optimizer: Any = torch.optim.Adam, parametrization: str = "sp",
               base_width: int | None = None, **task_kwargs: Any) -> Task:
    train, val = load_digits_tensors()
    task_kwargs.setdefault("name", "digits-mlp")
    if "steps" not in task_kwargs:
        task_kwargs.setdefault("epochs", 2)
    task_kwargs.setdefault("metric", "accuracy")
    model, optimizer = parametrize(
        lambda w, b: MLP(64, 10, width=w, depth=depth, base_width=b), width, optimizer,
        parametrization, base_width)
    return Task(model=model, optimizer=optimizer,
                train_data=train, val_data=val, batch_size=batch_size, **task_kwargs)

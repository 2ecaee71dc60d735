"""``teacher-mlp``: synthetic teacher-student classification. A fixed random teacher network
labels Gaussian inputs; the student MLP learns it. Generated, so it needs nothing."""

from __future__ import annotations

from typing import Any

import torch

from ..task import Task
from .models import MLP, parametrize


def teacher_tensors(n_train: int = 4096, n_val: int = 1024, d_in: int = 32,
                    n_classes: int = 10, seed: int = 0) -> tuple[tuple, tuple]:
    g = torch.Generator().manual_seed(seed)
    w1 = torch.randn(d_in, 64, generator=g) / d_in**0.5
    w2 = torch.randn(64, n_classes, generator=g) / 8.0
    x = torch.randn(n_train + n_val, d_in, generator=g)
    logits = torch.tanh(x @ w1) @ w2
    y = logits.argmax(dim=1)
    return (x[:n_train], y[:n_train]), (x[n_train:], y[n_train:])


def teacher_mlp(*, width: int = 128, depth: int = 2, batch_size: int = 64,
                n_train: int = 4096, optimizer: Any = torch.optim.Adam,
                parametrization: str = "sp", base_width: int | None = None,
                **task_kwargs: Any) -> Task:
    train, val = teacher_tensors(n_train=n_train)
    task_kwargs.setdefault("name", "teacher-mlp")
    if "steps" not in task_kwargs:
        task_kwargs.setdefault("epochs", 2)
    task_kwargs.setdefault("metric", "accuracy")
    model, optimizer = parametrize(
        lambda w, b: MLP(32, 10, width=w, depth=depth, base_width=b), width, optimizer,
        parametrization, base_width)
    return Task(model=model, optimizer=optimizer,
                train_data=train, val_data=val, batch_size=batch_size, **task_kwargs)

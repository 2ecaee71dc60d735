"""Built-in tasks on data that needs no download.

- ``digits-mlp``: scikit-learn's bundled 8x8 digits, an MLP, Adam, validation accuracy.
- ``teacher-mlp``: synthetic teacher-student classification (no extra dependency).
- ``stdlib-gpt``: a tiny byte-level transformer language model on Python's own standard-library
  source files, validation loss.

``get_task(name, **overrides)`` builds one; overrides are ``width``, ``depth``, ``batch_size``,
the budget (``epochs`` / ``steps``) and any other ``Task`` keyword.

``python -m lrsweep.examples.width_scan``: the muP demo (the optimum across widths 64..512,
drifting under SP, flat under muP).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from ..errors import bad_arg, closest
from ..task import Task
from .digits import digits_mlp
from .stdlib_gpt import stdlib_gpt
from .teacher import teacher_mlp

TASKS: dict[str, Callable[..., Task]] = {
    "digits-mlp": digits_mlp,
    "teacher-mlp": teacher_mlp,
    "stdlib-gpt": stdlib_gpt,
}

# A range that brackets the optimum of each built-in task with its default optimizer.
LR_RANGES: dict[str, tuple[float, float]] = {
    "digits-mlp": (1e-5, 1.0),
    "teacher-mlp": (1e-5, 1.0),
    "stdlib-gpt": (1e-5, 1.0),
}


def get_task(name: str, **overrides: Any) -> Task:
    """Build the built-in task ``name`` with ``overrides``."""
    if name not in TASKS:
        near = closest(name, TASKS)
        raise bad_arg("task", name, f"one of {sorted(TASKS)}",
                      f"Did you mean {near!r}?" if near else
                      "Run `lrsweep run --help` for the list, or pass package.module:function.")
    return TASKS[name](**overrides)


def default_lr_range(name: str) -> tuple[float, float]:
    return LR_RANGES.get(name, (1e-5, 1e-1))


__all__ = ["LR_RANGES", "TASKS", "default_lr_range", "get_task"]

"""``Task``: the training protocol of one trial, checked when it is built.

A trial = fresh copy of the initial weights + fresh optimizer at one LR + a budget of
optimizer steps over data in an order fixed by the seed + one evaluation. Only the LR differs
between the trials of a sweep.

One module a concern, in the order a task is built and used:

- ``spec``: the ``Task`` class: its arguments, the model and optimizer of a trial;
- ``arguments``, ``budget``: each argument checked, the budget counted in optimizer steps;
- ``checks``, ``dry_run``: the build-time dry run on the first batch and its checks of the
  targets against the loss and the metric;
- ``batch``: from a batch to outputs, loss and metric;
- ``protocol``: what a task describes itself as (its fingerprint's input);
- ``kind``: the typed contracts the engines rely on (``TaskKind``, ``TrainableTask``).
"""

from __future__ import annotations

from .arguments import DIRECTIONS, METRICS, PRECISIONS, normalize_direction
from .batch import batch_targets, output_logits, output_loss
from .kind import TaskKind, TrainableTask
from .spec import Task

__all__ = [
    "DIRECTIONS", "METRICS", "PRECISIONS", "Task", "TaskKind", "TrainableTask",
    "batch_targets", "normalize_direction", "output_logits", "output_loss",
]

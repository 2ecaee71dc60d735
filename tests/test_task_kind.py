"""The typed contracts of a task (``lrsweep.task.kind``): ``lrsweep.Task`` has every member
of ``TrainableTask``, and the code that trains a task's model reads nothing of a task that
the contract does not declare."""

from __future__ import annotations

import ast
from pathlib import Path

import torch

import lrsweep
from lrsweep.task import TaskKind, TrainableTask

SRC = Path(lrsweep.__file__).parent
# what trains a task's model itself: the engines and the trial loop
READERS = sorted((SRC / "engines").rglob("*.py")) + [SRC / "train" / "loop.py"]


def members(protocol: type) -> set[str]:
    names = set()
    for klass in protocol.__mro__:
        if klass is object or klass.__name__ == "Protocol" or klass.__module__ == "typing":
            continue
        names |= {n for n in vars(klass) if not n.startswith("_")}
        names |= set(getattr(klass, "__annotations__", {}))
    return names


def read_of_task(path: Path) -> set[str]:
    """Attributes read of ``task`` or ``self.task`` in one source file."""
    out = set()
    for node in ast.walk(ast.parse(path.read_text())):
        if not isinstance(node, ast.Attribute):
            continue
        v = node.value
        if (isinstance(v, ast.Name) and v.id == "task") or (
                isinstance(v, ast.Attribute) and v.attr == "task"
                and isinstance(v.value, ast.Name) and v.value.id == "self"):
            out.add(node.attr)
    return out


def test_trainable_task_extends_task_kind():
    assert members(TaskKind) == {"direction", "unstackable_reason", "run_trial", "protocol"}
    assert members(TaskKind) < members(TrainableTask)


def test_engines_read_only_what_the_contract_declares():
    read = set().union(*(read_of_task(p) for p in READERS))
    assert {"device", "steps", "train", "compute_loss"} <= read  # the scan sees them
    assert read <= members(TrainableTask), sorted(read - members(TrainableTask))


def test_a_task_has_every_member_of_the_contract():
    x = torch.randn(32, 4)
    y = (x[:, 0] > 0).long()
    task = lrsweep.Task(torch.nn.Linear(4, 2), torch.optim.SGD, (x, y), (x, y),
                        batch_size=8, steps=2, device="cpu")
    missing = sorted(n for n in members(TrainableTask) if not hasattr(task, n))
    assert not missing, missing
    assert task.unstackable_reason is None and task.direction == "max"
    loss, _ = task.compute_loss(task.initial_model(), next(task.train.batches(0, 0)))
    assert loss.dim() == 0

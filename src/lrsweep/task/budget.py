"""A trial's budget in optimizer steps: ``epochs=`` or ``steps=``, and its warmup as
``warmup_epochs=`` or ``warmup_steps=``, counted in optimizer steps (``accumulation_steps``
batches each)."""

from __future__ import annotations

from typing import Any

from ..errors import bad_arg
from ..train.schedule import Table
from .arguments import check_int, is_num


def budget(epochs: Any, steps: Any, warmup_epochs: Any, warmup_steps: Any, *,
           batches_per_epoch: int, accumulation_steps: int) -> tuple[float | None, int, int]:
    """``(epochs or None, total optimizer steps, warmup steps)``; ``batches_per_epoch`` is
    -1 for data of unknown length, which needs ``steps=`` and ``warmup_steps=``.

    >>> budget(2, None, 0.5, None, batches_per_epoch=10, accumulation_steps=1)
    (2.0, 20, 5)
    """
    if epochs is not None and steps is not None:
        raise bad_arg("epochs/steps", (epochs, steps), "one budget, not both",
                      "Pass epochs= or steps=.")
    per_epoch = batches_per_epoch // accumulation_steps if batches_per_epoch > 0 else -1
    if batches_per_epoch > 0 and per_epoch == 0:
        raise bad_arg("accumulation_steps", accumulation_steps,
                      f"at most the {batches_per_epoch} batches of one epoch",
                      "Lower accumulation_steps or use a smaller batch size.")
    if steps is not None:
        total = check_int("steps", steps, 1)
    else:
        epochs = 1 if epochs is None else epochs
        total = _epoch_steps(epochs, per_epoch)
    if warmup_steps is not None:
        if warmup_epochs:
            raise bad_arg("warmup_epochs/warmup_steps", (warmup_epochs, warmup_steps),
                          "one of them", "Pass warmup_epochs= or warmup_steps=.")
        wu = check_int("warmup_steps", warmup_steps, 0)
    else:
        wu = _warmup_epoch_steps(warmup_epochs, per_epoch)
    if wu >= total:
        raise bad_arg("warmup_steps" if warmup_steps is not None else "warmup_epochs",
                      warmup_steps if warmup_steps is not None else warmup_epochs,
                      f"a warmup shorter than the {total} training steps (it is {wu})",
                      "Shorten the warmup or lengthen the budget.")
    return (float(epochs) if steps is None else None), total, wu


def _epoch_steps(epochs: Any, per_epoch: int) -> int:
    if not (is_num(epochs) and epochs > 0):
        raise bad_arg("epochs", epochs, "a positive number", "Pass e.g. epochs=1.")
    if per_epoch < 0:
        raise bad_arg("epochs", epochs, "steps= for data of unknown length",
                      "The training data has no len(); give the budget as steps=.")
    total = int(round(epochs * per_epoch))
    if total < 1:
        raise bad_arg("epochs", epochs, f"a budget of at least one optimizer step "
                      f"(epochs >= {0.5 / per_epoch:.3g} at {per_epoch} steps per "
                      "epoch)", f"Pass e.g. epochs=1, or steps= (epochs={epochs} "
                      "rounds to 0 steps).")
    return total


def _warmup_epoch_steps(warmup_epochs: Any, per_epoch: int) -> int:
    if not (is_num(warmup_epochs) and warmup_epochs >= 0):
        raise bad_arg("warmup_epochs", warmup_epochs, "a number >= 0",
                      "Pass e.g. warmup_epochs=0.5.")
    if warmup_epochs and per_epoch < 0:
        raise bad_arg("warmup_epochs", warmup_epochs,
                      "warmup_steps= for data of unknown length", "Use warmup_steps=.")
    wu = int(round(warmup_epochs * per_epoch)) if warmup_epochs else 0
    if warmup_epochs and wu == 0:
        raise bad_arg("warmup_epochs", warmup_epochs, "a warmup of at least one step "
                      f"(warmup_epochs >= {0.5 / per_epoch:.3g} at {per_epoch} steps "
                      "per epoch), or 0", "Lengthen it, pass warmup_steps=, or "
                      "pass 0 for no warmup.")
    return wu


def check_table(schedule: Any, steps: int, warmup_steps: int) -> None:
    """A ``schedule.Table`` covers every step itself: at least ``steps`` long, no warmup."""
    if isinstance(schedule, Table) and (len(schedule) < steps or warmup_steps):
        raise bad_arg("schedule", schedule,
                      f"a table of at least {steps} steps, with no separate warmup",
                      "A table holds every step's multiplier, warmup included.")

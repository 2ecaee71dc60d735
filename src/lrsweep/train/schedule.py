"""LR multipliers as pure functions of the step: warmup, then constant / cosine / linear.

Step ``k`` (0-based) of ``total`` optimizer steps uses ``lr * multiplier(k, ...)``. Linear
warmup over ``warmup`` steps gives ``(k + 1) / warmup``, so the last warmup step (``k =
warmup - 1``) runs at exactly the trial's LR; the seed's loop stopped one step short.
After warmup, ``constant`` keeps 1; ``cosine`` and ``linear`` decay from 1 towards 0 over the
remaining steps (reaching ``(total - warmup - 1)``-th of the way at the last step).

A ``Table`` is an explicit schedule: the multiplier of every step, warmup included, e.g. read
off a framework's own scheduler (``lrsweep.integrations``), so that a trial follows exactly the
LR curve that framework would follow.
"""

from __future__ import annotations

import hashlib
import math
from dataclasses import dataclass

import numpy as np

SCHEDULES = ("constant", "cosine", "linear")


@dataclass(frozen=True)
class Table:
    """The LR multiplier of each optimizer step, ``values[k]`` for step ``k`` (warmup
    included; a Task with a table takes no separate warmup). ``name`` says where it came
    from; ``schedule_text(table)`` is what a study's protocol records.

    >>> t = Table((0.0, 0.5, 1.0), name="ramp")
    >>> [multiplier(k, 3, schedule=t) for k in range(3)]
    [0.0, 0.5, 1.0]
    """

    values: tuple[float, ...]
    name: str = "table"

    def __post_init__(self) -> None:
        vals = tuple(float(v) for v in self.values)
        if not vals or not all(math.isfinite(v) and v >= 0 for v in vals):
            raise ValueError("a schedule table needs one finite multiplier >= 0 per step")
        object.__setattr__(self, "values", vals)

    def __len__(self) -> int:
        return len(self.values)

    def __repr__(self) -> str:
        return f"Table({schedule_text(self)})"


def schedule_text(schedule: str | Table) -> str:
    """What a protocol records of a schedule: its name, or a table's name, length and hash.

    >>> schedule_text("cosine")
    'cosine'
    >>> schedule_text(Table((1.0, 0.5), name="halve"))
    'halve (2 steps, sha256 7ded32179961d3df)'
    """
    if not isinstance(schedule, Table):
        return str(schedule)
    h = hashlib.sha256(np.asarray(schedule.values, dtype=np.float64).tobytes()).hexdigest()
    return f"{schedule.name} ({len(schedule.values)} steps, sha256 {h[:16]})"


def multiplier(step: int, total: int, warmup: int = 0,
               schedule: str | Table = "constant") -> float:
    """LR multiplier for 0-based optimizer step ``step``.

    >>> [multiplier(k, 6, warmup=3) for k in range(4)]
    [0.3333333333333333, 0.6666666666666666, 1.0, 1.0]
    >>> multiplier(3, 5, warmup=1, schedule="linear")
    0.5
    """
    if isinstance(schedule, Table):
        return schedule.values[step]
    if warmup > 0 and step < warmup:
        return (step + 1) / warmup
    if schedule == "constant":
        return 1.0
    span = max(total - warmup, 1)
    frac = (step - warmup) / span
    if schedule == "cosine":
        return 0.5 * (1.0 + math.cos(math.pi * frac))
    if schedule == "linear":
        return 1.0 - frac
    raise ValueError(f"unknown schedule {schedule!r}; expected one of {SCHEDULES}")

"""LR multipliers as pure functions of the step: warmup, then constant / cosine / linear.

Step ``k`` (0-based) of ``total`` optimizer steps uses ``lr * multiplier(k, ...)``. Linear
warmup over ``warmup`` steps gives ``(k + 1) / warmup``, so the last warmup step (``k =
warmup - 1``) runs at exactly the trial's LR; the seed's loop stopped one step short.
After warmup, ``constant`` keeps 1; ``cosine`` and ``linear`` decay from 1 towards 0 over the
remaining steps (reaching ``(total - warmup - 1)``-th of the way at the last step).
"""

from __future__ import annotations

import math

import numpy as np

SCHEDULES = ("constant", "cosine", "linear")


def multiplier(step: int, total: int, warmup: int = 0, schedule: str = "constant") -> float:
    """LR multiplier for 0-based optimizer step ``step``.

    >>> [multiplier(k, 6, warmup=3) for k in range(4)]
    [0.3333333333333333, 0.6666666666666666, 1.0, 1.0]
    >>> multiplier(3, 5, warmup=1, schedule="linear")
    0.5
    """
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


def multipliers(total: int, warmup: int = 0, schedule: str = "constant") -> np.ndarray:
    """The whole schedule as a float64 array of length ``total``."""
    return np.array([multiplier(k, total, warmup, schedule) for k in range(total)])

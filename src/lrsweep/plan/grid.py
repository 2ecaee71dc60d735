"""Log-spaced LR grids, and the canonical form of an LR that keys a trial. Pure numpy."""

from __future__ import annotations

import math

import numpy as np

from ..errors import bad_arg


def check_lr_range(lo: float, hi: float, name: str = "lr_range") -> None:
    """Raise a clear ConfigError unless 0 < lo < hi, both finite."""
    for v in (lo, hi):
        if not isinstance(v, (int, float)) or not math.isfinite(v) or v <= 0:
            raise bad_arg(name, (lo, hi), "two positive finite learning rates (low, high)",
                          "Pass e.g. (1e-5, 1e-1).")
    if lo >= hi:
        raise bad_arg(name, (lo, hi), "low < high",
                      f"The range is reversed or empty; did you mean ({hi}, {lo})?")


def log_grid(lo: float, hi: float, num: int = 10) -> list[float]:
    """``num`` LRs evenly spaced in log10 from ``lo`` to ``hi`` inclusive.

    >>> log_grid(1e-4, 1e-2, 3)
    [0.0001, 0.001, 0.01]
    """
    check_lr_range(lo, hi, "lo, hi")
    if not isinstance(num, int) or isinstance(num, bool) or num < 2:
        raise bad_arg("num", num, "an integer >= 2", "Use at least two grid points.")
    pts = np.logspace(math.log10(lo), math.log10(hi), num)
    # round to 12 significant digits so that grids built twice give identical floats (keys)
    return [canonical_lr(p) for p in pts]


def canonical_lr(lr: float) -> float:
    """Round an LR to 12 significant digits: a stable key across runs and processes."""
    return float(f"{float(lr):.12g}")


"""The divergence rule (contract 3), shared by every engine and entry point.

A trial has diverged when a step's training loss is non-finite, or when the exponential
moving average of its loss (``EMA_BETA``) exceeds ``factor`` times the first step's loss
(a positive one). ``DivergenceMonitor`` applies it to one trial, a float at a time (the
sequential engine, the objective API's ``trial.report``); ``DivergenceMasks`` applies the same
rule to N stacked trials as device tensors, with no host synchronisation (the vectorized
engine, inside a CUDA graph). Both compute in double precision, so they agree exactly.

>>> m = DivergenceMonitor(4.0)
>>> [m.update(v) for v in (1.0, 10.0, 10.0)]   # one spike is smoothed away
[False, False, False]
>>> DivergenceMonitor(4.0).update(float("nan"))
True
"""

from __future__ import annotations

import math

import torch

EMA_BETA = 0.9  # smoothing of the training loss for the divergence test
# a trial diverged when its smoothed training loss exceeds this many times its first loss:
# the one default of every task kind's ``divergence_factor``
DIVERGENCE_FACTOR = 4.0


class DivergenceMonitor:
    """Stops a trial whose loss is non-finite or whose smoothed loss exceeds ``factor`` times
    the initial loss."""

    def __init__(self, factor: float) -> None:
        self.factor = factor
        self.initial: float | None = None
        self.ema: float | None = None

    def update(self, loss: float) -> bool:
        """Feed one step's loss; True if the trial has diverged."""
        if not math.isfinite(loss):
            return True
        if self.initial is None:
            self.initial = loss
            self.ema = loss
            return False
        assert self.ema is not None
        self.ema = EMA_BETA * self.ema + (1 - EMA_BETA) * loss
        return self.initial > 0 and self.ema > self.factor * self.initial


class DivergenceMasks:
    """``DivergenceMonitor`` for ``n`` trials at once, in float64 device tensors.

    ``active`` is the mask of trials still training; ``update`` feeds one step's losses
    (``[n]``) and clears ``active`` where a trial has diverged. Nothing reads back to the host,
    so the update can be captured in a CUDA graph; a trial no longer active keeps its state.
    """

    def __init__(self, n: int, factor: float, device: torch.device | str) -> None:
        self.factor = float(factor)
        self.active = torch.ones(n, dtype=torch.bool, device=device)
        self.initial = torch.zeros(n, dtype=torch.float64, device=device)
        self.ema = torch.zeros(n, dtype=torch.float64, device=device)

    def update(self, value: torch.Tensor, first: torch.Tensor) -> None:
        """``value``: this step's losses (float64 ``[n]``); ``first``: a 0-d bool tensor,
        True at the first step."""
        ema = torch.where(first, value, self.ema * EMA_BETA + value * (1 - EMA_BETA))
        initial = torch.where(first, value, self.initial)
        diverged = ~torch.isfinite(value) | (~first & (initial > 0)
                                             & (ema > self.factor * initial))
        self.ema.copy_(torch.where(self.active, ema, self.ema))
        self.initial.copy_(torch.where(self.active, initial, self.initial))
        self.active.logical_and_(~diverged)

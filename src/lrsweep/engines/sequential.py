"""The sequential engine: one trial after another, eager. The reference semantics every other
engine must reproduce.

Per trial: fresh copy of the initial weights, fresh optimizer at the trial's LR (every param
group scaled by the same factor), RNG seeded by the trial's seed (so dropout masks and data
order are the same for every LR of a seed), ``steps`` optimizer steps with the LR multiplier
of ``schedule.multiplier``, divergence check on every step's loss, evaluation under
``eval()`` + ``no_grad``.
"""

from __future__ import annotations

import logging
import math
import time
import traceback
from collections.abc import Iterator, Sequence
from typing import Any

import torch

from ..data import to_device
from ..errors import LRSweepError, TrialDiverged
from ..rng import isolated_rng, seed_everything
from ..schedule import multiplier
from ..trial import Status, TrialResult, TrialSpec
from .base import ResultCallback

log = logging.getLogger("lrsweep")

EMA_BETA = 0.9  # smoothing of the training loss for the divergence test


class DivergenceMonitor:
    """Stops a trial whose loss is non-finite or whose smoothed loss exceeds ``factor`` times
    the initial loss. The same rule, in tensor form, runs inside the vectorized engine."""

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


def step_batches(task: Any, seed: int) -> Iterator[list[Any]]:
    """Micro-batch groups for each optimizer step: ``accumulation_steps`` consecutive
    batches, epoch after epoch (an incomplete group at an epoch's end is dropped), until
    ``task.steps`` groups have been yielded."""
    accum = task.accumulation_steps
    done, epoch = 0, 0
    while done < task.steps:
        group: list[Any] = []
        yielded = False
        for batch in task.train.batches(seed, epoch):
            group.append(batch)
            if len(group) == accum:
                yield group
                yielded = True
                group = []
                done += 1
                if done >= task.steps:
                    return
        if not yielded:
            raise LRSweepError(f"train_data yielded fewer than accumulation_steps={accum} "
                               f"batches in epoch {epoch}; check the data loader.")
        epoch += 1


def run_trial(task: Any, spec: TrialSpec, engine: str = "sequential") -> TrialResult:
    """Train and evaluate one trial. Never raises for a trial's own failure: the result
    says ``diverged`` or ``failed`` (KeyboardInterrupt still propagates)."""
    t0 = time.perf_counter()
    curve: list[float] = []
    try:
        with isolated_rng():
            seed_everything(spec.seed)
            model = task.initial_model(spec.seed)
            model.train()
            opt = task.make_optimizer(model, spec.lr)
            base_lrs = [g["lr"] for g in opt.param_groups]
            scaler = (torch.amp.GradScaler(task.device.type)
                      if task.precision == "fp16" else None)
            monitor = DivergenceMonitor(task.divergence_factor)
            params = [p for g in opt.param_groups for p in g["params"]]
            accum = task.accumulation_steps
            for step, group in enumerate(step_batches(task, spec.seed)):
                mult = multiplier(step, task.steps, task.warmup_steps, task.schedule)
                for g, base in zip(opt.param_groups, base_lrs):
                    g["lr"] = base * mult
                opt.zero_grad(set_to_none=True)
                total = 0.0
                for batch in group:
                    batch = to_device(batch, task.device)
                    with task.autocast():
                        loss, _ = task.compute_loss(model, batch)
                    scaled = loss.float() / accum
                    (scaler.scale(scaled) if scaler is not None else scaled).backward()
                    total += float(loss.detach().float())
                value = total / accum
                curve.append(value)
                if monitor.update(value):
                    return TrialResult(spec.lr, spec.seed, Status.DIVERGED, None, curve,
                                       len(curve), time.perf_counter() - t0, engine)
                if task.clip_grad_norm is not None:
                    if scaler is not None:
                        scaler.unscale_(opt)
                    torch.nn.utils.clip_grad_norm_(params, task.clip_grad_norm)
                if scaler is not None:
                    scaler.step(opt)
                    scaler.update()
                else:
                    opt.step()
            metric = task.evaluate(model)
        if not math.isfinite(metric):
            return TrialResult(spec.lr, spec.seed, Status.DIVERGED, None, curve, len(curve),
                               time.perf_counter() - t0, engine,
                               error="non-finite validation metric")
        return TrialResult(spec.lr, spec.seed, Status.OK, metric, curve, len(curve),
                           time.perf_counter() - t0, engine)
    except TrialDiverged as e:
        return TrialResult(spec.lr, spec.seed, Status.DIVERGED, None, curve, len(curve),
                           time.perf_counter() - t0, engine, error=str(e) or None)
    except Exception as e:  # a trial's failure is recorded; the sweep goes on
        log.warning("trial lr=%g seed=%d failed: %s", spec.lr, spec.seed, e)
        return TrialResult(spec.lr, spec.seed, Status.FAILED, None, curve, len(curve),
                           time.perf_counter() - t0, engine,
                           error=f"{type(e).__name__}: {e}\n{traceback.format_exc(limit=8)}")


class SequentialEngine:
    """One trial after another: the reference."""

    name = "sequential"

    def run(self, task: Any, specs: Sequence[TrialSpec], on_result: ResultCallback) -> None:
        from ..objective import ObjectiveTask, run_objective_trial

        for spec in specs:
            if isinstance(task, ObjectiveTask):
                on_result(run_objective_trial(task, spec, self.name))
            else:
                on_result(run_trial(task, spec, self.name))

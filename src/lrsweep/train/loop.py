"""The training loop of a ``Task``: one trial from fresh weights to its metric.

Every path that trains a Task's model runs this loop: the sequential engine (the reference
every other engine must reproduce), the vectorized engine when it runs a trial on its own,
and ``transfer.estimate_noise_scale(lr=, train_steps=)``.

Per trial: fresh copy of the initial weights, fresh optimizer at the trial's LR (every param
group scaled by the same factor), RNG seeded by the trial's seed (so dropout masks and data
order are the same for every LR of a seed), ``steps`` optimizer steps with the LR multiplier
of ``schedule.multiplier``, divergence check on every step's loss (``divergence``),
evaluation under ``eval()`` + ``no_grad``.

One optimizer step (``train``), the rule every engine keeps (the vectorized engine's stacked
step, ``engines.vectorized.chunk._Chunk.train_step``, follows it with masks):

1. the LR of every param group is its base LR times ``schedule.multiplier`` of the step;
2. each of the ``accumulation_steps`` micro-batches backpropagates its loss divided by
   ``accumulation_steps`` (the gradients add up to the mean's);
3. the step's loss is the mean of the micro-batches' losses: the curve's point, and what the
   divergence rule (``divergence``) sees; a diverged trial stops before its update;
4. the gradients are clipped to ``clip_grad_norm``: scaled by ``clip_coefficient`` of their
   total 2-norm over every parameter (``torch.nn.utils.clip_grad_norm_``'s rule);
5. the optimizer steps.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Iterator
from typing import Any

import torch

from ..errors import LRSweepError, TrialDiverged
from ..results.trial import TrialResult, TrialSpec, outcome, outcome_of_error
from ..task.data import to_device
from .divergence import DivergenceMonitor
from .progress import advance
from .rng import isolated_rng, seed_everything
from .schedule import multiplier

log = logging.getLogger("lrsweep")

CLIP_EPS = 1e-6  # torch.nn.utils.clip_grad_norm_: grads * min(1, max_norm / (norm + 1e-6))


def clip_coefficient(total_norm: torch.Tensor, max_norm: float) -> torch.Tensor:
    """What clipping scales a trial's gradients by: ``min(1, max_norm / (total_norm +
    CLIP_EPS))``, ``total_norm`` the 2-norm of all its gradients together (the rule of
    ``torch.nn.utils.clip_grad_norm_``, which ``train`` calls; per trial in the vectorized
    engine).

    >>> [float(clip_coefficient(torch.tensor(norm), 1.0)) for norm in (4.0, 0.5)]
    [0.24999994039535522, 1.0]
    """
    return torch.clamp(max_norm / (total_norm + CLIP_EPS), max=1.0)


def step_batches(task: Any, seed: int, steps: int | None = None) -> Iterator[list[Any]]:
    """Micro-batch groups for each optimizer step: ``accumulation_steps`` consecutive
    batches, epoch after epoch (an incomplete group at an epoch's end is dropped), until
    ``steps`` (default ``task.steps``) groups have been yielded."""
    accum = task.accumulation_steps
    total = task.steps if steps is None else steps
    done, epoch = 0, 0
    while done < total:
        group: list[Any] = []
        yielded = False
        for batch in task.train.batches(seed, epoch):
            group.append(batch)
            if len(group) == accum:
                yield group
                yielded = True
                group = []
                done += 1
                if done >= total:
                    return
        if not yielded:
            raise LRSweepError(f"train_data yielded fewer than accumulation_steps={accum} "
                               f"batches in epoch {epoch}; check the data loader.")
        epoch += 1


def train(task: Any, model: torch.nn.Module, opt: torch.optim.Optimizer, seed: int, *,
          steps: int | None = None, horizon: int | None = None,
          monitor: DivergenceMonitor | None = None, curve: list[float] | None = None) -> bool:
    """Train ``model`` in place with ``opt`` for ``steps`` optimizer steps (default
    ``task.steps``) of the task's loop: its data order for ``seed``, warmup and schedule over
    ``horizon`` steps (default ``task.steps``), accumulation, fp16 grad scaling, clipping.

    Each step's mean training loss is appended to ``curve``. Returns True as soon as
    ``monitor`` reports divergence (that step's update is not applied), else False."""
    horizon = task.steps if horizon is None else horizon
    base_lrs = [g["lr"] for g in opt.param_groups]
    scaler = torch.amp.GradScaler(task.device.type) if task.precision == "fp16" else None
    params = [p for g in opt.param_groups for p in g["params"]]
    accum = task.accumulation_steps
    for step, group in enumerate(step_batches(task, seed, steps)):
        mult = multiplier(step, horizon, task.warmup_steps, task.schedule)
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
        if curve is not None:
            curve.append(value)
        advance(1)  # the sweep's progress bar, by step
        if monitor is not None and monitor.update(value):
            return True
        if task.clip_grad_norm is not None:
            if scaler is not None:
                scaler.unscale_(opt)
            torch.nn.utils.clip_grad_norm_(params, task.clip_grad_norm)
        if scaler is not None:
            scaler.step(opt)
            scaler.update()
        else:
            opt.step()
    return False


def run_trial(task: Any, spec: TrialSpec, engine: str = "sequential") -> TrialResult:
    """Train and evaluate one trial of ``task``. Never raises for a trial's own failure: the
    result says ``diverged`` or ``failed`` (``trial.outcome``; KeyboardInterrupt still
    propagates)."""
    t0 = time.perf_counter()
    curve: list[float] = []
    try:
        with isolated_rng():
            seed_everything(spec.seed)
            model = task.initial_model(spec.seed)
            model.train()
            opt = task.make_optimizer(model, spec.lr)
            monitor = DivergenceMonitor(task.divergence_factor)
            if train(task, model, opt, spec.seed, monitor=monitor, curve=curve):
                return outcome(spec, None, curve, time.perf_counter() - t0, engine,
                               diverged=True)
            metric = task.evaluate(model)
        return outcome(spec, metric, curve, time.perf_counter() - t0, engine)
    except Exception as e:  # a trial's failure is recorded; the sweep goes on
        if not isinstance(e, TrialDiverged):
            log.warning("trial lr=%g seed=%d failed: %s", spec.lr, spec.seed, e)
        return outcome_of_error(spec, e, curve, time.perf_counter() - t0, engine)

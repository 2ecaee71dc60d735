"""``engine="auto"``: which engine runs a task's trials, and why (logged)."""

from __future__ import annotations

import logging
from typing import Any

import torch

from ...data import to_device
from ...errors import EngineUnavailable
from ...rng import isolated_rng, seed_everything
from ..sequential import SequentialEngine
from .engine import VectorizedEngine
from .probe import probe, unsupported_reason

log = logging.getLogger("lrsweep")

COMPILE_MIN_STEPS = 100_000  # auto compiles only runs long enough to repay ~20 s of compile
# CPU (measured, 1 thread, 10 LRs; benchmarks/RESULTS.md "speed (issue 4)"): stacking pays
# only for tiny models, where a step is Python and dispatch overhead: a sweep takes 0.4-0.75x
# the sequential time up to ~1.4 MiB touched per trial-step, 1.1x at 2.5 MiB, 1.4-6x for
# the 5-35 MiB benchmark models (the stacked working set falls out of the caches); and it
# needs a few trials to stack (2 stacked: 1.1-1.3x).
CPU_TINY_TRIAL_BYTES = int(1.5 * 2**20)
CPU_MIN_TRIALS = 4


def choose_auto(task: Any, **options: Any) -> Any:
    """The engine ``engine="auto"`` uses for ``task``; logs the reason.

    On CUDA: vectorized whenever the task can be vectorized (probe), compiled only for
    runs of at least ``COMPILE_MIN_STEPS`` steps. On CPU: vectorized only for tiny models
    (``trial_footprint`` at most ``CPU_TINY_TRIAL_BYTES``) and groups of at least
    ``CPU_MIN_TRIALS`` (lr, seed) trials; otherwise sequential.
    """
    reason = unsupported_reason(task)
    if reason:
        raise EngineUnavailable(reason)  # base.get_engine logs it and falls back
    if task.device.type == "cuda":
        plan = probe(task)
        options.setdefault("compile", task.steps >= COMPILE_MIN_STEPS)
        log.info("engine='auto': vectorized (CUDA, the model vmaps; compile=%s)",
                 options["compile"])
        eng = VectorizedEngine(**options)
        eng.auto = True
        eng._plan(task, plan)
        return eng
    per_trial = trial_footprint(task)
    mib = f"{per_trial / 2**20:.2f} MiB per trial-step"
    if per_trial > CPU_TINY_TRIAL_BYTES:
        log.info("engine='auto': sequential on CPU (%s: compute- and cache-bound, where "
                 "stacking does not pay)", mib)
        return SequentialEngine()
    plan = probe(task)
    log.info("engine='auto': vectorized on CPU (%s: a tiny model, bound by per-step "
             "overhead, which stacking removes; a group of fewer than %d (lr, seed) trials "
             "runs sequentially)", mib, CPU_MIN_TRIALS)
    eng = VectorizedEngine(**options)
    eng.min_trials = CPU_MIN_TRIALS
    eng.auto = True
    eng._plan(task, plan)
    return eng


def trial_footprint(task: Any) -> int:
    """Bytes one trial touches per step: the tensors autograd saves for the backward pass of
    the first batch, plus parameters, gradients and two optimizer states."""
    saved = 0

    def pack(t: torch.Tensor) -> torch.Tensor:
        nonlocal saved
        saved += t.numel() * t.element_size()
        return t

    with isolated_rng():
        seed_everything(0)
        model = task.initial_model(0)
        model.train()
        batch = to_device(next(iter(task.train.batches(0, 0))), task.device)
        with torch.autograd.graph.saved_tensors_hooks(pack, lambda t: t), task.autocast():
            task.compute_loss(model, batch)
    state = sum(p.numel() * p.element_size() for p in model.parameters() if p.requires_grad)
    return saved * task.accumulation_steps + 4 * state

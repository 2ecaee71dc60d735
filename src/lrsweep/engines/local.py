"""The engines that run in this process, by name (``local_engine``), and ``engine="auto"``:
which of them runs a task's trials, and why (logged).

``lrsweep.engines.get_engine`` resolves every name through here but ``"ray"``; the Ray
engine's workers resolve their own local engine here too.
"""

from __future__ import annotations

import logging
from typing import Any

import torch

from ..errors import EngineUnavailable, bad_choice
from ..task.data import to_device
from ..train.rng import isolated_rng, seed_everything
from .base import Engine
from .sequential import SequentialEngine

log = logging.getLogger("lrsweep")

LOCAL_ENGINES = ("auto", "sequential", "vectorized")
COMPILE_MIN_STEPS = 100_000  # auto compiles only runs long enough to repay ~20 s of compile
# CPU (measured, 1 thread, 10 LRs; benchmarks/RESULTS.md "speed (issue 4)"): stacking pays
# only for tiny models, where a step is Python and dispatch overhead: a sweep takes 0.4-0.75x
# the sequential time up to ~1.4 MiB touched per trial-step, 1.1x at 2.5 MiB, 1.4-6x for
# the 5-35 MiB benchmark models (the stacked working set falls out of the caches); and it
# needs a few trials to stack (2 stacked: 1.1-1.3x).
CPU_TINY_TRIAL_BYTES = int(1.5 * 2**20)
CPU_MIN_TRIALS = 4


def local_engine(name: str, task: Any = None, **options: Any) -> Engine:
    """The local engine ``name`` (``"auto"``, ``"sequential"``, ``"vectorized"``) for
    ``task``, built with ``options``. ``"auto"`` picks the fastest engine that supports the
    task and logs why."""
    if name not in LOCAL_ENGINES:
        raise bad_choice("engine", name, LOCAL_ENGINES, "Pass engine='auto'.")
    if name == "sequential":
        return SequentialEngine(**options)
    from .vectorized import VectorizedEngine  # noqa: PLC0415 (torch.func: loaded when used)

    if name == "vectorized":
        return VectorizedEngine(task=task, **options)
    try:
        return choose_auto(task, **options)
    except EngineUnavailable as e:
        log.info("engine='auto': using sequential (%s)", e)
        return SequentialEngine()


def choose_auto(task: Any, **options: Any) -> Engine:
    """The engine ``engine="auto"`` uses for ``task``; logs the reason. ``EngineUnavailable``
    (with the reason) when the task cannot be vectorized: then ``local_engine`` falls back
    to the sequential engine.

    On CUDA: vectorized whenever the task can be vectorized (probe), compiled only for
    runs of at least ``COMPILE_MIN_STEPS`` steps. On CPU: vectorized only for tiny models
    (``trial_footprint`` at most ``CPU_TINY_TRIAL_BYTES``) and groups of at least
    ``CPU_MIN_TRIALS`` (lr, seed) trials; otherwise sequential. An engine chosen here runs
    the trials whose optimizers cannot be stacked sequentially (``fallback=True``) instead of
    raising.
    """
    from .vectorized import VectorizedEngine, unsupported_reason  # noqa: PLC0415

    reason = unsupported_reason(task)
    if reason:
        raise EngineUnavailable(reason)
    options.setdefault("fallback", True)
    if task.device.type == "cuda":
        options.setdefault("compile", task.steps >= COMPILE_MIN_STEPS)
        eng = VectorizedEngine(task, **options)  # probes the task (EngineUnavailable)
        log.info("engine='auto': vectorized (CUDA, the model vmaps; compile=%s)",
                 options["compile"])
        return eng
    per_trial = trial_footprint(task)
    mib = f"{per_trial / 2**20:.2f} MiB per trial-step"
    if per_trial > CPU_TINY_TRIAL_BYTES:
        log.info("engine='auto': sequential on CPU (%s: compute- and cache-bound, where "
                 "stacking does not pay)", mib)
        return SequentialEngine()
    options.setdefault("min_trials", CPU_MIN_TRIALS)
    eng = VectorizedEngine(task, **options)
    log.info("engine='auto': vectorized on CPU (%s: a tiny model, bound by per-step "
             "overhead, which stacking removes; a group of fewer than %d (lr, seed) trials "
             "runs sequentially)", mib, options["min_trials"])
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

"""Whether a task vectorizes, checked by a trial run (``probe``), and what the run learnt
(``ProbeResult``: evaluation under vmap, memory per trial, whether seeds share a group)."""

from __future__ import annotations

import logging
from dataclasses import dataclass
from typing import Any

import torch

from ...errors import EngineUnavailable
from ...results.trial import TrialSpec
from ...task.data import to_device
from ...train.rng import isolated_rng, seed_everything
from .chunk import _autocast, _Chunk
from .members import SeedsDiffer

log = logging.getLogger("lrsweep")


def unsupported_reason(task: Any) -> str | None:
    """Why the vectorized engine cannot run ``task`` (cheap checks), or None. A task kind
    says itself whether its trials can be stacked (``unstackable_reason``)."""
    reason = getattr(task, "unstackable_reason", "it is not an lrsweep.Task")
    if reason is not None:
        return reason
    if task.precision == "fp16":
        return ("precision='fp16' needs a grad scaler per trial; use precision='bf16' or "
                "'fp32' to vectorize")
    return None


@dataclass
class ProbeResult:
    """What a probe learnt about a task: whether evaluation vmaps, memory per trial (CUDA),
    whether dropout masks come from ``NativeDropoutMasks``, whether trials of several seeds
    can share a group (``seeds_reason``: why not), and whether the forward calls
    ``F.dropout`` (several seeds: no CUDA graph)."""

    eval_vmapped: bool
    bytes_per_trial: int | None
    native_dropout: bool = False
    seeds_reason: str | None = None
    dropout: bool = False


def _forward_backward(task: Any, batch: Any, native_dropout: bool) -> _Chunk:
    chunk = _Chunk(task, [TrialSpec(1e-3, 0), TrialSpec(1e-3, 0)], native_dropout)
    loss = chunk.losses(batch)
    if loss.numel() != 2:
        raise RuntimeError(f"the loss has shape {tuple(loss.shape)} per stacked model")
    torch.autograd.grad(loss.sum(), chunk.plist, allow_unused=True)
    return chunk


def _seeds_probe(task: Any, native_dropout: bool) -> tuple[str | None, bool]:
    """Whether two seeds stack in one group: their first batches stack, the vmapped
    forward/backward runs with per-member batches and dropout masks, and it draws no other
    random numbers (those would be shared by the group). Returns (why not, or None; whether
    the forward uses F.dropout)."""
    try:
        chunk = _Chunk(task, [TrialSpec(1e-3, 0), TrialSpec(1e-3, 1)], native_dropout)
        first = next(iter(chunk.batches()))
        before = torch.get_rng_state()
        loss = chunk.losses(first[0])
        moved = not torch.equal(before, torch.get_rng_state())
        torch.autograd.grad(loss.sum(), chunk.plist, allow_unused=True)
    except SeedsDiffer as e:
        return f"the seeds' batches do not stack ({e})", False
    except Exception as e:  # user code under a member dimension
        msg = str(e).strip().splitlines()[0] if str(e).strip() else ""
        return (f"a forward with one batch per member failed ({type(e).__name__}: "
                f"{msg[:200]})"), False
    assert chunk.dropout is not None
    if moved:
        return ("the forward draws random numbers other than F.dropout (dropout2d, attention "
                "dropout, torch.rand...), which a group would share"), chunk.dropout.calls > 0
    return None, chunk.dropout.calls > 0


def probe(task: Any) -> ProbeResult:
    """Check by a trial run that ``task`` can be vectorized: build two stacked trials, run a
    vmapped forward/backward on the first batch (and a vmapped evaluation on the first
    validation batch). Raises ``EngineUnavailable`` with the reason."""
    reason = unsupported_reason(task)
    if reason:
        raise EngineUnavailable(reason)
    cuda = task.device.type == "cuda"
    if cuda:
        torch.cuda.synchronize(task.device)
        base = torch.cuda.memory_allocated(task.device)
        torch.cuda.reset_peak_memory_stats(task.device)
    native_dropout = cuda
    with isolated_rng():
        seed_everything(0)
        batch = to_device(next(iter(task.train.batches(0, 0))), task.device)
        try:
            chunk = _forward_backward(task, batch, native_dropout)
        except EngineUnavailable:  # the optimizer: its own reason
            raise
        except Exception as e:  # user model code: any failure means "not vectorizable"
            if native_dropout:  # CUDA: perhaps only the dropout-mask mode fails
                try:
                    chunk = _forward_backward(task, batch, False)
                except Exception:
                    pass
                else:
                    native_dropout = False
                    log.info("vectorized: dropout masks from vmap's own rule (%s)", e)
            if native_dropout or not cuda:
                msg = str(e).strip().splitlines()[0] if str(e).strip() else ""
                raise EngineUnavailable(
                    f"the model cannot be vectorized (a vmapped forward/backward of stacked "
                    f"copies failed on the first batch: {type(e).__name__}: {msg[:300]}); "
                    "typical causes are .item(), data-dependent Python control flow or "
                    "in-place writes to unstacked tensors") from e
        eval_vmapped = task.evaluate_fn is None
        if eval_vmapped:
            vbatch = to_device(next(iter(task.val.batches(0, 0))), task.device)
            chunk.model.eval()
            try:
                with torch.no_grad(), _autocast(task):
                    m = chunk.vmetric(chunk.stacked, chunk.shared, vbatch)
                if m.numel() != 2:
                    raise RuntimeError(f"metric of shape {tuple(m.shape)}")
            except Exception as e:
                log.info("vectorized: evaluation does not vmap (%s: %s); evaluating trial "
                         "by trial", type(e).__name__, e)
                eval_vmapped = False
    per_trial = None
    if cuda:
        torch.cuda.synchronize(task.device)
        peak = torch.cuda.max_memory_allocated(task.device) - base
        state = sum(p[0].numel() * p.element_size() for p in chunk.plist)
        per_trial = int(peak / 2 + 3 * state)
    del chunk
    with isolated_rng():
        seed_everything(0)
        seeds_reason, dropout = _seeds_probe(task, native_dropout)
    if seeds_reason:
        log.info("vectorized: trials of different seeds train in separate groups (%s)",
                 seeds_reason)
    return ProbeResult(eval_vmapped, per_trial, native_dropout, seeds_reason, dropout)

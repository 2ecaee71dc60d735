"""Batched SGD, Adam and AdamW for N stacked trials, each with its own learning rate.

Stock ``torch.optim`` applies one LR to a whole tensor; a stacked parameter ``[N, ...]`` holds N
trials, so the update here takes the LR as an ``[N]`` vector broadcast over each parameter's
trailing dimensions. The formulas follow ``torch.optim``'s single-tensor implementations
(``_single_tensor_sgd`` / ``_single_tensor_adam``) operation by operation, so that a stacked
trial matches the sequential engine to rounding at low LRs.

Everything the update needs per step (LR x schedule multiplier, Adam's bias corrections,
AdamW's decay factor) is computed on the host in double precision, exactly as ``torch.optim``
does with Python floats, stored once as a ``[steps, ...]`` float32 table on the device, and read
by a device-side step counter. The update therefore has no host synchronisation and no
Python-side state that changes between steps: it can be captured once in a CUDA graph and
replayed. A trial that is not active (diverged) gets a zero gradient and a zero LR, so it
stops updating and cannot produce NaNs that touch anything but its own slice.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import torch

from ..errors import EngineUnavailable
from ..schedule import multiplier

SUPPORTED = {torch.optim.SGD: "sgd", torch.optim.Adam: "adam", torch.optim.AdamW: "adam"}


@dataclass(frozen=True)
class GroupHyper:
    """The hyperparameters of one param group (everything but the LR)."""

    kind: str  # "sgd" | "adam"
    momentum: float = 0.0
    dampening: float = 0.0
    nesterov: bool = False
    weight_decay: float = 0.0
    maximize: bool = False
    beta1: float = 0.9
    beta2: float = 0.999
    eps: float = 1e-8
    amsgrad: bool = False
    decoupled: bool = False


def _num(v: Any) -> float:
    return float(v.item()) if isinstance(v, torch.Tensor) else float(v)


def read_optimizer(opt: torch.optim.Optimizer) -> tuple[str, list[GroupHyper]]:
    """Kind and per-group hyperparameters of a user's optimizer, or ``EngineUnavailable``."""
    kind = SUPPORTED.get(type(opt))
    if kind is None:
        raise EngineUnavailable(
            f"optimizer {type(opt).__name__} has no batched implementation (supported: SGD, "
            "Adam, AdamW); the sequential engine runs it")
    groups = []
    for g in opt.param_groups:
        if g.get("differentiable"):
            raise EngineUnavailable("optimizer with differentiable=True is not supported")
        if kind == "sgd":
            groups.append(GroupHyper(
                "sgd", momentum=_num(g.get("momentum", 0.0)),
                dampening=_num(g.get("dampening", 0.0)), nesterov=bool(g.get("nesterov")),
                weight_decay=_num(g.get("weight_decay", 0.0)), maximize=bool(g.get("maximize"))))
        else:
            b1, b2 = g.get("betas", (0.9, 0.999))
            groups.append(GroupHyper(
                "adam", weight_decay=_num(g.get("weight_decay", 0.0)),
                maximize=bool(g.get("maximize")), beta1=_num(b1), beta2=_num(b2),
                eps=_num(g.get("eps", 1e-8)), amsgrad=bool(g.get("amsgrad")),
                decoupled=bool(g.get("decoupled_weight_decay",
                                     isinstance(opt, torch.optim.AdamW)))))
    return kind, groups


class BatchedOptimizer:
    """The update of N stacked trials.

    Args:
        params: stacked leaf tensors ``[N, ...]`` in a fixed order.
        group_of: index of the param group of each tensor in ``params``.
        hypers: one ``GroupHyper`` per group.
        group_lrs: ``group_lrs[g][i]``: the LR of group ``g`` in trial ``i`` as the user's
            optimizer set it (trial LR x the group's ratio).
        steps, warmup, schedule: the task's budget and schedule (``schedule.multiplier``).
    """

    def __init__(self, params: Sequence[torch.Tensor], group_of: Sequence[int],
                 hypers: Sequence[GroupHyper], group_lrs: Sequence[Sequence[float]], *,
                 steps: int, warmup: int, schedule: str) -> None:
        self.params = list(params)
        self.group_of = list(group_of)
        self.hypers = list(hypers)
        dev = self.params[0].device
        n = self.params[0].shape[0]
        self.n = n
        mults = [multiplier(k, steps, warmup, schedule) for k in range(steps)]
        # Per step and group: the (negated) step size and the decay factor of every trial,
        # computed in double as torch.optim does with Python floats, then rounded once.
        neg_lr = torch.empty(steps, len(hypers), n, dtype=torch.float64)
        decay = torch.ones(steps, len(hypers), n, dtype=torch.float64)
        bc2_sqrt = torch.ones(steps, len(hypers), dtype=torch.float64)
        for gi, h in enumerate(self.hypers):
            lrs = torch.tensor([[float(group_lrs[gi][i]) * m for i in range(n)]
                                for m in mults], dtype=torch.float64)
            if h.kind == "sgd":
                neg_lr[:, gi] = -lrs
                continue
            step = torch.arange(1, steps + 1, dtype=torch.float64)
            bc1 = torch.tensor([1 - h.beta1 ** float(s) for s in range(1, steps + 1)],
                               dtype=torch.float64)
            neg_lr[:, gi] = -(lrs / bc1[:, None])
            bc2_sqrt[:, gi] = torch.tensor([math.sqrt(1 - h.beta2 ** float(s))
                                            for s in step.tolist()], dtype=torch.float64)
            if h.decoupled and h.weight_decay:
                decay[:, gi] = 1 - lrs * h.weight_decay
        self.neg_lr = neg_lr.to(torch.float32).to(dev)
        self.decay = decay.to(torch.float32).to(dev)
        self.bc2_sqrt = bc2_sqrt.to(torch.float32).to(dev)
        self.state: list[dict[str, torch.Tensor]] = []
        for p, gi in zip(self.params, self.group_of):
            h = self.hypers[gi]
            st: dict[str, torch.Tensor] = {}
            if h.kind == "sgd" and h.momentum:
                st["buf"] = torch.zeros_like(p)
            elif h.kind == "adam":
                st["exp_avg"] = torch.zeros_like(p)
                st["exp_avg_sq"] = torch.zeros_like(p)
                if h.amsgrad:
                    st["max_exp_avg_sq"] = torch.zeros_like(p)
            self.state.append(st)

    @torch.no_grad()
    def step(self, grads: Sequence[torch.Tensor | None], k: torch.Tensor,
             active: torch.Tensor) -> None:
        """Apply step ``k`` (a 0-d int64 device tensor) to the active trials. A parameter
        whose gradient is None is skipped, as ``torch.optim`` skips it."""
        idx = k.reshape(1)
        neg_lr = self.neg_lr.index_select(0, idx)[0] * active  # [G, N]; zero when inactive
        decay = torch.where(active, self.decay.index_select(0, idx)[0], 1.0)
        bc2_sqrt = self.bc2_sqrt.index_select(0, idx)[0]  # [G]
        first = k == 0
        for p, g, gi, st in zip(self.params, grads, self.group_of, self.state):
            if g is None:
                continue
            h = self.hypers[gi]
            shape = (self.n,) + (1,) * (p.dim() - 1)
            g = torch.where(active.view(shape), g, 0.0)
            if h.maximize:
                g = -g
            if h.kind == "sgd":
                if h.weight_decay:
                    g = g.add(p, alpha=h.weight_decay)
                if h.momentum:
                    buf = st["buf"]
                    upd = torch.where(first, g, buf * h.momentum + g * (1 - h.dampening))
                    buf.copy_(torch.where(active.view(shape), upd, buf))
                    g = g.add(buf, alpha=h.momentum) if h.nesterov else buf
                p.add_(g * neg_lr[gi].view(shape))
                continue
            if h.weight_decay:
                if h.decoupled:
                    p.mul_(decay[gi].view(shape))
                else:
                    g = g.add(p, alpha=h.weight_decay)
            exp_avg, exp_avg_sq = st["exp_avg"], st["exp_avg_sq"]
            exp_avg.lerp_(g, 1 - h.beta1)
            exp_avg_sq.mul_(h.beta2).addcmul_(g, g, value=1 - h.beta2)
            src = exp_avg_sq
            if h.amsgrad:
                torch.maximum(st["max_exp_avg_sq"], exp_avg_sq, out=st["max_exp_avg_sq"])
                src = st["max_exp_avg_sq"]
            denom = (src.sqrt() / bc2_sqrt[gi]).add_(h.eps)
            p.addcdiv_(exp_avg * neg_lr[gi].view(shape), denom)


def clip_grad_norms(grads: Sequence[torch.Tensor], max_norm: float) -> list[torch.Tensor]:
    """Per-trial ``clip_grad_norm_``: each trial's gradients are scaled by
    ``min(1, max_norm / (norm + 1e-6))`` of its own total 2-norm, as torch does."""
    n = grads[0].shape[0]
    norms = torch.stack([g.reshape(n, -1).norm(dim=1) for g in grads])  # [P, N]
    total = norms.norm(dim=0)
    coef = torch.clamp(max_norm / (total + 1e-6), max=1.0)
    return [g * coef.view((n,) + (1,) * (g.dim() - 1)) for g in grads]

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
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import torch

from ...errors import EngineUnavailable
from ...train.loop import clip_coefficient
from ...train.schedule import multiplier

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


_FLAGS = ("kind", "nesterov", "maximize", "amsgrad", "decoupled")  # must agree across trials
_NUMBERS = ("momentum", "dampening", "weight_decay", "beta1", "beta2", "eps")  # may differ


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


def read_optimizers(opts: Sequence[torch.optim.Optimizer], lrs: Sequence[float],
                    names: Mapping[int, str]) -> tuple[str, list[list[GroupHyper]]]:
    """Read the optimizer of every trial (``opts[i]`` built at ``lrs[i]``).

    Returns the kind and ``hypers[g][i]``: group ``g``'s hyperparameters in trial ``i``.
    Numeric hyperparameters (weight decay, betas, eps, momentum, dampening) may differ between
    trials: the batched update stacks them. What it cannot stack raises ``EngineUnavailable``
    naming the difference: another optimizer class, other param groups (count or
    membership), or a flag (nesterov, maximize, amsgrad, decoupled decay) that differs.
    ``names`` maps ``id(parameter)`` to its name, for the membership check."""
    read = [read_optimizer(o) for o in opts]
    kind = read[0][0]

    def at(i: int) -> str:
        return f"lr={lrs[i]:g}"

    for i, o in enumerate(opts[1:], 1):
        if type(o) is not type(opts[0]):
            raise EngineUnavailable(
                f"the optimizer's class differs between LRs ({type(opts[0]).__name__} at "
                f"{at(0)}, {type(o).__name__} at {at(i)}); the batched optimizer runs one "
                "class for all stacked trials")
        if len(o.param_groups) != len(opts[0].param_groups):
            raise EngineUnavailable(
                f"the optimizer's param groups differ between LRs ({len(opts[0].param_groups)}"
                f" at {at(0)}, {len(o.param_groups)} at {at(i)})")
        for gi, (g0, g) in enumerate(zip(opts[0].param_groups, o.param_groups)):
            if [names.get(id(p)) for p in g0["params"]] != [names.get(id(p))
                                                          for p in g["params"]]:
                raise EngineUnavailable(
                    f"param group {gi} holds other parameters at {at(i)} than at {at(0)}; "
                    "the batched optimizer needs the same grouping for every LR")
    n_groups = len(read[0][1])
    hypers = [[read[i][1][gi] for i in range(len(opts))] for gi in range(n_groups)]
    for gi, per_trial in enumerate(hypers):
        for flag in _FLAGS:
            values = [getattr(h, flag) for h in per_trial]
            if any(v != values[0] for v in values):
                i = next(j for j, v in enumerate(values) if v != values[0])
                raise EngineUnavailable(
                    f"the optimizer's {flag} differs between LRs in param group {gi} "
                    f"({values[0]} at {at(0)}, {values[i]} at {at(i)}); the batched optimizer "
                    f"stacks only numeric hyperparameters ({', '.join(_NUMBERS)})")
    return kind, hypers


def _trial_values(per_trial: Sequence[GroupHyper], fn: Any, dev: torch.device) -> Any:
    """``fn(hyper)`` of every trial: one Python float when all trials agree (the update then
    uses torch.optim's own scalar arithmetic), else an ``[N]`` float32 device tensor of the
    values computed in double on the host, as torch.optim computes them."""
    values = [float(fn(h)) for h in per_trial]
    if all(v == values[0] for v in values):
        return values[0]
    return torch.tensor(values, dtype=torch.float64).to(torch.float32).to(dev)


class _Hyper:
    """One group's hyperparameters for the update: flags, and each number as a float (equal
    in every trial) or an ``[N]`` tensor (differing)."""

    def __init__(self, per_trial: Sequence[GroupHyper], dev: torch.device) -> None:
        h = per_trial[0]
        self.kind, self.nesterov, self.maximize = h.kind, h.nesterov, h.maximize
        self.amsgrad, self.decoupled = h.amsgrad, h.decoupled
        self.momentum = _trial_values(per_trial, lambda x: x.momentum, dev)
        self.one_minus_dampening = _trial_values(per_trial, lambda x: 1 - x.dampening, dev)
        self.weight_decay = _trial_values(per_trial, lambda x: x.weight_decay, dev)
        self.one_minus_beta1 = _trial_values(per_trial, lambda x: 1 - x.beta1, dev)
        self.beta2 = _trial_values(per_trial, lambda x: x.beta2, dev)
        self.one_minus_beta2 = _trial_values(per_trial, lambda x: 1 - x.beta2, dev)
        self.eps = _trial_values(per_trial, lambda x: x.eps, dev)
        self.any_weight_decay = any(x.weight_decay for x in per_trial)
        self.any_momentum = any(x.momentum for x in per_trial)


def _view(v: Any, shape: tuple[int, ...]) -> Any:
    return v.view(shape) if isinstance(v, torch.Tensor) else v


class BatchedOptimizer:
    """The update of N stacked trials.

    Args:
        params: stacked leaf tensors ``[N, ...]`` in a fixed order.
        group_of: index of the param group of each tensor in ``params``.
        hypers: ``hypers[g][i]``, the hyperparameters of group ``g`` in trial ``i`` (from
            ``read_optimizers``; one ``GroupHyper`` per group stands for every trial).
        group_lrs: ``group_lrs[g][i]``: the LR of group ``g`` in trial ``i`` as the user's
            optimizer set it (trial LR x the group's ratio).
        steps, warmup, schedule: the task's budget and schedule (``schedule.multiplier``).
    """

    def __init__(self, params: Sequence[torch.Tensor], group_of: Sequence[int],
                 hypers: Sequence[Sequence[GroupHyper] | GroupHyper],
                 group_lrs: Sequence[Sequence[float]], *,
                 steps: int, warmup: int, schedule: str) -> None:
        self.params = list(params)
        self.group_of = list(group_of)
        dev = self.params[0].device
        n = self.params[0].shape[0]
        self.n = n
        per_group = [[h] * n if isinstance(h, GroupHyper) else list(h) for h in hypers]
        if any(len(h) != n for h in per_group):
            raise ValueError(f"hypers: expected {n} trials per group")
        self.hypers = [_Hyper(h, dev) for h in per_group]
        mults = [multiplier(k, steps, warmup, schedule) for k in range(steps)]
        # Per step, group and trial: the (negated) step size, the decay factor and Adam's
        # second bias correction, computed in double as torch.optim does with Python floats,
        # then rounded once.
        groups = len(per_group)
        neg_lr = torch.empty(steps, groups, n, dtype=torch.float64)
        decay = torch.ones(steps, groups, n, dtype=torch.float64)
        bc2_sqrt = torch.ones(steps, groups, n, dtype=torch.float64)
        for gi, trials in enumerate(per_group):
            lrs = torch.tensor([[float(group_lrs[gi][i]) * m for i in range(n)]
                                for m in mults], dtype=torch.float64)
            if trials[0].kind == "sgd":
                neg_lr[:, gi] = -lrs
                continue
            bc1 = torch.tensor([[1 - h.beta1 ** float(s) for h in trials]
                                for s in range(1, steps + 1)], dtype=torch.float64)
            neg_lr[:, gi] = -(lrs / bc1)
            bc2_sqrt[:, gi] = torch.tensor([[math.sqrt(1 - h.beta2 ** float(s))
                                             for h in trials] for s in range(1, steps + 1)],
                                           dtype=torch.float64)
            wd = torch.tensor([h.weight_decay if h.decoupled else 0.0 for h in trials],
                              dtype=torch.float64)
            decay[:, gi] = 1 - lrs * wd
        self.neg_lr = neg_lr.to(torch.float32).to(dev)
        self.decay = decay.to(torch.float32).to(dev)
        self.bc2_sqrt = bc2_sqrt.to(torch.float32).to(dev)
        self.state: list[dict[str, torch.Tensor]] = []
        for p, gi in zip(self.params, self.group_of):
            h = self.hypers[gi]
            st: dict[str, torch.Tensor] = {}
            if h.kind == "sgd" and h.any_momentum:
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
        bc2_sqrt = self.bc2_sqrt.index_select(0, idx)[0]  # [G, N]
        first = k == 0
        for p, g, gi, st in zip(self.params, grads, self.group_of, self.state):
            if g is None:
                continue
            h = self.hypers[gi]
            shape = (self.n,) + (1,) * (p.dim() - 1)
            g = torch.where(active.view(shape), g, 0.0)
            if h.maximize:
                g = -g
            wd = _view(h.weight_decay, shape)
            if h.kind == "sgd":
                if h.any_weight_decay:
                    g = g.add(p, alpha=wd) if isinstance(wd, float) else g + p * wd
                if h.any_momentum:
                    buf = st["buf"]
                    mom = _view(h.momentum, shape)
                    upd = torch.where(first, g,
                                      buf * mom + g * _view(h.one_minus_dampening, shape))
                    buf.copy_(torch.where(active.view(shape), upd, buf))
                    if h.nesterov:
                        g = g.add(buf, alpha=mom) if isinstance(mom, float) else g + buf * mom
                    elif isinstance(mom, float):
                        g = buf
                    else:  # a trial without momentum steps along its gradient
                        g = torch.where(mom != 0, buf, g)
                p.add_(g * neg_lr[gi].view(shape))
                continue
            if h.any_weight_decay:
                if h.decoupled:
                    p.mul_(decay[gi].view(shape))
                else:
                    g = g.add(p, alpha=wd) if isinstance(wd, float) else g + p * wd
            exp_avg, exp_avg_sq = st["exp_avg"], st["exp_avg_sq"]
            exp_avg.lerp_(g, _view(h.one_minus_beta1, shape))
            b2, omb2 = _view(h.beta2, shape), _view(h.one_minus_beta2, shape)
            if isinstance(omb2, float):
                exp_avg_sq.mul_(b2).addcmul_(g, g, value=omb2)
            else:
                exp_avg_sq.mul_(b2).add_(g * g * omb2)
            src = exp_avg_sq
            if h.amsgrad:
                torch.maximum(st["max_exp_avg_sq"], exp_avg_sq, out=st["max_exp_avg_sq"])
                src = st["max_exp_avg_sq"]
            denom = (src.sqrt() / bc2_sqrt[gi].view(shape)).add_(_view(h.eps, shape))
            p.addcdiv_(exp_avg * neg_lr[gi].view(shape), denom)


def clip_grad_norms(grads: Sequence[torch.Tensor], max_norm: float) -> list[torch.Tensor]:
    """Per-trial ``clip_grad_norm_``: each trial's gradients are scaled by
    ``training.clip_coefficient`` of its own total 2-norm, the rule of the training loop."""
    n = grads[0].shape[0]
    norms = torch.stack([g.reshape(n, -1).norm(dim=1) for g in grads])  # [P, N]
    total = norms.norm(dim=0)
    coef = clip_coefficient(total, max_norm)
    return [g * coef.view((n,) + (1,) * (g.dim() - 1)) for g in grads]

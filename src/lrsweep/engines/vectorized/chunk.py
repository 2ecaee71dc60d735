"""The stacked trials of one group: state, optimizer, divergence masks and the step (under
``vmap``), and the batches each step trains on."""

from __future__ import annotations

import contextlib
from collections.abc import Iterator, Sequence
from typing import Any

import torch
import torch.nn.functional as F
from torch import nn
from torch.overrides import TorchFunctionMode
from torch.utils import _pytree as pytree

from ...results.trial import TrialSpec
from ...task.data import TensorData, batch_size_of, to_device
from ...train.divergence import DivergenceMasks
from ...train.loop import step_batches
from .members import SeedDropout, SeedStreams, member_step_batches
from .optim import BatchedOptimizer, clip_grad_norms, read_optimizers


class NativeDropoutMasks(TorchFunctionMode):
    """Dropout under ``vmap`` with the masks eager CUDA code draws.

    With ``randomness="same"``, vmap implements dropout by ``bernoulli_`` on one sample's
    shape. On CPU that is what eager dropout does (same generator, same draws: the stacked
    trials get the sequential engine's masks exactly). On CUDA eager dropout is the fused
    ``native_dropout`` kernel, which maps random numbers to elements differently; under this
    mode ``F.dropout`` draws its mask from ``native_dropout`` on a tensor of one sample's
    shape outside the vmap layer, so the masks are again those of the sequential engine
    (for contiguous activations, where both take the same kernel path).
    """

    def __torch_function__(self, func: Any, types: Any, args: Any = (),
                           kwargs: Any = None) -> Any:
        kwargs = kwargs or {}
        if func is F.dropout:
            x = args[0]
            p = kwargs.get("p", args[1] if len(args) > 1 else 0.5)
            training = kwargs.get("training", args[2] if len(args) > 2 else True)
            if training and 0 < p < 1:
                with torch._C._ExcludeDispatchKeyGuard(_VMAP_MODE):
                    ones = torch.ones(tuple(x.shape), dtype=x.dtype, device=x.device)
                    _, mask = torch.native_dropout(ones, p, True)
                return x * mask * (1.0 / (1.0 - p))
        return func(*args, **kwargs)


_VMAP_MODE = torch._C.DispatchKeySet(torch._C.DispatchKey.FuncTorchVmapMode)


class _Holder(nn.Module):
    """``fn(model, batch)`` as a module, so ``functional_call`` can swap the model's state."""

    def __init__(self, model: nn.Module, fn: Any) -> None:
        super().__init__()
        self.m = model
        self.fn = fn

    def forward(self, batch: Any) -> torch.Tensor:
        return self.fn(self.m, batch)


def _autocast(task: Any) -> Any:
    if task.precision == "bf16":  # no weight-cast cache: it does not survive graph replays
        return torch.autocast(task.device.type, dtype=torch.bfloat16, cache_enabled=False)
    return torch.autocast(task.device.type, enabled=False)


def _shapes(batches: Sequence[Any]) -> Any:
    leaves, spec = pytree.tree_flatten(list(batches))
    return spec, tuple((tuple(x.shape), x.dtype, x.device) if isinstance(x, torch.Tensor)
                       else ("const", x) for x in leaves)


class _Chunk:
    """N stacked trials: state, optimizer, divergence masks, the step.

    The members are ``specs`` (lr, seed). With one seed they share the batches and the
    dropout masks (``randomness="same"``). With several, each member gets its seed's initial
    weights, batches (a leading member dimension, ``members.member_step_batches``) and dropout
    masks (``members.SeedDropout``, from that seed's own generators)."""

    def __init__(self, task: Any, specs: Sequence[TrialSpec],
                 native_dropout: bool | None = None) -> None:
        self.task = task
        self.native_dropout = (task.device.type == "cuda" if native_dropout is None
                               else native_dropout)
        self.specs = list(specs)
        self.n = n = len(specs)
        lrs = [s.lr for s in specs]
        dev = task.device
        self.seeds = list(dict.fromkeys(s.seed for s in specs))
        slot = {s: j for j, s in enumerate(self.seeds)}
        self.member_seed = torch.tensor([slot[s.seed] for s in specs], dtype=torch.long,
                                        device=dev)
        self.multi = len(self.seeds) > 1
        models = [task.initial_model(s) for s in self.seeds]
        for m in models:
            m.train()
        model = models[0]
        self.model = model
        of = [models[slot[s.seed]] for s in specs]  # each member's own initial model
        opts = [task.make_optimizer(m, lr) for m, lr in zip(of, lrs)]
        names = {id(p): name for m in models for name, p in m.named_parameters()}
        kind, hypers = read_optimizers(opts, lrs, names)
        order: list[str] = []
        group_of: list[int] = []
        for gi, g in enumerate(opts[0].param_groups):
            for p in g["params"]:
                if id(p) in names and names[id(p)] not in order:
                    order.append(names[id(p)])
                    group_of.append(gi)
        group_lrs = [[o.param_groups[gi]["lr"] for o in opts] for gi in range(len(hypers))]
        self.names = order

        def stack(get: Any) -> torch.Tensor:
            if not self.multi:
                t = get(model).detach()
                return t.unsqueeze(0).repeat((n,) + (1,) * t.dim())
            return torch.stack([get(m).detach() for m in of])

        # Trained params are stacked leaves; the rest (frozen, or in no optimizer group) are
        # shared unbatched, unless seeds re-initialise them. Buffers (BatchNorm statistics)
        # are stacked copies.
        params = dict(model.named_parameters())
        self.params = {name: stack(lambda m, k=name: m.get_parameter(k)).requires_grad_(True)
                       for name in params if name in order}
        self.plist = [self.params[name] for name in order]
        per_seed = self.multi and task.seed_init
        self.shared = {"m." + name: p.detach() for name, p in params.items()
                       if name not in self.params and not per_seed}
        frozen = {name: stack(lambda m, k=name: m.get_parameter(k))
                  for name in params if name not in self.params and per_seed}
        self.buffers = {name: stack(lambda m, k=name: m.get_buffer(k))
                        for name, _ in model.named_buffers()}
        self.stacked = {**{"m." + k: v for k, v in self.params.items()},
                        **{"m." + k: v for k, v in frozen.items()},
                        **{"m." + k: v for k, v in self.buffers.items()}}
        self.opt = BatchedOptimizer(self.plist, group_of, hypers, group_lrs, steps=task.steps,
                                    warmup=task.warmup_steps, schedule=task.schedule)
        self.kind = kind
        # divergence bookkeeping, all on the device
        self.k = torch.zeros((), dtype=torch.long, device=dev)
        self.divergence = DivergenceMasks(n, task.divergence_factor, dev)
        self.active = self.divergence.active  # the same tensor, updated in place
        self.n_steps = torch.zeros(n, dtype=torch.long, device=dev)
        self.curve = torch.zeros(task.steps, n, dtype=torch.float64, device=dev)

        train_holder = _Holder(model, lambda m, b: task.compute_loss(m, b)[0])
        eval_holder = _Holder(model, task.batch_metric)
        self.eval_holder = eval_holder
        self.streams = SeedStreams(self.seeds, dev) if self.multi else None
        self.dropout = (SeedDropout(self.streams, self.native_dropout) if self.streams
                        else None)

        def one_loss(stacked: dict, shared: dict, batch: Any, member: Any) -> torch.Tensor:
            if self.dropout is not None:
                self.dropout.member = member
            return torch.func.functional_call(train_holder, (stacked, shared), (batch,))

        def one_metric(stacked: dict, shared: dict, batch: Any) -> torch.Tensor:
            return torch.func.functional_call(eval_holder, (stacked, shared), (batch,))

        self._one_loss = one_loss
        self._vloss: dict[Any, Any] = {}
        self.vmetric = torch.func.vmap(one_metric, in_dims=(0, None, None), randomness="same")

    def batches(self) -> Iterator[list[Any]]:
        """The micro-batches of each step: shared by the members (one seed), or one per
        member (several seeds)."""
        if self.streams is None:
            return device_step_batches(self.task, self.seeds[0])
        return member_step_batches(self.task, self.seeds, self.member_seed, self.streams,
                                   self.task.device)

    def _vmapped_loss(self, batch: Any) -> Any:
        if not self.multi:
            dims: Any = None
        else:  # tensors have a member dimension; other leaves are shared
            dims = pytree.tree_map(lambda x: 0 if isinstance(x, torch.Tensor) else None, batch)
        key = pytree.tree_flatten(dims)[1] if self.multi else None
        fn = self._vloss.get(key)
        if fn is None:
            fn = self._vloss[key] = torch.func.vmap(
                self._one_loss, in_dims=(0, None, dims, 0), randomness="same")
        return fn

    # ---------------------------------------------------------------------------- step ----
    def losses(self, batch: Any) -> torch.Tensor:
        mode: Any = (self.dropout if self.dropout is not None else NativeDropoutMasks()
                     if self.native_dropout else contextlib.nullcontext())
        with _autocast(self.task), mode:
            out = self._vmapped_loss(batch)(self.stacked, self.shared, batch, self.member_seed)
        return out.float().reshape(self.n)

    def train_step(self, batches: Sequence[Any]) -> None:
        """One optimizer step of every trial, in place, with no host synchronisation: the
        step of ``training`` (accumulation, the step's loss, the divergence rule, clipping,
        the update, in that order), with a diverged trial masked out instead of stopped."""
        accum = len(batches)
        total = torch.zeros(self.n, dtype=torch.float64, device=self.active.device)
        grads: list[torch.Tensor | None] = [None] * len(self.plist)
        for batch in batches:
            loss = self.losses(batch)
            masked = torch.where(self.active, loss, 0.0)  # a dead trial's NaN never flows
            gs = torch.autograd.grad(masked.sum() / accum, self.plist, allow_unused=True)
            grads = [g if a is None else (a if g is None else a + g)
                     for a, g in zip(grads, gs)]
            total = total + loss.detach().double()
        value = total / accum
        self.curve.index_copy_(0, self.k.reshape(1), value.unsqueeze(0))
        self.n_steps.add_(self.active.long())
        self.divergence.update(value, self.k == 0)  # the divergence rule, as masks
        if self.task.clip_grad_norm is not None:
            idx = [i for i, g in enumerate(grads) if g is not None]
            shape = (self.n,)
            clipped = clip_grad_norms(
                [torch.where(self.active.view(shape + (1,) * (grads[i].dim() - 1)), grads[i],
                             0.0) for i in idx], self.task.clip_grad_norm)
            for i, g in zip(idx, clipped):
                grads[i] = g
        self.opt.step(grads, self.k, self.active)
        self.k.add_(1)

    # ------------------------------------------------------------------------ evaluate ----
    @torch.no_grad()
    def evaluate(self, vmapped: bool) -> list[float]:
        task = self.task
        if not vmapped or task.evaluate_fn is not None:
            return [task.evaluate(self.unstack(i)) for i in range(self.n)]
        self.model.eval()
        try:
            total = torch.zeros(self.n, dtype=torch.float64, device=self.active.device)
            count = 0
            with _autocast(task):
                for batch in task.val.batches(0, 0):
                    batch = to_device(batch, task.device)
                    bs = batch_size_of(batch)
                    m = self.vmetric(self.stacked, self.shared, batch)
                    total += m.float().reshape(self.n).double() * bs
                    count += bs
            return (total / max(count, 1)).tolist()
        finally:
            self.model.train()

    @torch.no_grad()
    def unstack(self, i: int) -> nn.Module:
        """Trial ``i`` as an ordinary module (for evaluation trial by trial)."""
        m = self.task.initial_model(self.specs[i].seed)
        for name, p in m.named_parameters():
            if "m." + name in self.stacked:
                p.copy_(self.stacked["m." + name][i])
        for name, b in m.named_buffers():
            if name in self.buffers:
                b.copy_(self.buffers[name][i])
        return m


def device_step_batches(task: Any, seed: int) -> Iterator[list[Any]]:
    """``training.step_batches`` for in-memory data, with each epoch's sample order moved
    to the device once: slicing a batch then needs no host-to-device copy, which would
    synchronise the host with the device on every step. Same batches, same grouping."""
    train = task.train
    accum = task.accumulation_steps
    if not isinstance(train, TensorData) or len(train) < accum:
        yield from step_batches(task, seed)
        return
    bs, done, epoch = train.batch_size, 0, 0
    while True:
        order = train.order(seed, epoch).to(task.device)
        group: list[Any] = []
        for i in range(len(train)):
            group.append(train.take(order[i * bs:(i + 1) * bs]))
            if len(group) == accum:
                yield group
                group = []
                done += 1
                if done >= task.steps:
                    return
        epoch += 1

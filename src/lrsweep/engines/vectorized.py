"""The vectorized engine: the trials of a seed run at once as one stacked model.

The N trials of a seed share initial weights, data order and dropout masks; only the LR
differs. Their parameters are stacked into ``[N, ...]`` tensors and the model runs under
``torch.func.vmap`` + ``functional_call`` (``randomness="same"``: the dropout masks are drawn
once per step from the generator seeded by the trial's seed, exactly as the sequential engine
draws them for each of its trials). The update is ``batched_optim.BatchedOptimizer`` with the
LR as an ``[N]`` tensor; every trial's optimizer is built by the task at that trial's LR, and
hyperparameters that differ between trials are stacked too (``read_optimizers`` says what
cannot be: ``auto`` then runs the trials sequentially). (On CUDA, where eager dropout is a
fused kernel with its own mapping of random numbers, ``NativeDropoutMasks`` makes vmap draw
the same masks.)

Divergence is a mask: the rule of ``divergence`` (non-finite loss, or an EMA of the loss
above ``divergence_factor`` x the first loss) is evaluated by ``DivergenceMasks`` in float64
tensors on the device; a diverged trial's loss is excluded from what is backpropagated, its
gradient and LR are zeroed, and its curve stops at the step where it diverged, as in the
sequential engine.

On CUDA the whole step (forward, backward, masked update, divergence bookkeeping) is captured
once in a CUDA graph and replayed with static input buffers; a batch of another shape (the
last partial batch) runs eagerly. ``compile=True`` wraps the step in ``torch.compile`` first.
Trials are chunked to fit memory (out-of-memory halves the chunk); every chunk re-seeds and
replays the same data, so results do not depend on the chunking. A trial whose optimizer
raises when built runs alone on the sequential path (which records it failed); a chunk that
raises while training is rerun trial by trial there, so only the trial that raises fails.

``engine="auto"`` (``choose_auto``): vectorized on CUDA whenever the model vmaps; on CPU
only for tiny models, the one case where stacking is faster there (measured).
"""

from __future__ import annotations

import contextlib
import logging
import math
import secrets
import time
import traceback
from collections.abc import Iterator, Sequence
from dataclasses import replace
from typing import Any

import torch
import torch.nn.functional as F
from torch import nn
from torch.overrides import TorchFunctionMode
from torch.utils import _pytree as pytree

from ..data import TensorData, batch_size_of, to_device
from ..divergence import DivergenceMasks
from ..errors import EngineUnavailable, bad_arg
from ..rng import isolated_rng, seed_everything
from ..training import step_batches
from ..trial import Status, TrialResult, TrialSpec
from .base import ResultCallback, advance
from .batched_optim import BatchedOptimizer, clip_grad_norms, read_optimizers
from .members import SeedDropout, SeedsDiffer, SeedStreams, member_step_batches
from .sequential import SequentialEngine

log = logging.getLogger("lrsweep")

GRAPH_WARMUP_STEPS = 3  # eager steps (real ones) on a side stream before capture
GRAPH_MIN_STEPS = 8  # fewer full-size steps than this: capture does not pay
COMPILE_MIN_STEPS = 100_000  # auto compiles only runs long enough to repay ~20 s of compile
STEADY_FROM = GRAPH_WARMUP_STEPS + 2  # steps after warm-up, capture or compile: timed
ALL_DEAD_CHECK_EVERY = 32  # steps between the (only) host syncs: stop when all diverged
# CPU (measured, 1 thread, 10 LRs; benchmarks/RESULTS.md "speed (issue 4)"): stacking pays
# only for tiny models, where a step is Python and dispatch overhead: a sweep takes 0.4-0.75x
# the sequential time up to ~1.4 MiB touched per trial-step, 1.1x at 2.5 MiB, 1.4-6x for
# the 5-35 MiB benchmark models (the stacked working set falls out of the caches); and it
# needs a few trials to stack (2 stacked: 1.1-1.3x).
CPU_TINY_TRIAL_BYTES = int(1.5 * 2**20)
CPU_MIN_TRIALS = 4


# ------------------------------------------------------------------------------ support ----
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
        """One optimizer step of every trial, in place, with no host synchronisation."""
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


# ------------------------------------------------------------------------------- probe ----
class Plan:
    """What a probe learnt about a task: whether evaluation vmaps, memory per trial, and
    whether trials of several seeds can share a group (``seeds_reason``: why not)."""

    def __init__(self, eval_vmapped: bool, bytes_per_trial: int | None,
                 native_dropout: bool = False, seeds_reason: str | None = None,
                 dropout: bool = False) -> None:
        self.eval_vmapped = eval_vmapped
        self.bytes_per_trial = bytes_per_trial
        self.native_dropout = native_dropout
        self.seeds_reason = seeds_reason
        self.dropout = dropout  # the forward calls F.dropout (several seeds: no CUDA graph)


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


def probe(task: Any) -> Plan:
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
    return Plan(eval_vmapped, per_trial, native_dropout, seeds_reason, dropout)


# ------------------------------------------------------------------------------ engine ----
class VectorizedEngine:
    """All trials of a seed at once, as one stacked model.

    Args:
        task: optional; when given, the task is checked now (``EngineUnavailable`` with the
            reason if it cannot be vectorized).
        chunk_size: most trials stacked at once (default: all that fit in memory).
        cuda_graph: ``"auto"`` (capture on CUDA when the run is long enough), True or False.
        compile: wrap the step in ``torch.compile`` (pays for long runs only).
    """

    name = "vectorized"

    def __init__(self, task: Any = None, *, chunk_size: int | None = None,
                 cuda_graph: bool | str = "auto", compile: bool = False) -> None:
        if chunk_size is not None and (not isinstance(chunk_size, int)
                                       or isinstance(chunk_size, bool) or chunk_size < 1):
            raise bad_arg("chunk_size", chunk_size, "a positive integer or None",
                          "Pass e.g. chunk_size=8, or leave it unset to fit memory.")
        if cuda_graph not in ("auto", True, False):
            raise bad_arg("cuda_graph", cuda_graph, "'auto', True or False",
                          "Leave cuda_graph='auto'.")
        self.chunk_size = chunk_size
        self.cuda_graph = cuda_graph
        self.compile = bool(compile)
        self._plans: dict[int, tuple[Any, Plan]] = {}  # id(task) -> (task, its probe)
        self.min_trials = 1  # a seed with fewer LRs runs sequentially (auto on CPU sets it)
        self.auto = False  # chosen by engine="auto": what cannot be stacked runs sequentially
        self._emulate_graph = False  # tests: run the graph path on CPU with an eager stand-in
        if task is not None:
            self._plan(task)

    def _plan(self, task: Any, plan: Plan | None = None) -> Plan:
        entry = self._plans.get(id(task))
        if entry is None or entry[0] is not task:
            entry = self._plans[id(task)] = (task, plan or probe(task))
        return entry[1]

    def groups(self, task: Any, specs: Sequence[TrialSpec]) -> list[list[TrialSpec]]:
        """``specs`` as the stacked groups they train in: every (lr, seed) pair of the call
        in one group when seeds stack (``Plan.seeds_reason``), else one group per seed;
        ordered by seed, then LR."""
        plan = self._plan(task)
        ordered = sorted(specs, key=lambda s: (s.seed, s.lr))
        if plan.seeds_reason is None:
            return [ordered] if ordered else []
        by_seed: dict[int, list[TrialSpec]] = {}
        for s in ordered:
            by_seed.setdefault(s.seed, []).append(s)
        return list(by_seed.values())

    def units(self, task: Any, specs: Sequence[TrialSpec]) -> list[list[TrialSpec]]:
        """The units a sweep on a shared study claims one at a time: the chunks the memory
        planner splits each group into (a group too small to stack: one trial each)."""
        plan = self._plan(task)
        out: list[list[TrialSpec]] = []
        for group in self.groups(task, specs):
            if len(group) < self.min_trials:
                out += [[s] for s in group]
                continue
            size = self._initial_chunk(task, plan, len(group))
            out += [group[i:i + size] for i in range(0, len(group), size)]
        return out

    def run(self, task: Any, specs: Sequence[TrialSpec], on_result: ResultCallback) -> None:
        if not specs:
            return
        plan = self._plan(task)
        try:
            broken = self._check_optimizers(task, sorted({s.lr for s in specs}),
                                            min(s.seed for s in specs))
        except EngineUnavailable as e:
            if not self.auto:
                raise
            log.info("engine='auto': running these trials sequentially (%s)", e)
            for s in specs:
                on_result(task.run_trial(s, "sequential"))
            return
        for s in specs:  # fails alone, with its error
            if s.lr in broken:
                on_result(task.run_trial(s, "sequential"))
        for group in self.groups(task, [s for s in specs if s.lr not in broken]):
            self._run_group(task, plan, group, on_result)

    def _check_optimizers(self, task: Any, lrs: list[float], seed: int) -> set[float]:
        """Build every LR's optimizer (as the chunks will) and check that the batched
        optimizer can stack them: ``EngineUnavailable`` names what differs. Returns the LRs
        whose optimizer raised: those trials run on the sequential path, which records
        them failed with their own error, and the others stay stacked."""
        with isolated_rng():
            seed_everything(seed)
            model = task.initial_model(seed)
            names = {id(p): name for name, p in model.named_parameters()}
            opts, good, broken = [], [], set()
            for lr in lrs:
                try:
                    opts.append(task.make_optimizer(model, lr))
                except Exception as e:  # the user's optimizer callable, at this LR
                    log.warning("vectorized: building the optimizer at lr=%g raised %s: %s; "
                                "that trial runs alone", lr, type(e).__name__, e)
                    broken.add(lr)
                else:
                    good.append(lr)
            if opts:
                read_optimizers(opts, good, names)
        return broken

    def _initial_chunk(self, task: Any, plan: Plan, n: int) -> int:
        if self.chunk_size is not None:
            return _balanced(n, self.chunk_size)
        if task.device.type == "cuda" and plan.bytes_per_trial:
            free, _ = torch.cuda.mem_get_info(task.device)
            fit = max(1, int(0.8 * free // plan.bytes_per_trial))
            if fit < n:
                log.info("vectorized: %d trials per chunk fit in memory (of %d)", fit, n)
            return _balanced(n, fit)
        return n

    def _run_group(self, task: Any, plan: Plan, specs: list[TrialSpec],
                   on_result: ResultCallback) -> None:
        if len(specs) < self.min_trials:
            for s in specs:
                on_result(task.run_trial(s, "sequential"))
            return
        size = self._initial_chunk(task, plan, len(specs)) if specs else 1
        i = 0
        while i < len(specs):
            part = specs[i:i + size]
            oom = False
            try:
                results = self._run_chunk(task, plan, part)
            except torch.OutOfMemoryError:
                oom = True
            except SeedsDiffer as e:  # this data's batches differ between seeds
                log.info("vectorized: the seeds of a group train one at a time (%s)", e)
                by_seed: dict[int, list[TrialSpec]] = {}
                for s in part:
                    by_seed.setdefault(s.seed, []).append(s)
                for one in by_seed.values():
                    self._run_group(task, plan, one, on_result)
                i += len(part)
                continue
            if oom:
                if task.device.type == "cuda":
                    torch.cuda.empty_cache()
                if size > 1:
                    size = max(1, size // 2)
                    log.warning("vectorized: out of memory; retrying with %d trials per chunk",
                                size)
                    continue
                results = [TrialResult(s.lr, s.seed, Status.FAILED, None, engine=self.name,
                                       error="out of memory with one trial per chunk")
                           for s in part]
            if results is None:  # the stacked chunk raised: find the trial that raises
                self._isolate(task, part, on_result)
            else:
                for r in results:
                    on_result(r)
            i += len(part)

    @staticmethod
    def _isolate(task: Any, specs: list[TrialSpec], on_result: ResultCallback) -> None:
        """Run the trials of a chunk that raised one by one on the sequential path (the
        reference): only a trial that raises there is failed, with its own error; the others
        get their results, each reported as it finishes."""
        for s in specs:
            r = task.run_trial(s, "sequential")
            on_result(replace(r, extra={**r.extra, "isolated_from": "vectorized"}))

    def _run_chunk(self, task: Any, plan: Plan,
                   specs: list[TrialSpec]) -> list[TrialResult] | None:
        """The chunk's results; None if it raised (the caller isolates the trial that
        raises); out-of-memory and ``SeedsDiffer`` propagate (the caller halves the chunk,
        or splits it by seed)."""
        t0 = time.perf_counter()
        n = len(specs)
        group = secrets.token_hex(4) if n > 1 else None
        extra: dict[str, Any] = {"chunk_size": n}
        try:
            with isolated_rng():
                seed_everything(specs[0].seed)
                chunk = _Chunk(task, specs, plan.native_dropout)
                extra.update(self._train(task, chunk, plan))
                active = chunk.active.cpu().tolist()
                metrics = (chunk.evaluate(plan.eval_vmapped) if any(active)
                           else [math.nan] * n)
                n_steps = chunk.n_steps.cpu().tolist()
                curves = chunk.curve.cpu().T.tolist()
        except (torch.OutOfMemoryError, SeedsDiffer):
            raise
        except _CaptureRequired as e:  # cuda_graph=True and capture failed: no fallback
            err = f"{type(e.__cause__).__name__}: {e.__cause__}\n{traceback.format_exc(limit=8)}"
            wall = time.perf_counter() - t0
            log.warning("vectorized: CUDA-graph capture failed with cuda_graph=True (%s)",
                        e.__cause__)
            extra.update(group_wall_time=round(wall, 4))
            return [TrialResult(s.lr, s.seed, Status.FAILED, None, (), 0, wall / n, self.name,
                                error=err, extra=extra, group=group) for s in specs]
        except Exception as e:  # which trial raised is unknown: the caller isolates it
            log.warning("vectorized: a chunk of %d trials (seeds %s) raised %s: %s; running "
                        "them one by one on the sequential path, so that only a trial that "
                        "raises there fails", n, sorted({s.seed for s in specs}),
                        type(e).__name__, e)
            return None
        wall = time.perf_counter() - t0
        extra["group_wall_time"] = round(wall, 4)
        out = []
        for j, s in enumerate(specs):
            curve = curves[j][:n_steps[j]]
            common = dict(engine=self.name, extra=dict(extra), group=group)
            if not active[j]:
                out.append(TrialResult(s.lr, s.seed, Status.DIVERGED, None, curve, len(curve),
                                       wall / n, **common))
            elif not math.isfinite(metrics[j]):
                out.append(TrialResult(s.lr, s.seed, Status.DIVERGED, None, curve, len(curve),
                                       wall / n, error="non-finite validation metric",
                                       **common))
            else:
                out.append(TrialResult(s.lr, s.seed, Status.OK, metrics[j], curve, len(curve),
                                       wall / n, **common))
        return out

    def _train(self, task: Any, chunk: _Chunk, plan: Plan) -> dict[str, Any]:
        """Run every step of ``chunk``; returns facts for ``TrialResult.extra``.

        Steps ``0..GRAPH_WARMUP_STEPS-1`` run eagerly (on a side stream on CUDA: these warm-up
        steps are real training steps, so nothing needs restoring); step
        ``GRAPH_WARMUP_STEPS`` is captured into a graph with static input buffers, and every
        later step of the same shapes copies its batch into them and replays the graph. A
        batch of other shapes (the last partial batch) runs eagerly; the step reads its
        counter, schedule and masks from device tensors, so both paths interleave freely.
        """
        cuda = task.device.type == "cuda"
        use_graph = (cuda and self.cuda_graph is not False) or self._emulate_graph
        if cuda and chunk.multi and plan.dropout and use_graph:
            # each seed's dropout masks come from its own generator state, swapped in
            # eagerly: a CUDA graph would replay one state for all
            log.info("vectorized: a group of %d seeds with dropout runs without a CUDA graph",
                     len(chunk.seeds))
            use_graph = False
        step = torch.compile(chunk.train_step, dynamic=False) if self.compile else None
        side = torch.cuda.Stream(task.device) if (use_graph and cuda) else None
        graph: Any = None
        static: list[Any] = []
        key: Any = None
        facts: dict[str, Any] = {"cuda_graph": False, "compiled": self.compile}
        t_once = t_steady = 0.0
        last = -1
        for k, group in enumerate(chunk.batches()):
            if k % ALL_DEAD_CHECK_EVERY == ALL_DEAD_CHECK_EVERY - 1 and not bool(
                    chunk.active.any()):
                break  # the only host sync in the loop: every trial has diverged
            if k:
                advance(chunk.n)  # step k - 1 is done (queued, on CUDA) for every trial
            last = k
            if k == STEADY_FROM:
                _sync(task)
                t_steady = time.perf_counter()
            group = [to_device(b, task.device) for b in group]
            shapes = _shapes(group)
            key = shapes if k == 0 else key
            full = shapes == key
            if graph is not None and full:
                for dst, src in zip(pytree.tree_leaves(static), pytree.tree_leaves(group)):
                    if isinstance(dst, torch.Tensor):
                        dst.copy_(src, non_blocking=True)
                graph.replay()
                continue
            fn = step if (step is not None and full) else chunk.train_step
            t = time.perf_counter()
            if use_graph and full and k == GRAPH_WARMUP_STEPS and (
                    self.cuda_graph is True or task.steps - k >= GRAPH_MIN_STEPS):
                static = [pytree.tree_map(lambda x: x.clone() if isinstance(x, torch.Tensor)
                                          else x, b) for b in group]
                try:
                    graph = _capture(fn, static, task, emulate=not cuda)
                except torch.OutOfMemoryError:
                    raise  # a smaller chunk
                except Exception as e:  # capturing runs nothing: go on eagerly
                    if self.cuda_graph is True:
                        raise _CaptureRequired() from e
                    log.warning("vectorized: CUDA-graph capture failed (%s: %s); running "
                                "eagerly", type(e).__name__, e)
                    use_graph, static = False, []
                    fn(group)
                else:
                    graph.replay()  # capturing only records: this runs step k
                    facts["cuda_graph"] = True
            elif side is not None and k < GRAPH_WARMUP_STEPS:
                side.wait_stream(torch.cuda.current_stream(task.device))
                with torch.cuda.stream(side):
                    fn(group)
                torch.cuda.current_stream(task.device).wait_stream(side)
            else:
                fn(group)
            if (k == 0 and step is not None) or (facts["cuda_graph"] and k == GRAPH_WARMUP_STEPS):
                _sync(task)
                t_once += time.perf_counter() - t  # compile (first call) or capture
        _sync(task)  # also: a graph (and its memory pool) goes when this returns
        if last >= STEADY_FROM + 1:  # steps STEADY_FROM..last ran after warm-up and capture
            facts["steady_step_seconds"] = ((time.perf_counter() - t_steady)
                                            / (last + 1 - STEADY_FROM))
        facts["setup_seconds"] = round(t_once, 4)
        return facts


class _CaptureRequired(Exception):
    """CUDA-graph capture failed under ``cuda_graph=True`` (an engine fault, not a trial's)."""


def _balanced(n: int, most: int) -> int:
    """Chunk size for ``n`` trials, at most ``most``, with chunks as even as possible
    (10 trials with at most 9 per chunk: 5 + 5, not 9 + 1)."""
    most = max(1, min(most, n))
    chunks = -(-n // most)
    return -(-n // chunks)


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


def _sync(task: Any) -> None:
    if task.device.type == "cuda":
        torch.cuda.synchronize(task.device)


class _EagerReplay:
    """Stand-in for a CUDA graph on CPU (tests of the static-buffer path): replay = call."""

    def __init__(self, fn: Any, static: list[Any]) -> None:
        self.fn, self.static = fn, static

    def replay(self) -> None:
        self.fn(self.static)


def _capture(fn: Any, static: list[Any], task: Any, emulate: bool) -> Any:
    """Record ``fn(static)`` (the whole step) in a CUDA graph; nothing runs yet."""
    if emulate:
        return _EagerReplay(fn, static)
    _sync(task)
    graph = torch.cuda.CUDAGraph()
    with torch.cuda.graph(graph):
        fn(static)
    return graph


# -------------------------------------------------------------------------------- auto ----
def choose_auto(task: Any, **options: Any) -> Any:
    """The engine ``engine="auto"`` uses for ``task``; logs the reason.

    On CUDA: vectorized whenever the task can be vectorized (probe), compiled only for
    runs of at least ``COMPILE_MIN_STEPS`` steps. On CPU: vectorized only for tiny models
    (``trial_footprint`` at most ``CPU_TINY_TRIAL_BYTES``) and seeds with at least
    ``CPU_MIN_TRIALS`` LRs; otherwise sequential.
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
             "overhead, which stacking removes; seeds with fewer than %d LRs run "
             "sequentially)", mib, CPU_MIN_TRIALS)
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

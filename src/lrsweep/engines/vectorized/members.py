"""What keeps each member of a stacked (lr, seed) group its own trial.

A group of the vectorized engine may hold trials of several seeds. Each member must see what
the sequential engine shows that seed's trial: its own data order, augmentation and dropout
masks. The sequential engine draws all of them from the global generators after
``seed_everything(seed)``; here every seed of a group gets its own copy of those generators
(``SeedStreams``), swapped in while that seed's batches are fetched (a DataLoader's shuffle
and main-process augmentation draw then) and while its dropout masks are drawn
(``SeedDropout``). The batches of the group's seeds are stacked along a member dimension
(``member_step_batches``: the batch index is gathered per member for in-memory data), so the
vmapped model gets one batch per member.

A forward that draws random numbers other than ``F.dropout`` (``dropout2d``, attention
dropout inside ``scaled_dot_product_attention``, ``torch.randn``) would draw once for the
whole group under ``vmap``: the probe detects it (the global generator moved during the
forward) and the engine then stacks the LRs of each seed only, as before.
"""

from __future__ import annotations

import contextlib
import random
from collections.abc import Iterator, Sequence
from typing import Any

import numpy as np
import torch
import torch.nn.functional as F
from torch.overrides import TorchFunctionMode
from torch.utils import _pytree as pytree

from ...task.data import IterableData, TensorData
from ...train.loop import step_batches
from ...train.rng import seed_everything

_VMAP_MODE = torch._C.DispatchKeySet(torch._C.DispatchKey.FuncTorchVmapMode)


class SeedsDiffer(Exception):
    """The seeds' batches cannot be stacked (other shapes, other non-tensor values): the
    group is run one seed at a time."""


class SeedStreams:
    """The global generators (torch CPU and CUDA, Python, NumPy) of each seed of a group,
    as ``seed_everything(seed)`` leaves them, each advanced only by its own seed's draws."""

    def __init__(self, seeds: Sequence[int], device: torch.device) -> None:
        self.cuda = device.type == "cuda"
        self.device = device
        self.states: list[tuple[Any, ...]] = []
        ambient = self._get(True)
        for s in seeds:
            seed_everything(s)
            self.states.append(self._get(True))
        self._set(ambient)

    def _get(self, full: bool) -> tuple[Any, ...]:
        cuda = torch.cuda.get_rng_state(self.device) if self.cuda else None
        if not full:
            return (torch.get_rng_state(), cuda)
        return (torch.get_rng_state(), cuda, random.getstate(), np.random.get_state())

    def _set(self, state: tuple[Any, ...]) -> None:
        torch.set_rng_state(state[0])
        if state[1] is not None:
            torch.cuda.set_rng_state(state[1], self.device)
        if len(state) > 2:
            random.setstate(state[2])
            np.random.set_state(state[3])

    @contextlib.contextmanager
    def use(self, j: int, full: bool = True) -> Iterator[None]:
        """Seed ``j``'s generators are the global ones inside; ``full=False``: torch's only
        (dropout draws nothing else)."""
        ambient = self._get(full)
        mine = self.states[j]
        self._set(mine if full else mine[:2])
        try:
            yield
        finally:
            now = self._get(full)
            self.states[j] = now if full else (now[0], now[1], *mine[2:])
            self._set(ambient)


class SeedDropout(TorchFunctionMode):
    """``F.dropout`` under ``vmap`` with each member's mask drawn from its own seed's stream,
    exactly as eager code draws it for that seed's trial: on CPU ``bernoulli_(1 - p)`` on one
    sample's shape (then ``/ (1 - p)``), on CUDA the fused ``native_dropout`` kernel. The
    member's seed index is ``member`` (a vmapped 0-d tensor, set by the vmapped function)."""

    def __init__(self, streams: SeedStreams, native: bool) -> None:
        super().__init__()
        self.streams = streams
        self.native = native
        self.member: torch.Tensor | None = None
        self.calls = 0

    def __torch_function__(self, func: Any, types: Any, args: Any = (),
                           kwargs: Any = None) -> Any:
        kwargs = kwargs or {}
        if func is F.dropout:
            x = args[0]
            p = kwargs.get("p", args[1] if len(args) > 1 else 0.5)
            training = kwargs.get("training", args[2] if len(args) > 2 else True)
            if training and 0 < p < 1:
                self.calls += 1
                shape = tuple(x.shape)  # one member's (the logical shape under vmap)
                masks = []
                with torch._C._ExcludeDispatchKeyGuard(_VMAP_MODE):
                    for j in range(len(self.streams.states)):
                        with self.streams.use(j, full=False):
                            if self.native:
                                ones = torch.ones(shape, dtype=x.dtype, device=x.device)
                                masks.append(torch.native_dropout(ones, p, True)[1]
                                             .to(x.dtype) * (1.0 / (1.0 - p)))
                            else:
                                noise = torch.empty(shape, dtype=x.dtype, device=x.device)
                                masks.append(noise.bernoulli_(1 - p).div_(1 - p))
                    stacked = torch.stack(masks)
                assert self.member is not None
                noise = torch.index_select(stacked, 0, self.member.reshape(1)).squeeze(0)
                return x * noise
        return func(*args, **kwargs)


def member_step_batches(task: Any, seeds: Sequence[int], member_seed: torch.Tensor,
                        streams: SeedStreams, device: torch.device) -> Iterator[list[Any]]:
    """Each optimizer step's micro-batches for a group of several seeds: every tensor gets a
    leading member dimension, member ``i`` holding the batch of seed ``seeds[member_seed[i]]``
    (the same batches ``training.step_batches`` yields for that seed). In-memory data: each
    seed's sample order moves to the device once per epoch and the batch index is gathered
    per member. Other data: each seed iterates the source on its own, under its own
    generators, and the seeds' batches are stacked (``SeedsDiffer`` if they do not stack)."""
    train = task.train
    accum = task.accumulation_steps
    if isinstance(train, TensorData) and len(train) >= accum:
        bs, done, epoch = train.batch_size, 0, 0
        while True:
            orders = torch.stack([train.order(s, epoch) for s in seeds]).to(device)
            orders = orders[member_seed]  # [members, samples]
            group: list[Any] = []
            for i in range(len(train)):
                group.append(train.take(orders[:, i * bs:(i + 1) * bs]))
                if len(group) == accum:
                    yield group
                    group = []
                    done += 1
                    if done >= task.steps:
                        return
            epoch += 1
    if isinstance(train, IterableData) and train.persistent:
        raise SeedsDiffer("a DataLoader with persistent workers cannot be iterated for two "
                          "seeds at once")
    iters = []
    for j, s in enumerate(seeds):
        with streams.use(j):
            iters.append(step_batches(task, s))
    for _ in range(task.steps):
        groups = []
        for j, it in enumerate(iters):
            with streams.use(j):
                groups.append(next(it))
        yield [_stack([g[m] for g in groups], member_seed, device) for m in range(accum)]


def _stack(batches: list[Any], member_seed: torch.Tensor, device: torch.device) -> Any:
    flat = [pytree.tree_flatten(b) for b in batches]
    spec = flat[0][1]
    if any(f[1] != spec for f in flat[1:]):
        raise SeedsDiffer("the seeds' batches have other structures")
    out = []
    for leaves in zip(*(f[0] for f in flat)):
        if isinstance(leaves[0], torch.Tensor):
            if any(not isinstance(x, torch.Tensor) or x.shape != leaves[0].shape
                   or x.dtype != leaves[0].dtype for x in leaves[1:]):
                raise SeedsDiffer(f"the seeds' batches have other shapes "
                                  f"({sorted({tuple(x.shape) for x in leaves})})")
            out.append(torch.stack([x.to(device, non_blocking=True) for x in leaves])
                       [member_seed])
        else:
            if any(x != leaves[0] for x in leaves[1:]):
                raise SeedsDiffer("the seeds' batches hold other non-tensor values")
            out.append(leaves[0])
    return pytree.tree_unflatten(out, spec)

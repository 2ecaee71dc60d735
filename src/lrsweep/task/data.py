"""Training and validation data as re-iterable sources of batches with a controlled order.

The order of batches depends only on ``(seed, epoch)``, never on what the model consumed from
the global RNG, so every trial of a seed sees the same batches in every engine.

Three kinds of source:

- ``TensorData``: in-memory tensors (a tuple ``(x, y, ...)`` or a dict of equal-length
  tensors), moved to the device once and sliced into batches by a seeded permutation;
- ``IterableData``: a ``DataLoader`` or any re-iterable of batches (tuples or dicts). A shuffling
  DataLoader draws its order from a seeded RNG at the start of each epoch, and so do its
  worker processes their random state (augmentation): seed + worker id, as torch seeds them.
  Workers kept alive by ``persistent_workers=True`` are restarted for each epoch of each
  trial, so their random state cannot carry over from one LR's trial into the next;
- ``SeededBatches``: a function ``(seed, epoch) -> batches`` that owns its order (the
  framework integrations reproduce a framework's own sampler with it).
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Mapping
from typing import Any

import torch

from ..errors import bad_arg

Batch = Any


def derive_seed(seed: int, epoch: int, salt: int = 0) -> int:
    """A 63-bit seed for (seed, epoch): stable across processes and engines."""
    return (int(seed) * 1_000_003 + int(epoch) * 7_919 + salt * 104_729 + 12_345) % (2**63 - 1)


def to_device(batch: Batch, device: torch.device | str) -> Batch:
    """Move every tensor inside a batch (tuple, list, dict, tensor) to ``device``."""
    if isinstance(batch, torch.Tensor):
        return batch.to(device, non_blocking=True)
    if isinstance(batch, Mapping):
        return {k: to_device(v, device) for k, v in batch.items()}
    if isinstance(batch, (tuple, list)):
        return type(batch)(to_device(v, device) for v in batch)
    return batch


def batch_size_of(batch: Batch) -> int:
    """Number of samples in a batch: the leading dimension of its first tensor."""
    if isinstance(batch, torch.Tensor):
        return int(batch.shape[0]) if batch.dim() else 1
    values = batch.values() if isinstance(batch, Mapping) else batch
    for v in values:
        if isinstance(v, torch.Tensor) and v.dim() > 0:
            return int(v.shape[0])
    return 1


def is_tensor_data(data: Any) -> bool:
    """True for an in-memory dataset: a tuple or dict of tensors of equal leading length."""
    if isinstance(data, tuple) and data and all(isinstance(t, torch.Tensor) for t in data):
        return True
    if isinstance(data, Mapping) and data and all(isinstance(t, torch.Tensor)
                                                  for t in data.values()):
        return True
    return False


class TensorData:
    """In-memory tensors sliced into batches by a seeded permutation."""

    def __init__(self, tensors: tuple | Mapping, batch_size: int, *, shuffle: bool,
                 drop_last: bool, name: str) -> None:
        items = list(tensors.values()) if isinstance(tensors, Mapping) else list(tensors)
        lengths = {int(t.shape[0]) if t.dim() else -1 for t in items}
        if len(lengths) != 1 or -1 in lengths:
            raise bad_arg(name, {"lengths": sorted(lengths)},
                          "tensors sharing one leading (sample) dimension",
                          "Pass (inputs, targets) with the same number of rows.")
        self.n = lengths.pop()
        if self.n == 0:
            raise bad_arg(name, "0 samples", "a non-empty dataset",
                          "Check the data you passed; it holds no samples.")
        if not isinstance(batch_size, int) or isinstance(batch_size, bool) or batch_size < 1:
            raise bad_arg("batch_size", batch_size, "a positive integer for in-memory tensors",
                          "Pass batch_size=, e.g. batch_size=128.")
        self.tensors = tensors
        self.batch_size = batch_size
        self.shuffle = shuffle
        self.drop_last = drop_last
        self.is_dict = isinstance(tensors, Mapping)
        if drop_last and self.n < batch_size:
            raise bad_arg("batch_size", batch_size,
                          f"at most the {self.n} samples of {name} when drop_last=True",
                          "Lower batch_size or set drop_last=False.")

    def to(self, device: torch.device) -> TensorData:
        if self.is_dict:
            moved: Any = {k: v.to(device) for k, v in self.tensors.items()}
        else:
            moved = tuple(t.to(device) for t in self.tensors)
        out = TensorData.__new__(TensorData)
        out.__dict__.update(self.__dict__)
        out.tensors = moved
        return out

    def __len__(self) -> int:
        full, rest = divmod(self.n, self.batch_size)
        return full + (1 if rest and not self.drop_last else 0)

    def order(self, seed: int, epoch: int) -> torch.Tensor:
        """The sample order of an epoch (CPU int64), a function of (seed, epoch) alone."""
        if not self.shuffle:
            return torch.arange(self.n)
        g = torch.Generator().manual_seed(derive_seed(seed, epoch))
        return torch.randperm(self.n, generator=g)

    def take(self, idx: torch.Tensor) -> Batch:
        if self.is_dict:
            return {k: v[idx.to(v.device)] for k, v in self.tensors.items()}
        return tuple(t[idx.to(t.device)] for t in self.tensors)

    def batches(self, seed: int = 0, epoch: int = 0) -> Iterator[Batch]:
        order = self.order(seed, epoch)
        for i in range(len(self)):
            yield self.take(order[i * self.batch_size:(i + 1) * self.batch_size])


class IterableData:
    """A DataLoader or any re-iterable of batches, with a seeded order per epoch."""

    def __init__(self, source: Iterable, *, name: str) -> None:
        if isinstance(source, Iterator) and not hasattr(source, "__len__"):
            raise bad_arg(name, type(source).__name__,
                          "a re-iterable (a DataLoader, a list of batches) or in-memory tensors",
                          "A one-shot iterator/generator is consumed by the first trial; "
                          "wrap the data in a list or a DataLoader.")
        self.source = source
        self.name = name
        self.persistent = _persistent_workers(source)
        if self.persistent and not hasattr(source, "_iterator"):
            raise bad_arg(f"{name}.persistent_workers", True,
                          "a DataLoader whose workers lrsweep can restart for each trial",
                          "Workers that persist keep their random state from one trial into "
                          "the next, so random augmentation would differ between the LRs of "
                          "a seed, and this torch version gives no way to restart them: pass "
                          "persistent_workers=False.")

    def __len__(self) -> int:  # TypeError when the source has no length (an IterableDataset)
        return len(self.source)  # type: ignore[arg-type]

    def _generators(self) -> list[torch.Generator]:
        gens = []
        for obj in (self.source, getattr(self.source, "sampler", None),
                    getattr(getattr(self.source, "batch_sampler", None), "sampler", None)):
            g = getattr(obj, "generator", None)
            if isinstance(g, torch.Generator) and all(g is not h for h in gens):
                gens.append(g)
        return gens

    def batches(self, seed: int = 0, epoch: int = 0) -> Iterator[Batch]:
        # A DataLoader draws its shuffling seed and its workers' base seed from the global RNG
        # (or its own generator) when its iterator starts; seed both so the order and the
        # workers' random state (augmentation) depend on (seed, epoch, worker id) alone.
        # Persistent workers would carry their state over from the last trial: they are
        # started afresh here and stopped when the epoch's batches end.
        if self.persistent:
            self._stop_workers()
        gens = self._generators()
        saved = [g.get_state() for g in gens]
        try:
            with torch.random.fork_rng(devices=[]):
                torch.manual_seed(derive_seed(seed, epoch))
                for g in gens:
                    g.manual_seed(derive_seed(seed, epoch))
                it = iter(self.source)
                try:
                    first = next(it)
                except StopIteration:
                    return
                finally:
                    for g, s in zip(gens, saved):
                        g.set_state(s)
            yield first
            yield from it
        finally:
            if self.persistent:
                self._stop_workers()

    def _stop_workers(self) -> None:
        stop_persistent_workers(self.source)


def stop_persistent_workers(loader: Any) -> None:
    """Shut down a DataLoader's persistent workers, so that its next iterator starts new ones,
    seeded from its (seeded) generator like a non-persistent loader's. Any code that
    iterates a user's DataLoader once per trial calls this first, or the workers' random
    state runs on from the previous trial."""
    it = getattr(loader, "_iterator", None)
    if it is not None:
        shutdown = getattr(it, "_shutdown_workers", None)
        if shutdown is not None:
            shutdown()
        loader._iterator = None


def _persistent_workers(source: Any) -> bool:
    """True for a torch DataLoader whose worker processes persist between iterations."""
    return (isinstance(source, torch.utils.data.DataLoader)
            and bool(getattr(source, "persistent_workers", False))
            and int(getattr(source, "num_workers", 0) or 0) > 0)


class SeededBatches:
    """Batches from ``batches(seed, epoch)``, which decides the order itself; ``length`` is
    the number of batches per epoch (-1 if unknown). Passed to a Task as data, it is used
    as it is: no reseeding around it."""

    def __init__(self, batches: Any, length: int, *, name: str = "batches",
                 source: Any = None) -> None:
        self._fn = batches
        self.length = int(length)
        self.name = name
        self.source = self if source is None else source

    def __len__(self) -> int:
        return self.length

    def batches(self, seed: int = 0, epoch: int = 0) -> Iterator[Batch]:
        return iter(self._fn(seed, epoch))

    def __repr__(self) -> str:
        return f"SeededBatches({self.name}, {self.length} batches per epoch)"


DataSource = TensorData | IterableData | SeededBatches  # what make_data returns


def num_batches(data: Any) -> int:
    """Batches per epoch of a data object from ``make_data``; -1 when the source has no
    length (a DataLoader over an IterableDataset, a generator-backed re-iterable)."""
    try:
        return len(data)
    except TypeError:
        return -1


def make_data(data: Any, *, name: str, batch_size: int | None, shuffle: bool,
              drop_last: bool) -> DataSource:
    if isinstance(data, SeededBatches):
        return data
    if data is None:
        raise bad_arg(name, None, "a DataLoader, a list of batches, or in-memory tensors",
                      f"Pass {name}=.")
    if is_tensor_data(data):
        if batch_size is None:
            raise bad_arg("batch_size", None, f"a batch size for the in-memory {name}",
                          "Pass batch_size=, e.g. batch_size=128.")
        return TensorData(data, batch_size, shuffle=shuffle, drop_last=drop_last, name=name)
    if isinstance(data, torch.Tensor):
        raise bad_arg(name, f"Tensor{tuple(data.shape)}", "(inputs, targets) tensors",
                      "Pass a tuple (x, y), not a single tensor.")
    if not isinstance(data, Iterable):
        raise bad_arg(name, type(data).__name__,
                      "a DataLoader, a list of batches, or a tuple (x, y) of tensors",
                      "Wrap your data in a torch DataLoader.")
    return IterableData(data, name=name)

"""The parts of a task: data sources (DataLoaders, datasets, in-memory tensors), the model's
weights and configuration, the optimizer's param groups."""

from __future__ import annotations

import functools
import hashlib
import json
import sys
import weakref
from collections.abc import Callable, Mapping
from typing import Any

from .describe import _Describer, describe, qualname
from .hashing import HEX, canonical_json, forget, sha, tensor_digest

SAMPLES = 64  # dataset items hashed per DataLoader, spread over the whole dataset


def spread(n: int, k: int = SAMPLES) -> list[int]:
    """``k`` indices spread evenly over ``range(n)``, first and last included.

    >>> spread(1000, 5)
    [0, 250, 500, 749, 999]
    """
    if n <= k:
        return list(range(n))
    return sorted({round(i * (n - 1) / (k - 1)) for i in range(k)})


def dataset_description(ds: Any) -> dict[str, Any]:
    """Class and fields of a dataset (a ``TensorDataset``'s tensors hashed in full), its
    length, and a hash of ``SAMPLES`` items spread over all of it, each drawn with the global
    RNGs seeded, so random augmentations give the same bytes every time."""
    from ..rng import isolated_rng, seed_everything

    out: dict[str, Any] = {"dataset": _Describer().value(ds)}
    try:
        n = len(ds)
    except TypeError:
        return out
    out["len"] = n
    if not hasattr(ds, "__getitem__"):
        return out
    h = hashlib.sha256()
    idx = spread(n)
    try:
        with isolated_rng():
            for i in idx:
                seed_everything(i)
                h.update(canonical_json(describe(ds[i])).encode())
    except Exception as e:  # keys that are not 0..n-1 (a sampler picks them): no samples
        out["samples_error"] = type(e).__name__
        return out
    out["samples"] = len(idx)
    out["samples_sha"] = h.hexdigest()[:HEX]
    return out


_loader_cache: dict[int, tuple[Any, dict[str, Any]]] = {}


def loader_description(loader: Any,
                       first_batch: Callable[[], Any] | None = None) -> dict[str, Any]:
    """A ``DataLoader``: its length, batch size, ``drop_last``, sampler kinds, collate and
    worker-init functions, and its dataset (``dataset_description``); where the dataset
    cannot be sampled by index (an ``IterableDataset``), ``first_batch()`` instead. Cached
    per loader."""
    hit = _loader_cache.get(id(loader))
    if hit is not None and hit[0]() is loader:
        return json.loads(json.dumps(hit[1]))
    try:
        n_batches: Any = len(loader)
    except TypeError:
        n_batches = None
    bs = getattr(loader, "batch_sampler", None)
    desc = {
        "kind": "DataLoader", "batches": n_batches,
        "batch_size": getattr(loader, "batch_size", None),
        "drop_last": getattr(loader, "drop_last", None),
        "sampler": describe(getattr(loader, "sampler", None)),
        "batch_sampler": None if bs is None else describe(bs),
        "collate_fn": describe(getattr(loader, "collate_fn", None)),
        "worker_init_fn": describe(getattr(loader, "worker_init_fn", None)),
        **dataset_description(loader.dataset),
    }
    if "samples" not in desc and first_batch is not None:
        desc["first_batch"] = describe(first_batch())
    try:
        ref = weakref.ref(loader, functools.partial(forget, _loader_cache, id(loader)))
        _loader_cache[id(loader)] = (ref, desc)
    except TypeError:
        pass
    return json.loads(json.dumps(desc))


def source_description(source: Any, first_batch: Callable[[], Any]) -> dict[str, Any]:
    """Training or validation data given as a DataLoader, a list of batches (hashed in full)
    or another re-iterable (its length, fields and first batch)."""
    torch = sys.modules.get("torch")
    if torch is not None and isinstance(source, torch.utils.data.DataLoader):
        return loader_description(source, first_batch)
    if isinstance(source, (list, tuple)):
        return {"kind": "batches", "batches": len(source), "data": describe(source)}
    try:
        n: Any = len(source)
    except TypeError:
        n = None
    return {"kind": qualname(source), "batches": n, "object": describe(source),
            "first_batch": describe(first_batch())}


def tensors_description(tensors: Any) -> Any:
    """In-memory data: every tensor hashed in full (cached per tensor)."""
    return describe(dict(tensors) if isinstance(tensors, Mapping) else list(tensors))


# ------------------------------------------------------------- model, optimizer ----
def weights_digest(model: Any) -> str:
    """sha256 over every entry of ``model.state_dict()``: names, dtypes, shapes, bytes."""
    h = hashlib.sha256()
    for name, t in model.state_dict().items():
        h.update(f"{name}={tensor_digest(t)};".encode())
    return h.hexdigest()


def model_description(model: Any) -> dict[str, Any]:
    """What the architecture repr misses: every submodule's fields (``self.scale = 0.5``),
    non-persistent buffers, hooks, and the code of user-defined module classes."""
    full = describe(model)
    return {"modules": len(list(model.modules())), "config_sha": sha(canonical_json(full))}


def names_digest(names: list[str]) -> dict[str, Any]:
    return {"count": len(names), "sha": sha("\n".join(names))}


REFERENCE_LR = 1e-3


def optimizer_description(make_optimizer: Callable[[Any, float], Any], model: Any,
                          optimizer: Any) -> dict[str, Any]:
    """The optimizer built on (a copy of) the initial model at ``REFERENCE_LR``: its class,
    the code of the user's ``optimizer=`` callable, and every param group's settings (the
    LR as its ratio to the trial's LR) with the parameters it holds (by name)."""
    import copy

    import torch

    probe = copy.deepcopy(model)
    names = {id(p): n for n, p in probe.named_parameters()}
    with torch.random.fork_rng(devices=[]):
        opt = make_optimizer(probe, REFERENCE_LR)
    groups = []
    for g in opt.param_groups:
        entry = {k: describe(v) for k, v in sorted(g.items())
                 if k not in ("params", "lr", "initial_lr")}
        lr = float(g["lr"])
        entry["lr_scale"] = float(f"{lr / REFERENCE_LR:.12g}")
        entry["params"] = names_digest([names.get(id(p), "<not in the model>")
                                        for p in g["params"]])
        groups.append(entry)
    return {"class": qualname(type(opt)), "callable": describe(optimizer), "groups": groups}

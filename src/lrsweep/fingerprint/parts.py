"""The parts of a task: data sources (a DataLoader, a list of batches, in-memory tensors),
the model's weights and configuration, the optimizer's param groups."""

from __future__ import annotations

import copy
import hashlib
import sys
from collections.abc import Callable, Mapping
from typing import Any

from .describe import describe, loader_description, qualname
from .hashing import canonical_json, sha, tensor_digest


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
    import torch  # only here: the package loads no torch at import time

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

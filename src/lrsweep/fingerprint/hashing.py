"""Hashes that are the same in every process: canonical JSON, tensors (every byte, cached
per tensor and invalidated by its version counter), code objects."""

from __future__ import annotations

import functools
import hashlib
import json
import types
import weakref
from typing import Any

HEX = 24  # hex digits kept of a part's sha256 (96 bits); the fingerprint itself keeps 64


def canonical_json(obj: Any) -> str:
    """Sorted keys, no spaces, non-JSON values as their str: the same text in every process.

    >>> canonical_json({"b": 1, "a": [1.5, None]})
    '{"a":[1.5,null],"b":1}'
    """
    return json.dumps(obj, sort_keys=True, separators=(",", ":"), default=str,
                      ensure_ascii=True, allow_nan=True)



def sha(data: bytes | memoryview | str) -> str:
    return hashlib.sha256(data.encode() if isinstance(data, str) else data).hexdigest()[:HEX]


_tensor_cache: dict[int, tuple[Any, tuple, str]] = {}


def tensor_digest(t: Any) -> str:
    """sha256 of a tensor's dtype, shape and every byte. Cached per tensor object: computed
    again only if the tensor was modified in place (its version counter moved)."""
    try:
        key = (t._version, t.data_ptr(), tuple(t.shape), tuple(t.stride()),
               t.storage_offset(), str(t.dtype), str(t.device))
    except (RuntimeError, NotImplementedError):  # inference or meta tensors: no counter
        return _hash_tensor(t)
    hit = _tensor_cache.get(id(t))
    if hit is not None and hit[0]() is t and hit[1] == key:
        return hit[2]
    digest = _hash_tensor(t)
    try:
        ref = weakref.ref(t, functools.partial(forget, _tensor_cache, id(t)))
    except TypeError:
        return digest
    _tensor_cache[id(t)] = (ref, key, digest)
    return digest


def forget(cache: dict[int, Any], key: int, ref: Any) -> None:
    """Weakref callback: drop a dead object's entry (not a newer one under a reused id)."""
    hit = cache.get(key)
    if hit is not None and hit[0] is ref:
        del cache[key]


def _hash_tensor(t: Any) -> str:
    import torch

    x = t.detach()
    if x.device.type == "meta":
        return sha(f"meta:{x.dtype}:{list(x.shape)}")
    if x.is_sparse:
        x = x.to_dense()
    if x.is_quantized:
        x = x.dequantize()
    x = x.cpu().contiguous().reshape(-1)
    h = hashlib.sha256(f"{x.dtype}:{list(t.shape)}:".encode())
    if x.numel():
        h.update(memoryview(x.view(torch.uint8).numpy()))
    return h.hexdigest()[:HEX]


def code_digest(code: types.CodeType) -> str:
    """Bytecode, constants (nested code by its own digest, frozensets sorted), the names it
    reads, its arguments and free variables. Not the file or line numbers."""

    def const(c: Any) -> str:
        if isinstance(c, types.CodeType):
            return "code:" + code_digest(c)
        if isinstance(c, frozenset):
            return "frozenset(" + ",".join(sorted(const(x) for x in c)) + ")"
        if isinstance(c, tuple):
            return "(" + ",".join(const(x) for x in c) + ")"
        return repr(c)

    parts = [const(code.co_consts), repr(code.co_names), repr(code.co_varnames),
             repr(code.co_freevars), repr((code.co_argcount, code.co_kwonlyargcount,
                                            code.co_flags))]
    return sha(code.co_code + "|".join(parts).encode())


def global_names(code: types.CodeType) -> set[str]:
    names = set(code.co_names)
    for c in code.co_consts:
        if isinstance(c, types.CodeType):
            names |= global_names(c)
    return names



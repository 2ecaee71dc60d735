"""Descriptions of Python values and code that change when the value or code does.

Tensors and arrays by a hash of their bytes, modules by class, fields, parameters, buffers,
hooks and children, functions by their code, closure cells, defaults and the globals they
read (recursively, with a cycle guard), objects of user classes by their class's code and
their fields. Code from installed libraries is named, not hashed; the script a user runs
(`__main__`: a file, `python -c`, standard input, a notebook) is user code and is hashed.
"""

from __future__ import annotations

import functools
import hashlib
import json
import math
import re
import sys
import sysconfig
import types
import weakref
from collections.abc import Callable, Mapping
from typing import Any

from .hashing import HEX, canonical_json, code_digest, forget, global_names, sha, tensor_digest

_MAX_ITEMS = 64  # longer containers are summarised as their length and a hash
_MAX_DEPTH = 12
_ADDRESS = re.compile(r" at 0x[0-9a-fA-F]+")
_LIBRARIES = {"torch", "numpy", "lrsweep", "builtins", "functools", "operator", "math"}


# ------------------------------------------------------------ library or user code ----
# The script a user runs (``python train.py``, ``python -c``, an interactive session, a
# notebook's cells) is ``__main__`` (``__mp_main__`` in a multiprocessing child): user code,
# though it has no file in the interactive cases and starts with "_".
_USER_MAIN = {"__main__", "__mp_main__"}


@functools.cache
def _library_module(name: str) -> bool:
    top = name.split(".")[0]
    if top in _USER_MAIN:
        return False
    if top in _LIBRARIES or top in getattr(sys, "stdlib_module_names", ()):
        return True  # the stdlib's names include its private modules (_abc, _operator, ...)
    mod = sys.modules.get(name)
    path = getattr(mod, "__file__", None)
    if mod is not None and path is None:
        return True  # built in
    if path is None:
        return False
    roots = {sysconfig.get_paths()[k] for k in ("purelib", "platlib", "stdlib", "platstdlib")}
    return any(path.startswith(r) for r in roots if r)


def is_library(obj: Any) -> bool:
    """True for code from an installed library (named, not hashed), False for user code."""
    module = getattr(obj, "__module__", None)
    if module is None and isinstance(obj, (types.FunctionType, type)):
        return False  # code run by exec() in a namespace without __name__: user code
    if not isinstance(module, str):
        module = type(obj).__module__
    return _library_module(module or "builtins")


def qualname(obj: Any) -> str:
    """``module.qualname`` of a function or class (of an instance's class otherwise)."""
    target = obj if isinstance(obj, (type, types.FunctionType, types.BuiltinFunctionType)) \
        or hasattr(obj, "__qualname__") else type(obj)
    module = getattr(target, "__module__", None) or "?"
    return f"{module}.{getattr(target, '__qualname__', type(target).__name__)}"


def callable_name(fn: Any) -> str:
    """A short name for messages: ``torch.optim.sgd.SGD``, ``partial(mod.f, a=1)``."""
    func = getattr(fn, "func", None)
    if func is not None and hasattr(fn, "keywords"):
        kw = ", ".join(f"{k}={v!r}" for k, v in sorted(fn.keywords.items()))
        return f"partial({callable_name(func)}, {kw})"
    if isinstance(fn, (type, types.FunctionType, types.MethodType, types.BuiltinFunctionType)):
        return qualname(fn)
    return _ADDRESS.sub("", repr(fn)) if _is_module(fn) else qualname(fn)


# ------------------------------------------------------------- describing values ----
_excluded: dict[int, Any] = {}  # id -> the object, kept alive so that its id stays its own


def exclude(obj: Any) -> Any:
    """Leave ``obj`` out of every fingerprint (only its type is recorded) and return it.

    For state that code reads but that is not a setting: a list an objective appends to, a
    counter, a cache. A changed setting must change the fingerprint, so the value of every
    closure cell and global is hashed, and such state would otherwise make each rerun look
    like a new protocol::

        calls = lrsweep.fingerprint.exclude([])

        def objective(trial):
            calls.append(trial.lr)
            ...
    """
    _excluded[id(obj)] = obj
    return obj


def _is_module(x: Any) -> bool:
    torch = sys.modules.get("torch")
    return torch is not None and isinstance(x, torch.nn.Module)


def describe(value: Any) -> Any:
    """A JSON-able description of any value that changes when the value does (see the
    module docstring). Stable across processes."""
    return _Describer().value(value)


class _Describer:
    def __init__(self) -> None:
        self.stack: set[int] = set()
        self.memo: dict[int, tuple[Any, Any]] = {}  # id -> (object kept alive, description)

    def value(self, v: Any, depth: int = 0) -> Any:
        if v is None or isinstance(v, (bool, int, str)):
            return v
        if isinstance(v, float):
            return v if math.isfinite(v) else repr(v)
        if isinstance(v, (bytes, bytearray)):
            return {"bytes": len(v), "sha": sha(bytes(v))}
        if isinstance(v, types.ModuleType):
            return f"module:{v.__name__}"
        key = id(v)
        if _excluded.get(key) is v:
            return f"<excluded {qualname(v)}>"
        if key in self.memo:
            return self.memo[key][1]
        if key in self.stack:
            return f"<recursive {qualname(v)}>"
        if depth > _MAX_DEPTH:
            return f"<{qualname(v)}>"
        self.stack.add(key)
        try:
            out = self._compound(v, depth + 1)
        finally:
            self.stack.discard(key)
        self.memo[key] = (v, out)
        return out

    def _compound(self, v: Any, d: int) -> Any:
        torch, np = sys.modules.get("torch"), sys.modules.get("numpy")
        if torch is not None:
            if isinstance(v, torch.Tensor):
                return {"tensor": str(v.dtype).replace("torch.", ""), "shape": list(v.shape),
                        "sha": tensor_digest(v)}
            if isinstance(v, (torch.dtype, torch.device)):
                return str(v)
            if isinstance(v, torch.nn.Module):
                return self.module(v, d)
            if isinstance(v, torch.utils.data.DataLoader):
                return loader_description(v)
        if np is not None:
            if isinstance(v, np.ndarray):
                a = np.ascontiguousarray(v)
                return {"array": str(a.dtype), "shape": list(a.shape),
                        "sha": sha(a.tobytes() if a.dtype.hasobject else memoryview(a).cast("B"))}
            if isinstance(v, np.generic):
                return self.value(v.item(), d)
        if isinstance(v, Mapping):
            return self._sized({str(k): self.value(x, d) for k, x in v.items()})
        if isinstance(v, (list, tuple)):
            return self._sized([self.value(x, d) for x in v])
        if isinstance(v, (set, frozenset)):
            return self._sized(sorted((self.value(x, d) for x in v), key=canonical_json))
        if callable(v):
            return self.callable(v, d)
        if hasattr(v, "__array_interface__") and np is not None:  # PIL images and the like
            return self.value(np.asarray(v), d)
        return self.instance(v, d)

    @staticmethod
    def _sized(items: Any) -> Any:
        if len(items) <= _MAX_ITEMS:
            return items
        return {"len": len(items), "sha": sha(canonical_json(items))}

    # -------------------------------------------------------------------- callables ----
    def callable(self, fn: Any, d: int) -> Any:
        if isinstance(fn, functools.partial):
            return {"partial": self.value(fn.func, d), "args": self.value(list(fn.args), d),
                    "keywords": self.value(dict(fn.keywords), d)}
        if isinstance(fn, types.MethodType):
            return {"method": self.value(fn.__func__, d), "self": self.value(fn.__self__, d)}
        if isinstance(fn, type):
            return self.cls(fn, d)
        if isinstance(fn, types.FunctionType):
            return self.function(fn, d)
        if isinstance(fn, (types.BuiltinFunctionType, types.BuiltinMethodType)) or \
                is_library(fn) and not hasattr(fn, "__dict__"):
            return f"builtin:{qualname(fn)}"
        return self.instance(fn, d)  # a callable object: its class and fields

    def function(self, fn: types.FunctionType, d: int) -> Any:
        if is_library(fn):
            return f"function:{qualname(fn)}"
        code = fn.__code__
        out: dict[str, Any] = {"function": qualname(fn), "code_sha": code_digest(code)}
        if fn.__defaults__:
            out["defaults"] = [self.value(x, d) for x in fn.__defaults__]
        if fn.__kwdefaults__:
            out["kwdefaults"] = {k: self.value(x, d) for k, x in sorted(fn.__kwdefaults__.items())}
        if fn.__closure__:
            out["closure"] = {name: self.value(_cell(c), d)
                              for name, c in zip(code.co_freevars, fn.__closure__)}
        glob = fn.__globals__
        refs = {n: self.value(glob[n], d) for n in sorted(global_names(code)) if n in glob}
        if refs:
            out["globals"] = refs
        return out

    def cls(self, c: type, d: int) -> Any:
        if is_library(c):
            return f"class:{qualname(c)}"
        members = {}
        for name, m in sorted(vars(c).items()):
            if name in ("__dict__", "__weakref__", "__doc__", "__module__", "__qualname__",
                        "__annotations__", "__firstlineno__", "__static_attributes__"):
                continue
            if isinstance(m, (staticmethod, classmethod)):
                m = m.__func__
            elif isinstance(m, property):
                m = [m.fget, m.fset]
            members[name] = self.value(m, d)
        return {"class": qualname(c), "bases": [self.value(b, d) for b in c.__bases__],
                "members": members}

    def instance(self, v: Any, d: int) -> Any:
        attrs = getattr(v, "__dict__", None)
        if not isinstance(attrs, dict):
            slots = [s for k in type(v).__mro__ for s in getattr(k, "__slots__", ())]
            attrs = {s: getattr(v, s) for s in slots if isinstance(s, str) and hasattr(v, s)}
        if is_library(type(v)):
            # a library's object: its plain settings (numbers, strings, tensors), not its
            # internals, which may hold anything
            plain = {k: self.value(x, d) for k, x in sorted(attrs.items()) if _plain(x)}
            return {"object": qualname(v), "fields": plain} if plain else f"object:{qualname(v)}"
        return {"object": self.cls(type(v), d),
                "fields": {k: self.value(x, d) for k, x in sorted(attrs.items())}}

    # ---------------------------------------------------------------------- modules ----
    def module(self, m: Any, d: int) -> Any:
        """Class, fields, parameters, buffers, hooks and children of an ``nn.Module``."""
        out: dict[str, Any] = {"class": self.cls(type(m), d)}
        attrs = {k: self.value(x, d) for k, x in sorted(vars(m).items())
                 if k not in _module_internals()}
        if attrs:
            out["fields"] = attrs
        for kind in ("_parameters", "_buffers"):
            tensors = {k: self.value(t, d) for k, t in getattr(m, kind).items() if t is not None}
            if tensors:
                out[kind.strip("_")] = tensors
        hooks = {k.strip("_"): [self.value(h, d) for h in hs.values()]
                 for k, hs in sorted(vars(m).items())
                 if k.endswith("hooks") and isinstance(hs, dict) and hs}
        if hooks:
            out["hooks"] = hooks
        if m._modules:
            out["children"] = {k: self.value(c, d) for k, c in m._modules.items()}
        return out


@functools.lru_cache(maxsize=1)
def _module_internals() -> frozenset[str]:
    import torch

    return frozenset(vars(torch.nn.Module())) | {"training"}


def _cell(c: Any) -> Any:
    try:
        return c.cell_contents
    except ValueError:
        return "<empty cell>"


def _plain(x: Any) -> bool:
    if x is None or isinstance(x, (bool, int, float, str)):
        return True
    if isinstance(x, (tuple, list)):
        return len(x) <= _MAX_ITEMS and all(_plain(i) for i in x)
    if isinstance(x, Mapping):
        return len(x) <= _MAX_ITEMS and all(_plain(i) for i in x.values())
    torch = sys.modules.get("torch")
    return torch is not None and isinstance(x, (torch.Tensor, torch.dtype, torch.device))


# ------------------------------------------------------------ data loaders ----
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
    from ..train.rng import isolated_rng, seed_everything

    out: dict[str, Any] = {"dataset": describe(ds)}
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

"""What makes two trials the same experiment.

A task's *protocol* (``Task.protocol()``) is a JSON-able description of everything a trial's
result depends on except its LR and seed; its *fingerprint* is the sha256 of the protocol's
canonical JSON. A store keys results by (fingerprint, lr, seed) and refuses to mix two
protocols under one study name, so the protocol must see every change that changes results:

* tensors and arrays by a sha256 of all their bytes (weights, in-memory data, loss weights,
  tensors in closures), cached per tensor object and invalidated by its version counter;
* modules (a loss such as ``CrossEntropyLoss(label_smoothing=0.3, weight=w)``) by their
  class, their ``__dict__`` fields, buffers, parameters, hooks and children, not their repr;
* Python code by its bytecode, constants and names, its closure cells, defaults, keyword
  defaults and the globals it reads (values; functions recursively, with a cycle guard). Code
  from installed libraries (torch, numpy, the standard library, site-packages, lrsweep) is
  named, not hashed;
* DataLoaders by their length, batch size, ``drop_last``, sampler kinds and their dataset: its
  length, fields (a ``TensorDataset``'s tensors in full) and samples spread over all of it.

Descriptions never contain ``id()`` or addresses, so a task built twice, in two processes,
has one fingerprint. Pure Python at import time; torch and numpy are used only if loaded.
"""

from __future__ import annotations

import hashlib
import json
import re
from collections.abc import Mapping
from typing import Any

from ..errors import bad_arg
from .describe import (
    SAMPLES,
    callable_name,
    dataset_description,
    describe,
    exclude,
    is_library,
    loader_description,
    qualname,
    spread,
)
from .hashing import canonical_json, code_digest, sha, tensor_digest
from .parts import (
    REFERENCE_LR,
    model_description,
    names_digest,
    optimizer_description,
    source_description,
    tensors_description,
    weights_digest,
)

__all__ = [
    "FORMAT", "REFERENCE_LR", "SAMPLES", "callable_name", "canonical_json", "code_digest",
    "dataset_description", "describe", "diff_values", "exclude", "fields", "fingerprint",
    "is_library", "loader_description", "model_description", "names_digest", "normalize",
    "optimizer_description", "protocol_of", "qualname", "sha",
    "source_description", "spread", "tensor_digest", "tensors_description", "weights_digest",
]

FORMAT = 2  # protocol["fingerprint_format"]; format 1 (no key) saw reprs and 64 data rows
_ADDRESS = re.compile(r" at 0x[0-9a-fA-F]+")


def fingerprint(protocol: dict[str, Any]) -> str:
    """sha256 (hex) of the canonical JSON of a protocol."""
    return hashlib.sha256(canonical_json(protocol).encode()).hexdigest()


def normalize(protocol: dict[str, Any]) -> dict[str, Any]:
    """The protocol as the store holds it: through JSON, memory addresses of default reprs
    (``<... at 0x7f...>``, different in every process) removed."""
    return json.loads(_ADDRESS.sub("", canonical_json(protocol)))


def protocol_of(task: Any) -> dict[str, Any]:
    """``task.protocol()``, checked and normalised."""
    proto = task.protocol()
    if not isinstance(proto, dict):
        raise bad_arg("task", type(task).__name__, "a task whose protocol() returns a dict",
                      "Use an lrsweep.Task or an objective function.")
    return normalize(proto)


_ABSENT = "<absent>"


def diff_values(old: Any, new: Any, path: str = "") -> list[tuple[str, Any, Any]]:
    """``(dotted path, old value, new value)`` of every difference between two protocols
    (``"<absent>"`` for a key one side lacks).

    >>> diff_values({"loss": {"label_smoothing": 0.0}, "steps": 5},
    ...             {"loss": {"label_smoothing": 0.3}, "steps": 5})
    [('loss.label_smoothing', 0.0, 0.3)]
    """
    if isinstance(old, dict) and isinstance(new, dict):
        out: list[tuple[str, Any, Any]] = []
        for k in sorted(set(old) | set(new), key=str):
            sub = f"{path}.{k}" if path else str(k)
            if k not in old or k not in new:
                out.append((sub, old.get(k, _ABSENT), new.get(k, _ABSENT)))
            else:
                out.extend(diff_values(old[k], new[k], sub))
        return out
    if isinstance(old, list) and isinstance(new, list) and len(old) == len(new):
        return [d for i, (a, b) in enumerate(zip(old, new))
                for d in diff_values(a, b, f"{path}.{i}" if path else str(i))]
    return [] if old == new else [(path or "(protocol)", old, new)]


def fields(protocol: Mapping[str, Any], width: int = 48) -> dict[str, str]:
    """The protocol flattened for a table or a report: dotted field -> short text (long
    values cut, hashes shortened to 12 hex digits).

    >>> fields({"loss": {"class": "CrossEntropyLoss", "fields": {"label_smoothing": 0.3}},
    ...         "weights_sha256": "ab" * 32})
    {'loss.class': 'CrossEntropyLoss', 'loss.fields.label_smoothing': '0.3', 'weights_sha256': 'abababababab'}
    """
    out: dict[str, str] = {}

    def walk(v: Any, path: str) -> None:
        if isinstance(v, Mapping) and v:
            for k in sorted(v, key=str):
                walk(v[k], f"{path}.{k}" if path else str(k))
            return
        if isinstance(v, list) and any(isinstance(x, Mapping) for x in v):
            for i, x in enumerate(v):
                walk(x, f"{path}.{i}" if path else str(i))
            return
        text = v if isinstance(v, str) else canonical_json(v)
        text = re.sub(r"\b([0-9a-f]{12})[0-9a-f]{4,}\b", r"\1", text)
        first = text.splitlines()[0] if text.strip() else text
        if first != text or len(first) > width:
            first = first[: width - 3] + "..."
        out[path] = first

    walk(protocol, "")
    return out



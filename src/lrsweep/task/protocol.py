"""What a ``Task`` describes itself as: its protocol (``Task.protocol()``), everything that
defines a trial except the LR and seed, built from the parts ``lrsweep.fingerprint``
describes. Two tasks with the same protocol produce the same trials.

The costly parts (hashes of the weights and of the data, the optimizer probe) are computed
once per object and kept on the task; tensors are hashed again only if modified in place.
"""

from __future__ import annotations

import copy
from collections.abc import Callable
from typing import Any

from ..fingerprint import (
    FORMAT,
    describe,
    model_description,
    names_digest,
    optimizer_description,
    source_description,
    tensors_description,
    weights_digest,
)
from ..train.schedule import schedule_text
from .data import TensorData, num_batches

CACHE = "_protocol_cache"  # the task's attribute that holds the costly parts


def task_protocol(task: Any, template: Any, factory: Any) -> dict[str, Any]:
    """The protocol of an ``lrsweep.Task`` whose initial model is ``template`` (built by
    ``factory``, None for a module)."""
    trainable = [n for n, p in template.named_parameters() if p.requires_grad]
    optimizer = _cached(task, "optimizer", (task.optimizer, template), lambda _: (
        optimizer_description(task.make_optimizer, template, task.optimizer)))
    uses_loss = task.forward is None
    return {
        "fingerprint_format": FORMAT,
        "model": type(template).__name__,
        "architecture": repr(template),
        "model_config": _cached(task, "model", template, model_description),
        "weights_sha256": ("per-seed factory " if task.seed_init else "")
        + _cached(task, "weights", template, weights_digest),
        "factory": describe(factory) if task.seed_init else None,
        "trainable": names_digest(trainable),
        "optimizer": optimizer["class"].rsplit(".", 1)[-1],
        "optimizer_callable": optimizer["callable"],
        "param_groups": optimizer["groups"],
        "train_data": _data_description(task, "train", task.train),
        "val_data": _data_description(task, "val", task.val),
        "data_version": describe(task.data_version),
        "steps": task.steps,
        "warmup_steps": task.warmup_steps,
        "schedule": schedule_text(task.schedule),
        "metric": task.metric_name,
        "metric_fn": describe(task.metric_fn) if task.metric_fn is not None else None,
        "evaluate": describe(task.evaluate_fn) if task.evaluate_fn is not None else None,
        "direction": task.direction,
        "loss": describe(task.loss) if uses_loss else None,
        "forward": describe(task.forward) if task.forward is not None else None,
        "precision": task.precision,
        "accumulation_steps": task.accumulation_steps,
        "clip_grad_norm": task.clip_grad_norm,
        "divergence_factor": task.divergence_factor,
        "init_seed": task.init_seed,
        "seed_init": task.seed_init,
    }


def _data_description(task: Any, key: str, data: Any) -> dict[str, Any]:
    if isinstance(data, TensorData):  # every byte, hashed once per tensor (cached there)
        return {"kind": "tensors", "n": data.n, "batches": num_batches(data),
                "batch_size": data.batch_size, "shuffle": data.shuffle,
                "drop_last": data.drop_last, "tensors": tensors_description(data.tensors)}
    return _cached(task, key, data, lambda d: source_description(
        d.source, lambda: next(iter(d.batches(0, 0)), None)))


def _cached(task: Any, key: str, obj: Any, compute: Callable[[Any], Any]) -> Any:
    cache = task.__dict__.setdefault(CACHE, {})
    hit = cache.get(key)
    if hit is None or not _same(hit[0], obj):  # recomputed if an object was replaced
        hit = cache[key] = (obj, compute(obj))
    return copy.deepcopy(hit[1])


def _same(a: Any, b: Any) -> bool:
    if isinstance(a, tuple) and isinstance(b, tuple):
        return len(a) == len(b) and all(x is y for x, y in zip(a, b))
    return a is b

"""The steps of one chunk: eager warm-up steps, then one step captured in a CUDA graph and
replayed with static input buffers (or wrapped in ``torch.compile``); what it cost.

Steps ``0..GRAPH_WARMUP_STEPS-1`` run eagerly (on a side stream on CUDA: these warm-up steps
are real training steps, so nothing needs restoring); step ``GRAPH_WARMUP_STEPS`` is captured
into a graph with static input buffers, and every later step of the same shapes copies its
batch into them and replays the graph. A batch of other shapes (the last partial batch) runs
eagerly; the step reads its counter, schedule and masks from device tensors, so both paths
interleave freely.
"""

from __future__ import annotations

import logging
import time
from typing import Any

import torch
from torch.utils import _pytree as pytree

from ...task.data import to_device
from ...train.progress import advance
from .chunk import _Chunk, _shapes
from .probe import ProbeResult

log = logging.getLogger("lrsweep")

GRAPH_WARMUP_STEPS = 3  # eager steps (real ones) on a side stream before capture
GRAPH_MIN_STEPS = 8  # fewer full-size steps than this: capture does not pay
STEADY_FROM = GRAPH_WARMUP_STEPS + 2  # steps after warm-up, capture or compile: timed
ALL_DEAD_CHECK_EVERY = 32  # steps between the (only) host syncs: stop when all diverged


class CaptureRequired(Exception):
    """CUDA-graph capture failed under ``cuda_graph=True`` (an engine fault, not a trial's)."""


def can_capture(device: torch.device) -> bool:
    """Whether the steps on ``device`` can be captured in a CUDA graph."""
    return device.type == "cuda"


def capture(fn: Any, static: list[Any], task: Any) -> Any:
    """Record ``fn(static)`` (the whole step) in a CUDA graph; nothing runs yet. The graph's
    ``replay()`` runs it."""
    sync(task)
    graph = torch.cuda.CUDAGraph()
    with torch.cuda.graph(graph):
        fn(static)
    return graph


def sync(task: Any) -> None:
    if task.device.type == "cuda":
        torch.cuda.synchronize(task.device)


def train_chunk(task: Any, chunk: _Chunk, probed: ProbeResult, *,
                cuda_graph: bool | str, compile: bool) -> dict[str, Any]:
    """Run every step of ``chunk`` (``cuda_graph``: ``"auto"``, True or False; ``compile``:
    wrap the step in ``torch.compile``); returns facts for ``TrialResult.extra``. Raises
    ``CaptureRequired`` when capture fails under ``cuda_graph=True``."""
    cuda = task.device.type == "cuda"
    use_graph = can_capture(task.device) and cuda_graph is not False
    if cuda and chunk.multi and probed.dropout and use_graph:
        # each seed's dropout masks come from its own generator state, swapped in
        # eagerly: a CUDA graph would replay one state for all
        log.info("vectorized: a group of %d seeds with dropout runs without a CUDA graph",
                 len(chunk.seeds))
        use_graph = False
    step = torch.compile(chunk.train_step, dynamic=False) if compile else None
    side = torch.cuda.Stream(task.device) if (use_graph and cuda) else None
    graph: Any = None
    static: list[Any] = []
    key: Any = None
    facts: dict[str, Any] = {"cuda_graph": False, "compiled": compile}
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
            sync(task)
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
                cuda_graph is True or task.steps - k >= GRAPH_MIN_STEPS):
            static = [pytree.tree_map(lambda x: x.clone() if isinstance(x, torch.Tensor)
                                      else x, b) for b in group]
            try:
                graph = capture(fn, static, task)
            except torch.OutOfMemoryError:
                raise  # a smaller chunk
            except Exception as e:  # capturing runs nothing: go on eagerly
                if cuda_graph is True:
                    raise CaptureRequired() from e
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
            sync(task)
            t_once += time.perf_counter() - t  # compile (first call) or capture
    sync(task)  # also: a graph (and its memory pool) goes when this returns
    if last >= STEADY_FROM + 1:  # steps STEADY_FROM..last ran after warm-up and capture
        facts["steady_step_seconds"] = ((time.perf_counter() - t_steady)
                                        / (last + 1 - STEADY_FROM))
    facts["setup_seconds"] = round(t_once, 4)
    return facts

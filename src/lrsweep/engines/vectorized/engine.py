"""``VectorizedEngine``: groups, chunks to fit memory, the training loop (CUDA graph,
compile), and the results of each chunk."""

from __future__ import annotations

import logging
import math
import secrets
import time
import traceback
from collections.abc import Sequence
from dataclasses import replace
from typing import Any

import torch
from torch.utils import _pytree as pytree

from ...data import to_device
from ...errors import EngineUnavailable, bad_arg
from ...rng import isolated_rng, seed_everything
from ...trial import Status, TrialResult, TrialSpec
from ..base import ResultCallback, advance
from ..batched_optim import read_optimizers
from .chunk import _Chunk, _shapes
from .members import SeedsDiffer
from .probe import Plan, probe

log = logging.getLogger("lrsweep")

GRAPH_WARMUP_STEPS = 3  # eager steps (real ones) on a side stream before capture
GRAPH_MIN_STEPS = 8  # fewer full-size steps than this: capture does not pay
STEADY_FROM = GRAPH_WARMUP_STEPS + 2  # steps after warm-up, capture or compile: timed
ALL_DEAD_CHECK_EVERY = 32  # steps between the (only) host syncs: stop when all diverged


class VectorizedEngine:
    """All trials of a seed at once, as one stacked model.

    Args:
        task: optional; when given, the task is checked now (``EngineUnavailable`` with the
            reason if it cannot be vectorized).
        chunk_size: most trials stacked at once (default: all that fit in memory).
        cuda_graph: ``"auto"`` (capture on CUDA when the run is long enough), True or False.
        compile: wrap the step in ``torch.compile`` (pays for long runs only).
        stack_seeds: stack the trials of several seeds in one group (default); False stacks
            each seed's LRs on their own, one group per seed.
    """

    name = "vectorized"

    def __init__(self, task: Any = None, *, chunk_size: int | None = None,
                 cuda_graph: bool | str = "auto", compile: bool = False,
                 stack_seeds: bool = True) -> None:
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
        self.stack_seeds = bool(stack_seeds)
        self._plans: dict[int, tuple[Any, Plan]] = {}  # id(task) -> (task, its probe)
        self.min_trials = 1  # a smaller group runs sequentially (auto on CPU sets it)
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
        if plan.seeds_reason is None and self.stack_seeds:
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

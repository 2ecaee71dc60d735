"""``VectorizedEngine``: groups, chunks to fit memory, and the results of each chunk (its
steps: ``graph.train_chunk``)."""

from __future__ import annotations

import logging
import math
import secrets
import time
from collections.abc import Sequence
from dataclasses import replace
from typing import Any

import torch

from ...errors import EngineUnavailable, bad_arg
from ...results.trial import Status, TrialResult, TrialSpec, outcome, outcome_of_error
from ...train.rng import isolated_rng, seed_everything
from ..base import ResultCallback
from .chunk import _Chunk
from .graph import CaptureRequired, train_chunk
from .members import SeedsDiffer
from .optim import read_optimizers
from .probe import ProbeResult, probe

log = logging.getLogger("lrsweep")


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
        min_trials: a group of fewer (lr, seed) trials runs on the sequential path
            (``engine="auto"`` on CPU sets it: stacking a few does not pay there).
        fallback: when the trials' optimizers cannot be stacked (``read_optimizers``), run
            them sequentially (what ``engine="auto"`` does) instead of raising
            ``EngineUnavailable``.
    """

    name = "vectorized"

    def __init__(self, task: Any = None, *, chunk_size: int | None = None,
                 cuda_graph: bool | str = "auto", compile: bool = False,
                 stack_seeds: bool = True, min_trials: int = 1, fallback: bool = False) -> None:
        if chunk_size is not None and (not isinstance(chunk_size, int)
                                       or isinstance(chunk_size, bool) or chunk_size < 1):
            raise bad_arg("chunk_size", chunk_size, "a positive integer or None",
                          "Pass e.g. chunk_size=8, or leave it unset to fit memory.")
        if cuda_graph not in ("auto", True, False):
            raise bad_arg("cuda_graph", cuda_graph, "'auto', True or False",
                          "Leave cuda_graph='auto'.")
        if not isinstance(min_trials, int) or isinstance(min_trials, bool) or min_trials < 1:
            raise bad_arg("min_trials", min_trials, "a positive integer",
                          "Pass e.g. min_trials=4, or leave it unset to stack any group.")
        self.chunk_size = chunk_size
        self.cuda_graph = cuda_graph
        self.compile = bool(compile)
        self.stack_seeds = bool(stack_seeds)
        self.min_trials = min_trials
        self.fallback = bool(fallback)
        self._probed: dict[int, tuple[Any, ProbeResult]] = {}  # id(task) -> (task, probe)
        if task is not None:
            self.probed(task)

    def probed(self, task: Any) -> ProbeResult:
        """What the probe learnt about ``task`` (probed on first use; ``EngineUnavailable``
        with the reason if it cannot be vectorized)."""
        entry = self._probed.get(id(task))
        if entry is None or entry[0] is not task:
            entry = self._probed[id(task)] = (task, probe(task))
        return entry[1]

    def groups(self, task: Any, specs: Sequence[TrialSpec]) -> list[list[TrialSpec]]:
        """``specs`` as the stacked groups they train in: every (lr, seed) pair of the call
        in one group when seeds stack (``ProbeResult.seeds_reason``), else one group per
        seed; ordered by seed, then LR."""
        probed = self.probed(task)
        ordered = sorted(specs, key=lambda s: (s.seed, s.lr))
        if probed.seeds_reason is None and self.stack_seeds:
            return [ordered] if ordered else []
        by_seed: dict[int, list[TrialSpec]] = {}
        for s in ordered:
            by_seed.setdefault(s.seed, []).append(s)
        return list(by_seed.values())

    def units(self, task: Any, specs: Sequence[TrialSpec]) -> list[list[TrialSpec]]:
        """The units a sweep on a shared study claims one at a time: the chunks the memory
        planner splits each group into (a group too small to stack: one trial each)."""
        probed = self.probed(task)
        out: list[list[TrialSpec]] = []
        for group in self.groups(task, specs):
            if len(group) < self.min_trials:
                out += [[s] for s in group]
                continue
            size = self._initial_chunk(task, probed, len(group))
            out += [group[i:i + size] for i in range(0, len(group), size)]
        return out

    def run(self, task: Any, specs: Sequence[TrialSpec], on_result: ResultCallback) -> None:
        if not specs:
            return
        probed = self.probed(task)
        try:
            broken = self._check_optimizers(task, sorted({s.lr for s in specs}),
                                            min(s.seed for s in specs))
        except EngineUnavailable as e:
            if not self.fallback:
                raise
            log.info("engine='auto': running these trials sequentially (%s)", e)
            for s in specs:
                on_result(task.run_trial(s, "sequential"))
            return
        for s in specs:  # fails alone, with its error
            if s.lr in broken:
                on_result(task.run_trial(s, "sequential"))
        for group in self.groups(task, [s for s in specs if s.lr not in broken]):
            self._run_group(task, probed, group, on_result)

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

    def _initial_chunk(self, task: Any, probed: ProbeResult, n: int) -> int:
        if self.chunk_size is not None:
            return _balanced(n, self.chunk_size)
        if task.device.type == "cuda" and probed.bytes_per_trial:
            free, _ = torch.cuda.mem_get_info(task.device)
            fit = max(1, int(0.8 * free // probed.bytes_per_trial))
            if fit < n:
                log.info("vectorized: %d trials per chunk fit in memory (of %d)", fit, n)
            return _balanced(n, fit)
        return n

    def _run_group(self, task: Any, probed: ProbeResult, specs: list[TrialSpec],
                   on_result: ResultCallback) -> None:
        if len(specs) < self.min_trials:
            for s in specs:
                on_result(task.run_trial(s, "sequential"))
            return
        size = self._initial_chunk(task, probed, len(specs)) if specs else 1
        i = 0
        while i < len(specs):
            part = specs[i:i + size]
            oom = False
            try:
                results = self._run_chunk(task, probed, part)
            except torch.OutOfMemoryError:
                oom = True
            except SeedsDiffer as e:  # this data's batches differ between seeds
                log.info("vectorized: the seeds of a group train one at a time (%s)", e)
                by_seed: dict[int, list[TrialSpec]] = {}
                for s in part:
                    by_seed.setdefault(s.seed, []).append(s)
                for one in by_seed.values():
                    self._run_group(task, probed, one, on_result)
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

    def _run_chunk(self, task: Any, probed: ProbeResult,
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
                chunk = _Chunk(task, specs, probed.native_dropout)
                extra.update(train_chunk(task, chunk, probed,
                                         cuda_graph=self.cuda_graph, compile=self.compile))
                active = chunk.active.cpu().tolist()
                metrics = (chunk.evaluate(probed.eval_vmapped) if any(active)
                           else [math.nan] * n)
                n_steps = chunk.n_steps.cpu().tolist()
                curves = chunk.curve.cpu().T.tolist()
        except (torch.OutOfMemoryError, SeedsDiffer):
            raise
        except CaptureRequired as e:  # cuda_graph=True and capture failed: no fallback
            wall = time.perf_counter() - t0
            cause = e.__cause__ or e
            log.warning("vectorized: CUDA-graph capture failed with cuda_graph=True (%s)",
                        cause)
            extra.update(group_wall_time=round(wall, 4))
            return [outcome_of_error(s, cause, (), wall / n, self.name, extra=extra,
                                     group=group) for s in specs]
        except Exception as e:  # which trial raised is unknown: the caller isolates it
            log.warning("vectorized: a chunk of %d trials (seeds %s) raised %s: %s; running "
                        "them one by one on the sequential path, so that only a trial that "
                        "raises there fails", n, sorted({s.seed for s in specs}),
                        type(e).__name__, e)
            return None
        wall = time.perf_counter() - t0
        extra["group_wall_time"] = round(wall, 4)
        return [outcome(s, metrics[j], curves[j][:n_steps[j]], wall / n, self.name,
                        diverged=not active[j], extra=dict(extra), group=group)
                for j, s in enumerate(specs)]


def _balanced(n: int, most: int) -> int:
    """Chunk size for ``n`` trials, at most ``most``, with chunks as even as possible
    (10 trials with at most 9 per chunk: 5 + 5, not 9 + 1)."""
    most = max(1, min(most, n))
    chunks = -(-n // most)
    return -(-n // chunks)


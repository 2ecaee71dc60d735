"""The unit of work of the Ray engine: a group of trials (by seed, then strided chunks), and
what a worker runs for it (a local engine, each result streamed back as it finishes)."""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass, field, replace
from typing import Any

from ...results.trial import Status, TrialResult, TrialSpec
from ..local import local_engine
from .cluster import import_ray
from .payload import worker_task


def make_groups(specs: Sequence[TrialSpec], slots: int,
                group_size: int | None = None) -> list[list[TrialSpec]]:
    """Split ``specs`` into groups: by seed, then into chunks.

    With ``group_size`` each chunk holds at most that many trials; otherwise each seed's
    trials are cut into enough chunks that the groups fill ``slots`` workers. Chunks take
    every n-th LR (strided), so cheap diverging high-LR trials spread over the groups.

    >>> specs = [TrialSpec(lr, 0) for lr in (1e-3, 1e-2, 1e-1, 1.0)]
    >>> [[s.lr for s in g] for g in make_groups(specs, slots=2)]
    [[0.001, 0.1], [0.01, 1.0]]
    """
    by_seed: dict[int, list[TrialSpec]] = {}
    for s in specs:
        by_seed.setdefault(s.seed, []).append(s)
    groups: list[list[TrialSpec]] = []
    per_seed = max(1, math.ceil(max(slots, 1) / max(len(by_seed), 1)))
    for seed_specs in by_seed.values():
        if group_size is not None:
            n = math.ceil(len(seed_specs) / group_size)
        else:
            n = min(per_seed, len(seed_specs))
        groups.extend(seed_specs[j::n] for j in range(n))
    return groups


@dataclass
class Group:
    """One group on the driver: its trials, which of them have a result, its attempt."""

    index: int
    specs: list[TrialSpec]
    attempt: int = 0
    done: set[tuple[float, int]] = field(default_factory=set)

    def remaining(self) -> list[TrialSpec]:
        return [s for s in self.specs if (s.lr, s.seed) not in self.done]


def run_group(payload: tuple, specs: list[TrialSpec], local: str, num_threads: int,
              attempt: int) -> Any:
    """Ray task body (a generator): run ``specs`` with the local engine named ``local``,
    yield each result."""
    import torch

    ray = import_ray()
    torch.set_num_threads(num_threads)
    task, error = worker_task(payload)
    node = ray.util.get_node_ip_address()
    if error is not None:
        for s in specs:
            yield TrialResult(s.lr, s.seed, Status.FAILED, None, engine="ray", error=error,
                              extra={"node": node})
        return
    # a task kind that cannot be stacked (an objective) runs its trials one by one
    name = local if getattr(task, "unstackable_reason", None) is None else "sequential"
    engine = local_engine(name, task)
    out: list[TrialResult] = []
    # the sequential engine goes trial by trial so each result streams back at once
    chunks = [[s] for s in specs] if engine.name == "sequential" else [list(specs)]
    for chunk in chunks:
        raised: Exception | None = None
        try:
            engine.run(task, chunk, out.append)
        except Exception as e:  # send what finished first; the driver retries the rest
            raised = e
        for r in out:
            yield replace(r, engine="ray", extra={**r.extra, "local_engine": engine.name,
                                                  "node": node, "attempt": attempt})
        out.clear()
        if raised is not None:
            raise raised

"""``RayEngine``: on the driver, the groups submitted as Ray tasks, their results streamed
back to ``on_result`` as they come, and a failed group retried with what it had left."""

from __future__ import annotations

import logging
import math
from collections.abc import Sequence
from typing import Any

from ...errors import bad_arg
from ...results.trial import Status, TrialResult, TrialSpec
from ..base import ResultCallback
from ..local import LOCAL_ENGINES
from .cluster import connect, import_ray, resources
from .groups import Group, make_groups, run_group
from .payload import make_payload, resolve

log = logging.getLogger("lrsweep")


class RayEngine:
    """Run a sweep's trials as Ray tasks, one group of trials per GPU or CPU worker.

    Args:
        address: a Ray cluster to join (``"auto"``, ``"HOST:6379"``); default
            ``RAY_ADDRESS``, else a local Ray instance is started (kept for later sweeps in
            this process; ``lrsweep.engines.ray.shutdown()`` stops it).
        group_size: trials per group; default: enough groups to fill the cluster.
        num_gpus_per_group: GPUs each group holds; default 1 when the cluster has GPUs and
            the task can use them (built from an import path, or on a CUDA device), else 0.
        num_cpus_per_group: CPUs each group holds (also its torch thread count).
        max_retries: how many times a group whose worker died (or raised) is resubmitted.
        local_engine: the engine each group runs (``"auto"``, ``"sequential"``, ...).
        task_ref: ``"package.module:function"`` that builds the task on each worker
            (default: the path the task was built from by ``load_task``, if any).
        task_kwargs: keyword arguments for ``task_ref``.
        check_protocol: check that a rebuilt task's protocol equals the driver's.
        init_kwargs: extra keyword arguments for ``ray.init``.
        ray_address: alias of ``address`` (the name ``sweep(..., ray_address=...)`` reads
            best with).
    """

    name = "ray"

    def __init__(
        self,
        *,
        address: str | None = None,
        group_size: int | None = None,
        num_gpus_per_group: float | None = None,
        num_cpus_per_group: float = 1,
        max_retries: int = 2,
        local_engine: str = "auto",
        task_ref: str | None = None,
        task_kwargs: dict[str, Any] | None = None,
        check_protocol: bool = True,
        init_kwargs: dict[str, Any] | None = None,
        ray_address: str | None = None,
    ) -> None:
        import_ray()
        if ray_address is not None and address is not None and ray_address != address:
            raise bad_arg("ray_address", ray_address, f"the same as address={address!r}",
                          "Pass the cluster address once (ray_address= is an alias).")
        address = address if address is not None else ray_address
        if group_size is not None and (not isinstance(group_size, int)
                                       or isinstance(group_size, bool) or group_size < 1):
            raise bad_arg("group_size", group_size, "a positive integer or None",
                          "Leave it unset to fill the cluster, or pass e.g. group_size=8.")
        for arg, v in (("num_gpus_per_group", num_gpus_per_group),
                       ("num_cpus_per_group", num_cpus_per_group)):
            if v is not None and (not isinstance(v, (int, float)) or isinstance(v, bool)
                                  or not math.isfinite(v) or v < 0):
                raise bad_arg(arg, v, "a number >= 0", "Pass e.g. 1 (fractions share one).")
        if num_cpus_per_group == 0 and not num_gpus_per_group:
            raise bad_arg("num_cpus_per_group", 0, "> 0 when a group holds no GPU",
                          "Pass num_cpus_per_group=1.")
        if not isinstance(max_retries, int) or isinstance(max_retries, bool) or max_retries < 0:
            raise bad_arg("max_retries", max_retries, "an integer >= 0",
                          "Pass e.g. max_retries=2.")
        if local_engine not in LOCAL_ENGINES:
            raise bad_arg("local_engine", local_engine,
                          "'auto', 'sequential' or 'vectorized'", "Pass local_engine='auto'.")
        if task_ref is not None:
            resolve(task_ref)  # fails now, on the driver, if the path is wrong
        self.address = address
        self.group_size = group_size
        self.num_gpus_per_group = num_gpus_per_group
        self.num_cpus_per_group = num_cpus_per_group
        self.max_retries = max_retries
        self.local_engine = local_engine
        self.task_ref = task_ref
        self.task_kwargs = dict(task_kwargs or {})
        self.check_protocol = bool(check_protocol)
        self.init_kwargs = dict(init_kwargs or {})

    # ------------------------------------------------------------------------- run ----
    def run(self, task: Any, specs: Sequence[TrialSpec], on_result: ResultCallback) -> None:
        if not specs:
            return
        ray = import_ray()
        connect(ray, self.address, self.init_kwargs)
        ref = (self.task_ref, self.task_kwargs) if self.task_ref else None
        payload = make_payload(ray, task, ref, self.check_protocol)
        gpus, cpus, slots = resources(ray, task, payload[0] == "ref", self.num_gpus_per_group,
                                      self.num_cpus_per_group, self.group_size)
        groups = [Group(i, g) for i, g in
                  enumerate(make_groups(specs, slots, self.group_size))]
        log.info("engine='ray': %d trials in %d groups (%g CPU, %g GPU each; %d at once)",
                 len(specs), len(groups), cpus, gpus, slots)
        remote = ray.remote(run_group).options(
            num_cpus=cpus, num_gpus=gpus, num_returns="streaming", max_retries=0)
        threads = max(1, int(cpus))

        def submit(group: Group) -> Any:
            return remote.remote(payload, group.remaining(), self.local_engine, threads,
                                 group.attempt)

        pending = {submit(g): g for g in groups}
        try:
            while pending:
                ready, _ = ray.wait(list(pending), num_returns=1)
                for gen in ready:
                    group = pending.pop(gen)
                    try:
                        ref = next(gen)
                    except StopIteration:
                        if group.remaining():  # ended without reporting every trial
                            self._retry_or_fail(group, RuntimeError(
                                "the group ended without a result for every trial"),
                                pending, submit, on_result)
                        continue
                    try:
                        result = ray.get(ref)
                    except Exception as e:  # a dead worker, or the group raised
                        self._retry_or_fail(group, e, pending, submit, on_result)
                        continue
                    group.done.add(result.key)
                    pending[gen] = group
                    on_result(result)
        finally:
            for gen in pending:  # an interrupt or a failing on_result: stop the rest
                try:
                    ray.cancel(gen, force=True)
                except Exception as e:  # cancelling is best effort
                    log.debug("could not cancel a Ray group: %s", e)

    def _retry_or_fail(self, group: Group, error: BaseException, pending: dict,
                       submit: Any, on_result: ResultCallback) -> None:
        group.attempt += 1
        text = f"{type(error).__name__}: {error}"
        if len(text) > 2000:
            text = text[:2000] + " ..."
        left = group.remaining()
        if group.attempt <= self.max_retries:
            log.warning("engine='ray': group %d (%d trials left) failed, retry %d/%d: %s",
                        group.index, len(left), group.attempt, self.max_retries,
                        text.splitlines()[0] if text else text)
            pending[submit(group)] = group
            return
        log.warning("engine='ray': group %d failed %d times; marking its %d unfinished "
                    "trials failed", group.index, group.attempt, len(left))
        for s in left:
            group.done.add((s.lr, s.seed))
            on_result(TrialResult(s.lr, s.seed, Status.FAILED, None, engine="ray",
                                  error=f"Ray group failed {group.attempt} times "
                                        f"(max_retries={self.max_retries}): {text}",
                                  extra={"attempt": group.attempt - 1}))

    def __repr__(self) -> str:
        return (f"RayEngine(address={self.address!r}, group_size={self.group_size}, "
                f"num_gpus_per_group={self.num_gpus_per_group}, "
                f"num_cpus_per_group={self.num_cpus_per_group}, "
                f"max_retries={self.max_retries}, local_engine={self.local_engine!r})")


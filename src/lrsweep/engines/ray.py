"""The Ray engine: the trials of a sweep as Ray tasks on a cluster (or a local Ray instance).

Trials are split into groups (by seed, then into chunks); each group is one Ray task that
holds ``num_gpus_per_group`` GPUs / ``num_cpus_per_group`` CPUs and runs a local engine
(``"auto"``: vectorized where the model allows, else sequential) on its trials. Every trial's
result streams back to the driver as soon as it is known and is passed to ``on_result``
there, so the driver owns the store and resume works exactly as for a local run.

A group whose worker dies (or that raises) is resubmitted with the trials it had not
finished, at most ``max_retries`` times; then those trials are reported ``failed`` with the
error and the other groups go on.

How the task reaches the workers:

- built from an import path (``load_task("pkg.mod:make_task", ...)`` or
  ``RayEngine(task_ref=...)``): each worker rebuilds it (its data read where the worker
  runs, its device picked there) and checks that its protocol equals the driver's;
- otherwise the in-memory task (model, data, functions) is pickled with cloudpickle once,
  put once into Ray's object store and shared by every group (each worker process
  deserializes it once).
"""

from __future__ import annotations

import importlib
import json
import logging
import math
import os
from collections import OrderedDict
from collections.abc import Sequence
from dataclasses import dataclass, field, replace
from typing import Any

from ..errors import ConfigError, EngineUnavailable, bad_arg
from ..trial import Status, TrialResult, TrialSpec
from .base import ResultCallback

log = logging.getLogger("lrsweep")

INSTALL_HINT = 'pip install "lrsweep[ray]"'
_started_here = False  # whether this process started (or connected) Ray through the engine
_worker_tasks: OrderedDict[str, Any] = OrderedDict()  # per worker process: rebuilt tasks
_WORKER_CACHE_SIZE = 2


def _import_ray() -> Any:
    try:
        import ray
    except ImportError as e:
        raise EngineUnavailable(
            f"engine='ray' needs Ray, which is not installed ({e}). Install it with: "
            f"{INSTALL_HINT}, or use engine='sequential'.") from e
    return ray


# ----------------------------------------------------------------------- import paths ----
def _resolve(path: str) -> Any:
    if not isinstance(path, str) or path.count(":") != 1 or not all(path.split(":")):
        raise bad_arg("task_ref", path, "an import path 'package.module:function'",
                      "Name the function that builds your Task, e.g. 'mypkg.tasks:make_task'.")
    module_name, attr = path.split(":")
    try:
        obj: Any = importlib.import_module(module_name)
    except ImportError as e:
        raise bad_arg("task_ref", path, "a module importable here",
                      f"Importing {module_name!r} failed ({e}); install the package (on every "
                      "node for a cluster) or fix the path.") from e
    for part in attr.split("."):
        if not hasattr(obj, part):
            raise bad_arg("task_ref", path, f"a name that exists in {module_name}",
                          f"{module_name} has no attribute {attr!r}; check the spelling.")
        obj = getattr(obj, part)
    if not callable(obj):
        raise bad_arg("task_ref", path, "a function returning a Task",
                      f"{path} is not callable.")
    return obj


def load_task(path: str, **kwargs: Any) -> Any:
    """Build a task by calling ``path`` (``"package.module:function"``) with ``kwargs``.

    The task remembers how it was built, so ``sweep(task, engine="ray")`` rebuilds it on
    each worker instead of shipping its model and data::

        task = load_task("mypkg.tasks:make_task", width=256)
        lrsweep.sweep(task, lrs, engine="ray")
    """
    built = _resolve(path)(**kwargs)
    try:
        built.import_ref = (path, dict(kwargs))
    except AttributeError as e:
        raise bad_arg("task_ref", path, "a function returning a Task or an objective function",
                      f"It returned a {type(built).__name__}.") from e
    return built


def task_import_ref(task: Any) -> tuple[str, dict[str, Any]] | None:
    """The ``(path, kwargs)`` a task was built from by ``load_task``, if any."""
    ref = getattr(task, "import_ref", None)
    if ref is None:
        ref = getattr(getattr(task, "objective", None), "import_ref", None)
    return ref


def _canonical(protocol: dict[str, Any]) -> dict[str, Any]:
    return json.loads(json.dumps(protocol, sort_keys=True, default=repr))


# --------------------------------------------------------------------------- groups ----
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
class _Group:
    index: int
    specs: list[TrialSpec]
    attempt: int = 0
    done: set[tuple[float, int]] = field(default_factory=set)

    def remaining(self) -> list[TrialSpec]:
        return [s for s in self.specs if (s.lr, s.seed) not in self.done]


# --------------------------------------------------------------------------- worker ----
def _worker_task(payload: tuple) -> tuple[Any, str | None]:
    """The task of a payload on this worker (built or fetched once per process), and an
    error if a rebuilt task does not match the driver's protocol."""
    ray = _import_ray()
    if payload[0] == "object":
        key = "object:" + payload[1][0].hex()
    else:
        key = "ref:" + repr((payload[1], sorted(payload[2].items())))
    if key in _worker_tasks:
        _worker_tasks.move_to_end(key)
    elif payload[0] == "object":
        _worker_tasks[key] = (ray.get(payload[1][0]), None)
    else:
        from ..objective import as_task

        task = as_task(_resolve(payload[1])(**payload[2]), payload[4])
        _worker_tasks[key] = (task, _canonical(task.protocol()))
    while len(_worker_tasks) > _WORKER_CACHE_SIZE:
        _worker_tasks.popitem(last=False)
    task, mine = _worker_tasks[key]
    theirs = payload[3] if payload[0] == "ref" else None
    if theirs is None or mine == theirs:
        return task, None
    differ = sorted(k for k in set(mine) | set(theirs) if mine.get(k) != theirs.get(k))
    return task, (f"the task rebuilt from {payload[1]} on this worker differs from the "
                  f"driver's in {differ}; every node needs the same lrsweep/torch versions, "
                  "code and data (or pass check_protocol=False).")


def _run_group(payload: tuple, specs: list[TrialSpec], local_engine: str, num_threads: int,
               attempt: int) -> Any:
    """Ray task body (a generator): run ``specs`` with a local engine, yield each result."""
    import torch

    from .base import get_engine

    ray = _import_ray()
    torch.set_num_threads(num_threads)
    task, error = _worker_task(payload)
    node = ray.util.get_node_ip_address()
    if error is not None:
        for s in specs:
            yield TrialResult(s.lr, s.seed, Status.FAILED, None, engine="ray", error=error,
                              extra={"node": node})
        return
    # a task kind that cannot be stacked (an objective) runs its trials one by one
    name = local_engine if getattr(task, "unstackable_reason", None) is None else "sequential"
    engine = get_engine(name, task)
    out: list[TrialResult] = []
    # the sequential engine goes trial by trial so each result streams back at once
    chunks = [[s] for s in specs] if engine.name == "sequential" else [list(specs)]
    for chunk in chunks:
        error: Exception | None = None
        try:
            engine.run(task, chunk, out.append)
        except Exception as e:  # send what finished first; the driver retries the rest
            error = e
        for r in out:
            yield replace(r, engine="ray", extra={**r.extra, "local_engine": engine.name,
                                                  "node": node, "attempt": attempt})
        out.clear()
        if error is not None:
            raise error


# --------------------------------------------------------------------------- driver ----
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
        _import_ray()
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
        if not isinstance(local_engine, str) or local_engine == "ray":
            raise bad_arg("local_engine", local_engine,
                          "'auto', 'sequential' or 'vectorized'", "Pass local_engine='auto'.")
        if task_ref is not None:
            _resolve(task_ref)  # fails now, on the driver, if the path is wrong
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

    # ---------------------------------------------------------------------- set-up ----
    def _connect(self, ray: Any) -> None:
        global _started_here
        if ray.is_initialized():
            return
        address = self.address or os.environ.get("RAY_ADDRESS")
        kwargs: dict[str, Any] = {"log_to_driver": False, **self.init_kwargs}
        if address:
            log.info("engine='ray': joining the Ray cluster at %s", address)
            ray.init(address=address, **kwargs)
        else:
            log.info("engine='ray': starting a local Ray instance")
            ray.init(**{"include_dashboard": False, **kwargs})
        _started_here = True

    def _payload(self, ray: Any, task: Any) -> tuple:
        ref = (self.task_ref, self.task_kwargs) if self.task_ref else task_import_ref(task)
        if ref is not None:
            protocol = _canonical(task.protocol()) if self.check_protocol else None
            return ("ref", ref[0], dict(ref[1]), protocol, task.direction)
        try:
            obj = ray.put(task)
        except Exception as e:  # pickling user code can fail in many ways
            raise ConfigError(
                f"task: {_unpicklable(task, e)} cannot be shipped to the Ray workers. "
                "Make the model, data and functions picklable, or build the task from an "
                "import path with lrsweep.engines.ray.load_task('pkg.mod:make_task').") from e
        return ("object", [obj])  # in a list, so Ray passes the reference, not the value

    def _resources(self, ray: Any, task: Any, payload: tuple) -> tuple[float, float, int]:
        """(GPUs, CPUs) per group and how many groups the cluster runs at once."""
        nodes = [n.get("Resources", {}) for n in ray.nodes() if n.get("Alive")]
        total_gpus = sum(n.get("GPU", 0) for n in nodes)
        gpus = self.num_gpus_per_group
        if gpus is None:
            device = getattr(getattr(task, "device", None), "type", None)
            gpus = 1 if total_gpus > 0 and (payload[0] == "ref" or device == "cuda") else 0
            if total_gpus > 0 and not gpus:
                log.info("engine='ray': the task is on %s, so groups use no GPU; build it "
                         "with load_task() to train on the workers' GPUs", device)
        cpus = self.num_cpus_per_group
        slots = 0
        for n in nodes:
            fit = [n.get("CPU", 0) // cpus] if cpus else []
            fit += [n.get("GPU", 0) // gpus] if gpus else []
            slots += int(min(fit))
        if slots == 0:
            have = [(n.get("CPU", 0), n.get("GPU", 0)) for n in nodes]
            if self.group_size is None:
                raise bad_arg("num_cpus_per_group/num_gpus_per_group", (cpus, gpus),
                              f"what one node of the cluster has (CPU, GPU per node: {have})",
                              "Lower the resources per group or add bigger nodes (on an "
                              "autoscaling cluster without such a node yet, pass group_size= "
                              "to submit anyway).")
            log.warning("engine='ray': no node has %g CPU / %g GPU yet (%s); submitting "
                        "anyway, the groups wait for the autoscaler", cpus, gpus, have)
            slots = 1
        return gpus, cpus, slots

    # ------------------------------------------------------------------------- run ----
    def run(self, task: Any, specs: Sequence[TrialSpec], on_result: ResultCallback) -> None:
        if not specs:
            return
        ray = _import_ray()
        self._connect(ray)
        payload = self._payload(ray, task)
        gpus, cpus, slots = self._resources(ray, task, payload)
        groups = [_Group(i, g) for i, g in
                  enumerate(make_groups(specs, slots, self.group_size))]
        log.info("engine='ray': %d trials in %d groups (%g CPU, %g GPU each; %d at once)",
                 len(specs), len(groups), cpus, gpus, slots)
        remote = ray.remote(_run_group).options(
            num_cpus=cpus, num_gpus=gpus, num_returns="streaming", max_retries=0)
        threads = max(1, int(cpus))

        def submit(group: _Group) -> Any:
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

    def _retry_or_fail(self, group: _Group, error: BaseException, pending: dict,
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


def _unpicklable(task: Any, error: BaseException) -> str:
    """Which attribute of ``task`` cannot be pickled, and why, in one line."""
    from ray import cloudpickle

    for name, value in vars(task).items():
        try:
            cloudpickle.dumps(value)
        except Exception as e:  # the culprit: name it
            return f"its {name!r} ({type(e).__name__}: {str(e).splitlines()[0]})"
    first = str(error).splitlines()[0] if str(error) else ""
    return f"it ({type(error).__name__}: {first})"


def shutdown() -> None:
    """Stop the Ray instance the engine started (or disconnect from the cluster it joined).
    A Ray session the user started with ``ray.init`` is left alone."""
    global _started_here
    if not _started_here:
        return
    ray = _import_ray()
    if ray.is_initialized():
        ray.shutdown()
    _started_here = False

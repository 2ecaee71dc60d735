"""Ray itself: imported on demand (with an install hint), started or joined once per process,
the resources a group holds, and ``shutdown``."""

from __future__ import annotations

import logging
import os
from typing import Any

from ...errors import EngineUnavailable, bad_arg

log = logging.getLogger("lrsweep")

INSTALL_HINT = 'pip install "lrsweep[ray]"'
_started_here = False  # whether this process started (or connected) Ray through the engine


def import_ray() -> Any:
    """The ``ray`` module, or ``EngineUnavailable`` saying how to install it (Ray is an
    optional dependency)."""
    try:
        import ray
    except ImportError as e:
        raise EngineUnavailable(
            f"engine='ray' needs Ray, which is not installed ({e}). Install it with: "
            f"{INSTALL_HINT}, or use engine='sequential'.") from e
    return ray


def connect(ray: Any, address: str | None, init_kwargs: dict[str, Any]) -> None:
    """Join the cluster at ``address`` (default ``RAY_ADDRESS``), else start a local Ray
    instance; nothing if Ray is already initialized (by the user or an earlier sweep)."""
    global _started_here
    if ray.is_initialized():
        return
    address = address or os.environ.get("RAY_ADDRESS")
    kwargs: dict[str, Any] = {"log_to_driver": False, **init_kwargs}
    if address:
        log.info("engine='ray': joining the Ray cluster at %s", address)
        ray.init(address=address, **kwargs)
    else:
        log.info("engine='ray': starting a local Ray instance")
        ray.init(**{"include_dashboard": False, **kwargs})
    _started_here = True


def resources(ray: Any, task: Any, rebuilt: bool, num_gpus: float | None, num_cpus: float,
              group_size: int | None) -> tuple[float, float, int]:
    """(GPUs, CPUs) per group and how many groups the cluster runs at once. ``num_gpus``
    None: 1 when the cluster has GPUs and the task can use them (``rebuilt`` on the workers
    from an import path, or on a CUDA device), else 0."""
    nodes = [n.get("Resources", {}) for n in ray.nodes() if n.get("Alive")]
    total_gpus = sum(n.get("GPU", 0) for n in nodes)
    gpus = num_gpus
    if gpus is None:
        device = getattr(getattr(task, "device", None), "type", None)
        gpus = 1 if total_gpus > 0 and (rebuilt or device == "cuda") else 0
        if total_gpus > 0 and not gpus:
            log.info("engine='ray': the task is on %s, so groups use no GPU; build it "
                     "with load_task() to train on the workers' GPUs", device)
    cpus = num_cpus
    slots = 0
    for n in nodes:
        fit = [n.get("CPU", 0) // cpus] if cpus else []
        fit += [n.get("GPU", 0) // gpus] if gpus else []
        slots += int(min(fit))
    if slots == 0:
        have = [(n.get("CPU", 0), n.get("GPU", 0)) for n in nodes]
        if group_size is None:
            raise bad_arg("num_cpus_per_group/num_gpus_per_group", (cpus, gpus),
                          f"what one node of the cluster has (CPU, GPU per node: {have})",
                          "Lower the resources per group or add bigger nodes (on an "
                          "autoscaling cluster without such a node yet, pass group_size= "
                          "to submit anyway).")
        log.warning("engine='ray': no node has %g CPU / %g GPU yet (%s); submitting "
                    "anyway, the groups wait for the autoscaler", cpus, gpus, have)
        slots = 1
    return gpus, cpus, slots


def shutdown() -> None:
    """Stop the Ray instance the engine started (or disconnect from the cluster it joined).
    A Ray session the user started with ``ray.init`` is left alone."""
    global _started_here
    if not _started_here:
        return
    ray = import_ray()
    if ray.is_initialized():
        ray.shutdown()
    _started_here = False

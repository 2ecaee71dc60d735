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

Modules: ``cluster`` (Ray itself: import with an install hint, start or join, resources,
shutdown), ``payload`` (how the task reaches the workers), ``groups`` (the trials of a group
and what a worker runs), ``engine`` (``RayEngine``: submit, stream back, retry).
"""

from __future__ import annotations

from .cluster import INSTALL_HINT, shutdown
from .engine import RayEngine
from .groups import make_groups
from .payload import load_task, task_import_ref

__all__ = ["INSTALL_HINT", "RayEngine", "load_task", "make_groups", "shutdown",
           "task_import_ref"]

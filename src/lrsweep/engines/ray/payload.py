"""How the task reaches the Ray workers: rebuilt there from an import path (its protocol
checked against the driver's), or the in-memory task pickled once into the object store.

A payload is ``("ref", path, kwargs, protocol or None, direction)`` or ``("object", [ref])``;
``make_payload`` builds it on the driver, ``worker_task`` turns it back into the task on a
worker (once per worker process).
"""

from __future__ import annotations

import importlib
import json
from collections import OrderedDict
from typing import Any

from ...errors import ConfigError, bad_arg
from ...task.objective import as_task
from .cluster import import_ray

_worker_tasks: OrderedDict[str, Any] = OrderedDict()  # per worker process: rebuilt tasks
_WORKER_CACHE_SIZE = 2


def resolve(path: str) -> Any:
    """The function an import path ``"package.module:function"`` names (``ConfigError``
    saying what to fix otherwise)."""
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
    built = resolve(path)(**kwargs)
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


# -------------------------------------------------------------------------- driver ----
def make_payload(ray: Any, task: Any, ref: tuple[str, dict[str, Any]] | None,
                 check_protocol: bool) -> tuple:
    """The payload for ``task``: rebuilt from ``ref`` (``(path, kwargs)``, or the path
    ``load_task`` recorded) with the driver's protocol to check against, else put into the
    object store."""
    ref = ref if ref is not None else task_import_ref(task)
    if ref is not None:
        protocol = _canonical(task.protocol()) if check_protocol else None
        return ("ref", ref[0], dict(ref[1]), protocol, task.direction)
    try:
        obj = ray.put(task)
    except Exception as e:  # pickling user code can fail in many ways
        raise ConfigError(
            f"task: {_unpicklable(task, e)} cannot be shipped to the Ray workers. "
            "Make the model, data and functions picklable, or build the task from an "
            "import path with lrsweep.engines.ray.load_task('pkg.mod:make_task').") from e
    return ("object", [obj])  # in a list, so Ray passes the reference, not the value


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


# -------------------------------------------------------------------------- worker ----
def worker_task(payload: tuple) -> tuple[Any, str | None]:
    """The task of a payload on this worker (built or fetched once per process), and an
    error if a rebuilt task does not match the driver's protocol."""
    ray = import_ray()
    if payload[0] == "object":
        key = "object:" + payload[1][0].hex()
    else:
        key = "ref:" + repr((payload[1], sorted(payload[2].items())))
    if key in _worker_tasks:
        _worker_tasks.move_to_end(key)
    elif payload[0] == "object":
        _worker_tasks[key] = (ray.get(payload[1][0]), None)
    else:
        task = as_task(resolve(payload[1])(**payload[2]), payload[4])
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

"""The task a command sweeps: ``--task`` (a built-in task or ``module:function``), the
overrides given as flags or in ``--config FILE``, and the name that carries them into the
default study name (``teacher-mlp-width64``: where ``lrsweep fit`` reads the scale)."""

from __future__ import annotations

import argparse
import importlib
import inspect
import os
import sys
from pathlib import Path
from typing import Any

from ..errors import ConfigError, LRSweepError, bad_arg, closest, user_error

# flag -> (type, help). Task overrides are passed to the task builder only when given.
TASK_OVERRIDES: dict[str, tuple[Any, str]] = {
    "width": (int, "hidden width of the built-in model"),
    "depth": (int, "number of hidden layers / transformer blocks"),
    "batch_size": (int, "training batch size"),
    "epochs": (float, "training budget in epochs (per trial)"),
    "steps": (int, "training budget in optimizer steps (instead of --epochs)"),
    "warmup_epochs": (float, "linear warmup length in epochs (reaches the full LR)"),
    "warmup_steps": (int, "linear warmup length in steps"),
    "schedule": (str, "LR schedule after warmup: constant, cosine or linear"),
    "device": (str, "cpu or cuda (default: cuda when available)"),
    "precision": (str, "fp32, bf16 or fp16"),
    "parametrization": (str, "sp (standard) or mup (built-in models; LR transfers across width)"),
    "base_width": (int, "muP base width (the width the LR was tuned at)"),
}


def apply_config(args: argparse.Namespace) -> None:
    """Fill options not given on the command line from ``--config FILE`` (TOML)."""
    if not getattr(args, "config", None):
        return
    path = Path(args.config)
    if not path.is_file():
        raise bad_arg("--config", str(path), "an existing TOML file", "Check the path.")
    if sys.version_info >= (3, 11):
        import tomllib
    else:  # pragma: no cover
        try:
            import tomli as tomllib
        except ImportError as e:
            raise LRSweepError("--config needs tomli on Python < 3.11: pip install tomli") from e
    try:
        data = tomllib.loads(path.read_text())
    except tomllib.TOMLDecodeError as e:
        raise bad_arg("--config", str(path), "valid TOML", f"Fix the file: {e}.") from e
    known = set(vars(args))
    for key, value in data.items():
        attr = key.replace("-", "_")
        if attr not in known or attr in ("config", "func", "command"):
            raise bad_arg("--config", f"{path}: {key}", f"keys among {sorted(_config_keys(args))}",
                          "Use the flag names (with - or _).")
        if getattr(args, attr) is None or getattr(args, attr) is False:
            setattr(args, attr, ",".join(map(str, value)) if isinstance(value, list) else value)


def _config_keys(args: argparse.Namespace) -> list[str]:
    return [k for k in vars(args) if k not in ("config", "func", "command", "default_out")]


def task_from_args(args: argparse.Namespace) -> tuple[Any, str]:
    """Build the task named by ``--task`` with the overrides that were given."""
    from ..examples import TASKS, get_task
    from ..task import Task

    apply_config(args)
    if not args.task:
        raise bad_arg("--task", None, f"one of {sorted(TASKS)} or package.module:function",
                      "Pass e.g. --task digits-mlp.")
    overrides = {k: getattr(args, k) for k in TASK_OVERRIDES if getattr(args, k, None) is not None}
    if args.task in TASKS:
        # the name carries the overrides ("teacher-mlp-width256"), so default study names
        # say which scale they hold (``lrsweep fit`` reads it from there)
        label = args.task + _label(overrides)
        try:
            task = get_task(args.task, **overrides)
        except ConfigError as e:  # a built-in task takes every override flag
            raise _as_flag(e, TASK_OVERRIDES) from e
        task.name = label
        # how to rebuild it: the Ray engine rebuilds the task on each worker from this
        task.import_ref = ("lrsweep.examples:get_task",
                           {"name": args.task, **overrides})
        return task, args.task
    if ":" not in args.task:
        near = closest(args.task, TASKS)
        raise bad_arg("--task", args.task, f"one of {sorted(TASKS)} or package.module:function",
                      f"Did you mean {near!r}?" if near else
                      "Name a built-in task, or point at a function that returns a Task.")
    mod_name, _, fn_name = args.task.partition(":")
    _cwd_on_path()
    try:
        module = importlib.import_module(mod_name)
    except ImportError as e:
        if getattr(e, "name", None) and e.name != mod_name and \
                not mod_name.startswith(e.name + "."):
            raise LRSweepError(f"--task {args.task}: importing {mod_name} failed: "
                               f"{user_error(e)}. Install what it "
                               "imports.") from e
        raise bad_arg("--task", args.task, "an importable module",
                      f"Could not import {mod_name!r} ({e}); run from the folder that holds "
                      f"{mod_name.split('.')[0]}.py (now {os.getcwd()}) or install it.") from e
    except Exception as e:  # the module itself raised while being imported
        raise LRSweepError(f"--task {args.task}: importing {mod_name} failed: "
                           f"{user_error(e)}") from e
    fn = getattr(module, fn_name, None)
    if not callable(fn):
        near = closest(fn_name, [n for n in dir(module) if not n.startswith("_")
                                 and callable(getattr(module, n))])
        raise bad_arg("--task", args.task, f"a function {fn_name!r} in {mod_name}",
                      f"Did you mean {mod_name}:{near}?" if near else
                      "Check the function name after the colon.")
    try:
        inspect.signature(fn).bind(**overrides)
    except TypeError as e:
        raise bad_arg("--task", args.task, f"a function accepting {sorted(overrides)}",
                      f"It refused the overrides ({e}); add **kwargs to it or drop the "
                      "flags.") from e
    except ValueError:  # no signature to inspect (a builtin): let the call say
        pass
    try:
        task = fn(**overrides)
    except LRSweepError as e:
        # lrsweep's own message (a Task argument, ...), with the flags that were passed
        raise _as_flag(e, overrides) from e
    except Exception as e:  # the user's code: its error and where it happened
        raise LRSweepError(f"--task {args.task}: {fn_name}() raised "
                           f"{user_error(e)}") from e
    if not isinstance(task, Task):
        raise bad_arg("--task", args.task, "a function returning lrsweep.Task",
                      f"It returned {type(task).__name__}.")
    task.import_ref = (args.task, overrides)
    # default study names say which scale they hold, as for the built-in tasks
    label = _label(overrides)
    if label:
        task.name = (task.name or fn_name) + label
    return task, fn_name


def _label(overrides: dict[str, Any]) -> str:
    """``-width64-epochs2``: the overrides in a default study name (``lrsweep fit`` reads the
    scale from it)."""
    return "".join(f"-{k}{v:g}" if isinstance(v, float) else f"-{k}{v}"
                   for k, v in overrides.items() if k != "device")


def _as_flag(e: LRSweepError, keys: Any) -> LRSweepError:
    """A Task argument's message in the CLI's words: the flags that set ``keys``
    (``--schedule='cosin': ...``, ``use --device cpu``, ``Pass --batch-size``)."""
    from .flags import as_flags

    names = {k: "--" + k.replace("_", "-") for k in keys if k in TASK_OVERRIDES}
    return type(e)(as_flags(str(e), names)) if isinstance(e, ConfigError) else \
        LRSweepError(as_flags(str(e), names))


def _cwd_on_path() -> None:
    """``python -m`` puts the current folder on ``sys.path``; the ``lrsweep`` console script
    does not. Put it there, so that ``--task mymod:make`` finds ``./mymod.py`` either way."""
    cwd = os.getcwd()
    if "" not in sys.path and cwd not in sys.path:
        sys.path.insert(0, cwd)

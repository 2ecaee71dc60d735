"""``lrsweep run``: one sweep over a log grid."""

from __future__ import annotations

import argparse
import time

from ..errors import bad_arg
from .common import (
    add_output_args,
    add_task_args,
    check_sweep_args,
    lr_range_from_args,
    out_dir,
    parse_seeds,
    resolve_store,
    study_dir,
    sweep_kwargs,
    task_from_args,
    write_outputs,
)
from .report import write_run_report


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser(
        "run", help="sweep a log grid of LRs on a task",
        description="Train one trial per (LR, seed) from the same initial weights and data "
                    "order, print the table and the best LR, and write sweep.json, sweep.csv, "
                    "sweep.png and report.html (one self-contained page) into OUT/STUDY/, "
                    "and OUT/report.html (the latest run's report). Finished trials are kept "
                    "in a SQLite store, so a rerun resumes.")
    add_task_args(p)
    p.add_argument("--num", type=int, default=None, help="number of LRs in the grid (default 10)")
    add_output_args(p)
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    from ..grid import log_grid
    from ..sweep import sweep

    t0 = time.perf_counter()
    task, name = task_from_args(args)
    lo, hi = lr_range_from_args(args, name)
    if args.num is not None and args.num < 2:
        raise bad_arg("--num", args.num, "at least 2 LRs", "Pass e.g. --num 10.")
    lrs = log_grid(lo, hi, args.num if args.num is not None else 10)
    check_sweep_args(args)
    folder = out_dir(args)
    result = sweep(task, lrs, seeds=parse_seeds(args.seeds), engine=args.engine or "auto",
                   store=resolve_store(args), study=args.study, **sweep_kwargs(args),
                   tensorboard=args.tensorboard)
    print(f"task {name}: {task}")
    total = len(result.trials)
    print(f"study {result.study!r} in {resolve_store(args)}"
          + (f" (resumed: {result.reused} of {total} trials reused)" if result.reused else ""))
    print(result.table())
    best = result.best()
    if best is None:
        print("no trial finished: every LR diverged or failed; lower --lr-max.")
    else:
        print(f"best lr: {best.lr:.4g}  ({result.metric_name} = {best.metric:.4f}, mean over "
              f"{len(best.seeds)} seed{'s' if len(best.seeds) > 1 else ''})")
        _print_optimum(result)
    for path in write_outputs(result, study_dir(folder, result.study), "sweep"):
        print(f"wrote {path}")
    for path in write_run_report(result, folder, store=resolve_store(args)):
        print(f"wrote {path}")
    if result.reused >= total:
        print(f"{result.reused} of {total} trials reused, nothing trained "
              f"({time.perf_counter() - t0:.1f} s)")
    else:
        # the driver's threads (a Ray sweep trains on its workers, with their own)
        threads = getattr(result, "threads", None) if result.engine != "ray" else None
        print(f"engine {result.engine}"
              + (f" ({threads} CPU thread{'s' * (threads != 1)})" if threads else "")
              + f", {total - result.reused} trials trained, {time.perf_counter() - t0:.1f} s")
    return 0


def _print_optimum(result: object) -> None:
    try:
        opt = result.optimum()  # type: ignore[attr-defined]
    except ImportError:
        return
    except Exception as e:  # the estimate is a bonus on top of the table
        print(f"optimum: not estimated ({e})")
        return
    print(f"optimum: {opt}")

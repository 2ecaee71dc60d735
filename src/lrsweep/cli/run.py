"""``lrsweep run``: one sweep over a log grid."""

from __future__ import annotations

import argparse
import time

from ..errors import bad_arg
from .answer import answer_lines, optimum_of, recipe_from_args, save_recipe, study_result
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
    write_outputs,
)
from .report import write_run_report
from .task_args import task_from_args


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
    from ..plan.grid import log_grid
    from ..sweep import sweep

    t0 = time.perf_counter()
    task, name = task_from_args(args)
    lo, hi = lr_range_from_args(args, name)
    if args.num is not None and args.num < 2:
        raise bad_arg("--num", args.num, "at least 2 LRs", "Pass e.g. --num 10.")
    lrs = log_grid(lo, hi, args.num if args.num is not None else 10)
    check_sweep_args(args)
    folder = out_dir(args)
    store = resolve_store(args)
    ran = sweep(task, lrs, seeds=parse_seeds(args.seeds), engine=args.engine or "auto",
                store=store, study=args.study, **sweep_kwargs(args),
                tensorboard=args.tensorboard)
    # the answer is over every trial of the study, whichever command ran them
    result = study_result(store, ran.study, ran)
    total = len(ran.trials)
    print(f"task {name}: {task}")
    print(f"study {result.study!r} in {store}"
          + (f" (resumed: {ran.reused} of {total} trials reused)" if ran.reused else ""))
    if len(result.trials) > total:
        print(f"the study holds {len(result.trials)} trials ({total} of this run's grid); "
              "the table and the answer are over all of them")
    print(result.table())
    opt, why = optimum_of(result)
    for line in answer_lines(result, opt, why=why):
        print(line)
    recipe = recipe_from_args(args, result.study, grid=(lo, hi, len(lrs)))
    files = study_dir(folder, result.study)
    for path in write_outputs(result, files, "sweep") + [save_recipe(files, recipe)]:
        print(f"wrote {path}")
    for path in write_run_report(result, folder, store=store, optimum=opt, recipe=recipe):
        print(f"wrote {path}")
    if ran.reused >= total:
        print(f"{ran.reused} of {total} trials reused, nothing trained "
              f"({time.perf_counter() - t0:.1f} s)")
    else:
        # the driver's threads (a Ray sweep trains on its workers, with their own)
        threads = getattr(result, "threads", None) if result.engine != "ray" else None
        print(f"engine {result.engine}"
              + (f" ({threads} CPU thread{'s' * (threads != 1)})" if threads else "")
              + f", {total - ran.reused} trials trained, {time.perf_counter() - t0:.1f} s")
    return 0

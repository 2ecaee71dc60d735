"""``lrsweep search``: rounds of sweeps until the optimum's interval is tight."""

from __future__ import annotations

import argparse
import json
import time
from dataclasses import replace

from .answer import answer_lines, recipe_from_args, save_recipe, study_result
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
)
from .report import write_run_report
from .task_args import task_from_args

# defaults applied after --config is read (a flag left at None can come from the file)
DEFAULTS = {"tolerance": 2**0.5, "max_rounds": 6, "refine_points": 4, "band_tol": 0.01,
            "max_trials": 48}


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser(
        "search", help="find the optimal LR by rounds of ever finer sweeps",
        description="Round one sweeps a coarse log grid; each later round adds LRs inside the "
                    "current interval of the optimum (or beyond the edge when the best LR sits "
                    "on one), reusing every earlier trial, until the interval's high/low is "
                    "within --tolerance. Prints each round and the optimum with its interval "
                    "and near-optimal band; writes sweep.json, sweep.csv, sweep.png (all "
                    "trials), search.json (the rounds) and report.html (self-contained) into "
                    "OUT/STUDY/, and OUT/report.html (the latest run's report).")
    add_task_args(p)
    g = p.add_argument_group("search")
    g.add_argument("--tolerance", type=float, default=None,
                   help="stop when the interval's high/low is at most this (default 2**0.5)")
    g.add_argument("--max-rounds", type=int, default=None, help="at most this many rounds (6)")
    g.add_argument("--max-trials", type=int, default=None,
                   help="at most this many new trials (LR x seed) in all (default 48)")
    g.add_argument("--max-steps", type=int, default=None,
                   help="at most this many trial-steps (optimizer steps summed over trials)")
    g.add_argument("--max-seeds", type=int, default=None,
                   help="at most this many seeds near the optimum (default: --seeds + 2)")
    g.add_argument("--points", type=int, default=None,
                   help="LRs in the first, coarse round (default: one per decade, >= 7)")
    g.add_argument("--refine-points", type=int, default=None, help="new LRs per refining round (4)")
    g.add_argument("--band-tol", type=float, default=None,
                   help="the band holds LRs within this relative tolerance of the best (0.01)")
    add_output_args(p)
    p.set_defaults(func=run_search)


def run_search(args: argparse.Namespace) -> int:
    from ..plot import plot_sweep, round_labels
    from ..plot.data import trial_rounds
    from ..search import search

    t0 = time.perf_counter()
    task, name = task_from_args(args)  # also fills options from --config
    for key, default in DEFAULTS.items():
        if getattr(args, key) is None:
            setattr(args, key, default)
    lo, hi = lr_range_from_args(args, name)
    check_sweep_args(args)
    folder = out_dir(args)
    print(f"task {name}: {task}")
    print(f"search over {lo:.3g}..{hi:.3g}, stopping at high/low <= {args.tolerance:.3g}")
    seeds = parse_seeds(args.seeds) if args.seeds is not None else 3  # search: 3 by default
    found = search(task, (lo, hi), seeds=seeds, tolerance=args.tolerance,
                   max_rounds=args.max_rounds, max_trials=args.max_trials,
                   max_steps=args.max_steps, max_seeds=args.max_seeds, points=args.points,
                   refine_points=args.refine_points, engine=args.engine or "auto",
                   store=resolve_store(args), study=args.study,
                   band_tol=args.band_tol, **sweep_kwargs(args),
                   tensorboard=args.tensorboard,
                   on_round=lambda r: print(r.summary(), flush=True))
    # the answer is over every trial of the study, whichever command ran them
    store = resolve_store(args)
    result = study_result(store, found.result.study, found.result)
    opt = found.optimum()
    if {t.key for t in result.trials} != {t.key for t in found.trials}:
        print(f"the study holds {len(result.trials)} trials ({len(found.trials)} run by this "
              "search); the table and the answer are over all of them")
        opt = replace(result.optimum(**found.options), converged=found.converged,
                      stopped=found.stopped)
    print(result.table())
    print(f"stopped after {len(found.rounds)} rounds, {len(found.trials)} trials, "
          f"{found.steps_used} trial-steps")
    for line in answer_lines(result, opt, stopped=found.stopped):
        print(line)
    settings = {"lr_min": lo, "lr_max": hi, **{k: getattr(args, k) for k in (
        "tolerance", "max_rounds", "max_trials", "max_steps", "max_seeds", "points",
        "refine_points", "band_tol")}}
    recipe = recipe_from_args(args, result.study, search=settings)
    # the files of `lrsweep run` (the plot with the rounds coloured) and the rounds
    folder = study_dir(folder, result.study)
    written = [result.to_json(folder / "sweep.json", overwrite=True),
               result.to_csv(folder / "sweep.csv", overwrite=True)]
    try:
        plot_sweep(result, folder / "sweep.png", optimum=opt,
                   rounds=trial_rounds(found.rounds), round_labels=round_labels(found))
        written.append(folder / "sweep.png")
    except ImportError as e:
        print(f"no plot written: {e}")
    path = folder / "search.json"
    record = found.to_dict()
    record["optimum"] = opt.to_dict()
    record["settings"] = settings
    path.write_text(json.dumps(record, indent=1, default=str))
    written += [path, save_recipe(folder, recipe)]
    written += write_run_report(result, out_dir(args), search=found, store=store,
                                optimum=opt, recipe=recipe)
    for p in written:
        print(f"wrote {p}")
    print(f"engine {found.result.engine}, {time.perf_counter() - t0:.1f} s")
    return 0

"""Issue 20's broad suite: ``lrsweep.search`` judged by its worst case per task.

The tasks (``benchmarks/suite/tasks.py``: MLPs, CNNs with and without BatchNorm, a small
transformer LM, GRUs; SGD with and without momentum, Adam, AdamW, RMSprop, Adagrad; constant
and warmup + cosine; loss and accuracy; flat and asymmetric tops, an optimum at the stability
edge with heavy-tailed seeds, a second dip, cliffs), their truths (41 log-spaced LRs x 20
seeds, seed-mean curve, parabola vertex, bootstrap-over-seeds standard error; committed in
``benchmarks/data/search_truths.json``) and the harness (``benchmarks/suite/harness.py``):
default ``search``, ``search(max_trials=20)``, Optuna TPE with 20 one-seed trials and the
10-point grid, 5 repetitions on disjoint seed sets (none of them the truth's).

    python benchmarks/suite_quality.py --truths [--tasks a,b]   # compute missing truths
    python benchmarks/suite_quality.py                          # harness, tuned-on tasks
    python benchmarks/suite_quality.py --held-out               # every task, held-out too
    python benchmarks/suite_quality.py --tasks bn-cnn --reps 2 --methods search
    python benchmarks/suite_quality.py --held-out --report c66b347c   # a saved run again

Every trial goes into an lrsweep store per task under ``--cache``; torch runs on
``--threads`` threads (default 1).
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from benchmarks.suite import ALL, HELD_OUT, TASKS  # noqa: E402
from benchmarks.suite import truths as T  # noqa: E402


def store_path(cache: str, name: str) -> str:
    return str(Path(cache) / f"{name}.db")


def run_truths(names: list[str], cache: str, recompute: bool, n_seeds: int) -> None:
    have = T.load()
    print(f"{'task':>18} {'lr':>9} {'se oct':>6} {'metric':>9} {'seed opt med/p90 oct':>20} "
          f"{'time':>6}")
    for name in names:
        if name in have and not recompute and have[name].n_seeds >= n_seeds:
            tr = have[name]
            dt = 0.0
        else:
            t0 = time.perf_counter()
            tr = T.compute(ALL[name], store_path(cache, name), n_seeds)
            dt = time.perf_counter() - t0
            T.save({name: tr})
        so = tr.seed_octaves
        print(f"{name + (' (held out)' if tr.held_out else ''):>18} {tr.lr:>9.3g} {tr.se:>6.3f} "
              f"{tr.metric:>9.4g} {so['median']:>9.2f}/{so['p90']:<10.2f} {dt:>5.0f}s",
              flush=True)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--tasks", default=None, help="comma-separated task names (default: the "
                    "tuned-on tasks; with --held-out every task)")
    ap.add_argument("--held-out", action="store_true", help="include the held-out tasks")
    ap.add_argument("--truths", action="store_true", help="compute the missing truths only")
    ap.add_argument("--recompute", action="store_true", help="with --truths: recompute all")
    ap.add_argument("--truth-seeds", type=int, default=T.TRUTH_SEEDS)
    ap.add_argument("--reps", type=int, default=5)
    ap.add_argument("--methods", default=None, help="comma-separated method keys "
                    "(default: all; see benchmarks/suite/harness.py METHODS)")
    ap.add_argument("--report", default=None, metavar="LABEL",
                    help="print the report of a saved run (its search-code label)")
    ap.add_argument("--threads", type=int, default=1)
    ap.add_argument("--cache", default="/tmp/lrsweep-bench/suite",
                    help="folder of the lrsweep stores (one per task); reruns reuse them")
    args = ap.parse_args()
    import torch

    torch.set_num_threads(args.threads)
    Path(args.cache).mkdir(parents=True, exist_ok=True)
    if args.tasks:
        names = [s for s in args.tasks.split(",") if s]
        bad = [s for s in names if s not in ALL]
        if bad:
            ap.error(f"--tasks: unknown {bad}; known: {sorted(ALL)}")
    else:
        names = list(TASKS) + (list(HELD_OUT) if args.held_out or args.truths else [])
    t0 = time.perf_counter()
    print(f"torch threads: {torch.get_num_threads()}; stores under {args.cache}")
    if args.truths:
        run_truths(names, args.cache, args.recompute, args.truth_seeds)
    elif args.report:
        from benchmarks.suite import harness

        harness.report_saved(args.report, names, args.cache)
    else:
        from benchmarks.suite import harness

        methods = args.methods.split(",") if args.methods else None
        harness.run(names, args.cache, args.reps, methods)
    print(f"total {time.perf_counter() - t0:.0f} s")


if __name__ == "__main__":
    main()

"""How often an honest 90% interval *can* say "converged" with 5 seeds (issue 20's
convergence target): each suite task's truth grid (41 LRs x 20 seeds) cut into random
5-seed subsets, every LR kept (four times the default search's 48 trials, and no
LR-resolution error at all).

For each task it prints:

- ``spread``: the width (octaves) of the middle 90% of the 5-seed seed-mean optimum over the
  subsets (``truths.estimate``, the truth's own vertex rule), scaled by sqrt(19/15) for
  drawing 5 of 20 seeds without replacement. An interval that holds the seed-mean optimum
  90% of the time, around an estimate made from 5 seeds, is that wide on average, whatever
  estimator makes it. ``tight?``: that width is at most the default tolerance (x1.41, 0.5
  octave), so a tight stop is possible without giving up coverage.
- ``regret``: the truth curve's worst regret over that spread around the truth (relative
  for a loss, points for accuracy). ``flat?``: it is within the suite's tolerance (0.5%,
  0.5 points), so a flat-top stop is possible: the issue's ``band_tol / 2``.
- ``seeds``: how many seeds a tight stop would need (the spread falls as 1/sqrt(seeds)).
- ``ok``: how often the 5-seed optimum itself is within the suite's tolerance of the truth
  (|log2| <= 0.3 or regret <= 0.5%, 0.5 points), its deviations scaled as the spread is;
  ``ok x5``: that to the fifth, the chance that 5 runs all are (the suite's "on every run").
- ``dense``: ``estimate_optimum`` itself on the 41 x 5 subset, ``--fits`` subsets: how
  often its interval is tight or flat, and how often it holds the truth.

    python benchmarks/convergence_floor.py [--tasks a,b] [--subsets 400] [--fits 40]

The grids (41 x 20 trials a task) are trained into stores under ``--cache`` the first time
(about 40 min on one thread for the 20 tasks) and read from there after (about 1 min);
torch runs on ``--threads`` threads (default 1).
"""

from __future__ import annotations

import argparse
import logging
import math
import sys
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from benchmarks.suite import ALL  # noqa: E402
from benchmarks.suite import truths as T  # noqa: E402
from benchmarks.suite.harness import TOL_OCT, TOL_POINTS, TOL_REGRET  # noqa: E402

N_SEEDS = 5
TOLERANCE_OCT = 0.5  # search(tolerance=2**0.5): high / low at most x1.41


def _grid(name: str, cache: str, n_seeds: int):
    """The task, its truth and its grid's trials ``{(lr, seed): TrialResult}``: the truth's
    41 LRs x seeds ``0..n_seeds-1``, trained into (or read from) a store under ``cache``."""
    import lrsweep

    spec, tr = ALL[name], T.load()[name]
    task = spec.build()
    seeds = list(range(min(n_seeds, tr.n_seeds)))
    res = lrsweep.sweep(task, tr.lrs, seeds=seeds, store=str(Path(cache) / f"{name}.db"),
                        study="truth-grid", progress=False, threads=None)
    return task, tr, {(t.lr, t.seed): t for t in res.trials}, seeds


def floor(name: str, cache: str, n_seeds: int, subsets: int, fits: int,
          rng: np.random.Generator) -> dict[str, float]:
    from lrsweep.analysis.estimate import optimum_from_trials

    task, tr, by, seeds = _grid(name, cache, n_seeds)
    M = np.array([[by[(lr, s)].metric if by[(lr, s)].ok and by[(lr, s)].metric is not None
                   else math.nan for s in seeds] for lr in tr.lrs], dtype=float)
    M[~np.isfinite(M)] = math.nan
    x = np.log10(tr.lrs)
    sign = 1.0 if task.direction == "max" else -1.0
    x_truth = math.log10(tr.lr)
    draws = [rng.choice(len(seeds), N_SEEDS, replace=False) for _ in range(subsets)]
    d = np.array([(T.estimate(M[:, c], x, sign)[0] - x_truth) / math.log10(2)
                  for c in draws])
    d = d[np.isfinite(d)]
    fpc = math.sqrt((len(seeds) - 1) / (len(seeds) - N_SEEDS))
    q05, q50, q95 = np.quantile(d, [0.05, 0.5, 0.95])
    width = float((q95 - q05) * fpc)
    lo = x_truth - (q50 - q05) * fpc * math.log10(2)
    hi = x_truth + (q95 - q50) * fpc * math.log10(2)
    probe = 10 ** np.linspace(lo, hi, 41)
    regret = max(tr.regret(float(v)) for v in probe)
    tol = TOL_POINTS if tr.accuracy else TOL_REGRET
    # the suite's "within tolerance" for the 5-seed optimum itself (deviations scaled as
    # the spread is): the best any estimator of 5 seeds' mean can expect, on a dense grid
    ok = float(np.mean([abs(v) * fpc <= TOL_OCT
                        or tr.regret(10 ** (x_truth + v * fpc * math.log10(2))) <= tol
                        for v in d]))

    conv = holds = 0
    for c in draws[:fits]:
        ss = [seeds[i] for i in c]
        opt = optimum_from_trials([by[(lr, s)] for lr in tr.lrs for s in ss],
                                  task.direction, metric_name=task.metric_name)
        conv += bool(opt.ratio <= 2**TOLERANCE_OCT * (1 + 1e-9) or opt.flat)
        holds += bool((opt.low or 0) <= tr.lr <= (opt.high or math.inf))
    return {"width": width, "regret": regret, "tol": tol, "accuracy": tr.accuracy, "ok": ok,
            "seeds": N_SEEDS * (width / TOLERANCE_OCT) ** 2,
            "conv": conv / max(fits, 1), "holds": holds / max(fits, 1)}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--tasks", default=None, help="comma-separated task names (default all)")
    ap.add_argument("--subsets", type=int, default=400)
    ap.add_argument("--fits", type=int, default=40)
    ap.add_argument("--seeds", type=int, default=20, help="the grid's seeds (0..N-1)")
    ap.add_argument("--threads", type=int, default=1)
    ap.add_argument("--cache", default="/tmp/lrsweep-bench/floor")
    args = ap.parse_args()
    import torch

    torch.set_num_threads(args.threads)
    logging.getLogger("lrsweep").setLevel(logging.ERROR)
    names = args.tasks.split(",") if args.tasks else list(ALL)
    unknown = [n for n in names if n not in ALL]
    if unknown:
        raise SystemExit(f"--tasks: unknown task(s) {', '.join(unknown)}; "
                         f"use some of: {', '.join(ALL)}")
    rng = np.random.default_rng(0)
    print(f"{N_SEEDS} of 20 truth seeds, every one of the 41 LRs; spread: middle 90% of the "
          f"{N_SEEDS}-seed optimum (octaves); tolerance {TOLERANCE_OCT} octave (x1.41)")
    print(f"{'task':>22} {'spread':>7} {'tight?':>6} {'regret':>8} {'flat?':>5} "
          f"{'seeds':>6} {'ok':>5} {'ok x5':>6} {'dense conv':>10} {'holds':>6}")
    feasible, every = 0, 0.0
    for name in names:
        r = floor(name, args.cache, args.seeds, args.subsets, args.fits, rng)
        tight = r["width"] <= TOLERANCE_OCT
        flat = r["regret"] <= r["tol"]
        feasible += tight or flat
        every += r["ok"] ** 5
        unit = "pt" if r["accuracy"] else "%"
        reg = r["regret"] if r["accuracy"] else 100 * r["regret"]
        label = name + (" (H)" if ALL[name].held_out else "")
        print(f"{label:>22} {r['width']:>7.2f} {'yes' if tight else 'no':>6} "
              f"{reg:>6.2f}{unit:<2} {'yes' if flat else 'no':>5} {r['seeds']:>6.0f} "
              f"{r['ok']:>5.0%} {r['ok'] ** 5:>6.0%} "
              f"{r['conv']:>10.0%} {r['holds']:>6.0%}", flush=True)
    print(f"an honest stop (tight or flat) is within reach on {feasible} of {len(names)} "
          f"tasks with {N_SEEDS} seeds, whatever the LR budget; expected tasks with all 5 "
          f"runs within tolerance, for the {N_SEEDS}-seed optimum itself: {every:.1f}")


if __name__ == "__main__":
    main()

"""How well does ``lrsweep.search`` find the optimal LR, and how honest is its interval?

Two parts, one table each:

1. Synthetic response curves with a known optimum (``--n`` random instances): a smooth,
   asymmetric well in log-LR (a falling plus a rising exponential, steepness drawn per
   side), as a loss (minimize) or turned into a saturating accuracy (maximize) of random
   width and depth; every trial above a random LR (0.5-1.5 decades above the optimum)
   diverges. Noise: a per-seed offset (the whole curve moves, as a shared data order does)
   plus independent noise per (lr, seed) with a standard deviation of 0.5%-5% (log-uniform)
   of how much the metric changes one decade from the optimum. The optimum falls at a
   random offset from the first round's grid (1e-6..1, 7 points). Reported: the median and
   90th percentile of |log2(found / true)|, how often the 90% interval contains the truth,
   the trials used and the median interval width (log2(high / low)); with 3 seeds (the
   targets) and with 1.
2. The built-in tasks (``lrsweep.examples``), with small budgets and the validation loss as
   the metric: the "truth" is the optimum of a dense grid (``--dense`` LRs x 3 seeds);
   ``search`` runs with the same 3 seeds (the same data orders, so it estimates the same
   quantity) under a trial budget of 35% of the dense grid's, and, for comparison, with one
   seed. Reported: |log2(search / dense)| and the trial-steps search used as a fraction of
   the dense grid's.

    python benchmarks/search_quality.py --quick      # 100 curves, small task budgets
    python benchmarks/search_quality.py              # 200 curves, larger task budgets
    python benchmarks/search_quality.py --skip-tasks --n 400
    python benchmarks/search_quality.py --skip-synthetic --tasks digits-mlp

Nothing is cached or written: every run trains from scratch.
"""

from __future__ import annotations

import argparse
import math
import time
import zlib

import numpy as np

import lrsweep
from lrsweep.search import search

LR_RANGE = (1e-6, 1.0)


# ------------------------------------------------------------------------ synthetic ----
class Instance:
    """One random response curve f(x), x = log10(lr), with its known optimum."""

    def __init__(self, i: int, rng: np.random.Generator) -> None:
        self.i = i
        self.kind = "acc" if rng.random() < 0.5 else "loss"
        self.direction = "max" if self.kind == "acc" else "min"
        self.x_true = float(rng.uniform(-4.5, -1.5))
        # a smooth asymmetric well in d = x - x_true, zero with unit curvature at d = 0:
        # L(d) = (k2 exp(-k1 d) + k1 exp(k2 d) - k1 - k2) / (k1 k2 (k1 + k2)); k1 != k2
        # makes one side steeper (loss against log-LR rises roughly exponentially on both)
        self.k1 = float(rng.uniform(0.8, 3.0))
        self.k2 = float(rng.uniform(0.8, 3.0))
        if self.kind == "acc":
            self.top = float(rng.uniform(0.6, 0.98))
            self.depth = float(rng.uniform(0.2, 0.5))
            self.width = float(rng.uniform(0.5, 1.2))  # decades
        else:
            self.floor = float(rng.uniform(0.05, 1.0))
            self.amp = float(rng.uniform(0.05, 0.3))
        self.x_div = self.x_true + float(rng.uniform(0.5, 1.5))
        decade = 0.5 * (abs(self.f(self.x_true - 1) - self.f(self.x_true))
                        + abs(self.f(min(self.x_true + 1, self.x_div - 1e-9))
                              - self.f(self.x_true)))
        self.eta = float(np.exp(rng.uniform(math.log(0.005), math.log(0.05))))
        self.noise = self.eta * decade
        self.seed_sd = 3 * self.noise

    def well(self, d: float) -> float:
        k1, k2 = self.k1, self.k2
        return (k2 * math.exp(-k1 * d) + k1 * math.exp(k2 * d) - k1 - k2) / (k1 * k2 * (k1 + k2))

    def f(self, x: float) -> float:
        d = x - self.x_true
        if self.kind == "acc":  # saturates at top - depth far from the optimum
            return self.top - self.depth * (1 - math.exp(-self.well(d) / self.width**2))
        return self.floor + self.amp * self.well(d)

    def objective(self, trial: lrsweep.Trial) -> float:
        x = math.log10(trial.lr)
        if x >= self.x_div:
            return math.nan  # diverged
        key = zlib.crc32(f"{self.i}:{trial.lr!r}:{trial.seed}".encode())
        eps = np.random.default_rng(key).standard_normal()
        offset = np.random.default_rng([self.i, trial.seed]).standard_normal()
        return self.f(x) + self.seed_sd * offset + self.noise * eps


def run_synthetic(n: int, seeds: tuple[int, ...], max_rounds: int, seed: int = 0
                  ) -> dict[str, float]:
    rng = np.random.default_rng(seed)
    errs, covered, trials, widths = [], [], [], []
    for i in range(n):
        inst = Instance(i, rng)
        found = search(inst.objective, LR_RANGE, seeds=seeds, direction=inst.direction,
                       engine="sequential", max_rounds=max_rounds)
        opt = found.optimum()
        if opt.lr is None:
            errs.append(math.inf)
            covered.append(False)
            continue
        errs.append(abs(math.log2(opt.lr) - inst.x_true * math.log2(10)))
        covered.append(opt.low <= 10**inst.x_true <= opt.high)
        trials.append(len(found.trials))
        widths.append(math.log2(opt.ratio))
    e = np.asarray(errs)
    return {"n": n, "median": float(np.median(e)), "p90": float(np.quantile(e, 0.9)),
            "coverage": float(np.mean(covered)), "trials": float(np.mean(trials)),
            "width": float(np.median(widths))}


# ---------------------------------------------------------------------- built-in tasks ----
# small budgets (the dense grid trains 40 x 3 trials per task on shared CPU cores); every
# built-in task with its validation loss as the metric (smoother than accuracy on a few
# hundred examples)
TASK_BUDGETS = {
    "full": {"digits-mlp": dict(steps=120, metric="loss"),
             "teacher-mlp": dict(steps=120, metric="loss"),
             "stdlib-gpt": dict(steps=100)},
    "quick": {"digits-mlp": dict(steps=60, width=64, metric="loss"),
              "teacher-mlp": dict(steps=60, width=64, metric="loss"),
              "stdlib-gpt": dict(steps=40, width=32, context=32, n_train=2048)},
}


def run_task(name: str, overrides: dict, dense_points: int, engine: str) -> list[dict]:
    """Dense grid (3 seeds) on one task, then ``search`` two ways: with the same 3 seeds
    and a trial budget of 35% of the dense grid's (in full-length trials), and with one
    seed and its defaults. Returns one row per search."""
    from lrsweep.examples import default_lr_range, get_task

    task = get_task(name, **overrides)
    lo, hi = default_lr_range(name)
    t0 = time.perf_counter()
    dense = lrsweep.sweep(task, lrsweep.log_grid(lo, hi, dense_points), seeds=(0, 1, 2),
                          engine=engine)
    t_dense = time.perf_counter() - t0
    truth = dense.optimum()
    dense_steps = sum(t.steps for t in dense.trials)
    budget = int(0.35 * dense_steps / task.steps)
    variants = [("3 seeds, budget", dict(seeds=(0, 1, 2), points=6, refine_points=3,
                                         max_trials=budget)),
                ("1 seed", dict(seeds=(0,)))]
    rows = []
    for label, options in variants:
        t0 = time.perf_counter()
        found = search(task, (lo, hi), engine=engine, **options)
        opt = found.optimum()
        rows.append({
            "task": name, "search": label, "metric": dense.metric_name,
            "dense_lr": truth.lr, "dense_low": truth.low, "dense_high": truth.high,
            "search_lr": opt.lr, "search_low": opt.low, "search_high": opt.high,
            "log2": abs(math.log2(opt.lr / truth.lr)) if opt.lr and truth.lr else math.inf,
            "trials": len(found.trials), "dense_trials": len(dense.trials),
            "steps_frac": found.steps_used / dense_steps, "rounds": len(found.rounds),
            "stopped": found.stopped, "t_dense": t_dense,
            "t_search": time.perf_counter() - t0})
    return rows


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--n", type=int, default=None,
                    help="synthetic instances (default 200; 100 with --quick)")
    ap.add_argument("--quick", action="store_true", help="small budgets everywhere")
    ap.add_argument("--skip-synthetic", action="store_true")
    ap.add_argument("--skip-tasks", action="store_true")
    ap.add_argument("--max-rounds", type=int, default=6)
    ap.add_argument("--tasks", default="digits-mlp,teacher-mlp,stdlib-gpt")
    ap.add_argument("--dense", type=int, default=40, help="LRs of the dense grid (x 3 seeds)")
    ap.add_argument("--engine", default="auto")
    args = ap.parse_args()
    if args.n is None:
        args.n = 100 if args.quick else 200
    if not args.skip_synthetic:
        rows = []
        for seeds in ((0, 1, 2), (0,)):
            t0 = time.perf_counter()
            r = run_synthetic(args.n, seeds, args.max_rounds)
            r["seeds"] = len(seeds)
            r["time"] = time.perf_counter() - t0
            rows.append(r)
        print("synthetic curves (|log2(found/true)|; coverage of the 90% interval)")
        print(f"{'seeds':>5} {'n':>5} {'median':>8} {'p90':>8} {'coverage':>9} "
              f"{'trials':>7} {'width':>7} {'time s':>7}")
        for r in rows:
            print(f"{r['seeds']:>5} {r['n']:>5} {r['median']:>8.3f} {r['p90']:>8.3f} "
                  f"{r['coverage']:>9.1%} {r['trials']:>7.1f} {r['width']:>7.3f} "
                  f"{r['time']:>7.1f}")
    if not args.skip_tasks:
        import torch

        torch.manual_seed(0)
        budgets = TASK_BUDGETS["quick" if args.quick else "full"]
        rows = []
        for name in args.tasks.split(","):
            for r in run_task(name, budgets[name], args.dense, args.engine):
                rows.append(r)
                print(f"  {r}", flush=True)
        print(f"built-in tasks (dense grid: {args.dense} LRs x 3 seeds, the truth is its "
              f"optimum; {'quick' if args.quick else 'full'} budgets)")
        print(f"{'task':>12} {'search':>16} {'dense lr':>9} {'(interval)':>17} "
              f"{'search lr':>9} {'|log2|':>7} {'trials':>8} {'steps frac':>10} "
              f"{'rounds':>6}")
        for r in rows:
            iv = f"{r['dense_low']:.3g}..{r['dense_high']:.3g}"
            print(f"{r['task']:>12} {r['search']:>16} {r['dense_lr']:>9.3g} {iv:>17} "
                  f"{r['search_lr']:>9.3g} {r['log2']:>7.3f} "
                  f"{r['trials']:>3}/{r['dense_trials']:<4} {r['steps_frac']:>10.1%} "
                  f"{r['rounds']:>6}")

if __name__ == "__main__":
    main()

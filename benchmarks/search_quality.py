"""How well does ``lrsweep.search`` find the optimal LR, and how honest is its interval?

Two parts, one table each:

1. Synthetic response curves with a known optimum (``--n`` random instances): a smooth,
   asymmetric well in log-LR (a falling plus a rising exponential, steepness drawn per side),
   as a loss (minimize) or turned into a saturating accuracy (maximize) of random width and
   depth; every trial above a random LR (0.5-1.5 decades above the optimum) diverges. Noise: a per-seed offset (the whole
   curve moves, as a shared data order does) plus independent noise per (lr, seed), its
   scale drawn log-uniformly relative to how much the metric changes one decade from the
   optimum. The optimum falls at a random offset from the first round's grid. Reported: the
   median and 90th percentile of |log2(found / true)|, and how often the 90% interval
   contains the truth.
2. The built-in tasks (``lrsweep.examples``), with small budgets: the "truth" is the optimum
   of a dense grid (``--dense`` LRs x 3 seeds); reported: |log2(search / dense)| and the
   trial-steps search used as a fraction of the dense grid's.

    python benchmarks/search_quality.py --quick          # a few minutes on 2 CPU cores
    python benchmarks/search_quality.py --n 400          # the synthetic part only, larger
    python benchmarks/search_quality.py --skip-synthetic --tasks digits-mlp
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


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--n", type=int, default=200, help="synthetic instances")
    ap.add_argument("--quick", action="store_true", help="small budgets everywhere")
    ap.add_argument("--skip-synthetic", action="store_true")
    ap.add_argument("--skip-tasks", action="store_true")
    ap.add_argument("--max-rounds", type=int, default=6)
    args = ap.parse_args()
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


if __name__ == "__main__":
    main()

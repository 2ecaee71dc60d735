"""How good are fitted LR laws on real runs (issue 20, item 4)? ``fit_law`` judged by
leave-one-out and by predicting the largest scale from the smaller ones: the error of the
prediction against the measured optimum, and whether its 90% interval holds it.

Laws:

- **MoE (Na, D)**: the Step Law MoE grid (``data/steplaw-moe/``, real LLM pretraining runs,
  one seed): ``lr* = c Na^a D^b`` over the 16 (active parameters, tokens) configurations,
  each at its loss-optimal batch size.
- **MoE (Na, D, B)**: the same with the batch size as a third axis, every (configuration,
  batch) cell (about 75 optima); leave-one-out leaves a whole configuration out.
- **built-in batch / width scans** (``lr_batch_grids.py``, 3 seeds; digits-adam 8):
  ``lr* = c B^b`` per task and ``lr* = c width^b`` (teacher-mlp, standard
  parametrisation); once with the every-seed optima
  (their intervals measure the noise) and once with seed 0 alone (one-seed optima).

Every optimum is lrsweep's own estimate (``SweepResult.optimum()``); cells whose interval is
open (optimum at the edge of the LRs tried) are left out. Compared with plain least squares
on the same optima (its median error; its t interval), and with a law whose interval is
built from the per-point one-seed intervals as if they were the optima's noise (weighted
least squares, the line's interval: what ``fit_law`` did before).

    python benchmarks/law_quality.py
"""

from __future__ import annotations

import logging
import math
import time

import lr_batch_grids
import numpy as np
from real_grids import BUILTIN_BATCH, BUILTIN_WIDTH, builtin_cells, by_config, moe_cells

from lrsweep.stats import t_quantile
from lrsweep.transfer import fit_law
from lrsweep.transfer._inputs import as_point

Z90 = 1.6448536269514722


def closed(o) -> bool:
    return o.low is not None and o.high is not None


def moe_points(with_batch: bool):
    pts = []
    for cfg, cs in by_config(moe_cells()).items():
        chosen = cs if with_batch else [cs[int(np.argmin([c.best_loss() for c in cs]))]]
        for c in chosen:
            o = c.optimum()
            if not closed(o):
                continue
            x = {"Na": c.features["Na"], "D": c.features["D"]}
            if with_batch:
                x["B"] = float(c.scale)
            pts.append((cfg, x, o))
    return pts


def scan_points(name: str, seeds=None):
    pts = []
    for c in builtin_cells(name):
        o = c.optimum(seeds)
        if closed(o):
            pts.append(((c.scale,), {"x": float(c.scale)}, o))
    return pts


def ols(train, test_x):
    """Plain least squares on log lr*: prediction and its t interval for a new optimum."""
    axes = list(train[0][1])
    X = np.array([[1.0] + [math.log(x[a]) for a in axes] for _, x, _ in train])
    y = np.log([o.lr for _, _, o in train])
    b, *_ = np.linalg.lstsq(X, y, rcond=None)
    n, p = X.shape
    s2 = float(np.sum((y - X @ b) ** 2) / (n - p))
    x0 = np.array([1.0] + [math.log(test_x[a]) for a in axes])
    h = float(x0 @ np.linalg.inv(X.T @ X) @ x0)
    half = t_quantile(0.95, n - p) * math.sqrt(s2 * (1 + h))
    m = float(x0 @ b)
    return math.exp(m), math.exp(m - half), math.exp(m + half)


def as_noise(train, test_x):
    """The per-point intervals taken as the optima's noise: WLS with Paule-Mandel extra
    scatter, and the interval of the line itself (the fit_law before this change)."""
    axes = list(train[0][1])
    X = np.array([[1.0] + [math.log(x[a]) for a in axes] for _, x, _ in train])
    y = np.log([o.lr for _, _, o in train])
    sig = np.array([as_point(o, warn=False).log_sigma for _, _, o in train])
    from lrsweep.transfer.laws import _paule_mandel

    tau2 = _paule_mandel(X, y, sig**2, X.shape[0] - X.shape[1])
    w = 1 / (sig**2 + tau2)
    cov = np.linalg.inv(X.T @ (w[:, None] * X))
    b = cov @ (X.T @ (w * y))
    x0 = np.array([1.0] + [math.log(test_x[a]) for a in axes])
    half = Z90 * math.sqrt(float(x0 @ cov @ x0))
    m = float(x0 @ b)
    return math.exp(m), math.exp(m - half), math.exp(m + half)


def evaluate(pts, protocol):
    """Per prediction: (fit_law err, inside, width), (OLS err, inside), (as-noise inside)."""
    axes = tuple(pts[0][1])
    keys = [k for k, _, _ in pts]
    if protocol == "leave-one-out":
        splits = [([p for p in pts if p[0] != k], [p for p in pts if p[0] == k])
                  for k in dict.fromkeys(keys)]
    else:  # the largest scale of the last axis from the smaller ones
        last = axes[-1] if axes != ("Na", "D", "B") else "D"
        top = max(x[last] for _, x, _ in pts)
        splits = [([p for p in pts if p[1][last] < top], [p for p in pts if p[1][last] == top])]
    out = []
    for train, test in splits:
        law = fit_law([(tuple(x[a] for a in axes), o) for _, x, o in train], x=axes)
        for _, x, o in test:
            p = law.predict(x)
            q = ols(train, x)
            r = as_noise(train, x)
            out.append(dict(err=abs(math.log2(p.lr / o.lr)), inside=p.low <= o.lr <= p.high,
                            width=p.high / p.low, ols_err=abs(math.log2(q[0] / o.lr)),
                            ols_inside=q[1] <= o.lr <= q[2], old_inside=r[1] <= o.lr <= r[2],
                            old_width=r[2] / r[1], mode=law.mode))
    return out


def main() -> None:
    logging.getLogger("lrsweep").setLevel(logging.ERROR)
    t0 = time.perf_counter()
    laws = [("MoE (Na, D), loss-optimal batch", moe_points(False)),
            ("MoE (Na, D, B), every batch", moe_points(True))]
    for name in BUILTIN_BATCH + BUILTIN_WIDTH:
        try:
            n = len(lr_batch_grids.load(name)["seeds"])
            laws.append((f"{name}, {n} seeds", scan_points(name)))
            laws.append((f"{name}, seed 0", scan_points(name, seeds=(0,))))
        except SystemExit as e:
            print(f"(skipped: {e})")
    head = ("law", "optima", "protocol", "preds", "fit_law mode", "median err", "OLS median",
            "90% holds", "median width", "OLS t holds", "as-noise holds (width)")
    rows = [head]
    for title, pts in laws:
        for protocol in ("leave-one-out", "predict the largest"):
            res = evaluate(pts, protocol)
            rows.append((title, str(len(pts)), protocol, str(len(res)), res[0]["mode"],
                         f"{np.median([r['err'] for r in res]):.3f}",
                         f"{np.median([r['ols_err'] for r in res]):.3f}",
                         f"{sum(r['inside'] for r in res)}/{len(res)}",
                         f"x{np.median([r['width'] for r in res]):.2f}",
                         f"{sum(r['ols_inside'] for r in res)}/{len(res)}",
                         f"{sum(r['old_inside'] for r in res)}/{len(res)} "
                         f"(x{np.median([r['old_width'] for r in res]):.2f})"))
    w = [max(len(r[i]) for r in rows) for i in range(len(head))]
    for i, r in enumerate(rows):
        print("  ".join(c.ljust(x) for c, x in zip(r, w)).rstrip())
        if i == 0:
            print("-" * (sum(w) + 2 * (len(w) - 1)))
    print(f"\nerrors in octaves (|log2 predicted / measured|); {time.perf_counter() - t0:.0f} s")


if __name__ == "__main__":
    main()

"""Truths: for each task a dense grid of 41 log-spaced LRs x ``TRUTH_SEEDS`` seeds, the
optimum of the seed-mean curve (the parabola in log10(LR) through its best point and two
neighbours each side) and its standard error (a bootstrap over whole seeds).

An LR where any seed diverged is not a candidate (its expected metric is unbounded); a seed
that blew up without diverging counts in the mean (that is what the user gets on average).
The committed JSON (``TRUTHS_PATH``) holds, per task: the LR, its standard error (octaves),
the metric at the optimum, the direction, the dense curve (raw and smoothed seed-mean, each
LR's seed median, sd and number of finished seeds) and the trial-steps of the 41 x 5 grid
(the unit of the budget target)."""

from __future__ import annotations

import json
import math
import warnings
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

import numpy as np

import lrsweep

DENSE_LRS = 41
TRUTH_SEEDS = 20  # seeds 0..19; the searches use other seeds (``harness.rep_seeds``)
BUDGET_SEEDS = 5  # the budget's unit: a 41 x 5 dense grid
BOOT = 500
TRUTHS_PATH = Path(__file__).resolve().parents[1] / "data" / "search_truths.json"


@dataclass
class Truth:
    task: str
    lr: float
    se: float  # octaves: sd of log2(lr) over bootstrap resamples of the seeds
    metric: float  # the seed-mean curve at the optimum (its parabola)
    direction: str  # "min" or "max"
    metric_name: str
    lr_range: tuple[float, float]
    n_seeds: int
    held_out: bool
    lrs: list[float]
    mean: list[float | None]  # None: a seed diverged there
    smooth: list[float | None]
    median: list[float | None]
    sd: list[float | None]
    n_ok: list[int]
    seed_octaves: dict[str, float]  # each seed's own optimum vs the seed-mean one
    dense_steps: int  # trial-steps of the 41 LRs x seeds 0..4
    steps: int  # one trial's budget

    @property
    def accuracy(self) -> bool:
        return self.metric_name == "accuracy"

    def log2_error(self, lr: float | None) -> float:
        return math.inf if not lr else abs(math.log2(lr / self.lr))

    def curve(self, lr: Any) -> np.ndarray:
        """The smoothed seed-mean curve (``sign`` applied: higher is better) at ``lr``: the
        parabola through the better of the two grid points around each LR and its two
        neighbours (linear where one of them has a diverged seed: those score as the worst
        point, as do LRs off the grid)."""
        sign = 1.0 if self.direction == "max" else -1.0
        u = np.array([np.nan if v is None else sign * v for v in self.smooth])
        bad = np.isnan(u)
        worst = np.nanmin(u)
        u = np.where(bad, worst, u)
        x = np.log10(self.lrs)
        q = np.log10(np.atleast_1d(np.asarray(lr, dtype=float)))
        out = np.interp(q, x, u, left=worst, right=worst)
        a = np.clip(np.floor((q - x[0]) / (x[1] - x[0])).astype(int), 0, len(x) - 2)
        j = np.clip(np.where(u[a] >= u[a + 1], a, a + 1), 1, len(x) - 2)
        for i, (qi, ji) in enumerate(zip(q, j)):
            if x[0] <= qi <= x[-1] and not bad[ji - 1:ji + 2].any():
                c = np.polyfit(x[ji - 1:ji + 2] - x[ji], u[ji - 1:ji + 2], 2)
                out[i] = np.polyval(c, qi - x[ji])
        return out

    def best(self) -> float:
        """The best of the smoothed curve (``sign`` applied), on a grid 20x finer."""
        x = np.log10(self.lrs)
        return float(self.curve(10 ** np.linspace(x[0], x[-1], 20 * (len(x) - 1) + 1)).max())

    def regret(self, lr: float | None) -> float:
        """Against the best of the smoothed seed-mean curve (``curve``): relative for a
        loss, (f - f*) / |f*|; points for accuracy, 100 (f* - f)."""
        if not lr:
            return math.inf
        best = self.best()
        gap = max(0.0, best - float(self.curve(lr)[0]))
        return 100 * gap if self.accuracy else gap / abs(best)


# ------------------------------------------------------------------------- estimate ----
def matrix(res: lrsweep.SweepResult, lrs: list[float], seeds: list[int]) -> np.ndarray:
    """``[n_lrs, n_seeds]`` metrics, NaN where the trial diverged (or is missing)."""
    by = {(t.lr, t.seed): t for t in res.trials}
    M = np.full((len(lrs), len(seeds)), np.nan)
    for i, lr in enumerate(lrs):
        for j, s in enumerate(seeds):
            t = by.get((lr, s))
            if t is not None and t.ok and t.metric is not None and math.isfinite(t.metric):
                M[i, j] = t.metric
    return M


def within_noise(resid: np.ndarray, se: np.ndarray) -> bool:
    """The residuals' rms in units of their standard errors is at most 2."""
    z = resid / np.maximum(se, 1e-12)
    return bool(np.sqrt(np.mean(z**2)) <= 2.0)


def vertex(x: np.ndarray, u: np.ndarray, se: np.ndarray | None = None
           ) -> tuple[float, float]:
    """(argmax, max) of ``u`` over ``x`` (NaN: not a candidate): the parabola through the
    best point and two neighbours each side (stopping at a NaN), or one each side where
    the five-point parabola misses the means by more than their noise (``within_noise``
    with their standard errors ``se``: a sharp or lopsided top); clipped to its points;
    the best point itself where the parabola is not concave."""
    j = int(np.nanargmax(u))
    for width in (2, 1):
        lo = j
        while lo > 0 and j - lo < width and np.isfinite(u[lo - 1]):
            lo -= 1
        hi = j
        while hi < len(u) - 1 and hi - j < width and np.isfinite(u[hi + 1]):
            hi += 1
        if hi - lo < 2:
            return float(x[j]), float(u[j])
        xs, us = x[lo:hi + 1] - x[j], u[lo:hi + 1]
        c = np.polyfit(xs, us, 2)
        if se is None or width == 1 or within_noise(np.polyval(c, xs) - us, se[lo:hi + 1]):
            break
    if c[0] >= 0:
        return float(x[j]), float(u[j])
    v = min(max(-c[1] / (2 * c[0]), xs[0]), xs[-1])
    return float(x[j] + v), float(np.polyval(c, v))


def seed_mean(M: np.ndarray) -> np.ndarray:
    """The seed-mean at each LR; NaN where any seed diverged."""
    out = np.full(M.shape[0], np.nan)
    ok = np.isfinite(M).all(axis=1)
    out[ok] = M[ok].mean(axis=1)
    return out


def smooth(x: np.ndarray, u: np.ndarray, se: np.ndarray) -> np.ndarray:
    """At each point the quadratic through it and two neighbours each side, where that fits
    within the noise (``within_noise``); elsewhere (a sharp top, a cliff) the seed-mean
    itself."""
    out = u.copy()
    for i in range(u.size):
        idx = [k for k in range(i - 2, i + 3) if 0 <= k < u.size and np.isfinite(u[k])]
        if np.isfinite(u[i]) and len(idx) >= 4:
            c = np.polyfit(x[idx] - x[i], u[idx], 2)
            if within_noise(np.polyval(c, x[idx] - x[i]) - u[idx], se[idx]):
                out[i] = c[2]
    return out


def mean_se(M: np.ndarray) -> np.ndarray:
    """The standard error of each LR's seed-mean."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)
        return np.nanstd(M, axis=1, ddof=1) / np.sqrt(M.shape[1])


def estimate(M: np.ndarray, x: np.ndarray, sign: float) -> tuple[float, float]:
    """(log10 LR, metric) of the seed-mean optimum of ``M``."""
    xv, val = vertex(x, sign * seed_mean(M), mean_se(M))
    return xv, sign * val


def bootstrap_se(M: np.ndarray, x: np.ndarray, sign: float, n_boot: int = BOOT,
                 seed: int = 0) -> float:
    """sd (octaves) of the optimum over resamples of whole seeds (columns)."""
    rng = np.random.default_rng(seed)
    k = M.shape[1]
    out = [estimate(M[:, rng.integers(0, k, k)], x, sign)[0] for _ in range(n_boot)]
    return float(np.std(out, ddof=1) / math.log10(2))


def compute(spec: Any, store: str | None, n_seeds: int = TRUTH_SEEDS) -> Truth:
    """Train (or read from ``store``) the dense grid of ``spec`` and estimate its truth."""
    task = spec.build()
    lrs = list(lrsweep.log_grid(*spec.lr_range, DENSE_LRS))
    seeds = list(range(n_seeds))
    res = lrsweep.sweep(task, lrs, seeds=seeds, store=store, progress=False, threads=None)
    M = matrix(res, lrs, seeds)
    x = np.log10(lrs)
    sign = 1.0 if task.direction == "max" else -1.0
    xv, val = estimate(M, x, sign)
    mean = seed_mean(M)
    sm = sign * smooth(x, sign * mean, mean_se(M))
    per_seed = []
    for j in range(n_seeds):
        col = M[:, j]
        if np.isfinite(col).any():
            per_seed.append(abs(vertex(x, sign * col)[0] - xv) / math.log10(2))
    q = np.quantile(per_seed, [0.5, 0.9]) if per_seed else [math.nan, math.nan]
    ok = np.isfinite(M)

    def col(v: np.ndarray) -> list[float | None]:
        return [None if not np.isfinite(a) else float(a) for a in v]

    with np.errstate(all="ignore"), warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)
        med = np.where(ok.any(1), np.nanmedian(np.where(ok, M, np.nan), axis=1), np.nan)
        sd = np.where(ok.sum(1) > 1, np.nanstd(np.where(ok, M, np.nan), axis=1, ddof=1), np.nan)
    dense_steps = sum(t.steps for t in res.trials if t.seed < BUDGET_SEEDS)
    return Truth(task=spec.name, lr=float(10**xv), se=bootstrap_se(M, x, sign), metric=val,
                 direction=task.direction, metric_name=task.metric_name,
                 lr_range=tuple(spec.lr_range), n_seeds=n_seeds, held_out=spec.held_out,
                 lrs=[float(v) for v in lrs], mean=col(mean), smooth=col(sm), median=col(med),
                 sd=col(sd), n_ok=[int(v) for v in ok.sum(1)],
                 seed_octaves={"median": float(q[0]), "p90": float(q[1]),
                               "max": float(max(per_seed, default=math.nan))},
                 dense_steps=int(dense_steps), steps=int(task.steps))


# ----------------------------------------------------------------------------- JSON ----
def load(path: Path = TRUTHS_PATH) -> dict[str, Truth]:
    if not path.exists():
        return {}
    raw = json.loads(path.read_text())
    return {k: Truth(**{**v, "lr_range": tuple(v["lr_range"])}) for k, v in raw.items()}


def save(truths: dict[str, Truth], path: Path = TRUTHS_PATH) -> None:
    """Write every truth (merged with those already in the file), compactly."""
    merged = {**load(path), **truths}
    path.parent.mkdir(parents=True, exist_ok=True)

    def rnd(v: Any) -> Any:
        if isinstance(v, float):
            return float(f"{v:.6g}")
        if isinstance(v, (list, tuple)):
            return [rnd(a) for a in v]
        if isinstance(v, dict):
            return {k: rnd(a) for k, a in v.items()}
        return v

    body = {k: rnd(asdict(merged[k])) for k in sorted(merged)}
    text = "{\n" + ",\n".join(f"{json.dumps(k)}: {json.dumps(v)}" for k, v in body.items())
    path.write_text(text + "\n}\n")

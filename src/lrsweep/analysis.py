"""The optimum of a sweep: an estimate in log10(LR), an interval, a near-optimal band, and
edge / divergence flags. Pure numpy, no torch: it works on arrays of (lr, seed, metric,
status), so it serves every engine, the store and the CLI alike.

Method (``estimate_optimum``), with x = log10(lr) and the metric turned so that higher is
better:

1. Per LR, the mean over seeds. An LR where any seed diverged is never ranked; failed trials
   are ignored. ``diverged_above`` is the smallest LR that diverged.
2. A window around the best mean, grown outward one point at a time, always towards the
   neighbour with the better mean (so it is a level set of the curve, asymmetric in x when
   the curve is), until it holds ``min_points`` LRs and its worst point lies clearly below
   the best (3 noise standard deviations of a mean). Points far from the top never bend the
   fit; points within the noise of the top are all used.
3. A weighted quadratic in x over the window (grown further if noise leaves it convex); its
   vertex, kept within the window or the gap just beyond it (never at a diverged LR), is
   the estimate.
4. The interval: a bootstrap that redoes steps 1-3 on perturbed means. With several seeds the
   perturbation is a multiplier bootstrap over seeds (each seed's deviation curve times a
   Gaussian weight, which keeps the correlation a shared data order gives to one seed's
   trials), widened by t/z for the n_seeds - 1 degrees of freedom it rests on. With one
   seed it is Gaussian noise at the fit's residual scale (which also absorbs lack of fit).
   Then three guards, each only ever widening it: the spread of the vertices fitted on a
   smaller and a larger window (model error: the curve is not a parabola); a fifth of the
   best point's grid cell either side (a coarse grid); and, when the best point is the
   window's end, everything up to the next LR tried on that side (one-sided evidence).
   At a range's end the interval runs to that end and ``at_low_edge``/``at_high_edge`` say
   the optimum may lie beyond.
5. The band: the LRs around the best whose mean metric is within ``band_tol`` (relative) of
   the optimum, with its ends interpolated between grid points.

Calibration (``benchmarks/search_quality.py``): on random asymmetric curves with noise, the
90% interval of a 3-seed ``search`` holds the true optimum ~90% of the time.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Sequence
from dataclasses import asdict, dataclass
from statistics import NormalDist
from typing import Any

import numpy as np

from .errors import bad_arg

__all__ = ["Optimum", "estimate_optimum", "optimum_from_trials"]


@dataclass(frozen=True)
class Optimum:
    """The estimated optimal LR of a sweep, with its uncertainty.

    ``lr`` is the estimate (None when no trial finished), ``low``/``high`` its interval at
    confidence ``level``, ``metric`` the predicted metric at ``lr``. ``band`` is the range of
    LRs whose metric is within ``band_tol`` of the best. ``at_low_edge``/``at_high_edge``: the
    best point is the lowest/highest LR tried, so the true optimum may lie outside the range
    (the interval then ends at the range's end). ``diverged_above``: the smallest LR that
    diverged (an upper bound). ``fit``: coefficients (a, b, c) of the fitted
    ``metric = a + b*x + c*x**2`` with ``x = log10(lr)``, valid over ``fit_range``.
    """

    lr: float | None
    low: float | None
    high: float | None
    metric: float | None
    band: tuple[float, float] | None
    at_low_edge: bool
    at_high_edge: bool
    diverged_above: float | None
    method: str
    n_seeds: int
    n_points: int
    level: float
    direction: str
    best_lr: float | None = None
    best_metric: float | None = None
    fit: tuple[float, float, float] | None = None
    fit_range: tuple[float, float] | None = None
    band_tol: float = 0.01
    note: str = ""

    @property
    def found(self) -> bool:
        return self.lr is not None

    @property
    def ratio(self) -> float:
        """``high / low``: the interval's width as a factor (inf if unknown)."""
        if self.low is None or self.high is None or self.low <= 0:
            return math.inf
        return self.high / self.low

    @property
    def at_edge(self) -> bool:
        return self.at_low_edge or self.at_high_edge

    def predict(self, lrs: Sequence[float] | np.ndarray) -> np.ndarray:
        """The fitted metric at ``lrs`` (nan outside ``fit_range`` or without a fit)."""
        x = np.log10(np.asarray(lrs, dtype=float))
        if self.fit is None or self.fit_range is None:
            return np.full_like(x, np.nan)
        a, b, c = self.fit
        y = a + b * x + c * x**2
        lo, hi = np.log10(self.fit_range[0]), np.log10(self.fit_range[1])
        return np.where((x >= lo - 1e-12) & (x <= hi + 1e-12), y, np.nan)

    def to_dict(self) -> dict[str, Any]:
        d = asdict(self)
        d["band"] = None if self.band is None else list(self.band)
        d["fit"] = None if self.fit is None else list(self.fit)
        d["fit_range"] = None if self.fit_range is None else list(self.fit_range)
        return d

    def summary(self) -> str:
        if self.lr is None:
            return f"no optimum ({self.note})" if self.note else "no optimum"
        pct = f"{self.level:.0%}"
        parts = [f"lr={self.lr:.3g} ({pct} interval {self.low:.3g}..{self.high:.3g}, "
                 f"x{self.ratio:.2f})"]
        if self.metric is not None:
            parts.append(f"metric={self.metric:.4g}")
        if self.band is not None:
            parts.append(f"band({self.band_tol:.0%})={self.band[0]:.3g}..{self.band[1]:.3g}")
        if self.at_low_edge:
            parts.append("AT LOW EDGE")
        if self.at_high_edge:
            parts.append("AT HIGH EDGE")
        if self.diverged_above is not None:
            parts.append(f"diverged above {self.diverged_above:.3g}")
        s = ", ".join(parts)
        return f"{s} [{self.method}; {self.note}]" if self.note else f"{s} [{self.method}]"

    def __str__(self) -> str:
        return self.summary()


# ------------------------------------------------------------------------------ inputs ----
def optimum_from_trials(trials: Iterable[Any], direction: str, **options: Any) -> Optimum:
    """``estimate_optimum`` on ``TrialResult``-like records (``.lr .seed .metric .status``)."""
    rows = list(trials)
    return estimate_optimum(
        [t.lr for t in rows], [t.seed for t in rows],
        [math.nan if t.metric is None else t.metric for t in rows],
        [str(getattr(t.status, "value", t.status)) for t in rows], direction, **options)


@dataclass
class _Curve:
    """Per-LR view of the trials; ``u`` is the metric turned so that higher is better."""

    x: np.ndarray          # log10 lr of the valid (rankable) LRs, ascending
    U: np.ndarray          # (n_lr, n_seed) turned metrics, nan where missing
    mean: np.ndarray       # per-LR mean of U
    count: np.ndarray      # finished seeds per LR
    x_all: np.ndarray      # log10 of every LR tried (valid, diverged or failed)
    x_div: np.ndarray      # log10 of the LRs where a seed diverged
    diverged_above: float | None
    n_seeds: int


def _curve(lrs: Any, seeds: Any, metrics: Any, statuses: Any, sign: float) -> _Curve:
    lr = np.asarray(lrs, dtype=float).ravel()
    seed = np.asarray(seeds).ravel()
    metric = np.asarray(metrics, dtype=float).ravel()
    status = np.asarray([str(getattr(s, "value", s)) for s in statuses]).ravel()
    n = lr.size
    if not (seed.size == metric.size == status.size == n):
        raise bad_arg("lrs, seeds, metrics, statuses",
                      (n, seed.size, metric.size, status.size), "arrays of equal length",
                      "Pass one entry per trial in each array.")
    if n and (not np.all(np.isfinite(lr)) or np.any(lr <= 0)):
        raise bad_arg("lrs", lrs, "positive finite learning rates", "Drop invalid LRs.")
    ok = (status == "ok") & np.isfinite(metric)
    diverged = status == "diverged"
    div_lrs = np.unique(lr[diverged])
    diverged_above = float(div_lrs[0]) if div_lrs.size else None
    uniq = np.unique(lr)
    useed = np.unique(seed[ok]) if ok.any() else np.array([])
    valid = [v for v in uniq if v not in set(div_lrs.tolist()) and np.any(ok & (lr == v))]
    U = np.full((len(valid), max(len(useed), 1)), np.nan)
    sidx = {s: i for i, s in enumerate(useed.tolist())}
    vidx = {v: i for i, v in enumerate(valid)}
    for i in np.flatnonzero(ok):
        if lr[i] in vidx:
            U[vidx[lr[i]], sidx[seed[i].item()]] = sign * metric[i]
    count = np.sum(np.isfinite(U), axis=1)
    with np.errstate(invalid="ignore"):
        mean = np.nanmean(U, axis=1) if len(valid) else np.zeros(0)
    return _Curve(np.log10(np.asarray(valid, dtype=float)), U, mean, count,
                  np.log10(uniq) if n else np.zeros(0), np.log10(div_lrs), diverged_above,
                  len(useed))


# ---------------------------------------------------------------------------- fitting ----
def _window(mean: np.ndarray, j: int, min_points: int, delta: float) -> tuple[int, int]:
    """Grow [lo, hi] from ``j`` towards the better neighbour until it holds ``min_points``
    LRs and its worst mean is ``delta`` below the best."""
    lo = hi = j
    n = mean.size
    while True:
        size = hi - lo + 1
        if size >= min_points and mean[j] - mean[lo:hi + 1].min() >= delta:
            return lo, hi
        left, right = lo - 1 >= 0, hi + 1 < n
        if not left and not right:
            return lo, hi
        if left and (not right or mean[lo - 1] >= mean[hi + 1]):
            lo -= 1
        else:
            hi += 1


def _quad_peak(x: np.ndarray, y: np.ndarray, w: np.ndarray, x0: float
               ) -> tuple[float, np.ndarray, float] | None:
    """Weighted least-squares quadratic in (x - x0); returns (vertex, coeffs, rss) or None
    when it is not concave (or too few points)."""
    if x.size < 3:
        return None
    d = x - x0
    A = np.stack([np.ones_like(d), d, d * d], axis=1)
    sw = np.sqrt(w)
    coef, *_ = np.linalg.lstsq(A * sw[:, None], y * sw, rcond=None)
    c0, c1, c2 = coef
    scale = max(np.ptp(d), 1e-12)
    if not np.isfinite(c2) or c2 >= -1e-12 * max(abs(c1), 1.0) / scale:
        return None
    rss = float(np.sum(w * (y - A @ coef) ** 2))
    xv = x0 - c1 / (2 * c2)
    return xv, coef, rss


@dataclass
class _Fit:
    x_hat: float
    j: int
    lo: int
    hi: int
    coef: np.ndarray | None   # in (x - x[j]); None -> grid point
    rss: float


def _fit(x: np.ndarray, mean: np.ndarray, count: np.ndarray, x_all: np.ndarray,
         x_div: np.ndarray, min_points: int, delta: float) -> _Fit:
    j = int(np.argmax(mean))
    # noise can make a small window convex: grow it until the fit has a peak
    size = min_points
    while True:
        lo, hi = _window(mean, j, size, delta)
        peak = _quad_peak(x[lo:hi + 1], mean[lo:hi + 1], count[lo:hi + 1].astype(float), x[j])
        if peak is not None or hi - lo + 1 >= mean.size:
            break
        size = hi - lo + 3
    if peak is None:
        return _Fit(float(x[j]), j, lo, hi, None, math.nan)
    xv, coef, rss = peak
    # the vertex stays within the points that placed it, or the gap just beyond them (only
    # half-way to an LR that diverged: the estimate is never an LR known to diverge)
    below, above = x_all[x_all < x[lo]], x_all[x_all > x[hi]]
    left = below.max() if below.size else x[lo]
    right = above.min() if above.size else x[hi]
    if above.size and np.any(np.isclose(x_div, right)):
        right = (x[hi] + right) / 2
    return _Fit(float(min(max(xv, left), right)), j, lo, hi, coef, rss)


def _t_over_z(q: float, df: float) -> float:
    """t quantile / normal quantile at ``q``: the widening for a scale estimated with ``df``
    degrees of freedom (Cornish-Fisher for df > 2, exact for 1 and 2)."""
    z = NormalDist().inv_cdf(q)
    if df <= 1:
        t = math.tan(math.pi * (q - 0.5))
    elif df <= 2:
        t = (2 * q - 1) / math.sqrt(2 * q * (1 - q))
    else:
        t = (z + (z**3 + z) / (4 * df) + (5 * z**5 + 16 * z**3 + 3 * z) / (96 * df**2)
             + (3 * z**7 + 19 * z**5 + 17 * z**3 - 15 * z) / (384 * df**3))
    return t / z


# --------------------------------------------------------------------------- estimate ----
def estimate_optimum(
    lrs: Sequence[float] | np.ndarray,
    seeds: Sequence[int] | np.ndarray,
    metrics: Sequence[float] | np.ndarray,
    statuses: Sequence[str] | np.ndarray,
    direction: str,
    *,
    band_tol: float = 0.01,
    level: float = 0.9,
    min_points: int = 5,
    n_boot: int = 300,
    model_error: bool = True,
    cell_frac: float = 0.2,
    depth: float = 3.0,
    random_state: int = 0,
) -> Optimum:
    """The optimal LR from one record per trial (arrays of equal length).

    ``statuses`` are 'ok' / 'diverged' / 'failed'; ``metrics`` of non-ok trials are ignored.
    ``direction`` is 'max' or 'min'. See the module docstring for the method.

    >>> lrs = [1e-4, 1e-3, 1e-2, 1e-1, 1.0]
    >>> acc = [0.5, 0.8, 0.9, 0.8, 0.5]          # symmetric around 1e-2
    >>> opt = estimate_optimum(lrs, [0] * 5, acc, ["ok"] * 5, "max")
    >>> round(opt.lr, 6), opt.at_low_edge, opt.at_high_edge
    (0.01, False, False)
    """
    if direction not in ("max", "min"):
        raise bad_arg("direction", direction, "'max' or 'min'",
                      "Say whether a higher or a lower metric is better.")
    if not (isinstance(band_tol, (int, float)) and 0 <= band_tol < 1):
        raise bad_arg("band_tol", band_tol, "a relative tolerance in [0, 1)",
                      "Use e.g. band_tol=0.01 (within 1% of the best).")
    if not (isinstance(level, (int, float)) and 0 < level < 1):
        raise bad_arg("level", level, "a confidence level in (0, 1)", "Use e.g. level=0.9.")
    if not isinstance(min_points, int) or min_points < 3:
        raise bad_arg("min_points", min_points, "an integer >= 3",
                      "A quadratic needs at least 3 points.")
    sign = 1.0 if direction == "max" else -1.0
    cv = _curve(lrs, seeds, metrics, statuses, sign)
    common = dict(direction=direction, level=float(level), band_tol=float(band_tol),
                  n_seeds=cv.n_seeds, diverged_above=cv.diverged_above)
    n = cv.x.size
    if n == 0:
        why = ("every LR diverged; try lower LRs" if cv.diverged_above is not None
               else "no trial finished")
        return Optimum(None, None, None, None, None, False, False, method="none",
                       n_points=0, note=why, **common)

    x, mean, count = cv.x, cv.mean, cv.count
    j_best = int(np.argmax(mean))
    at_low = j_best == 0
    at_high = j_best == n - 1 and not np.any(cv.x_div > x[j_best])
    notes: list[str] = []

    # noise scale of one trial, pooled over the LRs nearest the best
    multi = cv.n_seeds >= 2 and np.any(count >= 2)
    near = np.argsort(np.abs(np.arange(n) - j_best), kind="stable")[:7]
    sigma, df = math.nan, 0.0
    if multi:
        dev = cv.U[near] - mean[near][:, None]
        m = count[near] >= 2
        pooled_df = float(np.sum(count[near][m] - 1))
        if pooled_df > 0:
            sigma = float(np.sqrt(np.nansum(dev[m] ** 2) / pooled_df))
        # the multiplier bootstrap over seeds estimates the variance of any function of the
        # means from n_seeds - 1 degrees of freedom, however many LRs there are
        df = float(cv.n_seeds - 1)
    if not multi:
        # one seed: the noise scale from the residual of a wider pilot fit (which also
        # holds any lack of fit, so it errs on the wide side)
        pilot = _fit(x, mean, count, cv.x_all, cv.x_div, min_points + 2, 0.0)
        m_pilot = pilot.hi - pilot.lo + 1
        if pilot.coef is not None and m_pilot > 3:
            sigma = math.sqrt(pilot.rss / (m_pilot - 3))
    delta = depth * sigma / math.sqrt(max(count[j_best], 1)) if math.isfinite(sigma) else 0.0

    fit = _fit(x, mean, count, cv.x_all, cv.x_div, min_points, delta)
    npts = fit.hi - fit.lo + 1
    method = "quadratic" if fit.coef is not None else "grid"
    if fit.coef is None:
        notes.append("no concave fit near the best point; using the best grid point")

    if not multi:
        notes.append("one seed: interval from the fit residual")
        if fit.coef is not None and npts > 3:
            df = float(npts - 3)
            sigma = math.sqrt(fit.rss / df)
        else:
            sigma = math.nan
    q = (1 + level) / 2
    infl = _t_over_z(q, df) if df > 0 else math.inf

    # bootstrap over perturbed means
    xs = [fit.x_hat]
    if math.isfinite(sigma) and sigma > 0 and math.isfinite(infl) and n >= 2 and n_boot > 0:
        rng = np.random.default_rng(random_state)
        if multi:
            R = np.nan_to_num(cv.U - mean[:, None])
            scale = np.where(count >= 2, 1 / np.sqrt(np.maximum(count * (count - 1), 1)), 0.0)
            G = rng.standard_normal((n_boot, R.shape[1]))
            pert = (G @ R.T) * scale
            single = count < 2
            if single.any():
                pert[:, single] = rng.standard_normal((n_boot, int(single.sum()))) * sigma
        else:
            pert = rng.standard_normal((n_boot, n)) * sigma
        pert *= infl
        for b in range(n_boot):
            f_b = _fit(x, mean + pert[b], count, cv.x_all, cv.x_div, min_points, delta)
            xs.append(f_b.x_hat)
    arr = np.asarray(xs)
    if arr.size > 1:
        lo_x, hi_x = np.quantile(arr[1:], [1 - q, q])
    else:
        # no noise estimate: the best point's grid cell is all we know
        below = cv.x_all[cv.x_all < x[fit.j]]
        above = cv.x_all[cv.x_all > x[fit.j]]
        lo_x = below.max() if below.size else x[fit.j]
        hi_x = above.min() if above.size else x[fit.j]
        if arr.size == 1 and method == "quadratic":
            notes.append("no noise estimate; interval = the best point's grid neighbours")
    if model_error and fit.coef is not None:
        # a curve that is not quadratic near its top gives different vertices for smaller
        # and larger windows: their spread is a model-error term
        alt = []
        for mp, dl in ((max(3, min_points - 2), delta / 2), (min_points + 2, delta * 2)):
            f2 = _fit(x, mean, count, cv.x_all, cv.x_div, mp, dl)
            if f2.coef is not None:
                alt.append(f2.x_hat)
        if alt:
            err = max(abs(a - fit.x_hat) for a in alt)
            lo_x, hi_x = min(lo_x, fit.x_hat - err), max(hi_x, fit.x_hat + err)
    # a quadratic on a coarse grid is only as good as the grid: at least a fraction of the
    # best point's grid cell either side (negligible once the grid is fine)
    gaps = np.diff(cv.x_all)
    if gaps.size:
        k = int(np.searchsorted(cv.x_all, x[fit.j]))
        cell = [gaps[i] for i in (k - 1, k) if 0 <= i < gaps.size]
        floor = cell_frac * float(np.mean(cell))
        lo_x, hi_x = min(lo_x, fit.x_hat - floor), max(hi_x, fit.x_hat + floor)
    lo_x, hi_x = min(lo_x, fit.x_hat), max(hi_x, fit.x_hat)
    # one-sided evidence: when the best point is the window's end (or no peak was fitted),
    # the optimum may lie anywhere up to the next LR tried on that side
    below = cv.x_all[cv.x_all < x[fit.j]]
    above = cv.x_all[cv.x_all > x[fit.j]]
    if (fit.j == fit.lo or fit.coef is None) and below.size:
        lo_x = min(lo_x, float(below.max()))
    if (fit.j == fit.hi or fit.coef is None) and above.size:
        hi_x = max(hi_x, float(above.min()))
    # never past the range tried, nor past the first LR that diverged above the best
    lo_x = max(lo_x, cv.x_all.min())
    hi_x = min(hi_x, cv.x_all.max())
    div_above = cv.x_div[cv.x_div > x[fit.j]]
    if div_above.size:
        hi_x = min(hi_x, float(div_above.min()))
    if at_low:
        lo_x = cv.x_all.min()
        notes.append("best at the lowest LR: the optimum may lie below the range")
    if at_high:
        hi_x = cv.x_all.max()
        notes.append("best at the highest LR: the optimum may lie above the range")

    # predicted metric and the band
    coef = fit.coef
    x0 = x[fit.j]
    if coef is not None:
        pred = float(coef[0] + coef[1] * (fit.x_hat - x0) + coef[2] * (fit.x_hat - x0) ** 2)
    else:
        pred = float(mean[fit.j])
    ref = max(pred, float(mean[fit.j]))
    band = _band(x, mean, fit.j, ref, band_tol, fit.x_hat)
    if coef is not None:
        band = _fit_band(coef, x0, ref, band_tol, band, (x[fit.lo], x[fit.hi]))
    fit_abc = None
    if coef is not None:
        c0, c1, c2 = (float(v) for v in coef)
        # expand a + b (x - x0) + c (x - x0)^2 into the original sign and plain x
        fit_abc = (sign * (c0 - c1 * x0 + c2 * x0 * x0), sign * (c1 - 2 * c2 * x0), sign * c2)
    return Optimum(
        lr=float(10 ** fit.x_hat), low=float(10 ** lo_x), high=float(10 ** hi_x),
        metric=sign * pred, band=(float(10 ** band[0]), float(10 ** band[1])),
        at_low_edge=bool(at_low), at_high_edge=bool(at_high), method=method,
        n_points=int(npts), best_lr=float(10 ** x[j_best]),
        best_metric=float(sign * mean[j_best]), fit=fit_abc,
        fit_range=(float(10 ** x[fit.lo]), float(10 ** x[fit.hi])),
        note="; ".join(notes), **common)


def _fit_band(coef: np.ndarray, x0: float, ref: float, tol: float,
              band: tuple[float, float], window: tuple[float, float]) -> tuple[float, float]:
    """Widen the data band to where the fitted quadratic stays within ``tol`` of ``ref``,
    inside the fit's window. Between coarse grid points the chord of a concave peak lies
    under the curve, so the data band alone is too narrow there."""
    c0, c1, c2 = (float(v) for v in coef)
    thr = ref - tol * abs(ref)
    disc = c1 * c1 - 4 * c2 * (c0 - thr)
    if c2 >= 0 or disc <= 0:
        return band
    r1, r2 = sorted(((-c1 - np.sqrt(disc)) / (2 * c2), (-c1 + np.sqrt(disc)) / (2 * c2)))
    lo = max(x0 + r1, window[0])
    hi = min(x0 + r2, window[1])
    if lo > band[1] or hi < band[0]:  # disjoint: keep the data band
        return band
    return min(band[0], lo), max(band[1], hi)


def _band(x: np.ndarray, mean: np.ndarray, j: int, ref: float, tol: float,
          x_hat: float) -> tuple[float, float]:
    """The contiguous run of LRs around ``j`` whose mean is within ``tol`` (relative to
    ``|ref|``) of ``ref``, with ends interpolated linearly in x."""
    thr = ref - tol * abs(ref)
    lo_x = hi_x = x[j]
    for step in (-1, 1):
        k = j
        while 0 <= k + step < x.size and mean[k + step] >= thr:
            k += step
        end = x[k]
        if 0 <= k + step < x.size:
            a, b = mean[k], mean[k + step]
            frac = (a - thr) / (a - b) if a != b else 0.0
            end = x[k] + frac * (x[k + step] - x[k])
        if step < 0:
            lo_x = end
        else:
            hi_x = end
    return min(lo_x, x_hat), max(hi_x, x_hat)

"""The fit: a weighted quadratic in x = log10(lr) over a window around the best seed-mean
point; its vertex is the estimate. Pure numpy."""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from .curve import Curve


@dataclass
class Fit:
    """``x_hat``: the estimate (log10 lr); rows ``lo..hi`` of the curve were fitted; ``coef``
    are (c0, c1, c2) of ``c0 + c1 d + c2 d**2`` with ``d = x - x[j]`` (None: no concave fit,
    ``x_hat`` is the best grid point ``j``)."""

    x_hat: float
    j: int
    lo: int
    hi: int
    coef: np.ndarray | None
    rss: float

    @property
    def n_points(self) -> int:
        return self.hi - self.lo + 1

    def value(self, x: float, x0: float, fallback: float) -> float:
        if self.coef is None:
            return fallback
        d = x - x0
        return float(self.coef[0] + self.coef[1] * d + self.coef[2] * d * d)


def window(x: np.ndarray, mean: np.ndarray, j: int, min_points: int, delta: float,
           max_span: float, min_span: float = 0.0) -> tuple[int, int]:
    """Grow rows [lo, hi] around ``j`` one row at a time, taking the next LR nearest to the
    best in log-LR (the better neighbour on a tie; only the other side once an end is
    reached), until the window holds ``min_points`` rows, spans ``min_span`` decades and its
    worst mean is ``delta`` below the best, or (with 3 rows or more) it would span more than
    ``max_span`` decades: a curve is a parabola only near its top, and a window lopsided
    towards the flatter side of an asymmetric peak would put the vertex too far out there.
    ``min_span`` keeps a fine grid's window as wide as a coarse one's, so the estimate does
    not change with the grid's spacing."""
    lo = hi = j
    n = mean.size
    while True:
        size = hi - lo + 1
        if (size >= min_points and mean[j] - mean[lo:hi + 1].min() >= delta
                and x[hi] - x[lo] >= min_span - 1e-9):
            return lo, hi
        left, right = lo - 1 >= 0, hi + 1 < n
        if not left and not right:
            return lo, hi
        d_left = x[j] - x[lo - 1] if left else math.inf
        d_right = x[hi + 1] - x[j] if right else math.inf
        go_left = left and (d_left < d_right - 1e-9
                            or (abs(d_left - d_right) <= 1e-9 and mean[lo - 1] >= mean[hi + 1]))
        nlo, nhi = (lo - 1, hi) if go_left else (lo, hi + 1)
        if size >= 3 and x[nhi] - x[nlo] > max_span + 1e-9:
            return lo, hi
        lo, hi = nlo, nhi


def quad_peak(x: np.ndarray, y: np.ndarray, w: np.ndarray, x0: float
              ) -> tuple[float, np.ndarray, float] | None:
    """Weighted least-squares quadratic in (x - x0): (vertex, coefficients, weighted residual
    sum of squares), or None when it is not concave (or has too few points)."""
    if x.size < 3:
        return None
    d = x - x0
    A = np.stack([np.ones_like(d), d, d * d], axis=1)
    sw = np.sqrt(w)
    coef, *_ = np.linalg.lstsq(A * sw[:, None], y * sw, rcond=None)
    c0, c1, c2 = coef
    scale = max(float(np.ptp(d)), 1e-12)
    if not np.isfinite(c2) or c2 >= -1e-12 * max(abs(c1), 1.0) / scale:
        return None
    rss = float(np.sum(w * (y - A @ coef) ** 2))
    return x0 - c1 / (2 * c2), coef, rss


def fit_curve(cv: Curve, min_points: int, delta: float, max_span: float,
              min_span: float = 0.0, rows: tuple[int, int, int] | None = None) -> Fit:
    """The estimate on curve ``cv`` (see ``window`` and ``quad_peak``), or with ``rows``
    (j, lo, hi) given, the fit over those rows as they are (for resampling: the same window
    for every replicate). The vertex is kept within the fitted rows: a peak beyond them is
    the best fitted row's end, and the interval says which side is open."""
    x, mean = cv.x, cv.mean
    w = cv.count.astype(float)
    if rows is not None:
        j, lo, hi = rows
        peak = quad_peak(x[lo:hi + 1], mean[lo:hi + 1], w[lo:hi + 1], x[j])
    else:
        j = cv.best()
        size, span = min_points, max_span
        while True:  # noise can leave a small window convex: grow it until it has a peak
            lo, hi = window(x, mean, j, size, delta, span, min_span)
            peak = quad_peak(x[lo:hi + 1], mean[lo:hi + 1], w[lo:hi + 1], x[j])
            if peak is not None or hi - lo + 1 >= mean.size:
                break
            size, span = hi - lo + 3, math.inf
    if peak is None:
        if rows is not None:  # a replicate without a peak: its best row in the window
            j = lo + int(np.argmax(mean[lo:hi + 1]))
        return Fit(float(x[j]), j, lo, hi, None, math.nan)
    xv, coef, rss = peak
    # never an extrapolated peak: the vertex stays between the LRs fitted
    return Fit(float(min(max(xv, x[lo]), x[hi])), j, lo, hi, coef, rss)

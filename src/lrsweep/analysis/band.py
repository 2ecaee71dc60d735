"""The near-optimal band: the LRs whose seed-mean metric is within a relative tolerance of
the optimum. Pure numpy."""

from __future__ import annotations

import numpy as np


def data_band(x: np.ndarray, mean: np.ndarray, j: int, ref: float, tol: float,
              x_hat: float) -> tuple[float, float]:
    """The contiguous run of rows around ``j`` whose mean is within ``tol`` (relative to
    ``|ref|``) of ``ref`` (higher is better), its ends interpolated linearly in x."""
    thr = ref - tol * abs(ref)
    ends = []
    for step in (-1, 1):
        k = j
        while 0 <= k + step < x.size and mean[k + step] >= thr:
            k += step
        end = x[k]
        if 0 <= k + step < x.size:
            a, b = mean[k], mean[k + step]
            frac = (a - thr) / (a - b) if a != b else 0.0
            end = x[k] + min(max(frac, 0.0), 1.0) * (x[k + step] - x[k])
        ends.append(float(end))
    return min(ends[0], x_hat), max(ends[1], x_hat)


def fit_band(coef: np.ndarray, x0: float, ref: float, tol: float,
             band: tuple[float, float], window: tuple[float, float]) -> tuple[float, float]:
    """Widen ``band`` to where the fitted quadratic (in ``x - x0``) stays within ``tol`` of
    ``ref``, inside the fit's ``window``. Between coarse grid points the chord of a concave
    peak lies under the curve, so the data band alone is too narrow there."""
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

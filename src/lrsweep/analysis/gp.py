"""The Gaussian-process estimator (``estimate_optimum(estimator="gp")``): a smoother in
x = log10(lr) with a posterior over the argmax, from scikit-learn (an optional extra).

The seed-mean curve over the estimate's rows near the best point (within ``reach`` decades)
is fitted by a GP with a Matern(5/2) kernel and a per-row noise variance (the replicate noise
over the row's seeds, ``sigma**2 / count``) plus a white-noise term for lack of fit. The
estimate is the argmax of the posterior mean between the rows fitted (never beyond them).
Its spread has two parts, combined in quadrature: the argmax of posterior samples (how well
the curve is located given its noise) and a delete-one-seed jackknife of the posterior
mean's argmax with the kernel held fixed (the seeds' sideways spread, which a white noise
term does not see: within a seed the noise is shared along LR).
"""

from __future__ import annotations

import math
import warnings
from dataclasses import dataclass

import numpy as np

from ..stats import t_quantile
from .curve import Curve, seed_mean
from .fit import Fit


@dataclass(frozen=True)
class GPEstimate:
    x_hat: float
    below: float
    above: float


def _gp_class():  # lazily: scikit-learn is an optional extra
    try:
        from sklearn.gaussian_process import GaussianProcessRegressor
        from sklearn.gaussian_process.kernels import ConstantKernel, Matern, WhiteKernel
    except ImportError as e:  # pragma: no cover - depends on the environment
        raise ImportError("estimator='gp' needs scikit-learn: pip install scikit-learn") from e
    return GaussianProcessRegressor, ConstantKernel, Matern, WhiteKernel


def gp_estimate(cv: Curve, fit: Fit, q: float, random_state: int = 0, reach: float = 1.5,
                n_samples: int = 300) -> GPEstimate | None:
    """The GP's argmax and its (below, above) half-widths in log10, or None with fewer than
    4 rows in reach."""
    GPR, C, Matern, White = _gp_class()
    xj = float(cv.x[fit.j])
    rows = np.flatnonzero(np.abs(cv.x - xj) <= reach + 1e-9)
    if rows.size < 4:
        return None
    x, y = cv.x[rows], cv.mean[rows]
    count = np.maximum(cv.count[rows], 1).astype(float)
    sd = _row_noise(cv.U[rows])
    scale = float(np.std(y)) or 1.0
    alpha = (sd / scale) ** 2 / count + 1e-8
    kernel = (C(1.0, (1e-3, 1e3)) * Matern(0.5, (0.1, 3.0), nu=2.5)
              + White(1e-3, (1e-8, 1.0)))
    gp = GPR(kernel, alpha=alpha, normalize_y=True, random_state=random_state,
             n_restarts_optimizer=1)
    with warnings.catch_warnings():  # a hyperparameter at its bound is fine here
        warnings.simplefilter("ignore")
        gp.fit(x[:, None], y)
    grid = np.linspace(float(x.min()), float(x.max()), 241)
    mu = gp.predict(grid[:, None])
    x_hat = float(grid[int(np.argmax(mu))])
    draws = gp.sample_y(grid[:, None], n_samples, random_state=random_state)
    arg = grid[np.argmax(draws, axis=0)]
    lo_q, hi_q = np.quantile(arg, [1 - q, q])
    post_lo, post_hi = max(x_hat - float(lo_q), 0.0), max(float(hi_q) - x_hat, 0.0)
    # the seeds' part: leave each seed out, refit the mean with the kernel held fixed
    reps = []
    seeds_here = [s for s in range(cv.U.shape[1]) if np.isfinite(cv.U[rows, s]).sum() >= 2]
    if len(seeds_here) >= 2:
        fixed = GPR(gp.kernel_, alpha=alpha, normalize_y=True, optimizer=None)
        for s in seeds_here:
            U = np.delete(cv.U[rows], s, axis=1)
            m = seed_mean(U)
            ok = np.isfinite(m)
            if ok.sum() < 4:
                continue
            fixed.fit(x[ok][:, None], m[ok])
            reps.append(float(grid[int(np.argmax(fixed.predict(grid[:, None])))]))
    seed_half = 0.0
    if len(reps) >= 2:
        arr = np.asarray(reps)
        n = arr.size
        se = math.sqrt((n - 1) / n * float(np.sum((arr - arr.mean()) ** 2)))
        seed_half = t_quantile(q, n - 1) * se
    return GPEstimate(x_hat, math.hypot(post_lo, seed_half), math.hypot(post_hi, seed_half))


def _row_noise(U: np.ndarray) -> np.ndarray:
    """One trial's noise about each row's mean after the seeds' offsets (pooled over rows;
    rows with one seed get the pooled value)."""
    ok = np.isfinite(U)
    m = seed_mean(U)
    r = np.where(ok, U - m[:, None], 0.0)
    cols = ok.sum(axis=0)
    off = np.where(cols > 0, r.sum(axis=0) / np.maximum(cols, 1), 0.0)
    r = np.where(ok, r - off[None, :], 0.0)
    n = ok.sum(axis=1)
    pooled_df = int(ok.sum()) - U.shape[0] - int(np.any(ok, axis=0).sum()) + 1
    pooled = math.sqrt(float(np.sum(r * r)) / pooled_df) if pooled_df > 0 else 0.0
    per = np.sqrt(np.sum(r * r, axis=1) / np.maximum(n - 1, 1))
    return np.where(n >= 3, np.maximum(per, 0.5 * pooled), pooled)

"""``estimate_optimum``: arrays of (lr, seed, metric, status) -> ``Optimum``."""

from __future__ import annotations

import math
from collections.abc import Iterable, Sequence
from typing import Any

import numpy as np

from ..errors import bad_arg
from ..stats import t_quantile
from .band import data_band, fit_band
from .curve import build_curve
from .fit import fit_curve
from .interval import curve_spread, finish, noise_scale, resolution, seed_spread
from .optimum import Optimum

#: the possible range of the built-in metrics (a fitted value is kept inside it)
METRIC_BOUNDS: dict[str, tuple[float, float]] = {"accuracy": (0.0, 1.0),
                                                 "loss": (0.0, math.inf)}

LOG10_2 = math.log10(2)


def optimum_from_trials(trials: Iterable[Any], direction: str, **options: Any) -> Optimum:
    """``estimate_optimum`` on ``TrialResult``-like records (``.lr .seed .metric .status``)."""
    rows = list(trials)
    return estimate_optimum(
        [t.lr for t in rows], [t.seed for t in rows],
        [math.nan if t.metric is None else t.metric for t in rows],
        [str(getattr(t.status, "value", t.status)) for t in rows], direction, **options)


def check_options(direction: str, band_tol: Any, level: Any, min_points: Any) -> None:
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


def estimate_optimum(
    lrs: Sequence[float] | np.ndarray,
    seeds: Sequence[int] | np.ndarray,
    metrics: Sequence[float] | np.ndarray,
    statuses: Sequence[str] | np.ndarray,
    direction: str,
    *,
    band_tol: float = 0.01,
    level: float = 0.9,
    min_points: int = 4,
    max_span: float = 1.0,
    min_span: float = 0.5,
    n_boot: int = 200,
    model_error: bool = True,
    cell_frac: float = 0.2,
    depth: float = 3.0,
    seed_method: str = "jackknife",
    metric_name: str = "metric",
    bounds: tuple[float, float] | None = None,
    random_state: int = 0,
) -> Optimum:
    """The optimal LR from one record per trial (arrays of equal length).

    ``statuses`` are 'ok' / 'diverged' / 'failed'; ``metrics`` of non-ok trials are ignored.
    ``direction`` is 'max' or 'min'. ``min_points``/``min_span``/``max_span``: the fit's window
    holds at least this many LRs and spans at least ``min_span`` decades, and at most
    ``max_span`` unless noise needs more.
    ``seed_method``: "jackknife" (leave one seed out) or "per-seed" (each seed's optimum).
    ``bounds``: the metric's possible range (default from ``metric_name``: accuracy [0, 1],
    loss >= 0). See ``lrsweep.analysis`` for the method.

    >>> lrs = [1e-4, 1e-3, 1e-2, 1e-1, 1.0]
    >>> acc = [0.5, 0.8, 0.9, 0.8, 0.5]          # symmetric around 1e-2
    >>> opt = estimate_optimum(lrs, [0] * 5, acc, ["ok"] * 5, "max")
    >>> round(opt.lr, 6), opt.basis, opt.at_low_edge, opt.at_high_edge
    (0.01, 'one-seed', False, False)
    """
    check_options(direction, band_tol, level, min_points)
    if seed_method not in ("jackknife", "per-seed"):
        raise bad_arg("seed_method", seed_method, "'jackknife' or 'per-seed'",
                      "Leave it at the default 'jackknife'.")
    sign = 1.0 if direction == "max" else -1.0
    cv = build_curve(lrs, seeds, metrics, statuses, sign)
    common: dict[str, Any] = dict(
        direction=direction, level=float(level), band_tol=float(band_tol),
        n_seeds=cv.n_seeds, metric_name=metric_name,
        lr_range=(float(10 ** cv.x_all.min()), float(10 ** cv.x_all.max()))
        if cv.x_all.size else None)
    if cv.n == 0:
        div = cv.diverged_above(None)
        why = "every LR diverged; try lower LRs" if div is not None else "no trial finished"
        return Optimum(None, None, None, None, None, False, False,
                       None if div is None else float(10**div), method="none", n_points=0,
                       note=why, **common)

    q = (1 + level) / 2
    j = cv.best()
    opts0 = (min_points, 0.0, float(max_span), float(min_span))
    sigma = noise_scale(cv, j, opts0)
    delta = depth * sigma / math.sqrt(max(cv.count[j], 1)) if math.isfinite(sigma) else 0.0
    opts = (min_points, delta, float(max_span), float(min_span))
    fit = fit_curve(cv, *opts)
    notes: list[str] = []
    method = "quadratic" if fit.coef is not None else "grid"
    if fit.coef is None:
        notes.append("no concave fit near the best point; using the best grid point")

    # the statistical part of the interval
    spread = seed_spread(cv, fit, opts, seed_method)
    seed_se = None
    if spread is not None:
        basis = "seeds"
        se, df, _ = spread
        seed_se = se / LOG10_2
        stat_lo = stat_hi = t_quantile(q, df) * se
        n_used = df + 1
    else:
        basis = "one-seed"
        n_used = 1
        one_sigma = math.sqrt(fit.rss / (fit.n_points - 3)) if (
            fit.coef is not None and fit.n_points > 3) else math.nan
        halves = curve_spread(cv, fit, one_sigma, opts, q, n_boot, random_state)
        stat_lo, stat_hi = halves if halves is not None else (0.0, 0.0)
        if halves is None and fit.coef is not None:
            notes.append("no residual to estimate the noise from; interval from the grid")
    res = resolution(cv, fit, opts, cell_frac, model_error)
    lo_x = fit.x_hat - math.hypot(stat_lo, res)
    hi_x = fit.x_hat + math.hypot(stat_hi, res)
    low, high, more = finish(cv, fit, lo_x, hi_x)
    notes += more

    # the metric at the estimate (fitted, inside the metric's range) and the band
    xj = float(cv.x[fit.j])
    measured = float(cv.mean[fit.j])
    inside = float(cv.x[fit.lo]) - 1e-12 <= fit.x_hat <= float(cv.x[fit.hi]) + 1e-12
    fitted = fit.coef is not None and inside
    if fit.coef is not None and not inside:
        notes.append("the fit's peak lies beyond its points: metric as measured")
    pred = fit.value(fit.x_hat, xj, measured) if fitted else measured
    lim = bounds if bounds is not None else METRIC_BOUNDS.get(metric_name)
    value = sign * pred
    if lim is not None:
        value = min(max(value, lim[0]), lim[1])
    ref = max(sign * value, measured)
    band = data_band(cv.x, cv.mean, fit.j, ref, band_tol, fit.x_hat)
    if fit.coef is not None:
        band = fit_band(fit.coef, xj, ref, band_tol, band,
                        (float(cv.x[fit.lo]), float(cv.x[fit.hi])))
    fit_abc = None
    if fit.coef is not None:
        c0, c1, c2 = (float(v) for v in fit.coef)
        # a + b (x - x0) + c (x - x0)^2 in the original sign and plain x
        fit_abc = (sign * (c0 - c1 * xj + c2 * xj * xj), sign * (c1 - 2 * c2 * xj), sign * c2)
    div_up = cv.diverged_above(fit.j)
    return Optimum(
        lr=float(10**fit.x_hat), low=None if low is None else float(10**low),
        high=None if high is None else float(10**high), metric=float(value),
        band=(float(10 ** band[0]), float(10 ** band[1])),
        at_low_edge=fit.j == 0,
        at_high_edge=fit.j == cv.n - 1 and div_up is None,
        diverged_above=None if div_up is None else float(10**div_up),
        method=method, n_points=fit.n_points, best_lr=float(10**xj),
        best_metric=float(sign * measured), fit=fit_abc,
        fit_range=(float(10 ** cv.x[fit.lo]), float(10 ** cv.x[fit.hi])),
        note="; ".join(notes), basis=basis, metric_fitted=fitted,
        seed_se=seed_se, resolution=res / LOG10_2,
        **{**common, "n_seeds": n_used if basis == "seeds" else cv.n_seeds})

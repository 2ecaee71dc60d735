"""``estimate_optimum``: arrays of (lr, seed, metric, status) -> ``Optimum``."""

from __future__ import annotations

import math
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, replace
from typing import Any

import numpy as np

from ..errors import bad_arg
from ..results.best import best_measured, rows_by_lr
from ..stats import t_quantile
from .band import data_band, fit_band
from .curve import Curve, blown_up, build_curve, spread_growth
from .fit import Fit, fit_curve
from .interval import (
    curve_spread,
    finish,
    lopsided,
    plausible_span,
    regret_bound,
    resolution,
    robust_noise,
    seed_noise,
    seed_spread,
    vertex_se,
)
from .optimum import Optimum

#: the possible range of the built-in metrics (a fitted value is kept inside it)
METRIC_BOUNDS: dict[str, tuple[float, float]] = {"accuracy": (0.0, 1.0),
                                                 "loss": (0.0, math.inf)}

#: the estimators ``estimate_optimum(estimator=)`` knows (the first is the default)
ESTIMATORS = ("quadratic", "gp")

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
    estimator: str = "quadratic",
) -> Optimum:
    """The optimal LR from one record per trial (arrays of equal length).

    ``statuses`` are 'ok' / 'diverged' / 'failed'; ``metrics`` of non-ok trials are ignored.
    ``direction`` is 'max' or 'min'. ``min_points``/``min_span``/``max_span``: the fit's window
    holds at least this many LRs and spans at least ``min_span`` decades, and at most
    ``max_span`` unless noise needs more.
    ``seed_method``: "jackknife" (leave one seed out) or "per-seed" (each seed's optimum).
    ``bounds``: the metric's possible range (default from ``metric_name``: accuracy [0, 1],
    loss >= 0; other names by ``metric_bounds``). ``estimator``: "quadratic" (a local
    quadratic in log-LR, the default) or "gp" (a Gaussian process smoother over the same
    rows; needs scikit-learn). See ``lrsweep.analysis`` for the method.

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
    if estimator not in ESTIMATORS:
        raise bad_arg("estimator", estimator, f"one of {', '.join(map(repr, ESTIMATORS))}",
                      f"Leave it at the default {ESTIMATORS[0]!r}.")
    sign = 1.0 if direction == "max" else -1.0
    full = build_curve(lrs, seeds, metrics, statuses, sign)
    common: dict[str, Any] = dict(
        direction=direction, level=float(level), band_tol=float(band_tol),
        n_seeds=full.n_seeds, metric_name=metric_name, estimator=estimator,
        lr_range=(float(10 ** full.x_all.min()), float(10 ** full.x_all.max()))
        if full.x_all.size else None,
        measured=best_measured(rows_by_lr(lrs, seeds, metrics, statuses), direction))
    if full.n == 0:
        div = full.diverged_above(None)
        why = "every LR diverged; try lower LRs" if div is not None else "no trial finished"
        return Optimum(None, None, None, None, None, False, False,
                       None if div is None else float(10**div), method="none", n_points=0,
                       note=why, **common)
    notes: list[str] = []
    diverged, full = full, _without_cliffs(full, notes)
    cv = full.core()  # the estimate's rows: the LRs that (most of) its seeds ran

    q = (1 + level) / 2
    j = cv.best()
    opts0 = (min_points, 0.0, float(max_span), float(min_span))
    sigma = seed_noise(cv, j, opts0)
    delta = depth * sigma / math.sqrt(max(cv.count[j], 1)) if math.isfinite(sigma) else 0.0
    opts = (min_points, delta, float(max_span), float(min_span))
    fit = fit_curve(cv, *opts)
    narrow = lopsided(cv, fit, opts, q)
    if narrow is not None:
        fit, opts = narrow
        notes.append("a lopsided top: the vertex of a narrower window")
    method = "quadratic" if fit.coef is not None else "grid"
    if fit.coef is None:
        notes.append("no concave fit near the best point; using the best grid point")

    spread = _statistical_part(cv, fit, sigma, opts, seed_method, q, n_boot, random_state,
                               notes)
    if estimator == "gp":
        from .gp import gp_estimate

        gp = gp_estimate(cv, fit, q, random_state)
        if gp is not None:
            fit = replace(fit, x_hat=gp.x_hat)
            spread = replace(spread, below=gp.below, above=gp.above)
            method = "gp"
    low, high, res, plaus = _interval(cv, fit, spread, opts, cell_frac, model_error, q,
                                      notes)

    lim = bounds if bounds is not None else metric_bounds(metric_name, metrics)
    value, fitted = _metric_at(cv, fit, sigma, sign, band_tol, lim, metric_name, notes)
    xj = float(cv.x[fit.j])
    measured = float(cv.mean[fit.j])
    band = _band(cv, fit, max(sign * value, measured), band_tol)
    flat = None
    if low is not None and high is not None and spread.basis == "seeds":
        flat = regret_bound(cv, fit, low, high, level)
    div_up = diverged.diverged_above(int(np.searchsorted(diverged.x, xj)))
    _near_the_edge(cv, full, fit.x_hat, notes)
    below_tried, above_tried, edge = _edges(full, cv, fit.j)
    return Optimum(
        lr=float(10**fit.x_hat), low=None if low is None else float(10**low),
        high=None if high is None else float(10**high), metric=float(value),
        band=(float(10 ** band[0]), float(10 ** band[1])),
        at_low_edge=fit.j == 0 and not below_tried,
        at_high_edge=fit.j == cv.n - 1 and not above_tried and div_up is None,
        diverged_above=None if div_up is None else float(10**div_up),
        method=method, n_points=fit.n_points, best_lr=float(10**xj),
        best_metric=float(sign * measured), fit=_plain_fit(fit, sign, xj),
        fit_range=(float(10 ** cv.x[fit.lo]), float(10 ** cv.x[fit.hi])),
        note="; ".join(notes), basis=spread.basis, metric_fitted=fitted,
        seed_se=spread.seed_se, resolution=res / LOG10_2, flat_regret=flat,
        window_edge=edge, plausible=plaus,
        **{**common, "n_seeds": spread.n_used if spread.basis == "seeds" else full.n_seeds})


def _interval(cv: Curve, fit: Fit, spread: _Spread, opts: tuple, cell_frac: float,
              model_error: bool, q: float, notes: list[str]
              ) -> tuple[float | None, float | None, float, tuple[float, float] | None]:
    """(low, high) in log10 (None: open) and the resolution part: the statistical part and
    the grid's resolution in quadrature, widened to the LRs outside the fit's window that
    the seeds do not show worse than the best (``plausible_span``, returned as LRs), then
    what the data say for sure (``finish``)."""
    # the seeds' spread cannot place the optimum further out than the rows fitted span
    span = float(cv.x[fit.hi] - cv.x[fit.lo]) if fit.hi > fit.lo else math.inf
    stat_lo, stat_hi = min(spread.below, span), min(spread.above, span)
    res = resolution(cv, fit, opts, cell_frac, model_error)
    lo_x = fit.x_hat - math.hypot(stat_lo, res)
    hi_x = fit.x_hat + math.hypot(stat_hi, res)
    plaus = None
    if spread.basis == "seeds":  # where other seeds could put the best: a broad top's bumps
        span_p = plausible_span(cv, fit, 2 * q - 1)  # one-sided at ``level``
        if span_p is not None and (span_p[0] < lo_x or span_p[1] > hi_x):
            lo_x, hi_x = min(lo_x, span_p[0]), max(hi_x, span_p[1])
            plaus = (float(10 ** span_p[0]), float(10 ** span_p[1]))
            notes.append(f"LRs outside the fit's window are as good for these seeds "
                         f"({plaus[0]:.3g}..{plaus[1]:.3g}): the interval holds them, and only "
                         "more seeds can narrow it")
    low, high, more = finish(cv, fit, lo_x, hi_x)
    notes += more
    return low, high, res, plaus


def _band(cv: Curve, fit: Fit, ref: float, band_tol: float) -> tuple[float, float]:
    """The near-optimal band (log10) within ``band_tol`` of ``ref``: from the data, then
    following the fitted curve between the grid points."""
    band = data_band(cv.x, cv.mean, fit.j, ref, band_tol, fit.x_hat)
    if fit.coef is not None:
        band = fit_band(fit.coef, float(cv.x[fit.j]), ref, band_tol, band,
                        (float(cv.x[fit.lo]), float(cv.x[fit.hi])))
    return band


def _without_cliffs(full: Curve, notes: list[str]) -> Curve:
    """Cliffs: an LR above the best where a seed blew up counts as one where it diverged."""
    blown = blown_up(full, full.best())
    if blown.size:
        notes.append(f"a seed blew up at {10 ** float(full.x[blown].min()):.3g}: "
                     "the estimate stays below it")
    return full.without(blown)


def _near_the_edge(cv: Curve, full: Curve, xv: float, notes: list[str],
                   within: float = 0.5, growth: float = 3.0) -> None:
    """A note when the estimate lies within ``within`` decades below an LR where a seed
    diverged or blew up and the seeds' spread there is ``growth`` times or more what it is
    lower down: near the stability edge a few seeds can look good by luck (their losses are
    heavy-tailed), so the seed mean of a few seeds is too hopeful there."""
    edge = full.x_div[full.x_div > xv + 1e-12]
    if not edge.size or float(edge.min()) - xv > within:
        return
    grown = spread_growth(cv, xv)
    if grown is not None and grown[0] >= growth:
        notes.append(f"near the stability edge (a seed diverged or blew up at "
                     f"{10 ** float(edge.min()):.3g}): the seeds' spread at the estimate is "
                     f"{grown[0]:.0f}x that at {10 ** grown[1]:.3g}, so a few seeds can look "
                     "good there by luck; a lower LR in the interval is safer")


def _edges(full: Curve, cv: Curve, j: int) -> tuple[bool, bool, str]:
    """Whether LRs below / above the best row ``j`` were tried (any seed), and the window
    edge: "low"/"high" when ``j`` is the end of the rows the estimate's seeds all ran but
    LRs beyond it were tried with fewer seeds."""
    xj = float(cv.x[j])
    below_tried = bool(np.any(full.x < xj - 1e-12))
    above_tried = bool(np.any(full.x > xj + 1e-12))
    edge = ("low" if j == 0 and below_tried else
            "high" if j == cv.n - 1 and above_tried else "")
    return below_tried, above_tried, edge


@dataclass(frozen=True)
class _Spread:
    """The statistical part of the interval: half-widths (log10) ``below`` and ``above``
    the estimate, on what ``basis`` ("seeds" or "one-seed"), the seeds' standard error of
    log2(lr) (None with one seed) and the seeds it used."""

    basis: str
    below: float
    above: float
    seed_se: float | None
    n_used: int


def _statistical_part(cv: Curve, fit: Fit, sigma: float, opts: tuple, seed_method: str,
                      q: float, n_boot: int, random_state: int, notes: list[str]) -> _Spread:
    """With several seeds, the spread of the seeds' optima with a Student-t factor; with
    one, a residual bootstrap of that seed's curve (``lrsweep.analysis.interval``)."""
    spread = seed_spread(cv, fit, opts, seed_method)
    if spread is not None:
        se, df, _ = spread
        # two or three seeds that agree by luck: not zero. The floor's noise is robust to
        # one seed (from four on, the least of the leave-one-seed-out noises): a seed
        # whose curve lies to the side is not noise along the curve, and through a narrow
        # window's curvature it would blow the floor up
        se = max(se, vertex_se(cv, fit, robust_noise(cv, fit.j, sigma, opts)))
        half = t_quantile(q, df) * se
        return _Spread("seeds", half, half, se / LOG10_2, df + 1)
    one_sigma = math.sqrt(fit.rss / (fit.n_points - 3)) if (
        fit.coef is not None and fit.n_points > 3) else math.nan
    halves = curve_spread(cv, fit, one_sigma, opts, q, n_boot, random_state)
    if halves is None and fit.coef is not None:
        notes.append("no residual to estimate the noise from; interval from the grid")
    lo, hi = halves if halves is not None else (0.0, 0.0)
    return _Spread("one-seed", lo, hi, None, 1)


def _metric_at(cv: Curve, fit: Fit, sigma: float, sign: float, band_tol: float,
               lim: tuple[float, float] | None, metric_name: str, notes: list[str]
               ) -> tuple[float, bool]:
    """The metric at the estimate (in the original sign), and whether it is the fitted
    one: fitted where the fit is believable, else as measured; kept inside ``lim``."""
    xj = float(cv.x[fit.j])
    measured = float(cv.mean[fit.j])
    pred = fit.value(fit.x_hat, xj, measured) if fit.coef is not None else measured
    se_best = sigma / math.sqrt(max(int(cv.count[fit.j]), 1)) if math.isfinite(sigma) else 0.0
    fitted = fit.coef is not None
    if fitted and lim is not None and not lim[0] <= sign * pred <= lim[1]:
        fitted = False
        notes.append(f"the fitted {metric_name} lies outside its range: metric as measured")
    # the fit may rise between grid points above the best one (a concave top), but not by
    # more than two standard errors of that point's mean plus the parabola's own rise
    # there, capped at 5 band_tol of the metric
    rise = min(max(pred - fit.value(xj, xj, measured), 0.0), 5 * band_tol * abs(measured))
    if fitted and pred > measured + 2 * se_best + rise + 1e-12 * max(abs(measured), 1.0):
        fitted = False
        notes.append(f"the fitted {metric_name} is better than the best measured by more than "
                     "two standard errors: metric as measured")
    value = sign * (pred if fitted else measured)
    if lim is not None:  # a measured value outside the range (the data's own): kept inside
        value = min(max(value, lim[0]), lim[1])
    return value, fitted


def _plain_fit(fit: Fit, sign: float, xj: float) -> tuple[float, float, float] | None:
    """The fit as (a, b, c) of ``a + b x + c x^2`` in the original sign and plain x."""
    if fit.coef is None:
        return None
    c0, c1, c2 = (float(v) for v in fit.coef)
    return (sign * (c0 - c1 * xj + c2 * xj * xj), sign * (c1 - 2 * c2 * xj), sign * c2)


def metric_bounds(name: str, values: Any = ()) -> tuple[float, float] | None:
    """The possible range of a metric by its name: accuracy-like names [0, 1] (or [0, 100]
    when a value above 1 was measured), loss-like names (eval_loss, mse, nll, error) >= 0,
    perplexity >= 1; None for a name not known.

    >>> metric_bounds("eval_loss"), metric_bounds("val_acc"), metric_bounds("reward")
    ((0.0, inf), (0.0, 1.0), None)
    """
    key = str(name).lower()
    if key in METRIC_BOUNDS:
        lim = METRIC_BOUNDS[key]
    elif any(w in key for w in ("perplexity", "ppl")):
        return (1.0, math.inf)
    elif any(w in key for w in ("acc", "f1", "precision", "recall", "auc", "iou", "dice")):
        lim = (0.0, 1.0)
    elif any(w in key for w in ("loss", "mse", "mae", "nll", "error", "entropy")):
        return (0.0, math.inf)
    else:
        return None
    if lim == (0.0, 1.0):
        arr = np.asarray(values, dtype=float).ravel() if len(values) else np.zeros(0)
        if arr.size and np.nanmax(np.where(np.isfinite(arr), arr, 0.0)) > 1.0:
            return (0.0, 100.0)
    return lim

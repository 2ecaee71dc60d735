"""The interval around the estimate, in log10(lr). Pure numpy.

Two sources of uncertainty, combined in quadrature (each side separately):

- the statistical part. With several seeds (``seed_spread``): a delete-one-seed jackknife of
  the whole estimate (seed-mean curve -> window -> fit -> vertex), with a Student-t factor
  for ``n - 1`` degrees of freedom. The seed is the unit that varies independently; within
  a seed, trials share the init and the data order, so their noise is correlated along LR
  and a seed's optimum moves sideways as a whole. Resampling seeds keeps all of that. With
  one seed (``curve_spread``): a residual bootstrap of that seed's fit, which says how
  precisely its own curve is located, and nothing about other seeds.
- the resolution part (``resolution``): the spread of the vertices fitted on a smaller and a
  larger window (the curve is not a parabola) and a fraction of the best point's grid cell
  (a coarse grid).

The jackknife refits the same window, so it cannot see the estimate jump to another part
of a broad top when other seeds are drawn (two bumps on a plateau). ``plausible_span``
covers that: the LRs outside the window that the seeds do not show worse than the best one,
by a paired Student-t test on the seeds each shares with the best (pairing takes out each
seed's offset along LR). The interval holds them all.

``finish`` then applies what the data say for sure: the interval holds the best measured
LR; it reaches the next LR tried on a side where the fit has no evidence (the best point is
the window's end); it stops half-way to an LR that diverged; and an end that reaches the
range tried is open (None).
"""

from __future__ import annotations

import math
from dataclasses import replace

import numpy as np

from ..stats import t_over_z, t_quantile
from .curve import Curve, seed_mean, top_rows
from .fit import Fit, fit_curve

FitOptions = tuple[int, float, float, float]  # (min_points, delta, max_span, min_span)


def seed_noise(cv: Curve, j: int, opts: FitOptions) -> float:
    """The noise of one trial's metric about the seed-mean curve near row ``j``: residuals
    of the additive (LR + seed offset) model over the 7 nearest rows; with one seed, the
    residual of a wider pilot fit (which holds lack of fit too, so it errs wide)."""
    near = np.sort(np.argsort(np.abs(np.arange(cv.n) - j), kind="stable")[:7])
    sub = cv.U[near]
    ok = np.isfinite(sub)
    rows_multi = ok.sum(axis=1) >= 2
    if cv.n_seeds >= 2 and rows_multi.any():
        sub, ok = sub[rows_multi], ok[rows_multi]
        r = np.where(ok, sub - seed_mean(sub)[:, None], 0.0)
        cols = ok.sum(axis=0)
        a = np.where(cols > 0, r.sum(axis=0) / np.maximum(cols, 1), 0.0)  # seed offsets
        r = np.where(ok, r - a[None, :], 0.0)
        df = int(ok.sum()) - sub.shape[0] - int(np.any(ok, axis=0).sum()) + 1
        if df > 0:
            return float(np.sqrt(np.sum(r * r) / df))
        return math.nan
    min_points, _, max_span, min_span = opts
    pilot = fit_curve(cv, min_points + 2, 0.0, max_span * 1.5, min_span)
    if pilot.coef is not None and pilot.n_points > 3:
        return math.sqrt(pilot.rss / (pilot.n_points - 3))
    return math.nan


def robust_noise(cv: Curve, j: int, sigma: float, opts: FitOptions) -> float:
    """``sigma`` (``seed_noise`` at row ``j``), or with four seeds or more the least of the
    noises measured leaving one seed out: a seed whose curve lies to the side is not noise
    along the curve."""
    if cv.n_seeds < 4 or not math.isfinite(sigma):
        return sigma
    # seed_noise reads only the table: no leave-one-out seed mean to recompute
    out = [seed_noise(replace(cv, U=np.delete(cv.U, s, axis=1),
                              seeds=np.delete(cv.seeds, s)), j, opts)
           for s in range(cv.n_seeds)]
    return min([sigma] + [v for v in out if math.isfinite(v)])


def seeds_in_window(cv: Curve, fit: Fit) -> list[int]:
    """Seed columns with at least two trials among the fitted rows."""
    ok = np.isfinite(cv.U[fit.lo:fit.hi + 1])
    return [s for s in range(cv.n_seeds) if int(ok[:, s].sum()) >= 2]


def seed_spread(cv: Curve, fit: Fit, opts: FitOptions, method: str = "jackknife"
                ) -> tuple[float, int, np.ndarray] | None:
    """(standard error of the estimate in log10, degrees of freedom, the replicates) from
    the seeds, or None with fewer than two seeds in the window.

    Every replicate refits the same window (the rows of ``fit``), so that the spread is the
    seeds' and not the window selection's; each replicate's vertex stays inside the window.
    ``method="jackknife"``: leave each seed out in turn; ``"per-seed"``: each seed's own
    curve, the spread of their optima over sqrt(n). With four seeds or more the standard
    error is robust to one seed: at most twice what the other seeds' replicates give, so
    that one outlier seed cannot blow the interval up by orders of magnitude (it still
    moves the estimate, which is the seed mean)."""
    cols = seeds_in_window(cv, fit)
    n = len(cols)
    if n < 2:
        return None
    reps = []
    for s in cols:
        sub = _same_rows(cv, s, method == "jackknife")
        reps.append(fit_curve(sub, *opts, rows=(fit.j, fit.lo, fit.hi)).x_hat)
    arr = np.asarray(reps)
    se = _spread(arr, method == "jackknife")
    if n >= 4:
        k = int(np.argmax(np.abs(arr - np.median(arr))))
        se = min(se, 2 * _spread(np.delete(arr, k), method == "jackknife"))
    return se, n - 1, arr


def lopsided(cv: Curve, fit: Fit, opts: FitOptions, q: float, narrow_span: float = 0.5
             ) -> tuple[Fit, FitOptions] | None:
    """The fit on a narrower window (at most ``narrow_span`` decades) and its options, when
    the wide window's vertex differs from the narrow one's by more than the seeds can
    explain; else None. On a lopsided top a parabola over a wide window puts the vertex
    towards the flatter side; over a narrow one it is less biased and noisier. The test is
    a delete-one-seed jackknife of the difference of the two vertices (each replicate on the
    same two sets of rows), with a Student-t factor at ``q``: the seeds' correlated noise
    along LR is in it, which a residual test of the seed-mean curve would miss. Needs three
    seeds in the window."""
    min_points, delta, max_span, min_span = opts
    if fit.coef is None or max_span <= narrow_span:
        return None
    nopts = (min_points, delta, narrow_span, min(min_span, narrow_span))
    nfit = fit_curve(cv, *nopts)
    if nfit.coef is None or (nfit.lo, nfit.hi) == (fit.lo, fit.hi):
        return None
    cols = [s for s in seeds_in_window(cv, fit) if s in seeds_in_window(cv, nfit)]
    if len(cols) < 3:
        return None
    reps = []
    for s in cols:
        sub = _same_rows(cv, s, True)
        wide = fit_curve(sub, *opts, rows=(fit.j, fit.lo, fit.hi)).x_hat
        reps.append(wide - fit_curve(sub, *nopts, rows=(nfit.j, nfit.lo, nfit.hi)).x_hat)
    se = _spread(np.asarray(reps), True)
    if abs(fit.x_hat - nfit.x_hat) <= t_quantile(q, len(cols) - 1) * se:
        return None
    return nfit, nopts


def _spread(arr: np.ndarray, jackknife: bool) -> float:
    n = arr.size
    if jackknife:
        return math.sqrt((n - 1) / n * float(np.sum((arr - arr.mean()) ** 2)))
    return float(np.std(arr, ddof=1)) / math.sqrt(n)


def vertex_se(cv: Curve, fit: Fit, sigma: float) -> float:
    """The vertex's standard error (log10) if each trial's noise were independent with sd
    ``sigma`` (the delta method on the weighted quadratic): a floor for the seeds' spread.
    With two or three seeds a delete-one jackknife can come out near zero by luck (two
    seeds that happen to agree); within-seed noise is shared along LR, so the true spread
    is rarely below this. 0 without a fit or a noise estimate."""
    if fit.coef is None or not (math.isfinite(sigma) and sigma > 0):
        return 0.0
    rows = slice(fit.lo, fit.hi + 1)
    d = cv.x[rows] - cv.x[fit.j]
    w = np.maximum(cv.count[rows], 1).astype(float)
    A = np.stack([np.ones_like(d), d, d * d], axis=1)
    try:
        cov = sigma**2 * np.linalg.inv(A.T @ (A * w[:, None]))
    except np.linalg.LinAlgError:
        return 0.0
    c1, c2 = float(fit.coef[1]), float(fit.coef[2])
    g = np.array([0.0, -1 / (2 * c2), c1 / (2 * c2 * c2)])
    return math.sqrt(max(float(g @ cov @ g), 0.0))


def regret_bound(cv: Curve, fit: Fit, lo_x: float, hi_x: float, level: float
                 ) -> float | None:
    """An upper ``level`` confidence bound on the worst relative regret inside
    [lo_x, hi_x]: how much worse than the best any LR there is, as a fraction of that best.
    A quadratic over the rows that cover the interval (from the last row at or below
    ``lo_x`` to the first at or above ``hi_x``, at least 4 rows), its delete-one-seed
    replicates on the same rows, and a one-sided Student-t bound. None when the interval
    reaches beyond the rows or fewer than two seeds ran them."""
    x = cv.x
    if cv.n < 4 or lo_x < x[0] - 1e-9 or hi_x > x[-1] + 1e-9:
        return None
    lo = int(np.flatnonzero(x <= lo_x + 1e-9).max())
    hi = int(np.flatnonzero(x >= hi_x - 1e-9).min())
    while hi - lo + 1 < 4:
        left = x[lo] - x[lo - 1] if lo > 0 else math.inf
        right = x[hi + 1] - x[hi] if hi + 1 < cv.n else math.inf
        if math.isinf(left) and math.isinf(right):
            return None
        lo, hi = (lo - 1, hi) if left <= right else (lo, hi + 1)
    j = lo + int(np.argmax(cv.mean[lo:hi + 1]))
    x0 = float(x[j])
    grid = np.linspace(float(x[lo]), float(x[hi]), 101) - x0

    def worst(coef: np.ndarray) -> float:
        top = float(np.max(coef[0] + coef[1] * grid + coef[2] * grid * grid))
        ends = [coef[0] + coef[1] * d + coef[2] * d * d for d in (lo_x - x0, hi_x - x0)]
        return (top - float(min(ends))) / max(abs(top), 1e-12)

    def coef_of(c: Curve) -> np.ndarray:  # any quadratic: a convex one is flat too
        d = c.x[lo:hi + 1] - x0
        A = np.stack([np.ones_like(d), d, d * d], axis=1)
        sw = np.sqrt(np.maximum(c.count[lo:hi + 1], 1).astype(float))
        return np.linalg.lstsq(A * sw[:, None], c.mean[lo:hi + 1] * sw, rcond=None)[0]

    full = worst(coef_of(cv))
    cols = seeds_in_window(cv, replace(fit, j=j, lo=lo, hi=hi))
    if len(cols) < 2:
        return None
    reps = np.asarray([worst(coef_of(_same_rows(cv, s, True))) for s in cols])
    return full + t_quantile(level, len(cols) - 1) * _spread(reps, True)


def plausible_span(cv: Curve, fit: Fit, q: float, min_seeds: int = 3
                   ) -> tuple[float, float] | None:
    """(lowest, highest) log10 LR among the rows outside the fit's window that the seeds do
    not show worse than the best row: the mean over their shared seeds of ``U[j] - U[i]``
    is at most ``t_q`` standard errors (``min_seeds`` shared seeds or more; a row with
    fewer is not tested). With four shared seeds or more a row must pass without its
    farthest seed too, so that one outlier seed cannot make a whole top plausible. Each end
    reaches half-way to the next row out. None when no such row. Inside the window the
    fit's own interval says where the optimum is; a row outside it that is as good is
    another part of a broad top that other seeds could have picked. ``estimate_optimum``
    tests at ``q = level`` (one-sided)."""
    j = fit.j
    ok = np.isfinite(cv.U)
    both = ok & ok[j][None, :]
    k = both.sum(axis=1)
    outside = np.ones(cv.n, dtype=bool)
    outside[fit.lo:fit.hi + 1] = False
    d = np.where(both, cv.U[j][None, :] - np.where(ok, cv.U, 0.0), 0.0)
    keep = []
    for i in np.flatnonzero(outside & (k >= min_seeds)):
        di = d[i, both[i]]
        ok_i = _not_worse(di, q)
        if ok_i and di.size >= 4:  # robust to one seed: also without the farthest one
            ok_i = _not_worse(np.delete(di, np.argmax(np.abs(di - np.median(di)))), q)
        if ok_i:
            keep.append(i)
    if not keep:
        return None
    # a plausible row's optimum may lie anywhere up to half-way to the next row out
    lo, hi = min(keep), max(keep)
    x_lo = float(cv.x[lo] + cv.x[lo - 1]) / 2 if lo > 0 else float(cv.x[lo])
    x_hi = float(cv.x[hi] + cv.x[hi + 1]) / 2 if hi < cv.n - 1 else float(cv.x[hi])
    return x_lo, x_hi


def _not_worse(d: np.ndarray, q: float) -> bool:
    """The paired differences ``d`` (best minus row) do not show the row worse: their mean
    is at most ``t_q`` standard errors."""
    se = float(np.std(d, ddof=1)) / math.sqrt(d.size)
    return float(d.mean()) <= t_quantile(q, d.size - 1) * se


def _same_rows(cv: Curve, s: int, leave_out: bool) -> Curve:
    """``cv`` with seed column ``s`` left out (``leave_out``) or alone, on the same rows (a
    row left without data keeps the full curve's mean, so the fitted window stays put)."""
    U = np.delete(cv.U, s, axis=1) if leave_out else cv.U[:, s:s + 1]
    count = np.sum(np.isfinite(U), axis=1)
    # the offsets on the full curve's top rows: a replicate that moved them would move
    # the curve by where its top half happens to fall, not by its seeds
    mean = seed_mean(U, top_rows(cv.mean, U)) if U.shape[1] > 1 else seed_mean(U)
    mean = np.where(count > 0, mean, cv.mean)
    return replace(cv, U=U, mean=mean, count=np.maximum(count, 1),
                   seeds=np.delete(cv.seeds, s) if leave_out else cv.seeds[s:s + 1])


def curve_spread(cv: Curve, fit: Fit, sigma: float, opts: FitOptions, q: float,
                 n_boot: int, random_state: int) -> tuple[float, float] | None:
    """One seed: (below, above) half-widths (log10) of a residual bootstrap of the fit at
    the residual scale ``sigma`` (with a t factor for the fit's residual degrees of
    freedom), or None without a noise estimate."""
    if not (math.isfinite(sigma) and sigma > 0 and n_boot > 0 and fit.coef is not None):
        return None
    df = fit.n_points - 3
    infl = t_over_z(q, df) if df > 0 else 3.0
    rng = np.random.default_rng(random_state)
    pert = rng.standard_normal((n_boot, cv.n)) * sigma * infl
    xs = np.array([fit_curve(replace(cv, mean=cv.mean + p), *opts).x_hat for p in pert])
    lo, hi = np.quantile(xs, [1 - q, q])
    return max(fit.x_hat - float(lo), 0.0), max(float(hi) - fit.x_hat, 0.0)


def resolution(cv: Curve, fit: Fit, opts: FitOptions, cell_frac: float,
               model_error: bool = True) -> float:
    """Half-width (log10) that the grid and the model add: the spread of the vertices fitted
    on a smaller and a larger window, and at least ``cell_frac`` of the best point's cell."""
    min_points, delta, max_span, min_span = opts
    err = 0.0
    if model_error and fit.coef is not None:
        for alt in ((max(3, min_points - 2), delta / 2, max_span / 1.5, min_span / 1.5),
                    (min_points + 2, delta * 2, max_span * 1.5, min_span * 1.5)):
            f2 = fit_curve(cv, *alt)
            if f2.coef is not None:
                err = max(err, abs(f2.x_hat - fit.x_hat))
    below, above = cv.neighbours(float(cv.x[fit.j]))
    cells = [float(cv.x[fit.j]) - below] if below is not None else []
    cells += [above - float(cv.x[fit.j])] if above is not None else []
    floor = cell_frac * float(np.mean(cells)) if cells else 0.0
    return max(err, floor)


def finish(cv: Curve, fit: Fit, lo_x: float, hi_x: float
           ) -> tuple[float | None, float | None, list[str]]:
    """The interval's ends after what the data say for sure (see the module docstring);
    None for an open end."""
    notes: list[str] = []
    xj = float(cv.x[fit.j])
    below, above = cv.neighbours(xj)
    # one-sided evidence: nothing was fitted beyond the best point on that side
    if (fit.j == fit.lo or fit.coef is None) and below is not None:
        lo_x = min(lo_x, below)
    if (fit.j == fit.hi or fit.coef is None) and above is not None:
        hi_x = max(hi_x, above)
    # the best measured LR is never excluded: no data show it worse than the estimate
    lo_x, hi_x = min(lo_x, xj, fit.x_hat), max(hi_x, xj, fit.x_hat)
    # never at an LR that diverged: at most half-way to the nearest one on either side
    div_up, div_down = cv.diverged_above(fit.j), cv.diverged_below(fit.j)
    capped_high = False
    if div_up is not None:
        ok_x = np.setdiff1d(cv.x_all, cv.x_div)
        last_ok = float(ok_x[ok_x < div_up].max())
        cap = (last_ok + div_up) / 2
        if hi_x >= cap:
            hi_x, capped_high = max(cap, fit.x_hat, xj), True
    if div_down is not None:
        ok_x = np.setdiff1d(cv.x_all, cv.x_div)
        first_ok = float(ok_x[ok_x > div_down].min())
        lo_x = max(lo_x, min((first_ok + div_down) / 2, fit.x_hat, xj))
    x_min, x_max = float(cv.x_all.min()), float(cv.x_all.max())
    low: float | None = lo_x
    high: float | None = hi_x
    edge_low = fit.j == 0 and xj <= x_min + 1e-12
    edge_high = fit.j == cv.n - 1 and xj >= x_max - 1e-12
    if edge_low or lo_x <= x_min + 1e-12:
        low = None
        notes.append("best at the lowest LR: the optimum may lie below the range" if edge_low
                     else "the interval reaches the lowest LR tried: try lower LRs")
    if not capped_high and (edge_high or hi_x >= x_max - 1e-12):
        high = None
        notes.append("best at the highest LR: the optimum may lie above the range"
                     if edge_high else
                     "the interval reaches the highest LR tried: try higher LRs")
    return low, high, notes

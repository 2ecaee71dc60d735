"""The per-LR view of a sweep: a table of turned metrics (higher is better) by LR and seed,
the seed-mean curve, and which LRs diverged. Pure numpy."""

from __future__ import annotations

import math
import warnings
from collections.abc import Iterable
from dataclasses import dataclass, replace
from typing import Any

import numpy as np

from ..errors import bad_arg


@dataclass
class Curve:
    """``U[i, s]``: the metric of seed ``seeds[s]`` at ``10**x[i]``, times ``sign`` so that
    higher is better (nan where that trial is missing). Only rankable LRs are rows: an LR
    where any seed diverged is never ranked. ``x_all`` holds every LR tried, ``x_div`` those
    where a seed diverged."""

    x: np.ndarray
    U: np.ndarray
    seeds: np.ndarray
    mean: np.ndarray
    count: np.ndarray
    x_all: np.ndarray
    x_div: np.ndarray
    sign: float

    @property
    def n(self) -> int:
        return int(self.x.size)

    @property
    def n_seeds(self) -> int:
        return int(self.seeds.size)

    def best(self) -> int:
        """Row of the best seed-mean metric among the well-measured rows (at least 60% of
        the most seeds any row has): an LR tried with one seed is not ranked above LRs
        tried with three on that seed's luck."""
        if self.count.size == 0:
            return 0
        need = max(1, math.ceil(0.6 * int(self.count.max())))
        return int(np.argmax(np.where(self.count >= need, self.mean, -np.inf)))

    def diverged_above(self, j: int | None) -> float | None:
        """log10 of the first LR above row ``j`` where a seed diverged (every diverged LR
        counts when no LR is rankable)."""
        above = self.x_div if j is None else self.x_div[self.x_div > self.x[j]]
        return float(above.min()) if above.size else None

    def diverged_below(self, j: int) -> float | None:
        below = self.x_div[self.x_div < self.x[j]]
        return float(below.max()) if below.size else None

    def need(self) -> int:
        """The seeds a row needs to enter the estimate: 60% of the most any row has (at least
        two when any row has two): an LR that only the first round's seeds ran is a guess
        of those seeds, not a point of the seed-mean curve."""
        if self.count.size == 0:
            return 1
        most = int(self.count.max())
        return max(min(2, most), math.ceil(0.6 * most))

    def core(self) -> Curve:
        """The rows that hold ``need()`` seeds (the others stay in ``x_all``: they count as
        LRs tried, for the interval's open ends and the search's next LRs)."""
        keep = self.count >= self.need()
        if keep.all():
            return self
        return replace(self, x=self.x[keep], U=self.U[keep], mean=self.mean[keep],
                       count=self.count[keep])

    def without(self, rows: np.ndarray) -> Curve:
        """The curve with ``rows`` moved from the ranked rows to ``x_div`` (LRs where a seed
        blew up count as diverged: never ranked, and the interval stops before them)."""
        if not rows.size:
            return self
        keep = np.ones(self.n, dtype=bool)
        keep[rows] = False
        return replace(self, x=self.x[keep], U=self.U[keep], mean=self.mean[keep],
                       count=self.count[keep],
                       x_div=np.unique(np.concatenate([self.x_div, self.x[rows]])))

    def neighbours(self, xv: float) -> tuple[float | None, float | None]:
        """The nearest LRs tried (log10) strictly below and above ``xv``."""
        below, above = self.x_all[self.x_all < xv - 1e-12], self.x_all[self.x_all > xv + 1e-12]
        return (float(below.max()) if below.size else None,
                float(above.min()) if above.size else None)


def seed_mean(U: np.ndarray, top: np.ndarray | None = None) -> np.ndarray:
    """The seed-mean curve of ``U`` (rows: LRs, columns: seeds, nan where missing; higher is
    better, as in ``Curve.U``).

    With every seed at every LR it is the row mean. Where seeds are missing it is the mean
    over the seeds an LR ran of each seed's value less its offset, under the additive model
    ``U[i, s] = m[i] + a[s]`` (offsets summing to zero), so that an LR tried with fewer seeds
    is not ranked on its seeds' luck. The offsets are fitted by least squares on the upper
    half of the curve only (``top_rows``; ``top`` gives those rows): that is where the ranking
    matters and where the seeds' noise is ordinary. Far from the top, near the stability
    edge, a seed can blow up in a row or two, and a fit over every row would carry that into
    its offset and so into every other LR it ran. Each row's value stays a mean (the
    expected metric, its blow-ups included), not a median.

    >>> [round(float(v), 12) for v in seed_mean(np.array([[1.0, 3.0], [2.0, np.nan]]))]
    [2.0, 3.0]
    """
    if U.size == 0:
        return np.zeros(U.shape[0])
    ok = np.isfinite(U)
    n = ok.sum(axis=1)
    if ok.all() or U.shape[1] == 1:
        total = np.where(ok, U, 0.0).sum(axis=1)
        return np.where(n > 0, total / np.maximum(n, 1), np.nan)
    if top is not None:
        return _mean_given(U, _offsets(U, top))
    m = _mean_given(U, _offsets(U, np.ones(U.shape[0], dtype=bool)))  # every row
    # the top half by that curve, once: iterating would select rows by the very offsets
    # they fit (a seed's good rows raise their mean, enter, and raise its offset)
    return _mean_given(U, _offsets(U, top_rows(m, U)))


def top_rows(m: np.ndarray, U: np.ndarray) -> np.ndarray:
    """The rows whose offsets ``seed_mean`` fits: the best rows of ``m`` down to half of the
    rows, and further until every seed that shares a row with another has a cell in a shared
    row among them, and those seeds are linked through shared rows (so that every offset is
    measured against the others)."""
    ok = np.isfinite(U)
    shared_rows = ok.sum(axis=1) >= 2
    want = ok[shared_rows].any(axis=0)
    order = np.argsort(np.where(np.isfinite(m), -m, np.inf), kind="stable")
    keep = np.zeros(U.shape[0], dtype=bool)
    half = math.ceil(U.shape[0] / 2)
    for k, i in enumerate(order):
        keep[i] = True
        if k + 1 >= half and _linked(ok[keep & shared_rows], want):
            break
    return keep


def _linked(ok: np.ndarray, want: np.ndarray) -> bool:
    """Whether the seeds ``want`` all appear in the rows ``ok`` and are one group through
    the rows they share."""
    cols = np.flatnonzero(want)
    if cols.size == 0:
        return True
    if not ok[:, cols].any(axis=0).all():
        return False
    group = np.zeros(ok.shape[1], dtype=bool)
    group[cols[0]] = True
    while True:  # the seeds reachable through rows that hold a seed of the group
        grown = ok[ok[:, group].any(axis=1)].any(axis=0) | group
        if np.array_equal(grown, group):
            break
        group = grown
    return bool(group[cols].all())


def _mean_given(U: np.ndarray, a: np.ndarray) -> np.ndarray:
    ok = np.isfinite(U)
    n = ok.sum(axis=1)
    total = np.where(ok, U - a[None, :], 0.0).sum(axis=1)
    return np.where(n > 0, total / np.maximum(n, 1), np.nan)


def _offsets(U: np.ndarray, rows: np.ndarray) -> np.ndarray:
    """The seed offsets of the additive model fitted by least squares on ``rows`` (summing
    to zero over the seeds there; 0 for a seed with no cell there)."""
    sub = U[rows]
    ok = np.isfinite(sub)
    present = np.flatnonzero(ok.any(axis=0))
    a = np.zeros(U.shape[1])
    if present.size < 2:
        return a
    sub, ok = sub[:, present], ok[:, present]
    n_lr, n_seed = sub.shape
    r, c = np.nonzero(ok)
    design = np.zeros((r.size, n_lr + n_seed - 1))
    design[np.arange(r.size), r] = 1.0
    for k, s in enumerate(c):  # a[last] = -(a[0] + ... + a[n_seed - 2])
        if s < n_seed - 1:
            design[k, n_lr + s] = 1.0
        else:
            design[k, n_lr:] = -1.0
    coef, *_ = np.linalg.lstsq(design, sub[r, c], rcond=None)
    off = coef[n_lr:]
    a[present] = np.append(off, -off.sum())
    return a


def blown_up(cv: Curve, j: int, frac: float = 0.5, ratio: float = 4.0) -> np.ndarray:
    """Rows above the best row ``j`` where a seed blew up: its metric is worse than the best
    row's mean by more than ``frac`` of the curve's range (the spread of the seed-mean over
    the rows), or, for a positive loss, more than ``ratio`` times that mean, while another
    seed there did well (the seeds split by more than half that drop). Near the stability
    edge some seeds blow up while others still look good; an LR like that is a cliff, not
    a candidate."""
    if cv.n == 0 or cv.U.size == 0:
        return np.zeros(0, dtype=int)
    finite = cv.mean[np.isfinite(cv.mean)]
    spread = float(finite.max() - finite.min()) if finite.size else 0.0
    ref = float(cv.mean[j])
    ok = np.isfinite(cv.U)
    # each seed on the mean's level (its offset off): a seed that ran only some LRs and is
    # better or worse everywhere is not a split
    r = np.where(ok, cv.U - cv.mean[:, None], 0.0)
    off = np.where(ok.sum(axis=0) > 0, r.sum(axis=0) / np.maximum(ok.sum(axis=0), 1), 0.0)
    V = cv.U - off[None, :]
    worst = np.where(ok, V, np.inf).min(axis=1)
    top = np.where(ok, V, -np.inf).max(axis=1)
    bad = worst < ref - frac * spread - 1e-12 if spread > 0 else np.zeros(cv.n, dtype=bool)
    raw = cv.sign * cv.U[np.isfinite(cv.U)]
    if cv.sign < 0 and raw.size and np.all(raw > 0) and -ref > 0:
        bad |= -worst > ratio * -ref
    # a split: the seeds disagree by more than half of the worst one's drop (a curve that is
    # merely bad there, for every seed alike, is not a cliff)
    split = top - worst > 0.5 * (ref - worst)
    above = np.arange(cv.n) > j
    return np.flatnonzero(bad & split & above)


def spread_growth(cv: Curve, xv: float, lower: float = 1 / 3, reach: float = 1.0
                  ) -> tuple[float, float] | None:
    """(ratio, x) when the seeds' spread grows towards ``xv`` (log10): the spread of the
    seeds about their offsets at the row nearest ``xv``, over the median such spread of the
    rows ``lower`` to ``reach`` decades below it (rows with two seeds or more; ``x`` the
    middle of those rows); None when there is no such row or no spread below."""
    ok = np.isfinite(cv.U)
    if cv.n == 0 or cv.n_seeds < 2:
        return None
    n = ok.sum(axis=1)
    with np.errstate(all="ignore"), warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)
        # each seed's offset: its median residual (the rows near the edge, where the
        # spread is large, would carry their noise into a mean offset and onto every row)
        off = np.nan_to_num(np.nanmedian(np.where(ok, cv.U - cv.mean[:, None], np.nan),
                                         axis=0))
        V = np.where(ok, cv.U - off[None, :], np.nan)
        sd = np.where(n >= 2, np.nanstd(np.where(n[:, None] >= 2, V, 0.0), axis=1, ddof=1),
                      np.nan)
    i = int(np.argmin(np.abs(cv.x - xv)))
    below = np.flatnonzero((cv.x <= cv.x[i] - lower + 1e-9) & (cv.x >= cv.x[i] - reach - 1e-9)
                           & np.isfinite(sd) & (sd > 0))
    if not np.isfinite(sd[i]) or not below.size:
        return None
    return float(sd[i] / np.median(sd[below])), float(np.median(cv.x[below]))


def build_curve(lrs: Any, seeds: Any, metrics: Any, statuses: Any, sign: float) -> Curve:
    """The ``Curve`` of one record per trial (arrays of equal length)."""
    lr = np.asarray(lrs, dtype=float).ravel()
    seed = np.asarray(seeds).ravel()
    metric = np.asarray(metrics, dtype=float).ravel()
    status = np.asarray([str(getattr(s, "value", s)) for s in _iter(statuses)]).ravel()
    n = lr.size
    if not (seed.size == metric.size == status.size == n):
        raise bad_arg("lrs, seeds, metrics, statuses",
                      (n, seed.size, metric.size, status.size), "arrays of equal length",
                      "Pass one entry per trial in each array.")
    if n and (not np.all(np.isfinite(lr)) or np.any(lr <= 0)):
        raise bad_arg("lrs", lrs, "positive finite learning rates", "Drop invalid LRs.")
    ok = (status == "ok") & np.isfinite(metric)
    div_lrs = np.unique(lr[status == "diverged"])
    div_set = set(div_lrs.tolist())
    uniq = np.unique(lr)
    useed = np.unique(seed[ok]) if ok.any() else np.zeros(0, dtype=int)
    valid = [v for v in uniq.tolist() if v not in div_set and np.any(ok & (lr == v))]
    U = np.full((len(valid), max(len(useed), 1)), np.nan)
    sidx = {s: i for i, s in enumerate(useed.tolist())}
    vidx = {v: i for i, v in enumerate(valid)}
    for i in np.flatnonzero(ok):
        if lr[i] in vidx:
            U[vidx[lr[i]], sidx[seed[i].item()]] = sign * metric[i]
    if not len(useed):
        U = U[:, :0]
    return Curve(np.log10(np.asarray(valid, dtype=float)), U, useed, seed_mean(U),
                 np.sum(np.isfinite(U), axis=1), np.log10(uniq) if n else np.zeros(0),
                 np.log10(div_lrs), sign)


def _iter(v: Any) -> Iterable[Any]:
    return v.ravel().tolist() if isinstance(v, np.ndarray) else v

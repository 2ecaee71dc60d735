"""The per-LR view of a sweep: a table of turned metrics (higher is better) by LR and seed,
the seed-mean curve, and which LRs diverged. Pure numpy."""

from __future__ import annotations

import math
from collections.abc import Iterable
from dataclasses import dataclass
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

    def neighbours(self, xv: float) -> tuple[float | None, float | None]:
        """The nearest LRs tried (log10) strictly below and above ``xv``."""
        below, above = self.x_all[self.x_all < xv - 1e-12], self.x_all[self.x_all > xv + 1e-12]
        return (float(below.max()) if below.size else None,
                float(above.min()) if above.size else None)


def seed_mean(U: np.ndarray) -> np.ndarray:
    """The seed-mean curve of ``U`` (rows: LRs, columns: seeds, nan where missing).

    With every seed at every LR it is the row mean. Where seeds are missing it is the LR
    effect of the additive model ``U[i, s] = m[i] + a[s]`` (seed offsets summing to zero,
    least squares), so that an LR tried with fewer seeds is not ranked on its seeds' luck.

    >>> [round(float(v), 12) for v in seed_mean(np.array([[1.0, 3.0], [2.0, np.nan]]))]
    [2.0, 3.0]
    """
    if U.size == 0:
        return np.zeros(U.shape[0])
    ok = np.isfinite(U)
    if ok.all() or U.shape[1] == 1:
        n = ok.sum(axis=1)
        total = np.where(ok, U, 0.0).sum(axis=1)
        return np.where(n > 0, total / np.maximum(n, 1), np.nan)
    n_lr, n_seed = U.shape
    rows, cols = np.nonzero(ok)
    design = np.zeros((rows.size, n_lr + n_seed - 1))
    design[np.arange(rows.size), rows] = 1.0
    for k, s in enumerate(cols):  # a[last] = -(a[0] + ... + a[n_seed - 2])
        if s < n_seed - 1:
            design[k, n_lr + s] = 1.0
        else:
            design[k, n_lr:] = -1.0
    coef, *_ = np.linalg.lstsq(design, U[rows, cols], rcond=None)
    return np.where(ok.any(axis=1), coef[:n_lr], np.nan)


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

"""Power laws fitted across sweeps at several scales: ``log(lr*) = a + sum_k b_k log(x_k)``.

Each point is an optimum with its interval (from ``SweepResult.optimum()``), read as a
Gaussian in log-LR with standard deviation ``sigma_i``. The fit is weighted least squares
with weights ``1 / (sigma_i^2 + tau^2)``, where ``tau^2`` is the extra scatter of the points
about the line beyond their own intervals (Paule-Mandel: chosen so that the weighted
residual sum of squares equals its degrees of freedom; zero when the intervals already
explain the scatter). The interval of a prediction is a parametric bootstrap: redraw every
point from the fitted line with its variance, refit (re-estimating ``tau``), and take the
percentiles of the predicted log-LR; the part of the spread due to ``tau`` (estimated from
``n - p`` residuals) is widened from normal to Student-t quantiles. Pure numpy.

This is how the published hyperparameter laws were fitted (DeepSeek LLM 2024; Step Law
2025): a straight line in log-log with a bootstrap band.
"""

from __future__ import annotations

import logging
import math
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

from ..errors import bad_arg
from ..stats import normal_quantile, t_quantile
from ._inputs import DEFAULT_LEVEL, as_point, positive

log = logging.getLogger("lrsweep")


@dataclass(frozen=True)
class Prediction:
    """A predicted LR with its interval at coverage ``level``."""

    lr: float
    low: float
    high: float
    x: dict[str, float]
    level: float = DEFAULT_LEVEL
    extrapolated: bool = False

    def __str__(self) -> str:
        at = ", ".join(f"{k}={v:g}" for k, v in self.x.items())
        extra = " (extrapolated)" if self.extrapolated else ""
        return (f"lr {self.lr:.4g}  [{self.low:.4g}, {self.high:.4g}] at {at}"
                f"{extra}, {self.level:.0%} interval")


class Law:
    """A fitted power law. ``coef`` = (a, b_1, ..., b_k) in natural log; ``boot`` holds the
    bootstrap coefficient draws. Build it with ``fit_law``."""

    def __init__(self, x: tuple[str, ...], scales: np.ndarray, lrs: np.ndarray,
                 lows: np.ndarray, highs: np.ndarray, sigma: np.ndarray, coef: np.ndarray,
                 tau: float, boot: np.ndarray, level: float) -> None:
        self.x = x
        self.scales = scales
        self.lrs, self.lows, self.highs, self.sigma = lrs, lows, highs, sigma
        self.coef = coef
        self.tau = tau
        self.boot = boot
        self.level = level

    @property
    def n_points(self) -> int:
        return len(self.lrs)

    def exponent(self, axis: str | None = None) -> float:
        """The fitted exponent ``b`` of ``axis`` (the only axis by default)."""
        return float(self.coef[1 + self._index(axis)])

    def exponent_interval(self, axis: str | None = None) -> tuple[float, float]:
        i = 1 + self._index(axis)
        lo, hi = np.quantile(self.boot[:, i], [(1 - self.level) / 2, (1 + self.level) / 2])
        return float(lo), float(hi)

    def _index(self, axis: str | None) -> int:
        if axis is None:
            if len(self.x) != 1:
                raise bad_arg("axis", None, f"one of {self.x}", "Name the axis.")
            return 0
        if axis not in self.x:
            raise bad_arg("axis", axis, f"one of the fitted axes {self.x}",
                          f"This law was fitted on {', '.join(self.x)}.")
        return self.x.index(axis)

    def _features(self, x: Any) -> tuple[np.ndarray, dict[str, float]]:
        if isinstance(x, Mapping):
            missing = [k for k in self.x if k not in x]
            if missing:
                raise bad_arg("x", dict(x), f"values for {self.x}",
                              f"Give {', '.join(missing)} too.")
            vals = [x[k] for k in self.x]
        elif isinstance(x, (tuple, list, np.ndarray)):
            vals = list(x)
        else:
            vals = [x]
        if len(vals) != len(self.x):
            raise bad_arg("x", x, f"{len(self.x)} value(s) for {self.x}",
                          "Pass a dict such as {'width': 4096}.")
        out = []
        for k, v in zip(self.x, vals):
            f = positive(v)
            if f is None:
                raise bad_arg(f"x[{k!r}]", v, "a positive scale", f"Give {k} as a number > 0.")
            out.append(f)
        return np.log(np.array(out)), dict(zip(self.x, out))

    def predict(self, x: Any) -> Prediction:
        """The LR at scale ``x`` (a number for a one-axis law, else a dict) with its
        bootstrap interval."""
        feats, named = self._features(x)
        row = np.concatenate([[1.0], feats])
        mid = float(row @ self.coef)
        draws = self.boot @ row
        lo, hi = np.quantile(draws, [(1 - self.level) / 2, (1 + self.level) / 2])
        logs = np.log(self.scales)
        extrap = bool(np.any(feats < logs.min(axis=0) - 1e-12)
                      or np.any(feats > logs.max(axis=0) + 1e-12))
        return Prediction(math.exp(mid), math.exp(min(lo, mid)), math.exp(max(hi, mid)),
                          named, self.level, extrap)

    def ratio(self, axis: str, base: float, target: float) -> tuple[float, float, float]:
        """LR factor ``(target / base)^b`` of one axis, with its interval."""
        i = 1 + self._index(axis)
        d = math.log(float(target) / float(base))
        draws = self.boot[:, i] * d
        lo, hi = np.quantile(draws, [(1 - self.level) / 2, (1 + self.level) / 2])
        mid = float(self.coef[i]) * d
        return math.exp(mid), math.exp(min(lo, mid)), math.exp(max(hi, mid))

    def formula(self) -> str:
        c = math.exp(self.coef[0])
        terms = " * ".join(f"{k}^{self.coef[1 + i]:.3g}" for i, k in enumerate(self.x))
        return f"lr* = {c:.4g} * {terms}"

    def __str__(self) -> str:
        lines = [f"{self.formula()}   (weighted least squares on {self.n_points} optima, "
                 f"scatter tau={self.tau:.3g} in ln lr)"]
        for k in self.x:
            lo, hi = self.exponent_interval(k)
            lines.append(f"  exponent of {k}: {self.exponent(k):.3f}  "
                         f"[{lo:.3f}, {hi:.3f}] ({self.level:.0%} bootstrap)")
        for s, lr, low, high in zip(self.scales, self.lrs, self.lows, self.highs):
            at = ", ".join(f"{k}={v:g}" for k, v in zip(self.x, s))
            fit = math.exp(float(np.concatenate([[1.0], np.log(s)]) @ self.coef))
            lines.append(f"  {at}: lr* {lr:.4g} [{low:.4g}, {high:.4g}]  fit {fit:.4g}")
        return "\n".join(lines)

    def plot(self, path: Any = None, **options: Any) -> Any:
        """Optimum against scale on log-log axes (see ``lrsweep.transfer.plot``)."""
        from .plot import plot_law

        return plot_law(self, path, **options)

    def __repr__(self) -> str:
        return f"Law({self.formula()}, n={self.n_points})"


# ------------------------------------------------------------------------------ fit ----
def fit_law(results: Any, x: str | Sequence[str] = "width", *, values: Sequence[Any] | None = None,
            level: float = DEFAULT_LEVEL, n_boot: int = 2000, seed: int = 0,
            min_points: int = 3) -> Law:
    """Fit ``log(lr*) = a + b log(x)`` across optima measured at different scales.

    Args:
        results: a mapping ``{scale: optimum}``, a list of ``(scale, optimum)`` pairs, or a
            list of optima (Optimum, SweepResult, SearchResult, (lr, low, high), LR) whose
            scales are given by ``values=`` or can be read from them (attribute ``x``,
            ``.scale[x]``, ``.protocol[x]``, ``.protocol['scale'][x]``, or ``x=N`` in the
            study/task name). A scale is a number, or a tuple / dict for several axes.
        x: the axis name, or several (``("width", "batch")``) for a multi-variable law.
        level: coverage of the prediction intervals. n_boot, seed: the bootstrap.
        min_points: at least this many optima (default 3; 2 fits a line exactly and its
            interval then rests on the optima's own intervals alone).

    >>> law = fit_law({64: 1e-2, 128: 5e-3, 256: 2.5e-3}, x="width")
    >>> round(law.exponent(), 6)
    -1.0
    """
    axes = (x,) if isinstance(x, str) else tuple(x)
    if not axes or not all(isinstance(a, str) for a in axes):
        raise bad_arg("x", x, "an axis name or a tuple of names", "Pass x='width'.")
    if not 0 < level < 1:
        raise bad_arg("level", level, "a coverage in (0, 1)", "Pass e.g. level=0.9.")
    pairs = _pairs(results, axes, values)
    need = max(int(min_points), len(axes) + 1)
    if len(pairs) < need:
        raise bad_arg("results", f"{len(pairs)} optima", f"at least {need} optima at different "
                      "scales", "Sweep at more scales (three small ones are enough for one "
                      "axis).")
    scales = np.array([s for s, _ in pairs], dtype=float)
    if len({tuple(r) for r in scales}) < len(axes) + 1:
        raise bad_arg("results", scales.tolist(), "optima at distinct scales",
                      "Each sweep must be at a different scale.")
    points = [p for _, p in pairs]
    y = np.log([p.lr for p in points])
    sigma = np.array([p.log_sigma for p in points])
    if np.any(sigma > 0) and np.any(sigma == 0):
        # an optimum given without an interval: assume it is as uncertain as the others
        sigma = np.where(sigma > 0, sigma, float(np.median(sigma[sigma > 0])))
        log.info("fit_law: optima without an interval take the median interval of the others")
    design = np.column_stack([np.ones(len(y)), np.log(scales)])
    if np.linalg.matrix_rank(design) < design.shape[1]:
        raise bad_arg("results", scales.tolist(), "scales that vary independently along each "
                      "axis", "With several axes, vary them so that each can be told apart.")
    coef, tau = _wls(design, y, sigma)
    if tau == 0 and not np.any(sigma > 0):
        log.warning("fit_law: no optimum has an interval and the line fits exactly; the "
                    "prediction interval is zero-width")
    rng = np.random.default_rng(seed)
    fitted = design @ coef
    sd = np.sqrt(sigma**2 + tau**2)
    y_star = fitted[None, :] + rng.normal(0.0, 1.0, (int(n_boot), len(y))) * sd[None, :]
    boot, _ = _wls_batch(design, y_star, sigma)
    # the scatter tau is estimated from n - p residuals: widen its share of the spread from
    # normal to Student-t quantiles (with three points and one axis, dof = 1)
    dof = design.shape[0] - design.shape[1]
    if tau > 0 and dof > 0:
        q = (1 + level) / 2
        share = tau**2 / (tau**2 + float(np.median(sigma**2)))
        inflate = 1 + (t_quantile(q, dof) / normal_quantile(q) - 1) * share
        boot = coef[None, :] + (boot - coef[None, :]) * inflate
    return Law(axes, scales, np.array([p.lr for p in points]), np.array([p.low for p in points]),
               np.array([p.high for p in points]), sigma, coef, tau, boot, float(level))


def _wls(design: np.ndarray, y: np.ndarray, sigma: np.ndarray) -> tuple[np.ndarray, float]:
    """Weighted least squares with the Paule-Mandel extra scatter ``tau``."""
    coef, tau = _wls_batch(design, y[None, :], sigma)
    return coef[0], float(tau[0])


def _solve(design: np.ndarray, ys: np.ndarray, w: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Per row r of ``ys``: the WLS coefficients with weights ``w[r]`` and the weighted
    residual sum of squares."""
    a = np.einsum("rn,np,nq->rpq", w, design, design)
    b = np.einsum("rn,np,rn->rp", w, design, ys)
    coef = np.linalg.solve(a, b[..., None])[..., 0]
    r = ys - coef @ design.T
    return coef, np.sum(w * r * r, axis=1)


def _wls_batch(design: np.ndarray, ys: np.ndarray,
               sigma: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """``_wls`` for every row of ``ys`` at once (the bootstrap)."""
    n, p = design.shape
    dof = n - p
    rows = ys.shape[0]
    if not np.any(sigma > 0):
        coef, rss = _solve(design, ys, np.ones((rows, n)))
        tau = np.sqrt(rss / dof) if dof > 0 else np.zeros(rows)
        return coef, tau
    var = sigma**2

    def at(tau2: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        return _solve(design, ys, 1.0 / np.maximum(var[None, :] + tau2[:, None], 1e-300))

    zero = np.zeros(rows)
    coef, q = at(zero)
    if dof <= 0:
        return coef, zero
    need = np.flatnonzero(q > dof)
    if need.size == 0:
        return coef, zero
    sub = ys[need]

    def sub_q(tau2: np.ndarray) -> np.ndarray:
        w = 1.0 / np.maximum(var[None, :] + tau2[:, None], 1e-300)
        return _solve(design, sub, w)[1]

    lo = np.zeros(need.size)
    hi = np.full(need.size, max(float(np.var(sub)), float(var.max()), 1e-12))
    for _ in range(60):
        grow = sub_q(hi) > dof
        if not np.any(grow):
            break
        hi = np.where(grow, hi * 4, hi)
    for _ in range(40):  # bisection: q(tau2) decreases in tau2
        mid = 0.5 * (lo + hi)
        above = sub_q(mid) > dof
        lo = np.where(above, mid, lo)
        hi = np.where(above, hi, mid)
    tau2 = np.zeros(rows)
    tau2[need] = 0.5 * (lo + hi)
    coef, _ = at(tau2)
    return coef, np.sqrt(tau2)


# --------------------------------------------------------------------------- inputs ----
def _pairs(results: Any, axes: tuple[str, ...], values: Sequence[Any] | None) -> list:
    if isinstance(results, Mapping):
        items = list(results.items())
    else:
        try:
            seq = list(results)
        except TypeError:
            raise bad_arg("results", type(results).__name__, "a list or dict of optima",
                          "Pass {width: optimum, ...} or a list of sweeps with values=.") \
                from None
        if values is not None:
            if len(values) != len(seq):
                raise bad_arg("values", list(values), f"{len(seq)} scales, one per result",
                              "Give one scale per sweep, in the same order.")
            items = list(zip(values, seq))
        elif seq and all(isinstance(r, tuple) and len(r) == 2 for r in seq):
            items = seq
        else:
            items = [(scale_of(r, axes), r) for r in seq]
    out = []
    for scale, res in items:
        out.append((_scale_tuple(scale, axes), as_point(res, "results")))
    return out


def _scale_tuple(scale: Any, axes: tuple[str, ...]) -> tuple[float, ...]:
    if isinstance(scale, Mapping):
        vals = [scale.get(a) for a in axes]
    elif isinstance(scale, (tuple, list)):
        vals = list(scale)
    else:
        vals = [scale]
    if len(vals) != len(axes) or any(positive(v) is None for v in vals):
        raise bad_arg("values", scale, f"a positive scale for each of {axes}",
                      "Give each sweep's scale, e.g. values=[64, 128, 256].")
    return tuple(float(v) for v in vals)


def scale_of(obj: Any, axes: tuple[str, ...] | str) -> tuple[float, ...]:
    """Read the scale of a sweep from the object itself (see ``fit_law``)."""
    axes = (axes,) if isinstance(axes, str) else axes
    out = []
    for a in axes:
        v = _lookup(obj, a)
        if v is None:
            raise bad_arg("values", None, f"the {a} of each sweep",
                          f"lrsweep could not read the {a} from {type(obj).__name__}; pass "
                          f"values=[...] with one {a} per sweep.")
        out.append(v)
    return tuple(out)


def _lookup(obj: Any, axis: str) -> float | None:
    candidates: list[Any] = [getattr(obj, axis, None)]
    for holder in ("scale", "scales"):
        d = getattr(obj, holder, None)
        if isinstance(d, Mapping):
            candidates.append(d.get(axis))
    proto = getattr(obj, "protocol", None)
    if isinstance(proto, Mapping):
        candidates.append(proto.get(axis))
        for holder in ("scale", "scales", "overrides", "task_options"):
            d = proto.get(holder)
            if isinstance(d, Mapping):
                candidates.append(d.get(axis))
    for v in candidates:
        f = positive(v)
        if f is not None:
            return f
    for text in (getattr(obj, "study", None), getattr(obj, "name", None),
                 proto.get("task") if isinstance(proto, Mapping) else None):
        if isinstance(text, str):
            m = re.search(rf"(?:^|[^a-z_]){re.escape(axis)}[=_:-]?(\d+(?:\.\d+)?(?:e\d+)?)",
                          text)
            if m:
                return float(m.group(1))
    return None


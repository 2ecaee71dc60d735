"""Power laws fitted across sweeps at several scales: ``log(lr*) = a + sum_k b_k log(x_k)``.

Each point is an optimum (from ``SweepResult.optimum()``) with its interval. How the law's
interval is set depends on what those intervals measure (``Point.basis``):

- **Noise unknown** (one-seed optima, whose interval is one seed's curve and the grid's
  resolution only, or bare LRs): the intervals are not the optima's noise, so they only
  weigh the points relative to each other (``w_i = 1 / max(sigma_i, sigma_med / 2)^2``; all
  equal without intervals: plain least squares). The noise is the scatter of the optima
  about the law, ``s^2 = sum w_i r_i^2 / (n - p)``, estimated with ``n - p`` degrees of
  freedom, hence Student-t quantiles. (On the Step Law MoE grid, intervals built from the
  one-seed intervals held 9 of 16 leave-one-out optima; this holds 14 of 16:
  ``benchmarks/law_quality.py``.)
- **Noise measured** (optima over several seeds, or intervals given by hand): weighted least
  squares with weights ``1 / (sigma_i^2 + tau^2)``, ``tau^2`` the extra scatter about the
  line (Paule-Mandel: the weighted residual sum of squares equals its degrees of freedom).

A prediction at ``x0`` is for the optimum a sweep there would measure: the line's own
uncertainty ``x0' Cov x0``, plus the scatter of one optimum about the law, plus, beyond the
fitted range, a model error ``s * d / span`` (``d`` how far beyond, ``span`` the fitted
range, both in log scale: extrapolating by the whole fitted span adds one more scatter in
quadrature; a straight line in log-log is an assumption that the data cannot check there).

``prior=(s0, nu0)``: a prior scatter ``s0`` (in ln lr) worth ``nu0`` degrees of freedom, for
laws with few points (two sweeps leave none): ``s^2 = (nu0 s0^2 + RSS) / (nu0 + n - p)``
with ``nu0 + n - p`` degrees of freedom. ``batch_law`` uses the scatter measured on real
grids.

This is how the published hyperparameter laws were fitted (DeepSeek LLM 2024; Step Law
2025): a straight line in log-log. Pure numpy.
"""

from __future__ import annotations

import logging
import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

from ..errors import bad_arg
from ..stats import normal_quantile, t_quantile
from ._inputs import DEFAULT_LEVEL, positive
from .scales import scaled_points

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
    """A fitted power law. ``coef`` = (a, b_1, ..., b_k) in natural log, ``cov`` their
    covariance; ``scatter`` the standard deviation (ln lr) of one optimum about the law,
    ``dof`` the degrees of freedom it was estimated with (inf: known). Build it with
    ``fit_law``."""

    def __init__(self, x: tuple[str, ...], scales: np.ndarray, lrs: np.ndarray,
                 lows: np.ndarray, highs: np.ndarray, sigma: np.ndarray, coef: np.ndarray,
                 cov: np.ndarray, scatter: float, dof: float, level: float, mode: str,
                 tau: float = 0.0) -> None:
        self.x = x
        self.scales = scales
        self.lrs, self.lows, self.highs, self.sigma = lrs, lows, highs, sigma
        self.coef, self.cov = coef, cov
        self.scatter, self.dof = float(scatter), float(dof)
        self.level = level
        self.mode = mode
        self.tau = float(tau)
        #: where the law holds, in words (``batch_law`` sets it)
        self.note = ""

    @property
    def n_points(self) -> int:
        return len(self.lrs)

    def _q(self) -> float:
        q = (1 + self.level) / 2
        return normal_quantile(q) if not math.isfinite(self.dof) else t_quantile(q, self.dof)

    def exponent(self, axis: str | None = None) -> float:
        """The fitted exponent ``b`` of ``axis`` (the only axis by default)."""
        return float(self.coef[1 + self._index(axis)])

    def exponent_interval(self, axis: str | None = None) -> tuple[float, float]:
        i = 1 + self._index(axis)
        half = self._q() * math.sqrt(max(float(self.cov[i, i]), 0.0))
        return float(self.coef[i] - half), float(self.coef[i] + half)

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

    def beyond(self, feats: np.ndarray) -> float:
        """How far ``feats`` (log scales) lie beyond the fitted range, in units of each axis's
        fitted span (Euclidean over the axes); 0 inside."""
        logs = np.log(self.scales)
        lo, hi = logs.min(axis=0), logs.max(axis=0)
        span = np.maximum(hi - lo, 1e-12)
        out = np.maximum(lo - feats, 0) + np.maximum(feats - hi, 0)
        return float(np.sqrt(np.sum((out / span) ** 2)))

    def predict(self, x: Any) -> Prediction:
        """The LR at scale ``x`` (a number for a one-axis law, else a dict) with the interval
        for the optimum a sweep there would measure."""
        feats, named = self._features(x)
        row = np.concatenate([[1.0], feats])
        mid = float(row @ self.coef)
        d = self.beyond(feats)
        var = float(row @ self.cov @ row) + self.scatter**2 * (1 + d * d)
        half = self._q() * math.sqrt(max(var, 0.0))
        return Prediction(math.exp(mid), math.exp(mid - half), math.exp(mid + half),
                          named, self.level, d > 0)

    def ratio(self, axis: str, base: float, target: float) -> tuple[float, float, float]:
        """LR factor ``(target / base)^b`` of one axis, with its interval: the exponent's
        uncertainty times the log-ratio, and the scatter of the target's optimum about the
        law (the base optimum carries its own interval)."""
        i = 1 + self._index(axis)
        d = math.log(float(target) / float(base))
        logs = np.log(self.scales[:, i - 1])
        span = max(float(logs.max() - logs.min()), 1e-12)
        t = math.log(float(target))
        out = max(float(logs.min()) - t, 0.0, t - float(logs.max())) / span
        var = float(self.cov[i, i]) * d * d + self.scatter**2 * (1 + out * out)
        half = self._q() * math.sqrt(max(var, 0.0))
        mid = float(self.coef[i]) * d
        return math.exp(mid), math.exp(mid - half), math.exp(mid + half)

    def formula(self) -> str:
        c = math.exp(self.coef[0])
        terms = " * ".join(f"{k}^{self.coef[1 + i]:.3g}" for i, k in enumerate(self.x))
        return f"lr* = {c:.4g} * {terms}"

    def describe(self) -> str:
        """How the interval was set, in one line."""
        oct_ = self.scatter / math.log(2)
        dof = "known" if not math.isfinite(self.dof) else f"{self.dof:g} degrees of freedom"
        if self.mode == "noise":
            return (f"weighted least squares on {self.n_points} optima with measured noise; "
                    f"extra scatter tau={self.tau / math.log(2):.3g} octaves; one optimum "
                    f"scatters {oct_:.3g} octaves about the law ({dof})")
        return (f"least squares on {self.n_points} optima (their own intervals weigh them, "
                f"the noise is their scatter about the law): {oct_:.3g} octaves ({dof})")

    def __str__(self) -> str:
        lines = [f"{self.formula()}   ({self.describe()})"]
        if self.note:
            lines.append(f"  {self.note}")
        for k in self.x:
            lo, hi = self.exponent_interval(k)
            lines.append(f"  exponent of {k}: {self.exponent(k):.3f}  "
                         f"[{lo:.3f}, {hi:.3f}] ({self.level:.0%})")
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
            level: float = DEFAULT_LEVEL, min_points: int = 3,
            prior: tuple[float, float] | None = None) -> Law:
    """Fit ``log(lr*) = a + b log(x)`` across optima measured at different scales.

    Args:
        results: a mapping ``{scale: optimum}``, a list of ``(scale, optimum)`` pairs, or a
            list of optima (Optimum, SweepResult, SearchResult, (lr, low, high), LR) whose
            scales are given by ``values=`` or can be read from them (attribute ``x``,
            ``.scale[x]``, ``.protocol[x]``, ``.protocol['scale'][x]``, or ``x=N`` in the
            study/task name). A scale is a number, or a tuple / dict for several axes.
        x: the axis name, or several (``("width", "batch")``) for a multi-variable law.
        level: coverage of the prediction intervals.
        min_points: at least this many optima (default 3; with 2 on one axis nothing is left
            to estimate the scatter: pass ``prior=``).
        prior: ``(s0, nu0)``, a prior scatter of the optima about the law (standard
            deviation in ln lr) worth ``nu0`` degrees of freedom (see the module).

    >>> law = fit_law({64: 1e-2, 128: 5e-3, 256: 2.5e-3}, x="width")
    >>> round(law.exponent(), 6)
    -1.0
    """
    axes = (x,) if isinstance(x, str) else tuple(x)
    if not axes or not all(isinstance(a, str) for a in axes):
        raise bad_arg("x", x, "an axis name or a tuple of names", "Pass x='width'.")
    if not 0 < level < 1:
        raise bad_arg("level", level, "a coverage in (0, 1)", "Pass e.g. level=0.9.")
    s0, nu0 = _check_prior(prior)
    pairs = scaled_points(results, axes, values)
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
    design = np.column_stack([np.ones(len(y)), np.log(scales)])
    if np.linalg.matrix_rank(design) < design.shape[1]:
        raise bad_arg("results", scales.tolist(), "scales that vary independently along each "
                      "axis", "With several axes, vary them so that each can be told apart.")
    n, p = design.shape
    dof = n - p
    if dof + nu0 <= 0:
        raise bad_arg("results", f"{n} optima on {p - 1} axis(es)",
                      f"more than {p} optima, or prior=(scatter, dof)",
                      "With as many optima as the law has coefficients nothing is left to "
                      "estimate their scatter: sweep at one more scale, or pass a prior "
                      "scatter (batch_law does).")
    one_seed = sum(p_.basis == "one-seed" for p_ in points)
    if one_seed:
        log.warning("fit_law: %d of %d optima come from one seed: their intervals describe "
                    "one seed's curve only, so the law's interval is set by the optima's "
                    "scatter about it", one_seed, n)
    if all(p_.noise_known for p_ in points):
        coef, cov, scatter, t_dof, tau = _fit_noise(design, y, sigma, s0, nu0)
        mode = "noise"
    else:
        coef, cov, scatter, t_dof = _fit_scatter(design, y, sigma, s0, nu0)
        mode, tau = "scatter", scatter
    return Law(axes, scales, np.array([p_.lr for p_ in points]),
               np.array([p_.low for p_ in points]), np.array([p_.high for p_ in points]),
               sigma, coef, cov, scatter, t_dof, float(level), mode, tau)


def _check_prior(prior: Any) -> tuple[float, float]:
    if prior is None:
        return 0.0, 0.0
    try:
        s0, nu0 = (float(v) for v in prior)
    except (TypeError, ValueError):
        raise bad_arg("prior", prior, "(scatter, dof): two numbers",
                      "Pass e.g. prior=(0.2, 4).") from None
    if not (math.isfinite(s0) and s0 > 0 and math.isfinite(nu0) and nu0 > 0):
        raise bad_arg("prior", prior, "a positive scatter (ln lr) and positive dof",
                      "Pass e.g. prior=(0.2, 4).")
    return s0, nu0


def _fit_scatter(design: np.ndarray, y: np.ndarray, sigma: np.ndarray, s0: float,
                 nu0: float) -> tuple[np.ndarray, np.ndarray, float, float]:
    """Noise unknown: relative weights from the intervals, the scale from the residuals."""
    n, p = design.shape
    if np.all(sigma > 0):
        med = float(np.median(sigma))
        rel = np.maximum(sigma, 0.5 * med) / med  # relative sd, median 1
    else:
        rel = np.ones(n)
    w = 1.0 / rel**2
    a = design.T @ (w[:, None] * design)
    a_inv = np.linalg.inv(a)
    coef = a_inv @ (design.T @ (w * y))
    r = y - design @ coef
    rss = float(np.sum(w * r * r))
    dof = n - p
    s2 = (nu0 * s0 * s0 + rss) / (nu0 + dof)
    if s2 <= 0:
        log.warning("fit_law: the optima lie exactly on the line and no prior scatter was "
                    "given; the prediction interval is zero-width")
    return coef, a_inv * s2, math.sqrt(max(s2, 0.0)), float(nu0 + dof)


def _fit_noise(design: np.ndarray, y: np.ndarray, sigma: np.ndarray, s0: float,
               nu0: float) -> tuple[np.ndarray, np.ndarray, float, float, float]:
    """Noise measured: weights ``1 / (sigma_i^2 + tau^2)``, Paule-Mandel ``tau``."""
    n, p = design.shape
    dof = n - p
    var = sigma**2
    tau2 = _paule_mandel(design, y, var, dof) if dof > 0 else 0.0
    if nu0 > 0:  # pool the prior scatter with what the residuals left
        tau2 = (nu0 * s0 * s0 + dof * tau2) / (nu0 + dof)
    w = 1.0 / (var + tau2)
    a_inv = np.linalg.inv(design.T @ (w[:, None] * design))
    coef = a_inv @ (design.T @ (w * y))
    scatter = math.sqrt(tau2 + float(np.median(var)))
    # tau is estimated from n - p residuals, the optima's own noise is measured: the
    # Welch-Satterthwaite degrees of freedom of their sum
    share = tau2 / (tau2 + float(np.median(var)))
    t_dof = math.inf if share == 0 else (nu0 + dof) / share**2
    return coef, a_inv, scatter, float(t_dof), math.sqrt(tau2)


def _paule_mandel(design: np.ndarray, y: np.ndarray, var: np.ndarray, dof: int) -> float:
    def q(tau2: float) -> float:
        w = 1.0 / np.maximum(var + tau2, 1e-300)
        a = design.T @ (w[:, None] * design)
        coef = np.linalg.solve(a, design.T @ (w * y))
        r = y - design @ coef
        return float(np.sum(w * r * r))

    if q(0.0) <= dof:
        return 0.0
    lo, hi = 0.0, max(float(np.var(y)), float(var.max()), 1e-12)
    while q(hi) > dof:
        hi *= 4
    for _ in range(60):  # bisection: q decreases in tau2
        mid = 0.5 * (lo + hi)
        lo, hi = (mid, hi) if q(mid) > dof else (lo, mid)
    return 0.5 * (lo + hi)

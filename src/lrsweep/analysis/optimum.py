"""``Optimum``: the estimated optimal LR with an interval that says what it covers."""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import asdict, dataclass
from typing import Any

import numpy as np

from ..results.best import Best
from ..stats import t_quantile

#: interval bases: several seeds (covers the seed-mean optimum at ``level``); one seed (that
#: seed's curve only, seed-to-seed spread unknown); none (no estimate)
BASES = ("seeds", "one-seed", "none")


@dataclass(frozen=True)
class Optimum:
    """The estimated optimal LR of a sweep, with its uncertainty.

    ``lr``: the estimate (None when no trial finished). ``low``/``high``: its interval; None
    is an open end (the interval reaches the lowest/highest LR tried, so the optimum may lie
    beyond). What the interval covers is its ``basis``:

    - ``"seeds"``: the optimum of the seed-mean curve, at confidence ``level`` (the spread
      of the seeds' optima, with a Student-t factor for ``n_seeds - 1`` degrees of freedom,
      combined with the grid's resolution);
    - ``"one-seed"``: only how precisely this one seed's curve places its own optimum. Seeds
      move the optimum sideways, often by a few tenths of an octave; one seed cannot say by
      how much, so this interval carries no confidence level. Use seeds=3.

    ``metric``: the metric at ``lr``, from the fitted curve when ``metric_fitted`` (kept
    inside the metric's possible range), else the best seed-mean value measured.
    ``best_lr``/``best_metric``: the top of the rows the estimate fits (the best seed-mean
    metric among the LRs that most of its seeds ran, a missing seed filled in by the
    seed-offset model), and that mean. The interval always holds ``best_lr``. ``measured``:
    the best measured LR (``lrsweep.results.best``: the best mean over the seeds that all ran it,
    as ``SweepResult.best()``); the summary's "best measured" is this one. ``band``: the LRs whose seed-mean metric is within
    ``band_tol`` (relative) of the best. ``at_low_edge``/``at_high_edge``: the best LR is the
    lowest/highest tried (and, high, no LR above it diverged). ``diverged_above``: the first
    LR above ``best_lr`` where a seed diverged; the interval stays below it. ``fit``:
    (a, b, c) of ``metric = a + b*x + c*x**2`` with ``x = log10(lr)`` over ``fit_range``.
    ``seed_se``: standard error of log2(lr) from the seeds (octaves); ``resolution``: the
    half-width (octaves) the grid and the fit's model error add. ``converged``/``stopped``:
    set by ``search`` (None for a plain sweep). ``estimator``: "quadratic" or "gp".
    ``flat_regret``: an upper ``level`` bound on how much worse (relative) than the best any
    LR inside the interval is (None: not known, e.g. an open end or one seed); ``flat``: it
    is within ``band_tol / 2``. ``window_edge``: "low"/"high" when the best LR is the
    lowest/highest LR the estimate's seeds all ran, but LRs beyond it were tried with fewer
    seeds (run them with every seed before more seeds or refining). ``plausible``: (low,
    high) of the LRs outside the fit's window that the seeds do not show worse than the best
    (a broad top another draw of seeds could put its optimum on); the interval holds them,
    and only more seeds can narrow it there (None: no such LR).
    """

    lr: float | None
    low: float | None
    high: float | None
    metric: float | None
    band: tuple[float, float] | None
    at_low_edge: bool
    at_high_edge: bool
    diverged_above: float | None
    method: str
    n_seeds: int
    n_points: int
    level: float
    direction: str
    best_lr: float | None = None
    best_metric: float | None = None
    fit: tuple[float, float, float] | None = None
    fit_range: tuple[float, float] | None = None
    band_tol: float = 0.01
    note: str = ""
    basis: str = "none"
    metric_fitted: bool = False
    metric_name: str = "metric"
    lr_range: tuple[float, float] | None = None
    seed_se: float | None = None
    resolution: float | None = None
    converged: bool | None = None
    stopped: str = ""
    estimator: str = "quadratic"
    flat_regret: float | None = None
    window_edge: str = ""
    measured: Best | None = None
    plausible: tuple[float, float] | None = None

    def __post_init__(self) -> None:
        if isinstance(self.measured, dict):  # an Optimum rebuilt from dataclasses.asdict
            object.__setattr__(self, "measured", Best(**{**self.measured, "seeds": tuple(
                self.measured.get("seeds", ()))}))

    # ---------------------------------------------------------------------------- views ----
    @property
    def found(self) -> bool:
        return self.lr is not None

    @property
    def open_low(self) -> bool:
        return self.found and self.low is None

    @property
    def open_high(self) -> bool:
        return self.found and self.high is None

    @property
    def ratio(self) -> float:
        """``high / low``: the interval's width as a factor (inf when an end is open)."""
        if self.low is None or self.high is None or self.low <= 0:
            return math.inf
        return self.high / self.low

    @property
    def flat(self) -> bool:
        """With ``level`` confidence every LR in the interval is within ``band_tol / 2`` of
        the best: a good answer whatever the interval's width."""
        return self.flat_regret is not None and self.flat_regret <= self.band_tol / 2

    @property
    def at_edge(self) -> bool:
        return self.at_low_edge or self.at_high_edge

    @property
    def bounds(self) -> tuple[float, float] | None:
        """(low, high) with an open end replaced by the end of the LRs tried (for drawing)."""
        if not self.found:
            return None
        lo_r, hi_r = self.lr_range or (self.lr, self.lr)
        return (self.low if self.low is not None else min(lo_r, self.lr),  # type: ignore
                self.high if self.high is not None else max(hi_r, self.lr))  # type: ignore

    @property
    def meaning(self) -> str:
        """What the interval covers, in words."""
        if self.basis == "seeds":
            return (f"{self.level:.0%} interval for the seed-mean optimum, from the spread "
                    f"of {self.n_seeds} seeds")
        if self.basis == "one-seed":
            return ("this seed's curve only (no confidence level): seed-to-seed spread "
                    "unknown, use seeds=3")
        return "no interval"

    def predict(self, lrs: Sequence[float] | np.ndarray) -> np.ndarray:
        """The fitted metric at ``lrs`` (nan outside ``fit_range`` or without a fit)."""
        x = np.log10(np.asarray(lrs, dtype=float))
        if self.fit is None or self.fit_range is None:
            return np.full_like(x, np.nan)
        a, b, c = self.fit
        y = a + b * x + c * x**2
        lo, hi = np.log10(self.fit_range[0]), np.log10(self.fit_range[1])
        return np.where((x >= lo - 1e-12) & (x <= hi + 1e-12), y, np.nan)

    def with_seeds(self, n: int) -> float:
        """The interval's expected ``high / low`` with ``n`` seeds instead of ``n_seeds``
        (the seed part shrinks as t(n-1)/sqrt(n); the grid's part stays). inf if unknown.
        More seeds never widen it: where the interval was capped (by the fitted rows, or
        at an LR that diverged), the projection is at most the interval as it is."""
        if self.basis != "seeds" or self.seed_se is None or n < 2:
            return math.inf
        q = (1 + self.level) / 2
        sd = self.seed_se * math.sqrt(self.n_seeds)
        seed_half = t_quantile(q, n - 1) * sd / math.sqrt(n)
        half = math.hypot(seed_half, self.resolution or 0.0)
        projected = 2 ** (2 * half) if half < 500 else math.inf  # no OverflowError
        return min(projected, self.ratio) if n >= self.n_seeds else projected

    def to_dict(self) -> dict[str, Any]:
        """Every field, plus ``ratio`` (None when open), ``open_low``/``open_high`` and
        ``meaning``; tuples as lists, open ends as None."""
        d = asdict(self)
        for k in ("band", "fit", "fit_range", "lr_range", "plausible"):
            d[k] = None if getattr(self, k) is None else list(getattr(self, k))
        d["ratio"] = None if math.isinf(self.ratio) else self.ratio
        d["open_low"], d["open_high"] = self.open_low, self.open_high
        d["meaning"] = self.meaning
        d["measured"] = None if self.measured is None else self.measured.to_dict()
        return d

    # ------------------------------------------------------------------------- printing ----
    def interval_text(self) -> str:
        """The interval in words: "90% interval 0.002..0.006 (x3.0, 3 seeds)", "above 0.01,
        at the high edge", "seed 0's curve only: ..."."""
        if not self.found:
            return "no interval"
        lo, hi = self.low, self.high
        if lo is None and hi is None:
            rng = self.lr_range or (self.lr, self.lr)
            span = f"anywhere around {rng[0]:.3g}..{rng[1]:.3g} (both ends open)"
        elif hi is None:
            span = f"above {lo:.3g}, " + ("at the high edge" if self.at_high_edge
                                         else "open: reaches the highest LR tried")
        elif lo is None:
            span = f"below {hi:.3g}, " + ("at the low edge" if self.at_low_edge
                                         else "open: reaches the lowest LR tried")
        else:
            span = f"{lo:.3g}..{hi:.3g}, x{self.ratio:.2f}"
        if self.basis == "seeds":
            return f"{self.level:.0%} interval {span} over {self.n_seeds} seeds"
        return f"this seed's curve only: {span}; seed-to-seed spread unknown: use seeds=3"

    def summary(self) -> str:
        if self.lr is None:
            return f"no optimum ({self.note})" if self.note else "no optimum"
        parts = [f"lr={self.lr:.3g} ({self.interval_text()})"]
        if self.metric is not None:
            label = "fitted " if self.metric_fitted else ""
            parts.append(f"{label}{self.metric_name}={self.metric:.4g}")
        if self.measured is not None:
            what = "" if self.measured.one_seed else "mean "
            parts.append(f"best measured lr={self.measured.lr:.3g} "
                         f"({what}{self.metric_name}={self.measured.metric:.4g})")
        if self.band is not None:
            parts.append(f"band({self.band_tol:.0%})={self.band[0]:.3g}..{self.band[1]:.3g}")
        if self.diverged_above is not None:
            parts.append(f"diverged at {self.diverged_above:.3g}")
        if self.converged is True:
            parts.append(f"converged ({self.stopped})" if self.stopped else "converged")
        elif self.converged is False and self.stopped.startswith("noise-limited"):
            parts.append(f"NOT converged, {self.stopped}")
        elif self.converged is False:
            parts.append(f"NOT converged ({self.stopped})" if self.stopped else "NOT converged")
        s = ", ".join(parts)
        return f"{s} [{self.method}; {self.note}]" if self.note else f"{s} [{self.method}]"

    def __str__(self) -> str:
        return self.summary()

"""Duck-typed inputs shared by the transfer modules: anything with ``lr`` / ``low`` / ``high``
(an ``Optimum``), a ``SweepResult`` or ``SearchResult`` (its ``.optimum()``), or a bare number.
Pure Python; no torch."""

from __future__ import annotations

import logging
import math
from dataclasses import dataclass
from typing import Any

from ..errors import bad_arg
from ..stats import normal_quantile, t_quantile

log = logging.getLogger("lrsweep")

__all__ = ["DEFAULT_LEVEL", "Point", "as_point", "grid_optimum", "normal_quantile",
           "optimum_of", "positive", "t_quantile"]

#: nominal coverage of an ``Optimum`` interval when the object does not say (issue 3: 90%).
DEFAULT_LEVEL = 0.9


@dataclass(frozen=True)
class Point:
    """An LR with its interval, as transfer uses it. ``level`` is the interval's coverage."""

    lr: float
    low: float
    high: float
    level: float = DEFAULT_LEVEL
    #: what the interval covers: "seeds" (the seed-to-seed noise, measured), "one-seed" (one
    #: seed's curve and the grid's resolution only), "given" (an interval passed by hand),
    #: "none" (no interval)
    basis: str = "given"

    @property
    def noise_known(self) -> bool:
        """Does the interval measure this optimum's noise (seeds, or an interval given by
        hand), rather than only one seed's curve or nothing?"""
        return self.basis in ("seeds", "given") and self.high > self.low

    @property
    def log_sigma(self) -> float:
        """Standard deviation of ln(lr) implied by the interval (Gaussian in log-LR)."""
        z = normal_quantile(0.5 + self.level / 2)
        return max(math.log(self.high / self.low), 0.0) / (2 * z)


def positive(v: Any) -> float | None:
    """``float(v)`` if it is a finite number > 0 (not a bool), else None."""
    if isinstance(v, bool):
        return None
    try:
        f = float(v)
    except (TypeError, ValueError):
        return None
    return f if math.isfinite(f) and f > 0 else None


def as_point(obj: Any, name: str = "optimum", *, warn: bool = True,
             **optimum_options: Any) -> Point:
    """Read an LR and its interval from ``obj``.

    Accepts an ``Optimum`` (or anything with ``lr``, ``low``, ``high``; ``level`` if it has
    one), an object with ``.optimum()`` (``SweepResult``, ``SearchResult``), a
    ``(lr, low, high)`` tuple, or a bare positive number (an interval of zero width).
    ``warn=False``: do not log the one-seed warning (a caller that reads many optima says it
    once).
    """
    if isinstance(obj, Point):
        return obj
    if positive(obj) is not None:
        lr = float(obj)
        return Point(lr, lr, lr, basis="none")
    if isinstance(obj, (tuple, list)) and len(obj) == 3:
        vals = [positive(v) for v in obj]
        if all(v is not None for v in vals):
            lr, low, high = vals  # type: ignore[misc]
            return _checked(lr, low, high, DEFAULT_LEVEL, name, obj)
    if not hasattr(obj, "lr") and callable(getattr(obj, "optimum", None)):
        obj = optimum_of(obj, **optimum_options)
    lr = positive(getattr(obj, "lr", None))
    if lr is None and hasattr(obj, "lr") and getattr(obj, "found", True) is False:
        note = getattr(obj, "note", "") or "no trial finished"
        raise bad_arg(name, "an optimum that was not found", "a sweep with a located optimum",
                      f"The sweep found no optimum ({note}); widen or lower the LR range.")
    if lr is None:
        raise bad_arg(name, _short(obj),
                      "an Optimum (lr, low, high), a SweepResult/SearchResult, "
                      "an (lr, low, high) tuple or a positive LR",
                      "Pass result.optimum() or the LR you measured.")
    _refuse_open(obj, name, lr)
    basis = getattr(obj, "basis", None)
    if basis == "one-seed" and warn:
        log.warning("%s: the interval describes one seed's curve only (the seed-to-seed "
                    "spread is unknown); sweep with seeds=3 for an interval that covers it",
                    name)
    low = positive(getattr(obj, "low", None)) or lr
    high = positive(getattr(obj, "high", None)) or lr
    level = getattr(obj, "level", None)
    level = float(level) if positive(level) is not None and float(level) < 1 else DEFAULT_LEVEL
    point = _checked(lr, low, high, level, name, obj)
    if basis in ("seeds", "one-seed", "none"):
        point = Point(point.lr, point.low, point.high, point.level, basis)
    elif high <= low:
        point = Point(point.lr, point.low, point.high, point.level, "none")
    return point


def _refuse_open(obj: Any, name: str, lr: float) -> None:
    """An optimum whose interval is open (``low`` or ``high`` None: it reached the end of the
    LRs tried) cannot be carried: the optimum may lie beyond the range."""
    if not (hasattr(obj, "low") and hasattr(obj, "high")):
        return
    open_low, open_high = obj.low is None, obj.high is None
    if not (open_low or open_high):
        return
    side = ("at both ends" if open_low and open_high else
            "at the low end" if open_low else "at the high end")
    text = obj.interval_text() if callable(getattr(obj, "interval_text", None)) else ""
    raise bad_arg(name, f"an optimum at lr={lr:.3g} open {side}" + (f" ({text})" if text else ""),
                  "an optimum with a closed interval",
                  "The best LR sits at the edge of the range tried, so the optimum may lie "
                  "beyond it: widen the LR range (or let search() widen it) and sweep again.")


def _checked(lr: float, low: float, high: float, level: float, name: str, obj: Any) -> Point:
    if not low <= lr <= high:
        raise bad_arg(name, _short(obj), "low <= lr <= high",
                      "The interval must contain the LR; check the optimum you passed.")
    return Point(lr, low, high, level)


def optimum_of(result: Any, **options: Any) -> Any:
    """``result.optimum()``; for a ``SweepResult`` when ``lrsweep.analysis`` is missing, the
    best grid point with its grid neighbours as the interval."""
    try:
        return result.optimum(**options)
    except ModuleNotFoundError as e:
        if "analysis" not in str(e) or not hasattr(result, "best"):
            raise
        return grid_optimum(result)


def grid_optimum(result: Any) -> Point:
    """The best grid LR of a ``SweepResult`` with its neighbouring grid LRs as interval."""
    best = result.best()
    if best is None:
        raise bad_arg("result", repr(result), "a sweep with at least one finished trial",
                      "Every trial diverged or failed; widen the LR range downwards.")
    lrs = result.lrs
    i = lrs.index(best.lr)
    return Point(best.lr, lrs[max(i - 1, 0)], lrs[min(i + 1, len(lrs) - 1)])


def _short(obj: Any) -> str:
    s = repr(obj)
    return s if len(s) <= 60 else s[:57] + "..."

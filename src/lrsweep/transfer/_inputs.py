"""Duck-typed inputs shared by the transfer modules: anything with ``lr`` / ``low`` / ``high``
(an ``Optimum``), a ``SweepResult`` or ``SearchResult`` (its ``.optimum()``), or a bare number.
Pure Python; no torch."""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

from ..errors import bad_arg

#: nominal coverage of an ``Optimum`` interval when the object does not say (issue 3: 90%).
DEFAULT_LEVEL = 0.9


@dataclass(frozen=True)
class Point:
    """An LR with its interval, as transfer uses it. ``level`` is the interval's coverage."""

    lr: float
    low: float
    high: float
    level: float = DEFAULT_LEVEL

    @property
    def log_sigma(self) -> float:
        """Standard deviation of ln(lr) implied by the interval (Gaussian in log-LR)."""
        z = normal_quantile(0.5 + self.level / 2)
        return max(math.log(self.high / self.low), 0.0) / (2 * z)


def normal_quantile(p: float) -> float:
    """Inverse of the standard normal CDF (Acklam's rational approximation, |err| < 1e-8
    after one Newton step). Pure Python so that scipy is not needed.

    >>> round(normal_quantile(0.975), 4)
    1.96
    """
    if not 0 < p < 1:
        raise ValueError(f"p={p} must lie in (0, 1)")
    a = (-3.969683028665376e01, 2.209460984245205e02, -2.759285104469687e02,
         1.383577518672690e02, -3.066479806614716e01, 2.506628277459239e00)
    b = (-5.447609879822406e01, 1.615858368580409e02, -1.556989798598866e02,
         6.680131188771972e01, -1.328068155288572e01)
    c = (-7.784894002430293e-03, -3.223964580411365e-01, -2.400758277161838e00,
         -2.549732539343734e00, 4.374664141464968e00, 2.938163982698783e00)
    d = (7.784695709041462e-03, 3.224671290700398e-01, 2.445134137142996e00,
         3.754408661907416e00)
    lo = 0.02425
    if p < lo:
        q = math.sqrt(-2 * math.log(p))
        x = (((((c[0] * q + c[1]) * q + c[2]) * q + c[3]) * q + c[4]) * q + c[5]) / \
            ((((d[0] * q + d[1]) * q + d[2]) * q + d[3]) * q + 1)
    elif p > 1 - lo:
        return -normal_quantile(1 - p)
    else:
        q = p - 0.5
        r = q * q
        x = (((((a[0] * r + a[1]) * r + a[2]) * r + a[3]) * r + a[4]) * r + a[5]) * q / \
            (((((b[0] * r + b[1]) * r + b[2]) * r + b[3]) * r + b[4]) * r + 1)
    # one Newton step on the CDF
    e = 0.5 * math.erfc(-x / math.sqrt(2)) - p
    return x - e * math.sqrt(2 * math.pi) * math.exp(x * x / 2)


def t_quantile(p: float, df: float) -> float:
    """Quantile of Student's t with ``df`` degrees of freedom (exact for 1 and 2, a
    Cornish-Fisher expansion above; within 1% for df >= 3).

    >>> round(t_quantile(0.95, 1), 3), round(t_quantile(0.95, 10), 2)
    (6.314, 1.81)
    """
    if df <= 0 or not math.isfinite(df):
        return normal_quantile(p)
    if df == 1:
        return math.tan(math.pi * (p - 0.5))
    if df == 2:
        return (2 * p - 1) / math.sqrt(2 * p * (1 - p))
    z = normal_quantile(p)
    return (z + (z**3 + z) / (4 * df) + (5 * z**5 + 16 * z**3 + 3 * z) / (96 * df**2)
            + (3 * z**7 + 19 * z**5 + 17 * z**3 - 15 * z) / (384 * df**3))


def positive(v: Any) -> float | None:
    """``float(v)`` if it is a finite number > 0 (not a bool), else None."""
    if isinstance(v, bool):
        return None
    try:
        f = float(v)
    except (TypeError, ValueError):
        return None
    return f if math.isfinite(f) and f > 0 else None


def as_point(obj: Any, name: str = "optimum", **optimum_options: Any) -> Point:
    """Read an LR and its interval from ``obj``.

    Accepts an ``Optimum`` (or anything with ``lr``, ``low``, ``high``; ``level`` if it has
    one), an object with ``.optimum()`` (``SweepResult``, ``SearchResult``), a
    ``(lr, low, high)`` tuple, or a bare positive number (an interval of zero width).
    """
    if isinstance(obj, Point):
        return obj
    if positive(obj) is not None:
        lr = float(obj)
        return Point(lr, lr, lr)
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
    low = positive(getattr(obj, "low", None)) or lr
    high = positive(getattr(obj, "high", None)) or lr
    level = getattr(obj, "level", None)
    level = float(level) if positive(level) is not None and float(level) < 1 else DEFAULT_LEVEL
    return _checked(lr, low, high, level, name, obj)


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

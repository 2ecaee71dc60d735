"""The quantiles lrsweep's intervals need, in one place. Pure Python (no scipy).

``normal_quantile`` is the standard library's ``statistics.NormalDist``; ``t_quantile``
inverts Student's t distribution function, written with the regularised incomplete beta
function (a continued fraction, as in Numerical Recipes), to double precision.
"""

from __future__ import annotations

import math
from statistics import NormalDist

__all__ = ["normal_quantile", "t_cdf", "t_over_z", "t_quantile"]

_NORMAL = NormalDist()


def normal_quantile(p: float) -> float:
    """Inverse of the standard normal distribution function.

    >>> round(normal_quantile(0.975), 4)
    1.96
    """
    if not 0 < p < 1:
        raise ValueError(f"p={p} must lie in (0, 1)")
    return _NORMAL.inv_cdf(p)


def _betacf(a: float, b: float, x: float) -> float:
    """Continued fraction of the incomplete beta function (modified Lentz)."""
    tiny = 1e-300
    qab, qap, qam = a + b, a + 1.0, a - 1.0
    c, d = 1.0, 1.0 - qab * x / qap
    d = 1.0 / (d if abs(d) > tiny else tiny)
    h = d
    for m in range(1, 400):
        m2 = 2 * m
        aa = m * (b - m) * x / ((qam + m2) * (a + m2))
        d = 1.0 + aa * d
        d = 1.0 / (d if abs(d) > tiny else tiny)
        c = 1.0 + aa / c
        c = c if abs(c) > tiny else tiny
        h *= d * c
        aa = -(a + m) * (qab + m) * x / ((a + m2) * (qap + m2))
        d = 1.0 + aa * d
        d = 1.0 / (d if abs(d) > tiny else tiny)
        c = 1.0 + aa / c
        c = c if abs(c) > tiny else tiny
        delta = d * c
        h *= delta
        if abs(delta - 1.0) < 1e-15:
            break
    return h


def _betainc(a: float, b: float, x: float) -> float:
    """Regularised incomplete beta function I_x(a, b)."""
    if x <= 0:
        return 0.0
    if x >= 1:
        return 1.0
    lbeta = math.lgamma(a + b) - math.lgamma(a) - math.lgamma(b)
    front = math.exp(lbeta + a * math.log(x) + b * math.log1p(-x))
    if x < (a + 1) / (a + b + 2):
        return front * _betacf(a, b, x) / a
    return 1.0 - front * _betacf(b, a, 1 - x) / b


def t_cdf(t: float, df: float) -> float:
    """Distribution function of Student's t with ``df`` > 0 degrees of freedom."""
    if not math.isfinite(df):
        return _NORMAL.cdf(t)
    tail = 0.5 * _betainc(df / 2, 0.5, df / (df + t * t))
    return 1 - tail if t > 0 else tail


def t_quantile(p: float, df: float) -> float:
    """Quantile of Student's t with ``df`` degrees of freedom (the normal quantile for
    ``df`` infinite or <= 0, i.e. "no degrees of freedom to correct for").

    >>> round(t_quantile(0.95, 1), 3), round(t_quantile(0.95, 2), 3), round(t_quantile(0.95, 10), 4)
    (6.314, 2.92, 1.8125)
    """
    if not 0 < p < 1:
        raise ValueError(f"p={p} must lie in (0, 1)")
    if df <= 0 or not math.isfinite(df):
        return normal_quantile(p)
    if df == 1:
        return math.tan(math.pi * (p - 0.5))
    if df == 2:
        return (2 * p - 1) / math.sqrt(2 * p * (1 - p))
    if p < 0.5:
        return -t_quantile(1 - p, df)
    # bracket and bisect on the distribution function, then polish with Newton steps
    lo, hi = 0.0, max(1.0, 2 * normal_quantile(p))
    while t_cdf(hi, df) < p:
        lo, hi = hi, 2 * hi
    for _ in range(200):
        mid = 0.5 * (lo + hi)
        if t_cdf(mid, df) < p:
            lo = mid
        else:
            hi = mid
        if hi - lo < 1e-13 * max(1.0, hi):
            break
    return 0.5 * (lo + hi)


def t_over_z(q: float, df: float) -> float:
    """``t_quantile(q, df) / normal_quantile(q)``: how much wider a t interval is than a
    normal one at the same level (1 for ``df`` infinite)."""
    return t_quantile(q, df) / normal_quantile(q)

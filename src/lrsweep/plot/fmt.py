"""How numbers read in the figures and the report: one format for an LR everywhere."""

from __future__ import annotations

import math

__all__ = ["fmt_lr", "fmt_metric", "fmt_tick"]


def fmt_lr(v: float | None, digits: int = 3) -> str:
    """An LR in short scientific form: ``7.48e-3``, ``1e-4``, ``2.5``; ``-`` for None.

    >>> fmt_lr(0.0074812), fmt_lr(1e-4), fmt_lr(1.0), fmt_lr(0.278)
    ('7.48e-3', '1e-4', '1', '2.78e-1')
    """
    if v is None or not math.isfinite(v):
        return "-" if v is None else str(v)
    if v == 0:
        return "0"
    exp = math.floor(math.log10(abs(v)))
    mant = v / 10.0**exp
    if round(abs(mant), digits - 1) >= 10:  # 9.996e-3 rounds up to 1e-2
        exp += 1
        mant /= 10
    m = f"{mant:.{digits}g}"
    return m if exp == 0 else f"{m}e{exp}"


def fmt_tick(v: float) -> str:
    """A tick label: plain decimals from 1e-3 to 1e5 (``0.2``, ``50``), short scientific
    outside (``5e-5``)."""
    if v != 0 and not 1e-3 <= abs(v) < 1e5:
        return fmt_lr(v, 2)
    return f"{v:g}"


def fmt_metric(v: float | None) -> str:
    """A metric value to four significant digits; ``-`` for None."""
    return "-" if v is None else f"{v:.4g}"

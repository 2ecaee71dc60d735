"""Optimum against scale on log-log axes: the measured optima with their intervals, the
fitted line, and its bootstrap band carried out to the target (the extrapolation shaded).

``law_plot_data`` computes everything (pure numpy, tested); ``plot_law`` only draws it.
matplotlib is imported lazily."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np

from ..errors import LRSweepError, bad_arg


def law_plot_data(law: Any, target: float | None = None, *, axis: str | None = None,
                  num: int = 60) -> dict[str, Any]:
    """Arrays for the plot of a one-axis law (or of ``axis`` of a multi-axis law, the other
    axes held at their first measured values)."""
    i = law._index(axis)
    name = law.x[i]
    xs = law.scales[:, i]
    lo_x, hi_x = float(xs.min()), float(xs.max())
    if target is not None:
        if not (isinstance(target, (int, float)) and target > 0):
            raise bad_arg("target", target, "a positive scale", "Pass e.g. target=4096.")
        lo_x, hi_x = min(lo_x, float(target)), max(hi_x, float(target))
    grid = np.exp(np.linspace(np.log(lo_x) - 0.1, np.log(hi_x) + 0.1, num))
    fixed = law.scales[0]
    mid, low, high = [], [], []
    for g in grid:
        x = {k: (g if j == i else float(fixed[j])) for j, k in enumerate(law.x)}
        p = law.predict(x)
        mid.append(p.lr)
        low.append(p.low)
        high.append(p.high)
    out: dict[str, Any] = {
        "axis": name, "x": xs, "lr": law.lrs, "low": law.lows, "high": law.highs,
        "grid": grid, "fit": np.array(mid), "band_low": np.array(low),
        "band_high": np.array(high), "fitted_range": (float(xs.min()), float(xs.max())),
        "formula": law.formula(), "level": law.level,
    }
    if target is not None:
        x = {k: (float(target) if j == i else float(fixed[j])) for j, k in enumerate(law.x)}
        out["target"] = float(target)
        out["prediction"] = law.predict(x)
    return out


def plot_law(law: Any, path: str | Path | None = None, *, target: float | None = None,
             axis: str | None = None, measured: float | None = None, title: str | None = None,
             ax: Any = None) -> Any:
    """Draw ``law`` (a fitted ``Law``); save to ``path`` if given; returns the Figure.
    ``measured`` marks an optimum measured at ``target`` (e.g. from ``confirm``)."""
    try:  # Figure, not pyplot: no global state, no backend to pick, no window
        from matplotlib.figure import Figure
    except ImportError as e:
        raise LRSweepError("plotting needs matplotlib: pip install 'lrsweep[plot]' "
                           "(or pip install matplotlib)") from e
    d = law_plot_data(law, target, axis=axis)
    own = ax is None
    if own:
        fig = Figure(figsize=(6, 4.2))
        ax = fig.subplots()
    else:
        fig = ax.figure
    lo, hi = d["fitted_range"]
    ax.fill_between(d["grid"], d["band_low"], d["band_high"], color="C0", alpha=0.18,
                    label=f"{d['level']:.0%} band")
    ax.plot(d["grid"], d["fit"], color="C0", label=d["formula"])
    if d["grid"].min() < lo or d["grid"].max() > hi:
        ax.axvspan(hi, d["grid"].max(), color="0.85", alpha=0.5, zorder=0,
                   label="extrapolation")
    yerr = np.vstack([d["lr"] - d["low"], d["high"] - d["lr"]])
    ax.errorbar(d["x"], d["lr"], yerr=yerr, fmt="o", color="k", capsize=3,
                label="measured optimum")
    if "prediction" in d:
        p = d["prediction"]
        ax.errorbar([d["target"]], [p.lr], yerr=[[p.lr - p.low], [p.high - p.lr]], fmt="D",
                    color="C3", capsize=3, label=f"predicted at {d['target']:g}")
    if measured is not None:
        ax.plot([d["target"] if target is not None else hi], [measured], "*", color="C2",
                markersize=12, label="measured at target")
    ax.set_xscale("log")
    ax.set_yscale("log")
    from matplotlib.ticker import NullFormatter, ScalarFormatter

    ticks = sorted(set(float(v) for v in d["x"]) | ({d["target"]} if "target" in d else set()))
    ax.set_xticks(ticks)
    ax.xaxis.set_major_formatter(ScalarFormatter())
    ax.xaxis.set_minor_formatter(NullFormatter())
    ax.set_xlabel(d["axis"])
    ax.set_ylabel("optimal lr")
    ax.set_title(title or f"optimal lr vs {d['axis']}")
    ax.legend(fontsize=7.5)  # as the sweep figures' legends
    if own:  # a figure passed in keeps its own layout
        fig.tight_layout()
    if path is not None:
        fig.savefig(path, dpi=120)
    return fig

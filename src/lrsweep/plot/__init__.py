"""Figures of a sweep or a search: the metric against the LR (log axis) with the fitted
optimum, its interval and the near-optimal band; the training-loss curves per LR; the rounds
of a search.

Split as optuna's visualization is: ``sweep_plot_data`` / ``rounds_plot_data``
(``lrsweep.plot.data``) compute everything drawn as plain numbers in typed records
(``lrsweep.plot.records``: ``SweepPlotData``), tested without matplotlib;
``lrsweep.plot.draw`` draws it. matplotlib is imported lazily and only through
``matplotlib.figure.Figure`` (no pyplot: no global state, no backend to pick, never a
window).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from ..analysis import Optimum
from .data import rounds_plot_data, short_reason, sweep_plot_data, trial_rounds
from .draw import draw_loss, draw_metric, draw_rounds, figure_class, render
from .records import SweepPlotData

__all__ = ["SweepPlotData", "draw_loss", "draw_metric", "draw_rounds", "plot_search",
           "plot_sweep", "render", "rounds_plot_data", "round_labels", "sweep_plot_data"]


def plot_sweep(result: Any, path: str | Path | None = None, *, optimum: bool | Optimum = True,
               rounds: dict[Any, int] | None = None,
               round_labels: dict[int, str] | None = None, title: str | None = None) -> Any:
    """Plot a ``SweepResult``: metric against LR with the optimum, its interval and band,
    diverged trials as crosses, and the training-loss curves. Returns the Figure."""
    figure_class()  # without matplotlib, fail before computing anything
    data = sweep_plot_data(result, optimum=optimum, rounds=rounds, round_labels=round_labels)
    return render(data, path, title=title)


def round_labels(found: Any) -> dict[int, str]:
    """Round index -> a short label ("coarse grid", "refining", "widening up")."""
    return {r.index: short_reason(r.reason) for r in found.rounds}


def plot_search(found: Any, path: str | Path | None = None, *,
                title: str | None = None) -> Any:
    """Plot a ``SearchResult``: as ``plot_sweep`` over all its trials, each round with its
    own marker and colour (named in the legend)."""
    return plot_sweep(found.result, path, optimum=found.optimum(),
                      rounds=trial_rounds(found.rounds),
                      round_labels=round_labels(found), title=title)

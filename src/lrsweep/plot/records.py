"""The typed hand-off between the figure data (``lrsweep.plot.data``) and its renderers
(``lrsweep.plot.draw``, the report's figures): frozen records, as optuna's
``_get_contour_info(...) -> _ContourInfo``, so that a renderer reads named fields."""

from __future__ import annotations

from dataclasses import dataclass

from ..analysis import Optimum

__all__ = ["LossCurve", "LossPanel", "LossSeries", "Point", "RoundStyle", "SweepPlotData"]

Ticks = list[tuple[float, str]]


@dataclass(frozen=True)
class Point:
    """A finished trial: its LR, seed, metric and the search round that ran it."""

    lr: float
    seed: int
    metric: float
    round: int


@dataclass(frozen=True)
class RoundStyle:
    """How a round's trials are drawn: marker, colour, legend label and how many trials."""

    index: int
    marker: str
    color: str
    label: str
    n: int


@dataclass(frozen=True)
class LossCurve:
    """The mean training loss per step over the seeds of one LR, and the LR's status."""

    lr: float
    status: str
    loss: list[float]


@dataclass(frozen=True)
class LossSeries:
    """One LR in the loss panel: the smoothed mean (``steps``, ``ema``), each trial's raw
    curve (steps, values), where a diverged trial stopped (``end``: step, loss) and over
    how many seeds."""

    lr: float
    status: str
    steps: list[int]
    ema: list[float]
    raw: list[tuple[list[int], list[float]]]
    end: tuple[int, float] | None
    n_seeds: int


@dataclass(frozen=True)
class LossPanel:
    """The training-loss panel: its series, y-limits, scale and ticks, the LR range of the
    colour scale, and how many of the LRs (``total``) it shows."""

    series: list[LossSeries]
    ylim: tuple[float, float] | None
    yscale: str
    yticks: Ticks
    lr_range: tuple[float, float]
    shown: int
    total: int


@dataclass(frozen=True)
class SweepPlotData:
    """What ``plot_sweep`` draws (see ``sweep_plot_data``): the finished trials
    (``points``), the seed-mean curve (``mean``: lr, metric, where no seed diverged), the
    LRs that ``diverged`` or ``failed``, the ``optimum`` (None: not drawn) and its ``fit``
    (xs, ys, clipped to ``bounds``, the metric's range), the y-limits with the far
    ``outliers`` left off them, the mean loss ``curves``, the ``loss`` panel, the search's
    ``rounds``, the LR axis' ticks, the ``title``, and the metric's name and direction."""

    points: list[Point]
    mean: list[tuple[float, float]]
    diverged: list[float]
    failed: list[float]
    optimum: Optimum | None
    fit: tuple[list[float], list[float]] | None
    bounds: tuple[float | None, float | None]
    ylim: tuple[float, float] | None
    outliers: list[Point]
    curves: list[LossCurve]
    loss: LossPanel | None
    rounds: list[RoundStyle]
    n_rounds: int
    lr_ticks: Ticks
    title: str
    metric_name: str
    direction: str
    n_seeds: int = 1

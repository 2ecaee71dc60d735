"""``confirm()``: a cheap sweep at the target scale, centred on a predicted LR, that says
whether the measured optimum falls inside the predicted interval."""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from ..errors import bad_arg
from ..grid import log_grid
from ._inputs import Point, as_point, optimum_of


@dataclass(frozen=True)
class Confirmation:
    """The outcome of ``confirm``: ``inside`` is True when the measured optimum lies in the
    predicted interval; ``log2_error`` is log2(measured / predicted); ``at_edge`` means the
    best LR sat on the grid's end, so the optimum may lie outside it (then ``inside`` is
    False and the check is inconclusive)."""

    inside: bool
    predicted: Point
    measured: Point
    log2_error: float
    at_edge: bool
    lrs: tuple[float, ...]
    result: Any

    @property
    def within_2x(self) -> bool:
        return abs(self.log2_error) <= 1.0

    def __str__(self) -> str:
        p, m = self.predicted, self.measured
        verdict = ("inconclusive: the best LR is on the grid's edge" if self.at_edge else
                   "CONFIRMED: inside the predicted interval" if self.inside else
                   "NOT confirmed: outside the predicted interval")
        return (f"predicted {p.lr:.4g} [{p.low:.4g}, {p.high:.4g}]; measured {m.lr:.4g} "
                f"[{m.low:.4g}, {m.high:.4g}]; log2(measured/predicted) = "
                f"{self.log2_error:+.2f}; {verdict}")


def confirmation_grid(predicted: Point, points: int) -> list[float]:
    """``points`` LRs log-evenly spaced over the predicted interval widened to at least a
    factor 4 on each side of the prediction (so that an optimum just outside is seen).

    >>> [round(v, 6) for v in confirmation_grid(Point(1e-3, 1e-3, 1e-3), 3)]
    [0.00025, 0.001, 0.004]
    """
    half = max(math.log(4.0), 1.25 * math.log(predicted.high / predicted.lr),
               1.25 * math.log(predicted.lr / predicted.low))
    return log_grid(predicted.lr * math.exp(-half), predicted.lr * math.exp(half), points)


def confirm(task_at_target: Any, predicted: Any, *, points: int = 5,
            seeds: Sequence[int] | int = (0,), engine: Any = "auto", store: Any = None,
            study: str | None = None, direction: str | None = None,
            **optimum_options: Any) -> Confirmation:
    """Sweep ``points`` (3 to 5 is typical) LRs around ``predicted`` (a ``Transferred``,
    ``Prediction``, Optimum, (lr, low, high) or LR) on the task at the target scale and
    check that the measured optimum falls in the predicted interval.

    A prediction with no interval (a bare LR) is checked against a factor-2 band."""
    if isinstance(points, bool) or not isinstance(points, int) or points < 3:
        raise bad_arg("points", points, "an integer >= 3",
                      "Three points locate an optimum; five are safer.")
    pred = as_point(predicted, "predicted")
    if pred.low == pred.high:
        pred = Point(pred.lr, pred.lr / 2, pred.lr * 2, pred.level)
    lrs = confirmation_grid(pred, points)
    from ..sweep import sweep

    result = sweep(task_at_target, lrs, seeds=seeds, engine=engine, store=store, study=study,
                   direction=direction)
    found = optimum_of(result, **optimum_options)
    measured = as_point(found, "result")
    best = result.best()
    grid = result.lrs
    at_edge = (best is not None and best.lr in (grid[0], grid[-1])) or bool(
        getattr(found, "at_low_edge", False) or getattr(found, "at_high_edge", False))
    inside = (not at_edge) and pred.low <= measured.lr <= pred.high
    return Confirmation(inside, pred, measured, math.log2(measured.lr / pred.lr), at_edge,
                        tuple(lrs), result)

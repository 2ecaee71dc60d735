"""``confirm()``: a cheap sweep at the target scale, centred on a predicted LR, that says
whether the measured optimum falls inside the predicted interval, and whether that check
says anything at all."""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from ..errors import bad_arg
from ..plan.grid import log_grid
from ._inputs import Point, as_point, optimum_of

#: a predicted or measured interval wider than this factor cannot confirm a prediction
MAX_RATIO = 4.0

VERDICTS = ("confirmed", "not confirmed", "inconclusive")


@dataclass(frozen=True)
class Confirmation:
    """The outcome of ``confirm``.

    ``verdict`` is "confirmed" only when the measured optimum lies in the predicted interval,
    the confirmation sweep resolves it (its best LR is not on the grid's edge, its interval
    is closed and at most ``MAX_RATIO`` wide) and the prediction is tight enough to be
    tested (at most ``MAX_RATIO`` wide); "not confirmed" when a resolved measurement lies
    outside the prediction and its interval does not overlap it; otherwise "inconclusive",
    and ``why`` says why. ``inside``: the measured LR lies in the predicted interval;
    ``log2_error``: log2(measured / predicted); ``at_edge``: the best LR sat on the grid's
    end. ``measured_optimum`` is the confirmation sweep's ``Optimum``; ``result`` the sweep.
    """

    inside: bool
    predicted: Point
    measured: Point | None
    log2_error: float
    at_edge: bool
    lrs: tuple[float, ...]
    result: Any
    verdict: str = "inconclusive"
    why: str = ""
    measured_optimum: Any = None

    @property
    def confirmed(self) -> bool:
        return self.verdict == "confirmed"

    @property
    def within_2x(self) -> bool:
        return abs(self.log2_error) <= 1.0

    def __str__(self) -> str:
        p, m = self.predicted, self.measured
        head = f"predicted {p.lr:.4g} [{p.low:.4g}, {p.high:.4g}]; "
        if self.measured_optimum is not None and getattr(self.measured_optimum, "found", False):
            head += (f"measured {self.measured_optimum.lr:.4g} "
                     f"({self.measured_optimum.interval_text()}); ")
        elif m is not None:
            head += f"measured {m.lr:.4g} [{m.low:.4g}, {m.high:.4g}]; "
        err = "" if not math.isfinite(self.log2_error) else (
            f"log2(measured/predicted) = {self.log2_error:+.2f}; ")
        label = {"confirmed": "CONFIRMED", "not confirmed": "NOT confirmed",
                 "inconclusive": "inconclusive"}[self.verdict]
        return f"{head}{err}{label}: {self.why}"


def confirmation_grid(predicted: Point, points: int) -> list[float]:
    """``points`` LRs log-evenly spaced over the predicted interval widened to at least a
    factor 4 on each side of the prediction (so that an optimum just outside is seen).

    >>> [round(v, 6) for v in confirmation_grid(Point(1e-3, 1e-3, 1e-3), 3)]
    [0.00025, 0.001, 0.004]
    """
    half = max(math.log(4.0), 1.25 * math.log(predicted.high / predicted.lr),
               1.25 * math.log(predicted.lr / predicted.low))
    return log_grid(predicted.lr * math.exp(-half), predicted.lr * math.exp(half), points)


def judge(pred: Point, found: Any, grid: Sequence[float], max_ratio: float = MAX_RATIO
          ) -> tuple[str, str, bool, bool]:
    """(verdict, why, inside, at_edge) of a measured ``Optimum`` against ``pred``."""
    if found is None or not getattr(found, "found", True) or getattr(found, "lr", None) is None:
        note = getattr(found, "note", "") or "no trial finished"
        return "inconclusive", f"no optimum measured ({note})", False, False
    lr = float(found.lr)
    best = getattr(found, "best_lr", None)
    at_edge = bool(getattr(found, "at_low_edge", False) or getattr(found, "at_high_edge", False)
                   or (best is not None and best in (grid[0], grid[-1])))
    inside = pred.low <= lr <= pred.high
    low, high = getattr(found, "low", lr), getattr(found, "high", lr)
    if at_edge or low is None or high is None:
        if high is not None and high < pred.low:
            return ("not confirmed", f"the measured optimum lies below {high:.4g} (at the "
                    "grid's low edge), under the predicted interval", inside, True)
        if low is not None and low > pred.high:
            return ("not confirmed", f"the measured optimum lies above {low:.4g} (at the "
                    "grid's high edge), over the predicted interval", inside, True)
        return ("inconclusive", "the measured optimum is at the edge of the confirmation grid "
                "(it may lie beyond): sweep a wider range", inside, True)
    m_ratio = high / low
    if m_ratio > max_ratio:
        return ("inconclusive", f"the confirmation sweep does not resolve the optimum (its "
                f"interval is x{m_ratio:.1f} wide): use more points or seeds", inside, at_edge)
    p_ratio = pred.high / pred.low
    if inside and p_ratio > max_ratio:
        return ("inconclusive", f"the predicted interval is x{p_ratio:.1f} wide: it would hold "
                "almost any optimum; narrow the prediction (more seeds or scales)", inside,
                at_edge)
    if inside:
        return "confirmed", "the measured optimum lies inside the predicted interval", inside, \
            at_edge
    if high < pred.low or low > pred.high:
        return "not confirmed", "the measured optimum lies outside the predicted interval", \
            inside, at_edge
    return ("inconclusive", "the measured optimum lies outside the predicted interval, but its "
            "own interval overlaps it: use more seeds", inside, at_edge)


def confirm(task_at_target: Any, predicted: Any, *, points: int = 5,
            seeds: Sequence[int] | int = (0,), engine: Any = "auto", store: Any = None,
            study: str | None = None, direction: str | None = None,
            max_ratio: float = MAX_RATIO, **optimum_options: Any) -> Confirmation:
    """Sweep ``points`` (3 to 5 is typical) LRs around ``predicted`` (a ``Transferred``,
    ``Prediction``, Optimum, (lr, low, high) or LR) on the task at the target scale and
    check that the measured optimum falls in the predicted interval (see ``Confirmation``
    for when that is "confirmed", "not confirmed" or "inconclusive").

    A prediction with no interval (a bare LR) is checked against a factor-2 band. An
    optimum whose interval is open is refused (it may lie beyond the range it was
    measured on)."""
    if isinstance(points, bool) or not isinstance(points, int) or points < 3:
        raise bad_arg("points", points, "an integer >= 3",
                      "Three points locate an optimum; five are safer.")
    if not (isinstance(max_ratio, (int, float)) and max_ratio > 1):
        raise bad_arg("max_ratio", max_ratio, "a factor > 1", "Leave it at 4.")
    pred = as_point(predicted, "predicted")
    if pred.low == pred.high:
        pred = Point(pred.lr, pred.lr / 2, pred.lr * 2, pred.level)
    lrs = confirmation_grid(pred, points)
    from ..sweep import sweep

    result = sweep(task_at_target, lrs, seeds=seeds, engine=engine, store=store, study=study,
                   direction=direction)
    found = optimum_of(result, **optimum_options)
    verdict, why, inside, at_edge = judge(pred, found, result.lrs, max_ratio)
    measured = None
    if getattr(found, "lr", None) is not None:
        lr = float(found.lr)
        measured = Point(lr, found.low or lr, found.high or lr,
                         getattr(found, "level", pred.level))
    err = math.log2(measured.lr / pred.lr) if measured is not None else math.nan
    return Confirmation(inside, pred, measured, err, at_edge, tuple(lrs), result, verdict, why,
                        found)

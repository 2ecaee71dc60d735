"""The best measured LR of a sweep, one definition for every place that says "best
measured" (``SweepResult.best()``, the ``Optimum``'s summary, the report, the CLI): the best
mean metric over seeds, compared only at the LRs that the same seeds all ran (the seed set
of the most seeds that most LRs ran), never an LR where a seed diverged, nor a failed trial.
Not the luckiest seed: an LR tried on fewer seeds (a search's coarse first round) is not
ranked on their luck.

Plain Python on (lr, seed, metric, status) records, so that it needs neither numpy's
analysis nor torch (``lrsweep show`` prints it where the analysis cannot load).
"""

from __future__ import annotations

import math
from collections import defaultdict
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Any

from .trial import Status

__all__ = ["Best", "best_measured", "mean_metric", "rows_by_lr", "sd", "tied_best"]

# one trial: (seed, status value, metric or None)
Rows = dict[float, list[tuple[int, str, "float | None"]]]


@dataclass(frozen=True)
class Best:
    """The best measured LR of a sweep: ``metric`` is the mean over ``seeds`` (``sd`` their
    standard deviation, None with one seed), compared only at the ``n_lrs`` LRs that every
    one of those seeds ran (a mean over other seeds at another LR would rank seed luck). A
    best LR never diverged (``status`` is always ok). With one seed it is that seed's best
    (``one_seed``), not a mean."""

    lr: float
    metric: float
    seeds: tuple[int, ...]
    sd: float | None = None
    status: Status = Status.OK
    n_lrs: int = 1

    @property
    def ok(self) -> bool:
        return True

    @property
    def one_seed(self) -> bool:
        return len(self.seeds) == 1

    @property
    def label(self) -> str:
        """What ``metric`` is: "seed 0 only" or "mean over 3 seeds (0, 1, 2)"."""
        if self.one_seed:
            return f"seed {self.seeds[0]} only"
        return f"mean over {len(self.seeds)} seeds ({', '.join(map(str, self.seeds))})"

    def text(self, metric_name: str = "metric") -> str:
        """"lr 0.0118: accuracy 0.9285, mean over 3 seeds (0, 1, 2), at the 6 LRs they all
        ran"; a one-seed best says it is one seed's."""
        where = "" if self.n_lrs < 2 else (
            f", best of the {self.n_lrs} LRs it ran" if self.one_seed
            else f", best of the {self.n_lrs} LRs they all ran")
        return f"lr {self.lr:.4g}: {metric_name} {self.metric:.4f}, {self.label}{where}"

    def to_dict(self) -> dict[str, Any]:
        return {"lr": self.lr, "metric": self.metric,
                "metric_is": "one seed's" if self.one_seed else "mean over seeds",
                "seeds": list(self.seeds), "sd": self.sd, "n_lrs": self.n_lrs}


def rows_by_lr(lrs: Iterable[float], seeds: Iterable[int], metrics: Iterable[float | None],
          statuses: Iterable[Any]) -> Rows:
    """Trials by LR (increasing): (seed, status, metric) with a non-finite metric as None."""
    out: Rows = defaultdict(list)
    for lr, s, m, st in zip(lrs, seeds, metrics, statuses):
        m = None if m is None or not math.isfinite(float(m)) else float(m)
        out[float(lr)].append((int(s), str(getattr(st, "value", st)), m))
    return dict(sorted(out.items()))


def mean_metric(rows: list[tuple[int, str, float | None]]) -> float | None:
    """Mean over the finished seeds of one LR; None if any seed diverged or none finished
    (a diverged seed makes the LR unusable)."""
    if not rows or any(st == "diverged" for _, st, _ in rows):
        return None
    vals = [m for _, st, m in rows if st == "ok" and m is not None]
    return sum(vals) / len(vals) if vals else None


def _finished(rows: list[tuple[int, str, float | None]]) -> tuple[int, ...]:
    return tuple(sorted({s for s, st, m in rows if st == "ok" and m is not None}))


def best_measured(by_lr: Rows, direction: str) -> Best | None:
    """The best measured LR of trials grouped by ``rows_by_lr`` (see the module docstring);
    None when no LR finished without a diverged seed.

    >>> rows = rows_by_lr([1e-3, 1e-3, 1e-2, 1e-2, 1e-1], [0, 1, 0, 1, 0],
    ...              [0.80, 0.82, 0.70, 0.90, 0.99], ["ok"] * 5)
    >>> b = best_measured(rows, "max")   # 1e-1: one seed's luck, not ranked
    >>> b.lr, round(b.metric, 2), b.seeds, b.n_lrs
    (0.001, 0.81, (0, 1), 2)
    """
    sets: dict[float, tuple[int, ...]] = {}
    for lr, rows in by_lr.items():
        if any(st == "diverged" for _, st, _ in rows):
            continue
        done = _finished(rows)
        if done:
            sets[lr] = done
    if not sets:
        return None
    k = max(len(v) for v in sets.values())
    # the seed set of size k that most LRs ran (ties: the lowest seeds)
    counts: dict[tuple[int, ...], int] = defaultdict(int)
    for v in sets.values():
        if len(v) == k:
            counts[v] += 1
    seeds = min(counts, key=lambda v: (-counts[v], v))
    best_lr, best_val = None, None
    for lr, v in sets.items():
        if v != seeds:
            continue
        m = mean_metric(by_lr[lr])
        if m is not None and (best_val is None or (m > best_val if direction == "max"
                                                   else m < best_val)):
            best_lr, best_val = lr, m
    if best_lr is None or best_val is None:
        return None
    vals = [m for _, st, m in by_lr[best_lr] if st == "ok" and m is not None]
    return Best(best_lr, best_val, seeds, sd(vals), n_lrs=counts[seeds])


def tied_best(by_lr: Rows, best: Best | None) -> list[float]:
    """The LRs whose mean metric equals the best measured one (on the same seeds): more
    than one when the metric cannot tell them apart (saturated, or a small validation
    set)."""
    if best is None:
        return []
    out = []
    for lr, rows in by_lr.items():
        m = mean_metric(rows)
        if m is not None and _finished(rows) == best.seeds and abs(m - best.metric) <= 1e-9:
            out.append(lr)
    return out


def sd(vals: Sequence[float]) -> float | None:
    """The sample standard deviation; None for fewer than two values."""
    if len(vals) < 2:
        return None
    m = sum(vals) / len(vals)
    return math.sqrt(sum((v - m) ** 2 for v in vals) / (len(vals) - 1))

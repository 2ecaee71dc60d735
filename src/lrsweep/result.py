"""``SweepResult``: the trials of a sweep, with the views a user wants (best, table, JSON,
CSV, plot, optimum)."""

from __future__ import annotations

import csv
import io
import json
import math
from collections import defaultdict
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from .trial import Status, TrialResult


@dataclass(frozen=True)
class Best:
    """The best LR of a sweep: ``metric`` is the mean over its finished ``seeds`` (``sd``
    their standard deviation, None with one seed). A best LR never diverged (``status`` is
    always ok)."""

    lr: float
    metric: float
    seeds: tuple[int, ...]
    sd: float | None = None
    status: Status = Status.OK

    @property
    def ok(self) -> bool:
        return True

    def to_dict(self) -> dict[str, Any]:
        return {"lr": self.lr, "metric": self.metric, "metric_is": "mean over seeds",
                "seeds": list(self.seeds), "sd": self.sd}


class SweepResult:
    """The outcome of a sweep: ``trials`` (one ``TrialResult`` per (lr, seed)), the metric's
    ``direction`` ('max' or 'min') and name."""

    def __init__(self, trials: Iterable[TrialResult], direction: str, metric_name: str = "metric",
                 *, engine: str = "sequential", study: str | None = None,
                 protocol: dict[str, Any] | None = None) -> None:
        self.trials = sorted(trials, key=lambda t: (t.lr, t.seed))
        self.direction = direction
        self.metric_name = metric_name
        self.engine = engine
        self.study = study
        self.protocol = protocol or {}
        self.reused = 0  # trials taken from a store instead of trained (set by sweep)
        self._groups: dict[float, list[TrialResult]] | None = None

    # ---------------------------------------------------------------------------- views ----
    @property
    def lrs(self) -> list[float]:
        return sorted({t.lr for t in self.trials})

    @property
    def seeds(self) -> list[int]:
        return sorted({t.seed for t in self.trials})

    def _better(self, a: float, b: float) -> bool:
        return a > b if self.direction == "max" else a < b

    def by_lr(self) -> dict[float, list[TrialResult]]:
        """Trials grouped by LR, in increasing LR (computed once)."""
        if self._groups is None:
            groups: dict[float, list[TrialResult]] = defaultdict(list)
            for t in self.trials:
                groups[t.lr].append(t)
            self._groups = dict(sorted(groups.items()))
        return self._groups

    def mean_metric(self, lr: float) -> float | None:
        """Mean over seeds of the finished trials at ``lr``; None if any seed diverged or
        none finished (a diverged seed makes the LR unusable)."""
        group = self.by_lr().get(lr, [])
        if not group or any(t.status is Status.DIVERGED for t in group):
            return None
        vals = [t.metric for t in group if t.ok]
        return sum(vals) / len(vals) if vals else None  # type: ignore[arg-type]

    def best(self) -> Best | None:
        """The LR with the best mean metric over its seeds, with that mean (never an LR where
        a seed diverged, nor a failed trial). Not the luckiest seed: with several seeds the
        best single trial is often a neighbour's."""
        best_lr, best_val = None, None
        for lr in self.lrs:
            m = self.mean_metric(lr)
            if m is not None and (best_val is None or self._better(m, best_val)):
                best_lr, best_val = lr, m
        if best_lr is None or best_val is None:
            return None
        vals = [t.metric for t in self.by_lr()[best_lr] if t.ok]
        seeds = tuple(sorted(t.seed for t in self.by_lr()[best_lr] if t.ok))
        return Best(best_lr, best_val, seeds, _sd(vals))  # type: ignore[arg-type]

    def as_dict(self) -> dict[float, float]:
        """LR -> mean metric over seeds (nan where the LR diverged or failed)."""
        out = {}
        for lr in self.lrs:
            m = self.mean_metric(lr)
            out[lr] = math.nan if m is None else m
        return out

    def optimum(self, **options: Any) -> Any:
        """The optimum with its interval, band and edge flags (see ``lrsweep.analysis``)."""
        from .analysis import optimum_from_trials

        options.setdefault("metric_name", self.metric_name)
        return optimum_from_trials(self.trials, self.direction, **options)

    def table(self) -> str:
        """A readable text table, one row per LR (mean over seeds), the best marked '*'."""
        best = self.best()
        n_seeds = max((len(g) for g in self.by_lr().values()), default=1)
        shared = any(t.extra.get("chunk_size", 1) > 1 for t in self.trials)
        time_label = "time s" + {(False, False): "", (True, False): " (sum)",
                                 (False, True): " (share)",
                                 (True, True): " (share, sum)"}[(n_seeds > 1, shared)]
        rows = [("", "lr", self.metric_name, "sd", "seeds", "status", "final loss", time_label)]
        for lr, group in self.by_lr().items():
            vals = [t.metric for t in group if t.ok]
            mean = self.mean_metric(lr)
            sd = _sd(vals)  # type: ignore[arg-type]
            statuses = sorted({t.status.value for t in group})
            finals = [t.curve[-1] for t in group if t.curve]
            rows.append((
                "*" if best is not None and lr == best.lr else "",
                f"{lr:.3e}",
                "-" if mean is None else f"{mean:.4f}",
                "" if sd is None else f"{sd:.4f}",
                str(len(group)),
                "/".join(statuses),
                "-" if not finals else f"{sum(finals) / len(finals):.4g}",
                f"{sum(t.wall_time for t in group):.2f}",
            ))
        widths = [max(len(r[i]) for r in rows) for i in range(len(rows[0]))]
        lines = ["  ".join(c.rjust(w) for c, w in zip(r, widths)) for r in rows]
        lines.insert(1, "-" * len(lines[0]))
        notes = []
        if n_seeds > 1:
            notes.append(f"summed over the seeds of each LR (up to {n_seeds})")
        if shared:
            notes.append("a stacked (vectorized) trial counts an equal share of its group's "
                         "wall time")
        if notes:
            lines.append(f"{time_label}: " + "; ".join(notes) + ".")
        return "\n".join(lines)

    # -------------------------------------------------------------------------- exports ----
    def to_dict(self) -> dict[str, Any]:
        best = self.best()
        return {
            "metric": self.metric_name,
            "direction": self.direction,
            "engine": self.engine,
            "study": self.study,
            "best": None if best is None else best.to_dict(),
            "optimum": _optimum_dict(self),
            "protocol": self.protocol,
            "trials": [t.to_dict() for t in self.trials],
        }

    def to_json(self, path: str | Path, *, overwrite: bool = False) -> Path:
        """Write ``to_dict()`` as JSON. An existing file is replaced only with
        ``overwrite=True``; an SQLite file (a store) never."""
        from .outputs import write_text

        return write_text(path, json.dumps(self.to_dict(), indent=1, default=str),
                          overwrite=overwrite)

    @classmethod
    def from_json(cls, path: str | Path) -> SweepResult:
        d = json.loads(Path(path).read_text())
        return cls([TrialResult.from_dict(t) for t in d["trials"]], d["direction"],
                   d.get("metric", "metric"), engine=d.get("engine", "?"),
                   study=d.get("study"), protocol=d.get("protocol"))

    CSV_FIELDS = ("lr", "seed", "status", "metric", "steps", "final_loss", "wall_time",
                  "engine", "group", "error")

    def to_csv(self, path: str | Path, *, overwrite: bool = False) -> Path:
        """One row per trial. An existing file is replaced only with ``overwrite=True``;
        an SQLite file (a store) never."""
        from .outputs import write_text

        return write_text(path, self.csv_text(), overwrite=overwrite, newline="")

    def csv_text(self) -> str:
        """The CSV of ``to_csv`` as a string."""
        f = io.StringIO(newline="")
        w = csv.writer(f)
        w.writerow(self.CSV_FIELDS)
        for t in self.trials:
            w.writerow([repr(t.lr), t.seed, t.status.value,
                        "" if t.metric is None else repr(t.metric), t.steps,
                        repr(t.curve[-1]) if t.curve else "", f"{t.wall_time:.4f}",
                        t.engine, t.group or "",
                        (t.error or "").splitlines()[0] if t.error else ""])
        return f.getvalue()

    def plot(self, path: str | Path | None = None, **options: Any) -> Any:
        """Metric against LR (log axis) and the training-loss curves; saved to ``path`` if
        given. Returns the matplotlib Figure."""
        from .plot import plot_sweep

        return plot_sweep(self, path, **options)

    def report(self, path: str | Path, *, overwrite: bool = False, **options: Any) -> Path:
        """Write one self-contained HTML report (the optimum and what to do next, figures,
        trials, protocol) to ``path``; it loads nothing from the network. An existing file is
        replaced only with ``overwrite=True`` or when it is an earlier report. Options: see
        ``lrsweep.report.build_report`` (``law=``, ``title=``, ...)."""
        from .report import build_report, write_report

        return write_report(path, build_report(self, **options), overwrite=overwrite)

    def __repr__(self) -> str:
        best = self.best()
        b = "none" if best is None else f"lr={best.lr:.3g} {self.metric_name}={best.metric:.4g}"
        return f"SweepResult({len(self.trials)} trials, best {b})"


def _optimum_dict(result: SweepResult) -> dict[str, Any] | None:
    """The optimum for ``sweep.json`` (None when it cannot be estimated)."""
    if not any(t.ok for t in result.trials):
        return None
    try:
        return result.optimum().to_dict()
    except ImportError:
        return None


def _sd(vals: list[float]) -> float | None:
    if len(vals) < 2:
        return None
    m = sum(vals) / len(vals)
    return math.sqrt(sum((v - m) ** 2 for v in vals) / (len(vals) - 1))

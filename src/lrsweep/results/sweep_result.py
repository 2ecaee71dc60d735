"""``SweepResult``: the trials of a sweep, with the views a user wants (best, table, JSON,
CSV, plot, optimum, report).

The views are computed where they live: the best measured LR by ``lrsweep.results.best``, the
optimum by ``lrsweep.analysis``, the figures by ``lrsweep.plot`` and the HTML page by
``lrsweep.report``. Those take any result-like object (``trials``, ``direction``,
``metric_name``, ``by_lr()``...) and import none of the result classes, so the arrow runs one
way: this class calls them, they never call back."""

from __future__ import annotations

import csv
import io
import json
import math
from collections import defaultdict
from collections.abc import Iterable
from pathlib import Path
from typing import Any

from ..text import format_table, plural
from .best import Best, Rows, best_measured, mean_metric, rows_by_lr, sd, tied_best
from .trial import TrialResult

__all__ = ["Best", "SweepResult"]


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
        self.store: str | None = None  # the store's path, when a sweep used one (set by sweep)
        self._groups: dict[float, list[TrialResult]] | None = None
        self._by_lr_rows: Rows | None = None

    # ---------------------------------------------------------------------------- views ----
    @property
    def lrs(self) -> list[float]:
        return sorted({t.lr for t in self.trials})

    @property
    def seeds(self) -> list[int]:
        return sorted({t.seed for t in self.trials})

    def by_lr(self) -> dict[float, list[TrialResult]]:
        """Trials grouped by LR, in increasing LR (computed once)."""
        if self._groups is None:
            groups: dict[float, list[TrialResult]] = defaultdict(list)
            for t in self.trials:
                groups[t.lr].append(t)
            self._groups = dict(sorted(groups.items()))
        return self._groups

    def _rows(self) -> Rows:
        """The trials as ``lrsweep.results.best`` reads them (computed once)."""
        if self._by_lr_rows is None:
            ts = self.trials
            self._by_lr_rows = rows_by_lr([t.lr for t in ts], [t.seed for t in ts],
                                 [t.metric for t in ts], [t.status for t in ts])
        return self._by_lr_rows

    def mean_metric(self, lr: float) -> float | None:
        """Mean over seeds of the finished trials at ``lr``; None if any seed diverged or
        none finished (a diverged seed makes the LR unusable)."""
        return mean_metric(self._rows().get(lr, []))

    def best(self) -> Best | None:
        """The best measured LR (``lrsweep.results.best``): the best mean metric over seeds,
        compared only at the LRs that the same seeds all ran (the most seeds any LR has),
        never an LR where a seed diverged, nor a failed trial. ``optimum()`` is the answer
        (the estimate between the LRs); this is the best point measured."""
        return best_measured(self._rows(), self.direction)

    def tied_best(self) -> list[float]:
        """The LRs whose mean metric equals the best measured one (on the same seeds): more
        than one when the metric cannot tell them apart (saturated, or a small validation
        set)."""
        rows = self._rows()
        return tied_best(rows, best_measured(rows, self.direction))

    def saturated(self) -> str:
        """A warning, or "": several LRs tie at the best measured metric, e.g. accuracy 1.0
        on every seed (a saturated metric: it cannot rank them, so the optimum is anywhere
        among them)."""
        ties = self.tied_best()
        if len(ties) < 2:
            return ""
        best = self.best()
        assert best is not None
        from ..analysis import METRIC_BOUNDS

        lo, hi = METRIC_BOUNDS.get(self.metric_name, (None, None))
        bound = hi if self.direction == "max" else lo
        where = f"{len(ties)} LRs ({ties[0]:.3g} to {ties[-1]:.3g})"
        seeds = "on every seed" if len(best.seeds) > 1 else f"on seed {best.seeds[0]}"
        if bound is not None and abs(best.metric - bound) <= 1e-9:
            return (f"Saturated metric: {where} tie at {self.metric_name} {best.metric:g} "
                    f"{seeds}, so the metric cannot tell them apart and the optimum is "
                    "anywhere among them. Score a harder validation set, or the validation "
                    "loss.")
        return (f"Tie: {where} reach the same best {self.metric_name} {best.metric:.4g} "
                f"{seeds}; the validation set is too small to rank them (use more "
                "validation data, or the validation loss).")

    def as_dict(self) -> dict[float, float]:
        """LR -> mean metric over seeds (nan where the LR diverged or failed)."""
        out = {}
        for lr in self.lrs:
            m = self.mean_metric(lr)
            out[lr] = math.nan if m is None else m
        return out

    def optimum(self, **options: Any) -> Any:
        """The optimum with its interval, band and edge flags (see ``lrsweep.analysis``)."""
        from ..analysis import optimum_from_trials

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
            spread = sd(vals)  # type: ignore[arg-type]
            statuses = sorted({t.status.value for t in group})
            finals = [t.curve[-1] for t in group if t.curve]
            rows.append((
                "*" if best is not None and lr == best.lr else "",
                f"{lr:.3e}",
                "-" if mean is None else f"{mean:.4f}",
                "" if spread is None else f"{spread:.4f}",
                str(len(group)),
                "/".join(statuses),
                "-" if not finals else f"{sum(finals) / len(finals):.4g}",
                f"{sum(t.wall_time for t in group):.2f}",
            ))
        lines = [format_table(rows, align="r" * len(rows[0]))]
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
        from ..outputs import write_text

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
        from ..outputs import write_text

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
        from ..plot import plot_sweep

        return plot_sweep(self, path, **options)

    def report(self, path: str | Path, *, overwrite: bool = False, **options: Any) -> Path:
        """Write one self-contained HTML report (the optimum and what to do next, figures,
        trials, protocol) to ``path``; it loads nothing from the network. An existing file is
        replaced only with ``overwrite=True`` or when it is an earlier report. Options: see
        ``lrsweep.report.build_report`` (``law=``, ``title=``, ...)."""
        from ..report import build_report, write_report

        return write_report(path, build_report(self, **options), overwrite=overwrite)

    def __repr__(self) -> str:
        best = self.best()
        b = "none" if best is None else (f"lr={best.lr:.3g} {self.metric_name}="
                                         f"{best.metric:.4g} ({best.label})")
        return f"SweepResult({plural(len(self.trials), 'trial')}, best measured {b})"


def _optimum_dict(result: SweepResult) -> dict[str, Any] | None:
    """The optimum for ``sweep.json`` (None when it cannot be estimated)."""
    if not any(t.ok for t in result.trials):
        return None
    return result.optimum().to_dict()


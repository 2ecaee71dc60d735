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
        """The best measured LR: the best mean metric over seeds, compared only at the LRs
        that the same seeds all ran (the most seeds any LR has), never an LR where a seed
        diverged, nor a failed trial. Not the luckiest seed: an LR tried on fewer seeds
        (a search's coarse first round) is not ranked on their luck. ``optimum()`` is the
        answer (the estimate between the LRs); this is the best point measured."""
        sets: dict[float, tuple[int, ...]] = {}
        for lr, group in self.by_lr().items():
            if any(t.status is Status.DIVERGED for t in group):
                continue
            done = tuple(sorted({t.seed for t in group if t.ok}))
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
            m = self.mean_metric(lr)
            if m is not None and (best_val is None or self._better(m, best_val)):
                best_lr, best_val = lr, m
        if best_lr is None or best_val is None:
            return None
        vals = [t.metric for t in self.by_lr()[best_lr] if t.ok]
        return Best(best_lr, best_val, seeds, _sd(vals), n_lrs=counts[seeds])  # type: ignore[arg-type]

    def tied_best(self) -> list[float]:
        """The LRs whose mean metric equals the best measured one (on the same seeds): more
        than one when the metric cannot tell them apart (saturated, or a small validation
        set)."""
        best = self.best()
        if best is None:
            return []
        out = []
        for lr, group in self.by_lr().items():
            m = self.mean_metric(lr)
            seeds = tuple(sorted({t.seed for t in group if t.ok}))
            if m is not None and seeds == best.seeds and abs(m - best.metric) <= 1e-9:
                out.append(lr)
        return out

    def saturated(self) -> str:
        """A warning, or "": several LRs tie at the best measured metric, e.g. accuracy 1.0
        on every seed (a saturated metric: it cannot rank them, so the optimum is anywhere
        among them)."""
        ties = self.tied_best()
        if len(ties) < 2:
            return ""
        best = self.best()
        assert best is not None
        from .analysis import METRIC_BOUNDS

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
        b = "none" if best is None else (f"lr={best.lr:.3g} {self.metric_name}="
                                         f"{best.metric:.4g} ({best.label})")
        return f"SweepResult({len(self.trials)} trials, best measured {b})"


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

"""What ``search`` returns: its rounds (``SearchRound``) and ``SearchResult``, with every
trial, the optimum over them and why the search stopped (a ``StopReason``)."""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

from ..analysis import Optimum
from ..plan.rounds import StopReason
from ..text import plural
from .sweep_result import SweepResult
from .trial import TrialResult

__all__ = ["SearchResult", "SearchRound", "StopReason"]


@dataclass(frozen=True)
class SearchRound:
    """One round: the LRs it added (with ``seeds``), the range they were drawn from, why,
    and the optimum after it."""

    index: int
    lrs: tuple[float, ...]
    lr_range: tuple[float, float]
    reason: str
    optimum: Optimum
    n_trials: int
    steps: int
    seeds: tuple[int, ...] = ()
    added: int = 0

    def summary(self) -> str:
        lo, hi = self.lr_range
        return (f"round {self.index}: +{plural(self.added, 'trial')} "
                f"({plural(len(self.lrs), 'LR')} in {lo:.3g}..{hi:.3g}; {self.reason}); "
                f"{plural(self.n_trials, 'trial')} so far -> {self.optimum.summary()}")

    def to_dict(self) -> dict[str, Any]:
        return {"index": self.index, "lrs": list(self.lrs), "seeds": list(self.seeds),
                "added": self.added, "lr_range": list(self.lr_range), "reason": self.reason,
                "n_trials": self.n_trials, "steps": self.steps,
                "optimum": self.optimum.to_dict()}


@dataclass
class SearchResult:
    """What ``search`` found: every round, every trial, and the optimum over all of them
    (with ``converged`` and ``stopped`` set). ``stop_reason``: a ``StopReason`` (``TIGHT``
    and ``FLAT`` are converged); ``stopped``: the same in words. ``prior_trials``: trials the
    study held before the search began (they enter every estimate; the budgets count only
    the search's own)."""

    rounds: list[SearchRound]
    result: SweepResult
    stopped: str
    options: dict[str, Any] = field(default_factory=dict)
    converged: bool = False
    stop_reason: StopReason = StopReason.MAX_ROUNDS
    prior_trials: int = 0

    @property
    def trials(self) -> list[TrialResult]:
        return self.result.trials

    @property
    def steps_used(self) -> int:
        """Total optimizer steps over all trials (diverged ones count what they ran)."""
        return sum(t.steps for t in self.result.trials)

    def optimum(self, **options: Any) -> Optimum:
        """The optimum over all trials, saying whether the search converged (options as in
        ``SweepResult.optimum``)."""
        if not options and self.rounds:
            opt = self.rounds[-1].optimum
        else:
            opt = self.result.optimum(**{**self.options, **options})
        return replace(opt, converged=self.converged, stopped=self.stopped)

    def round_of(self) -> dict[float, int]:
        """LR -> the round (1-based) that first tried it."""
        out: dict[float, int] = {}
        for r in self.rounds:
            for lr in r.lrs:
                out.setdefault(lr, r.index)
        return out

    def table(self) -> str:
        """The rounds' summaries, why the search stopped, and the trials' table."""
        lines = [r.summary() for r in self.rounds]
        lines.append(f"stopped: {self.stopped}; {plural(len(self.trials), 'trial')}, "
                     f"{plural(self.steps_used, 'trial-step')}")
        lines.append(self.result.table())
        return "\n".join(lines)

    def plot(self, path: str | Path | None = None, **options: Any) -> Any:
        from ..plot import plot_search

        return plot_search(self, path, **options)

    def report(self, path: str | Path, *, overwrite: bool = False, **options: Any) -> Path:
        """Write the HTML report of the search (its rounds included); see
        ``SweepResult.report``."""
        from ..report import build_report, write_report

        return write_report(path, build_report(self.result, search=self, **options),
                            overwrite=overwrite)

    def to_dict(self) -> dict[str, Any]:
        return {
            "stopped": self.stopped,
            "converged": self.converged,
            "stop_reason": self.stop_reason.value,
            "prior_trials": self.prior_trials,
            "steps_used": self.steps_used,
            "optimum": self.optimum().to_dict(),
            "rounds": [r.to_dict() for r in self.rounds],
        }

    def __repr__(self) -> str:
        return (f"SearchResult({plural(len(self.rounds), 'round')}, "
                f"{plural(len(self.trials), 'trial')}, "
                f"stopped={self.stopped!r}, {self.optimum().summary()})")

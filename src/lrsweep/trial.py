"""Records that cross engine, store and process boundaries: ``TrialSpec`` (what to run) and
``TrialResult`` (what came out). Frozen, plain data, JSON-friendly."""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass, field
from enum import Enum
from typing import Any


class Status(str, Enum):
    """How a trial ended. ``str`` so that it compares equal to ``"ok"`` etc."""

    OK = "ok"
    DIVERGED = "diverged"
    FAILED = "failed"

    def __str__(self) -> str:  # "ok", not "Status.OK"
        return self.value


@dataclass(frozen=True)
class TrialSpec:
    """One trial to run: the LR and the seed (data order, dropout; init if asked)."""

    lr: float
    seed: int = 0


@dataclass(frozen=True, repr=False)
class TrialResult:
    """What one trial produced.

    ``metric`` is None unless ``status`` is ``ok``. ``curve`` holds the training loss of each
    optimizer step that ran (a diverged trial's curve ends at the step that diverged).
    ``group`` names the stacked group the trial trained in (the vectorized engine: every
    trial of one group has the same id, and ``wall_time`` is its equal share of the group's
    wall time, ``extra["group_wall_time"]``); None for a trial trained alone.
    """

    lr: float
    seed: int
    status: Status
    metric: float | None
    curve: tuple[float, ...] = ()
    steps: int = 0
    wall_time: float = 0.0
    engine: str = "sequential"
    error: str | None = None
    extra: dict[str, Any] = field(default_factory=dict)
    group: str | None = None

    def __post_init__(self) -> None:
        object.__setattr__(self, "status", Status(self.status))
        object.__setattr__(self, "lr", float(self.lr))
        object.__setattr__(self, "seed", int(self.seed))
        object.__setattr__(self, "curve", tuple(float(v) for v in self.curve))
        if self.metric is not None:
            m = float(self.metric)
            object.__setattr__(self, "metric", m if math.isfinite(m) else None)

    @property
    def ok(self) -> bool:
        return self.status is Status.OK and self.metric is not None

    def __repr__(self) -> str:
        """One line, without the loss curve (``.curve`` has it)."""
        parts = [f"lr={self.lr:.4g}", f"seed={self.seed}", self.status.value]
        if self.metric is not None:
            parts.append(f"metric={self.metric:.6g}")
        if self.curve:
            parts.append(f"final_loss={self.curve[-1]:.4g}")
        if self.group is not None:
            parts += [f"steps={self.steps}", f"{self.wall_time:.2f} s (share of group "
                      f"{self.group})", self.engine]
        else:
            parts += [f"steps={self.steps}", f"{self.wall_time:.2f} s", self.engine]
        if self.error:
            first = self.error.splitlines()[0]
            parts.append(f"error={first[:60] + '...' if len(first) > 60 else first!r}")
        return f"TrialResult({', '.join(parts)})"

    @property
    def key(self) -> tuple[float, int]:
        return (self.lr, self.seed)

    def to_dict(self) -> dict[str, Any]:
        d = asdict(self)
        d["status"] = self.status.value
        d["curve"] = list(self.curve)
        return d

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> TrialResult:
        known = {f for f in cls.__dataclass_fields__}
        return cls(**{k: v for k, v in d.items() if k in known})

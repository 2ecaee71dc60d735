"""Records that cross engine, store and process boundaries: ``TrialSpec`` (what to run) and
``TrialResult`` (what came out). Frozen, plain data, JSON-friendly.

How a trial came out is decided here, once, for every task kind and engine (the training
loop, an objective, the vectorized engine): ``outcome`` for a trial that ran to its end or
was stopped by the divergence rule, ``outcome_of_error`` for one that raised.

>>> outcome(TrialSpec(0.1), 0.9, [2.0, 1.0], 1.5, "sequential")
TrialResult(lr=0.1, seed=0, ok, metric=0.9, final_loss=1, steps=2, 1.50 s, sequential)
>>> outcome(TrialSpec(0.1), float("nan"), [2.0], 1.5, "sequential").error
'non-finite validation metric'
"""

from __future__ import annotations

import math
import traceback
from collections.abc import Sequence
from dataclasses import asdict, dataclass, field
from enum import Enum
from typing import Any

from ..errors import TrialDiverged

NON_FINITE_METRIC = "non-finite validation metric"


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


def outcome(spec: TrialSpec, metric: float | None, curve: Sequence[float], wall_time: float,
            engine: str, *, diverged: bool = False, **fields: Any) -> TrialResult:
    """The result of a trial that trained to its end, or until the divergence rule stopped it
    (``diverged``): ``diverged`` then, and also when its metric is not finite (the error says
    so); else ``ok`` with its metric. ``steps`` is the length of ``curve``; ``fields`` are the
    other ``TrialResult`` fields (``extra``, ``group``)."""
    if diverged:
        return TrialResult(spec.lr, spec.seed, Status.DIVERGED, None, curve, len(curve),
                           wall_time, engine, **fields)
    if metric is None or not math.isfinite(metric):
        return TrialResult(spec.lr, spec.seed, Status.DIVERGED, None, curve, len(curve),
                           wall_time, engine, error=NON_FINITE_METRIC, **fields)
    return TrialResult(spec.lr, spec.seed, Status.OK, metric, curve, len(curve), wall_time,
                       engine, **fields)


def outcome_of_error(spec: TrialSpec, error: BaseException, curve: Sequence[float],
                     wall_time: float, engine: str, **fields: Any) -> TrialResult:
    """The result of a trial that raised ``error`` (call it in the ``except`` block: the error
    keeps the traceback): ``TrialDiverged`` is ``diverged`` with its message, anything else
    ``failed`` with the error's type, message and traceback."""
    if isinstance(error, TrialDiverged):
        return TrialResult(spec.lr, spec.seed, Status.DIVERGED, None, curve, len(curve),
                           wall_time, engine, error=str(error) or None, **fields)
    return TrialResult(spec.lr, spec.seed, Status.FAILED, None, curve, len(curve), wall_time,
                       engine, error=f"{type(error).__name__}: {error}\n"
                                     f"{traceback.format_exc(limit=8)}", **fields)

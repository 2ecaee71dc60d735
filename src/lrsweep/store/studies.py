"""Studies and their trials: what a store holds, read and written through ``Store``.

A store file holds *studies*; a study is one training protocol (its fingerprint is the sha256
of the canonical JSON of ``task.protocol()``) and its *trials*, keyed by (study, lr, seed).
A trial is ``running`` from the moment a sweep hands it to an engine until its result is
recorded; a process killed in between leaves it ``running``, and the next sweep reruns it
(``sweep`` reuses only ``ok`` and ``diverged`` trials). Another protocol under an existing
study name is refused, never mixed in.
"""

from __future__ import annotations

import json
import math
import os
import re
import sqlite3
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from ..errors import StoreError, bad_arg, closest
from ..fingerprint import FORMAT, canonical_json, diff_values, fingerprint, protocol_of
from ..results.sweep_result import SweepResult
from ..results.trial import Status, TrialResult, TrialSpec
from .lease import GRACE_PERIOD, HEARTBEAT_INTERVAL, lease_times
from .sqlite import BUSY_TIMEOUT_MS, RUNNING, StoreFile, iso_time


def task_protocol(task: Any) -> dict[str, Any]:
    """``task.protocol()`` as the store holds it (see ``lrsweep.fingerprint``)."""
    return protocol_of(task)


def default_study_name(task: Any, fp: str | None = None) -> str:
    """``<task name or model class or objective>-<8 hex of the fingerprint>``: a changed
    protocol gets a new study by itself when the user names none."""
    base = getattr(task, "name", None)
    if not base:
        proto = task_protocol(task)
        base = proto.get("model") or str(proto.get("objective", "study")).rsplit(".", 1)[-1]
    base = re.sub(r"[^A-Za-z0-9_.-]+", "-", str(base)).strip("-").lower() or "study"
    fp = fp or fingerprint(task_protocol(task))
    return f"{base}-{fp[:8]}"


def _short(v: Any, n: int = 60) -> str:
    s = canonical_json(v)
    return s if len(s) <= n else s[: n - 3] + "..."


@dataclass(frozen=True)
class StudyInfo:
    """One line of ``Store.studies()``."""

    name: str
    fingerprint: str
    direction: str
    metric: str
    created: str
    trials: int
    ok: int
    diverged: int
    failed: int
    running: int
    best_lr: float | None
    best_metric: float | None


class Store(StoreFile):
    """An lrsweep SQLite file and its studies. ``Store(path)`` opens (or, with
    ``create=True``, creates) it, checks that it is an lrsweep store this version can read,
    and migrates an older schema (``lrsweep.store.sqlite``).

    Thread-safe (one connection behind a lock); a forked child reconnects by itself.
    """

    def __init__(self, path: str | os.PathLike[str], *, create: bool = True,
                 timeout: float = BUSY_TIMEOUT_MS / 1000,
                 heartbeat_interval: float = HEARTBEAT_INTERVAL,
                 grace_period: float = GRACE_PERIOD) -> None:
        # leases (lrsweep.store.lease): a sweep renews its running trials' heartbeat every
        # heartbeat_interval s; another takes a trial over after grace_period s without one
        self.heartbeat_interval, self.grace_period = lease_times(heartbeat_interval,
                                                                 grace_period)
        super().__init__(path, create=create, timeout=timeout)

    def __repr__(self) -> str:
        return f"Store({str(self.path)!r})"

    # ------------------------------------------------------------------------- studies ----
    def open_study(self, task: Any, study: str | None = None, *,
                   create: bool = True) -> Study:
        """The study of ``task`` named ``study`` (default: derived from the task). Refuses a
        study of that name holding another protocol."""
        proto = task_protocol(task)
        fp = fingerprint(proto)
        name = default_study_name(task, fp) if study is None else _check_name(study)
        direction = getattr(task, "direction", None) or proto.get("direction")
        metric = getattr(task, "metric_name", None) or proto.get("metric") or "metric"
        try:
            with self._write() as conn:
                row = conn.execute("SELECT fingerprint, description FROM studies WHERE name = ?",
                                   (name,)).fetchone()
                if row is None:
                    if not create:
                        raise StoreError(f"store {str(self.path)!r} has no study {name!r}. "
                                         f"Studies: {', '.join(self.study_names()) or 'none'}.")
                    conn.execute(
                        "INSERT INTO studies (name, fingerprint, description, direction, metric,"
                        " created) VALUES (?, ?, ?, ?, ?, ?)",
                        (name, fp, canonical_json(proto), direction, metric, iso_time()))
        except sqlite3.DatabaseError as e:
            raise self._corrupt(e) from e
        if row is not None and row[0] != fp:
            try:
                old = json.loads(row[1])
            except ValueError as e:
                raise self._damaged(name, "its protocol", e) from e
            raise self._mismatch(name, old, proto)
        return Study(self, name, fp, proto, direction, metric)

    def _mismatch(self, name: str, old: dict[str, Any], new: dict[str, Any]) -> StoreError:
        stored_format = old.get("fingerprint_format", 1)
        if stored_format != new.get("fingerprint_format", stored_format):
            return StoreError(
                f"study {name!r} in {str(self.path)!r} was recorded by an lrsweep whose "
                f"fingerprint (format {stored_format}; this version writes format {FORMAT}) "
                "saw less of the protocol (loss settings, param groups, all the data, "
                "closures), so its trials cannot be checked against this task and are not "
                f"reused. Start a new study with study='{name}-v2' (CLI: --study "
                f"{name}-v2); the old one stays readable (lrsweep show).")
        diffs = diff_values(old, new)
        keys = [k for k, _, _ in diffs]
        shown = "; ".join(f"{k}: {_short(a)} -> {_short(b)}" for k, a, b in diffs[:6])
        more = f" (and {len(keys) - 6} more)" if len(keys) > 6 else ""
        state = [k for k in keys if ".closure." in k or ".globals." in k]
        if state:
            cell = state[0].split(".closure.")[-1].split(".globals.")[-1].split(".")[0]
            more += (f". `{cell}` is read by your code; if it is state rather than a setting "
                     f"(a list the code appends to), wrap it: {cell} = "
                     "lrsweep.fingerprint.exclude(...)")
        return StoreError(
            f"study {name!r} in {str(self.path)!r} holds another protocol; these keys differ "
            f"(stored -> this task): {shown}{more}. Trials of different protocols are never "
            f"mixed: start a new study with study='{name}-v2' (CLI: --study {name}-v2), "
            "or restore the original settings to resume it.")

    def study_names(self) -> list[str]:
        return [r[0] for r in self._read("SELECT name FROM studies ORDER BY created, name")]

    def _study_row(self, name: str) -> tuple[Any, ...]:
        rows = self._read("SELECT name, fingerprint, description, direction, metric, created "
                          "FROM studies WHERE name = ?", (name,))
        if not rows:
            names = self.study_names()
            near = closest(name, names)
            raise StoreError(f"store {str(self.path)!r} has no study {name!r}. "
                             + (f"Did you mean {near!r}? " if near else "")
                             + f"Studies: {', '.join(names) or 'none'}. See `lrsweep studies "
                             f"{self.path}`.")
        return rows[0]

    def get_study(self, name: str) -> Study:
        """An existing study by name, without a task (to read it, or to add trials)."""
        n, fp, desc, direction, metric, _ = self._study_row(_check_name(name))
        try:
            proto = json.loads(desc)
        except ValueError as e:
            raise self._damaged(n, "its protocol", e) from e
        return Study(self, n, fp, proto, direction, metric)

    def _damaged(self, study: str, what: str, e: Exception) -> StoreError:
        return self._fail(f"is damaged: {what} in study {study!r} cannot be read "
                          f"({type(e).__name__}: {e}; SQLite's own integrity check does not "
                          "see damage inside a record)",
                          "Restore the file from a backup, or sweep into a new store; the "
                          "file was not modified.")

    def load(self, study: str | None = None) -> SweepResult:
        """The finished trials of a study as a ``SweepResult`` (``running`` ones left out).
        ``study`` may be omitted when the store holds exactly one."""
        if study is None:
            names = self.study_names()
            if len(names) != 1:
                raise bad_arg("study", None, "a study name (the store holds "
                              f"{len(names)}: {', '.join(names) or 'none'})",
                              "Pass study='NAME' (CLI: --study NAME).")
            study = names[0]
        return self.get_study(study).load()

    def studies(self) -> list[StudyInfo]:
        """Every study with its trial counts and best LR."""
        out = []
        for name, fp, _, direction, metric, created in self._read(
                "SELECT name, fingerprint, description, direction, metric, created "
                "FROM studies ORDER BY created, name"):
            counts = dict(self._read("SELECT status, COUNT(*) FROM trials WHERE study = ? "
                                     "GROUP BY status", (name,)))
            res = self.get_study(name).load(curves=False)
            best = res.best()
            out.append(StudyInfo(
                name, fp, direction, metric, created, sum(counts.values()),
                counts.get("ok", 0), counts.get("diverged", 0), counts.get("failed", 0),
                counts.get(RUNNING, 0), None if best is None else best.lr,
                None if best is None else best.metric))
        return out

    def delete_study(self, name: str) -> int:
        """Delete a study and its trials; returns how many trials went."""
        self._study_row(name)
        with self._write() as conn:
            n = conn.execute("DELETE FROM trials WHERE study = ?", (name,)).rowcount
            conn.execute("DELETE FROM studies WHERE name = ?", (name,))
        return n


def _check_name(name: Any) -> str:
    if not isinstance(name, str) or not name.strip():
        raise bad_arg("study", name, "a non-empty study name",
                      "Pass study='my-sweep', or leave it unset for a name derived from the "
                      "task.")
    return name


_TRIAL_COLS = ("lr", "seed", "status", "metric", "steps", "wall_time", "engine", "error",
               "started", "finished", "extra", "curve")


class Study:
    """One study of a store: what ``sweep()`` reads and writes. Made by ``open_study``."""

    def __init__(self, store: Store, name: str, fingerprint: str, protocol: dict[str, Any],
                 direction: str, metric: str) -> None:
        self.store = store
        self.name = name
        self.fingerprint = fingerprint
        self.protocol = protocol
        self.direction = direction
        self.metric = metric

    def _rows(self, where: str = "", args: Sequence[Any] = (), *,
              curves: bool = True) -> list[dict[str, Any]]:
        cols = ", ".join(c if curves or c != "curve" else "'[]'" for c in _TRIAL_COLS)
        rows = self.store._read(
            f"SELECT {cols} FROM trials WHERE study = ? {where} ORDER BY lr, seed",
            (self.name, *args))
        return [dict(zip(_TRIAL_COLS, r)) for r in rows]

    def results(self, *, curves: bool = True) -> list[TrialResult]:
        """Finished trials (ok, diverged, failed); ``running`` ones are not results.
        ``curves=False`` leaves the loss curves out (cheaper for summaries)."""
        out = []
        for r in self._rows("AND status != ?", (RUNNING,), curves=curves):
            try:
                out.append(_to_result(r))
            except (ValueError, TypeError) as e:
                raise self.store._damaged(
                    self.name, f"the trial lr={r.get('lr')!r} seed={r.get('seed')!r}", e) from e
        return out

    def running(self) -> list[TrialSpec]:
        """Trials handed to an engine and never finished (in flight, or their process died)."""
        return [TrialSpec(r["lr"], r["seed"]) for r in self._rows("AND status = ?", (RUNNING,))]

    def record(self, result: TrialResult) -> None:
        """Store one finished trial (committed at once: a crash after this loses nothing).
        A failure never overwrites a finished (ok/diverged) result of the same trial."""
        metric = result.metric if result.metric is not None and math.isfinite(result.metric) \
            else None
        with self.store._write() as conn:
            conn.execute(
                "INSERT INTO trials (study, lr, seed, status, metric, curve, steps, wall_time,"
                " engine, error, extra, started, finished) "
                "VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?) "
                "ON CONFLICT (study, lr, seed) DO UPDATE SET status = excluded.status, "
                "metric = excluded.metric, curve = excluded.curve, steps = excluded.steps, "
                "wall_time = excluded.wall_time, engine = excluded.engine, "
                "error = excluded.error, extra = excluded.extra, "
                "started = COALESCE(trials.started, excluded.started), "
                "finished = excluded.finished "
                "WHERE excluded.status != 'failed' OR trials.status NOT IN ('ok', 'diverged')",
                (self.name, float(result.lr), int(result.seed), result.status.value, metric,
                 json.dumps(list(result.curve), allow_nan=True), int(result.steps),
                 float(result.wall_time), result.engine, result.error,
                 canonical_json(_extra_of(result)), iso_time(), iso_time()))

    def load(self, *, curves: bool = True) -> SweepResult:
        """The finished trials as a ``SweepResult``."""
        trials = self.results(curves=curves)
        engines = sorted({t.engine for t in trials})
        return SweepResult(trials, self.direction, self.metric,
                           engine="+".join(engines) if engines else "?", study=self.name,
                           protocol=self.protocol)

    def __repr__(self) -> str:
        return f"Study({self.name!r}, store={str(self.store.path)!r})"


def _extra_of(result: TrialResult) -> dict[str, Any]:
    """The ``extra`` column: the result's extras, and its stacked group's id (``group``),
    kept there so that files of this schema need no new column."""
    extra = dict(result.extra or {})
    if result.group is not None:
        extra["group"] = result.group
    return extra


def _to_result(r: dict[str, Any]) -> TrialResult:
    extra = json.loads(r["extra"] or "{}")
    group = extra.pop("group", None) if isinstance(extra, dict) else None
    return TrialResult(
        lr=r["lr"], seed=r["seed"], status=Status(r["status"]), metric=r["metric"],
        curve=tuple(json.loads(r["curve"] or "[]")), steps=r["steps"],
        wall_time=r["wall_time"], engine=r["engine"] or "?", error=r["error"],
        extra=extra, group=None if group is None else str(group))


def open_study(store: str | os.PathLike[str] | Store, task: Any, study: str | None = None,
               *, create: bool = True) -> Study:
    """The handle ``sweep(..., store=, study=)`` uses: ``store`` is a path (an SQLite file,
    created if missing) or a ``Store``."""
    if isinstance(store, Store):
        return store.open_study(task, study, create=create)
    if isinstance(store, (str, os.PathLike)):
        return Store(store, create=create).open_study(task, study, create=create)
    raise bad_arg("store", type(store).__name__, "None, a path to an SQLite file, or a Store",
                  "Pass store='runs/lrsweep.db'.")

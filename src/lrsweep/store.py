"""The SQLite store: studies that survive a crash, resume without recomputing, and are read
while a sweep writes them.

A store file holds *studies*; a study is one training protocol (its fingerprint is the sha256
of the canonical JSON of ``task.protocol()``) and its *trials*, keyed by (study, lr, seed).
A trial is ``running`` from the moment a sweep hands it to an engine until its result is
recorded; a process killed in between leaves it ``running``, and the next sweep reruns it
(``sweep`` reuses only ``ok`` and ``diverged`` trials).

Safety rules:

* a file that is not an lrsweep store (another SQLite database, or not SQLite at all), a
  corrupted one, or one written by a newer lrsweep is refused with a ``StoreError`` and is
  never written to: every check runs before the first write;
* WAL journal, a busy timeout, and ``BEGIN IMMEDIATE`` write transactions, so that several
  processes can write one file and readers (``lrsweep show``) never block a sweep;
* another protocol under an existing study name is refused, never mixed in.

Standard library only (no torch, no matplotlib): reading a store is cheap.
"""

from __future__ import annotations

import contextlib
import json
import logging
import math
import os
import re
import sqlite3
import threading
import time
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

from .errors import StoreError, bad_arg, closest
from .fingerprint import FORMAT, canonical_json, diff_values, fingerprint, protocol_of
from .result import SweepResult
from .trial import Status, TrialResult, TrialSpec

log = logging.getLogger("lrsweep")

APPLICATION_ID = 0x4C525357  # "LRSW" in PRAGMA application_id: marks a file as ours
SCHEMA_VERSION = 2  # PRAGMA user_version
# a file of this schema or newer can be read without migrating it (schema 2 only added the
# lease columns, which readers do not use): a read-only schema-1 file is still readable
READABLE_SCHEMA = 1
BUSY_TIMEOUT_MS = 60_000
RUNNING = "running"  # the store's fifth status: handed to an engine, not finished
SQLITE_MAGIC = b"SQLite format 3\x00"

_SCHEMA_V1 = ("""
CREATE TABLE studies (
    name        TEXT PRIMARY KEY,
    fingerprint TEXT NOT NULL,
    description TEXT NOT NULL,          -- JSON of task.protocol()
    direction   TEXT NOT NULL CHECK (direction IN ('max', 'min')),
    metric      TEXT NOT NULL,          -- the metric's name
    created     TEXT NOT NULL
)""", """
CREATE TABLE trials (
    study     TEXT NOT NULL REFERENCES studies(name) ON DELETE CASCADE,
    lr        REAL NOT NULL,
    seed      INTEGER NOT NULL,
    status    TEXT NOT NULL CHECK (status IN ('ok', 'diverged', 'failed', 'running')),
    metric    REAL,
    steps     INTEGER NOT NULL DEFAULT 0,
    wall_time REAL NOT NULL DEFAULT 0,
    engine    TEXT,
    error     TEXT,
    started   TEXT,
    finished  TEXT,
    extra     TEXT NOT NULL DEFAULT '{}',   -- JSON
    -- JSON list of the training loss per step. Last: reading the other columns
    -- never walks a long curve's overflow pages
    curve     TEXT NOT NULL DEFAULT '[]',
    PRIMARY KEY (study, lr, seed)
)""")


def _migrate_0_to_1(conn: sqlite3.Connection) -> None:
    for stmt in _SCHEMA_V1:
        conn.execute(stmt)


def _migrate_1_to_2(conn: sqlite3.Connection) -> None:
    # the lease of a running trial (lrsweep.lease): which sweep holds it ("host:pid:token")
    # and when it last said it was alive (unix time)
    conn.execute("ALTER TABLE trials ADD COLUMN owner TEXT")
    conn.execute("ALTER TABLE trials ADD COLUMN heartbeat REAL")


# MIGRATIONS[v] upgrades a file from schema v to v + 1, inside one write transaction.
MIGRATIONS: list[Callable[[sqlite3.Connection], None]] = [_migrate_0_to_1, _migrate_1_to_2]


def _now() -> str:
    return datetime.now(timezone.utc).isoformat(timespec="milliseconds")


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


class Store:
    """An lrsweep SQLite file. ``Store(path)`` opens (or, with ``create=True``, creates) it,
    checks that it is an lrsweep store this version can read, and migrates an older schema.

    Thread-safe (one connection behind a lock); a forked child reconnects by itself.
    """

    def __init__(self, path: str | os.PathLike[str], *, create: bool = True,
                 timeout: float = BUSY_TIMEOUT_MS / 1000, heartbeat_interval: float = 10.0,
                 grace_period: float = 60.0) -> None:
        # leases (lrsweep.lease): a sweep renews its running trials' heartbeat every
        # heartbeat_interval s; another takes a trial over after grace_period s without one
        self.heartbeat_interval, self.grace_period = _lease_times(heartbeat_interval,
                                                                  grace_period)
        if not isinstance(path, (str, os.PathLike)):
            raise bad_arg("store", path, "a path to an SQLite file, or an lrsweep Store",
                          "Pass store='runs/lrsweep.db'.")
        self.memory = str(path) == ":memory:"
        self.path = Path(path) if not self.memory else Path(":memory:")
        self.timeout = float(timeout)
        self._lock = threading.RLock()
        self._conn: sqlite3.Connection | None = None
        self._pid = os.getpid()
        # why the file cannot be written (a read-only file or folder), or None: such a
        # store is opened read-only, to be read (studies, show, load) but never written
        self.readonly: str | None = None
        self._immutable = False
        if not self.memory:
            if self.path.is_dir():
                raise bad_arg("store", str(path), "a file path, not a directory",
                              f"Pass e.g. store='{self.path / 'lrsweep.db'}'.")
            if not self.path.exists():
                if not create:
                    raise StoreError(f"store {str(path)!r}: no such file. Check the path, or "
                                     "run a sweep with --store/store= to create it.")
                self._make_folder()
            else:
                self._check_magic()
                self._check_writable()
        self._open()

    def _make_folder(self) -> None:
        """Create the store's folder, or say in one line why it cannot be (nothing made)."""
        probe = self.path.parent
        while not probe.exists() and probe.parent != probe:
            probe = probe.parent
        if not probe.is_dir():
            raise self._fail(f"cannot be created: {probe} is a file, not a folder",
                             "Pass a path in a folder, e.g. store='runs/lrsweep.db'.")
        if not os.access(probe, os.W_OK | os.X_OK):
            raise self._fail(f"cannot be created: the folder {probe} is read-only",
                             "Pass a path in a folder you can write to.")
        try:
            self.path.parent.mkdir(parents=True, exist_ok=True)
        except OSError as e:
            raise self._fail(f"cannot be created: making its folder failed "
                             f"({e.strerror or e})", "Pass a path in a folder you can "
                             "write to.") from e

    def _check_writable(self) -> None:
        folder = self.path.parent
        if not os.access(self.path, os.W_OK):
            self.readonly = "the file is read-only"
        elif not os.access(folder, os.W_OK | os.X_OK):
            self.readonly = f"its folder {folder} is read-only"
        if self.readonly is None:
            return
        # WAL readers need the -shm file; where the folder is read-only and no writer has
        # left one, nobody can be writing (a writer makes it): read the file as immutable
        wal = [Path(f"{self.path}{ext}").exists() for ext in ("-wal", "-shm")]
        self._immutable = not os.access(folder, os.W_OK | os.X_OK) and not all(wal)
        log.info("store %s: opened read-only (%s)", self.path, self.readonly)

    # ------------------------------------------------------------------------- opening ----
    def _fail(self, what: str, todo: str) -> StoreError:
        return StoreError(f"store {str(self.path)!r}: {what}. {todo}")

    def _check_magic(self) -> None:
        """A non-empty file must start with the SQLite header; read with plain I/O so that a
        foreign file is never handed to SQLite at all."""
        try:
            with self.path.open("rb") as f:
                head = f.read(len(SQLITE_MAGIC))
        except OSError as e:
            raise self._fail(f"cannot be read ({e})", "Check the path and its permissions.") \
                from e
        if head and head != SQLITE_MAGIC:
            raise self._fail("is not an lrsweep store (not an SQLite file)",
                             "Pass another path; this file was left untouched.")

    def _connect(self) -> sqlite3.Connection:
        target, uri = str(self.path), False
        if self.readonly is not None:
            target = Path(os.path.abspath(self.path)).as_uri() + (
                "?immutable=1" if self._immutable else "?mode=ro")
            uri = True
        try:
            conn = sqlite3.connect(target, timeout=self.timeout, isolation_level=None,
                                   check_same_thread=False, uri=uri)
            conn.execute(f"PRAGMA busy_timeout = {int(self.timeout * 1000)}")
        except sqlite3.DatabaseError as e:
            raise self._corrupt(e) from e
        return conn

    def _open(self) -> None:
        conn = self._connect()
        try:
            # read-only checks first: nothing below writes until the file is known to be ours
            app_id, version, tables = self._inspect(conn)
            if version > SCHEMA_VERSION and app_id == APPLICATION_ID:
                raise self._fail(
                    f"was written by a newer lrsweep (schema {version}; this version reads "
                    f"up to {SCHEMA_VERSION})",
                    "Upgrade lrsweep (pip install -U lrsweep); the file was left untouched.")
            if app_id != APPLICATION_ID and (app_id != 0 or tables or version != 0):
                raise self._fail(
                    "is an SQLite database but not an lrsweep store "
                    f"(application_id={app_id}, tables: {', '.join(tables[:5]) or 'none'})",
                    "Pass another path; this file was left untouched.")
            if self.readonly is not None and version < READABLE_SCHEMA:
                raise self._fail(f"is read-only ({self.readonly}) and needs an upgrade to "
                                 f"schema {SCHEMA_VERSION} before it can be read",
                                 "Open it once where it can be written.")
            if not self.memory and self.readonly is None:
                self._retry_locked(lambda: conn.execute("PRAGMA journal_mode = WAL"))
                conn.execute("PRAGMA synchronous = NORMAL")  # durable across a kill -9
            conn.execute("PRAGMA foreign_keys = ON")
            self._conn = conn
            if version < SCHEMA_VERSION and self.readonly is None:
                self._upgrade()
        except sqlite3.DatabaseError as e:
            conn.close()
            raise self._corrupt(e) from e
        except BaseException:
            conn.close()
            raise

    def _inspect(self, conn: sqlite3.Connection) -> tuple[int, int, list[str]]:
        # one read transaction: three separate reads could straddle another process's
        # creation of the file and see its tables without its application_id
        own = not conn.in_transaction
        if own:
            conn.execute("BEGIN")
        try:
            app_id = conn.execute("PRAGMA application_id").fetchone()[0]
            version = conn.execute("PRAGMA user_version").fetchone()[0]
            tables = [r[0] for r in conn.execute(
                "SELECT name FROM sqlite_master WHERE type = 'table' ORDER BY name")]
        finally:
            if own:
                conn.execute("COMMIT")
        return app_id, version, tables

    def _upgrade(self) -> None:
        with self._write() as conn:
            # re-read inside the lock: another process may have created or migrated it
            app_id, version, tables = self._inspect(conn)
            if app_id != APPLICATION_ID and (app_id != 0 or tables or version != 0):
                raise self._fail("is not an lrsweep store", "Pass another path.")
            if version > SCHEMA_VERSION:
                raise self._fail(f"was written by a newer lrsweep (schema {version})",
                                 "Upgrade lrsweep (pip install -U lrsweep).")
            fresh = version == 0 and not tables  # a new file: created, not migrated
            if fresh:
                log.debug("store %s: created (schema %d)", self.path, SCHEMA_VERSION)
            for v in range(version, SCHEMA_VERSION):
                if not fresh:
                    log.info("store %s: migrating schema %d -> %d", self.path, v, v + 1)
                MIGRATIONS[v](conn)
            conn.execute(f"PRAGMA application_id = {APPLICATION_ID}")
            conn.execute(f"PRAGMA user_version = {SCHEMA_VERSION}")

    def _retry_locked(self, fn: Callable[[], Any]) -> Any:
        # switching to WAL needs a moment of exclusive access; the busy handler does not
        # always cover it, so retry a creation race for up to the timeout
        deadline = time.monotonic() + self.timeout
        while True:
            try:
                return fn()
            except sqlite3.OperationalError as e:
                if "locked" not in str(e) or time.monotonic() > deadline:
                    raise
                time.sleep(0.05)

    def _corrupt(self, e: sqlite3.DatabaseError) -> StoreError:
        text = str(e)
        if isinstance(e, sqlite3.OperationalError) and "locked" in text:
            return self._fail(f"stayed locked by another process for {self.timeout:g} s",
                              "Wait for the other writer or raise the timeout.")
        if "readonly" in text or "read-only" in text:
            return self._fail(f"cannot be written ({text})",
                              "Pass a store in a folder you can write to, or make the file "
                              "and its folder writable.")
        if isinstance(e, sqlite3.OperationalError) and "unable to open" in text:
            return self._fail(f"cannot be opened or created ({text})",
                              "Pass a path in an existing folder you can write to, e.g. "
                              "store='runs/lrsweep.db'.")
        return self._fail(f"is corrupted or not a database ({e})",
                          "Restore it from a backup or pass another path; it was not "
                          "modified.")

    @property
    def conn(self) -> sqlite3.Connection:
        if self._conn is None:
            raise StoreError(f"store {str(self.path)!r} is closed.")
        if os.getpid() != self._pid:  # forked: never share a connection across processes
            self._pid = os.getpid()
            self._conn = self._connect()
            self._conn.execute("PRAGMA foreign_keys = ON")
        return self._conn

    @contextlib.contextmanager
    def _write(self) -> Iterator[sqlite3.Connection]:
        """One write transaction. IMMEDIATE takes the write lock up front, so two writers
        queue on the busy timeout instead of failing on a lock upgrade."""
        if self.readonly is not None:
            raise self._fail(f"is read-only ({self.readonly}): it can be read (studies, show, "
                             "load) but no trial can be recorded in it",
                             "Pass a store in a folder you can write to (--store PATH / "
                             "store=...), or make the file and its folder writable.")
        with self._lock:
            conn = self.conn
            try:
                conn.execute("BEGIN IMMEDIATE")
            except sqlite3.DatabaseError as e:
                raise self._corrupt(e) from e
            try:
                yield conn
            except BaseException:
                conn.execute("ROLLBACK")
                raise
            else:
                try:
                    conn.execute("COMMIT")
                except sqlite3.DatabaseError as e:
                    conn.execute("ROLLBACK")
                    raise self._corrupt(e) from e

    def _read(self, sql: str, args: Sequence[Any] = ()) -> list[tuple[Any, ...]]:
        with self._lock:
            try:
                return self.conn.execute(sql, args).fetchall()
            except sqlite3.DatabaseError as e:
                raise self._corrupt(e) from e

    def close(self) -> None:
        with self._lock:
            if self._conn is not None and os.getpid() == self._pid:
                self._conn.close()
            self._conn = None

    def __del__(self) -> None:
        # sqlite3.Connection sits in a reference cycle with its statement cache, so it would
        # outlive this Store until a gc pass; close it now (its WAL files go with it)
        with contextlib.suppress(Exception):
            self.close()

    def __enter__(self) -> Store:
        return self

    def __exit__(self, *exc: Any) -> None:
        self.close()

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
                        (name, fp, canonical_json(proto), direction, metric, _now()))
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

    def integrity_check(self) -> str:
        """SQLite's own check; ``"ok"`` for a sound file."""
        return str(self._read("PRAGMA integrity_check")[0][0])


def _lease_times(interval: Any, grace: Any) -> tuple[float, float]:
    for name, v in (("heartbeat_interval", interval), ("grace_period", grace)):
        if isinstance(v, bool) or not isinstance(v, (int, float)) or not 0 < v < math.inf:
            raise bad_arg(name, v, "a positive number of seconds",
                          "The defaults are heartbeat_interval=10, grace_period=60.")
    if grace <= interval:
        raise bad_arg("grace_period", grace, f"more than heartbeat_interval={interval:g} s",
                      "Give a few heartbeats of slack, e.g. grace_period=6 * heartbeat_interval.")
    return float(interval), float(grace)


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

    def mark_running(self, specs: Sequence[TrialSpec], engine: str) -> None:
        """Mark ``specs`` as handed to ``engine``, without a lease (any sweep may take them:
        ``sweep`` claims trials through ``lrsweep.lease`` instead). A trial another process
        finished meanwhile keeps its result."""
        now = _now()
        with self.store._write() as conn:
            conn.executemany(
                "INSERT INTO trials (study, lr, seed, status, engine, started) "
                "VALUES (?, ?, ?, 'running', ?, ?) "
                "ON CONFLICT (study, lr, seed) DO UPDATE SET status = 'running', "
                "metric = NULL, curve = '[]', steps = 0, wall_time = 0, error = NULL, "
                "engine = excluded.engine, started = excluded.started, finished = NULL, "
                "owner = NULL, heartbeat = NULL "
                "WHERE trials.status NOT IN ('ok', 'diverged')",
                [(self.name, float(s.lr), int(s.seed), engine, now) for s in specs])

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
                 canonical_json(_extra_of(result)), _now(), _now()))

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

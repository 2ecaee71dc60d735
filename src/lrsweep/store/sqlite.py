"""Opening an lrsweep SQLite file safely: the schema and its migrations, the checks that run
before the first write, WAL, the busy timeout and write transactions.

Safety rules:

* a file that is not an lrsweep store (another SQLite database, or not SQLite at all), a
  corrupted one, or one written by a newer lrsweep is refused with a ``StoreError`` and is
  never written to: every check runs before the first write;
* WAL journal, a busy timeout, and ``BEGIN IMMEDIATE`` write transactions, so that several
  processes can write one file and readers (``lrsweep show``) never block a sweep;
* a read-only file (or folder) is opened read-only: it can be read, never written.

Standard library only.
"""

from __future__ import annotations

import contextlib
import logging
import os
import sqlite3
import threading
import time
from collections.abc import Callable, Iterator, Sequence
from datetime import datetime, timezone
from pathlib import Path
from typing import Any, TypeVar

from ..errors import StoreError, bad_arg

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
    # the lease of a running trial (lrsweep.store.lease): which sweep holds it
    # ("host:pid:token") and when it last said it was alive (unix time)
    conn.execute("ALTER TABLE trials ADD COLUMN owner TEXT")
    conn.execute("ALTER TABLE trials ADD COLUMN heartbeat REAL")


# MIGRATIONS[v] upgrades a file from schema v to v + 1, inside one write transaction.
MIGRATIONS: list[Callable[[sqlite3.Connection], None]] = [_migrate_0_to_1, _migrate_1_to_2]


def iso_time(t: float | None = None) -> str:
    """A time (unix seconds; default now) as the store's text columns hold it: ISO 8601 in
    UTC, to the millisecond.

    >>> iso_time(0)
    '1970-01-01T00:00:00.000+00:00'
    """
    return datetime.fromtimestamp(time.time() if t is None else t,
                                  timezone.utc).isoformat(timespec="milliseconds")


# ------------------------------------------------------- the file, before SQLite sees it ----
def _fail(path: Path, what: str, todo: str) -> StoreError:
    return StoreError(f"store {str(path)!r}: {what}. {todo}")


def _make_folder(path: Path) -> None:
    """Create the store's folder, or say in one line why it cannot be (nothing made)."""
    probe = path.parent
    while not probe.exists() and probe.parent != probe:
        probe = probe.parent
    if not probe.is_dir():
        raise _fail(path, f"cannot be created: {probe} is a file, not a folder",
                    "Pass a path in a folder, e.g. store='runs/lrsweep.db'.")
    if not os.access(probe, os.W_OK | os.X_OK):
        raise _fail(path, f"cannot be created: the folder {probe} is read-only",
                    "Pass a path in a folder you can write to.")
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
    except OSError as e:
        raise _fail(path, f"cannot be created: making its folder failed "
                    f"({e.strerror or e})", "Pass a path in a folder you can "
                    "write to.") from e


def _check_magic(path: Path) -> None:
    """A non-empty file must start with the SQLite header; read with plain I/O so that a
    foreign file is never handed to SQLite at all."""
    try:
        with path.open("rb") as f:
            head = f.read(len(SQLITE_MAGIC))
    except OSError as e:
        raise _fail(path, f"cannot be read ({e})", "Check the path and its permissions.") \
            from e
    if head and head != SQLITE_MAGIC:
        raise _fail(path, "is not an lrsweep store (not an SQLite file)",
                    "Pass another path; this file was left untouched.")


def _readonly_reason(path: Path) -> tuple[str | None, bool]:
    """Why the file cannot be written (a read-only file or folder), or None; and whether to
    read it as immutable."""
    folder = path.parent
    readonly = None
    if not os.access(path, os.W_OK):
        readonly = "the file is read-only"
    elif not os.access(folder, os.W_OK | os.X_OK):
        readonly = f"its folder {folder} is read-only"
    if readonly is None:
        return None, False
    # WAL readers need the -shm file; where the folder is read-only and no writer has
    # left one, nobody can be writing (a writer makes it): read the file as immutable
    wal = [Path(f"{path}{ext}").exists() for ext in ("-wal", "-shm")]
    immutable = not os.access(folder, os.W_OK | os.X_OK) and not all(wal)
    log.info("store %s: opened read-only (%s)", path, readonly)
    return readonly, immutable


_F = TypeVar("_F", bound="StoreFile")


class StoreFile:
    """An lrsweep SQLite file, opened safely: ``StoreFile(path)`` opens (or, with
    ``create=True``, creates) it, checks that it is an lrsweep store this version can read,
    and migrates an older schema. ``Store`` adds the studies.

    Thread-safe (one connection behind a lock); a forked child reconnects by itself.
    """

    def __init__(self, path: str | os.PathLike[str], *, create: bool = True,
                 timeout: float = BUSY_TIMEOUT_MS / 1000) -> None:
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
                _make_folder(self.path)
            else:
                _check_magic(self.path)
                self.readonly, self._immutable = _readonly_reason(self.path)
        self._open()

    # ------------------------------------------------------------------------- opening ----
    def _fail(self, what: str, todo: str) -> StoreError:
        return _fail(self.path, what, todo)

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

    # -------------------------------------------------------------------- transactions ----
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

    def integrity_check(self) -> str:
        """SQLite's own check; ``"ok"`` for a sound file."""
        return str(self._read("PRAGMA integrity_check")[0][0])

    def close(self) -> None:
        with self._lock:
            if self._conn is not None and os.getpid() == self._pid:
                self._conn.close()
            self._conn = None

    def __del__(self) -> None:
        # sqlite3.Connection sits in a reference cycle with its statement cache, so it would
        # outlive this object until a gc pass; close it now (its WAL files go with it)
        with contextlib.suppress(Exception):
            self.close()

    def __enter__(self: _F) -> _F:
        return self

    def __exit__(self, *exc: Any) -> None:
        self.close()

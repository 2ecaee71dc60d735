"""One study, one runner: leases with a heartbeat on running trials.

A sweep on a store *claims* the trials it is about to train, one unit of work at a time (a
trial, or a stacked group of the vectorized engine), so that N processes on one study share
its trials as Optuna workers on one storage do. Each claimed trial gets the sweep's owner id
(``host:pid:token``) and a heartbeat time, which a background thread renews every
``heartbeat_interval`` seconds (as Optuna's RDB storage does). Another sweep on the same study
skips a trial whose holder is alive, waits for its result and includes it when it lands, so
both sweeps return every trial and each trial is trained once. A holder is taken for dead,
and its trials taken over, when its heartbeat is older than ``grace_period`` seconds, or at
once when it ran on this host and its process is gone (``kill -9``). A sweep that stops
(an exception, Ctrl-C) releases its unfinished trials at once.

Every statement that reads or writes a trial's lease (its ``owner`` and ``heartbeat``
columns: claims, heartbeats, holders, release) lives in this module, and so do the lease
timings' defaults and their checks.
"""

from __future__ import annotations

import logging
import math
import os
import secrets
import socket
import threading
import time
from collections.abc import Callable, Sequence
from typing import Any

from ..errors import bad_arg
from ..results.trial import TrialResult, TrialSpec
from .sqlite import iso_time

log = logging.getLogger("lrsweep")

HEARTBEAT_INTERVAL = 10.0  # seconds between two heartbeats of a running sweep
GRACE_PERIOD = 60.0  # seconds without a heartbeat after which a trial is taken over
_HOST = socket.gethostname()


def lease_times(interval: Any, grace: Any) -> tuple[float, float]:
    """``(heartbeat_interval, grace_period)`` as floats, checked: positive, and the grace
    period longer than the interval.

    >>> lease_times(10, 60)
    (10.0, 60.0)
    """
    for name, v in (("heartbeat_interval", interval), ("grace_period", grace)):
        if isinstance(v, bool) or not isinstance(v, (int, float)) or not 0 < v < math.inf:
            raise bad_arg(name, v, "a positive number of seconds",
                          f"The defaults are heartbeat_interval={HEARTBEAT_INTERVAL:g}, "
                          f"grace_period={GRACE_PERIOD:g}.")
    if grace <= interval:
        raise bad_arg("grace_period", grace, f"more than heartbeat_interval={interval:g} s",
                      "Give a few heartbeats of slack, e.g. grace_period=6 * heartbeat_interval.")
    return float(interval), float(grace)


def new_owner() -> str:
    """``host:pid:token``, unique per sweep (two sweeps of one process are two owners)."""
    return f"{_HOST}:{os.getpid()}:{secrets.token_hex(4)}"


def holder_alive(owner: str | None, heartbeat: float | None, now: float,
                 grace: float) -> bool:
    """Whether the sweep ``owner`` may still be training: a recent heartbeat, and not a
    process of this host that no longer exists."""
    if not owner or heartbeat is None or now - heartbeat > grace:
        return False
    host, pid = _host_pid(owner)
    if host == _HOST and pid.isdigit():
        return _process_alive(int(pid))
    return True


def _host_pid(owner: str) -> tuple[str, str]:
    """The host and pid of ``host:pid:token`` (a host name may hold colons)."""
    parts = owner.split(":")
    return ":".join(parts[:-2]), parts[-2] if len(parts) >= 3 else ""


def _gone_here(owner: str) -> bool:
    """Whether ``owner`` ran on this host and its process no longer exists."""
    host, pid = _host_pid(owner)
    return host == _HOST and pid.isdigit() and not _process_alive(int(pid))


def _process_alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:  # another user's live process
        return True
    try:  # a killed process its parent has not reaped yet is a zombie: dead too
        with open(f"/proc/{pid}/stat") as f:
            return f.read().rsplit(")", 1)[-1].split()[0] not in ("Z", "X")
    except (OSError, IndexError):
        return True


def running_holders(study: Any) -> tuple[dict[str, int], list[TrialSpec]]:
    """A study's running trials: each live sweep holding some ("pid N on host") -> how many,
    and the trials no live sweep holds (left by a stopped process). A store without lease
    columns (a read-only schema-1 file) puts every running trial in the second part."""
    store = study.store
    if "owner" not in {r[1] for r in store._read("PRAGMA table_info(trials)")}:
        return {}, study.running()
    now, live, left = time.time(), {}, []
    for lr, seed, owner, beat in store._read(
            "SELECT lr, seed, owner, heartbeat FROM trials WHERE study = ? AND "
            "status = 'running' ORDER BY lr, seed", (study.name,)):
        if holder_alive(owner, beat, now, store.grace_period):
            who = _describe(owner)
            live[who] = live.get(who, 0) + 1
        else:
            left.append(TrialSpec(lr, seed))
    return live, left


def _describe(owner: str) -> str:
    parts = owner.split(":")
    return f"pid {parts[-2]} on {':'.join(parts[:-2])}" if len(parts) >= 3 else owner


class Lease:
    """The leases of one sweep on one study, renewed by a heartbeat thread while entered."""

    def __init__(self, study: Any) -> None:
        store = study.store  # its heartbeat_interval and grace_period (see lease_times)
        self.study = study
        self.interval, self.grace = lease_times(
            getattr(store, "heartbeat_interval", HEARTBEAT_INTERVAL),
            getattr(store, "grace_period", GRACE_PERIOD))
        self.owner = new_owner()
        self._failed_before: dict[tuple[float, int], Any] | None = None
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    # ------------------------------------------------------------------- SQL --------
    def claim(self, specs: Sequence[TrialSpec], engine: str) -> list[TrialSpec]:
        """Take every trial of ``specs`` that is not finished and not held by a live
        sweep; returns those taken (now running under this lease). A trial that failed
        before this sweep began is taken (it is retried); one that a peer finished, failed
        included, while this sweep runs is not (its result is the peer's to give)."""
        st, now = self.study, time.time()
        taken: list[TrialSpec] = []
        with st.store._write() as conn:
            if self._failed_before is None:  # the first claim: what failed before us
                self._failed_before = {
                    (lr, seed): fin for lr, seed, fin in conn.execute(
                        "SELECT lr, seed, finished FROM trials WHERE study = ? AND "
                        "status = 'failed'", (st.name,))}
            for s in specs:
                row = conn.execute("SELECT status, owner, heartbeat, finished FROM trials "
                                   "WHERE study = ? AND lr = ? AND seed = ?",
                                   (st.name, float(s.lr), int(s.seed))).fetchone()
                status, owner, beat, finished = row or (None, None, None, None)
                if status in ("ok", "diverged"):
                    continue
                if status == "failed" and self._failed_before.get((s.lr, s.seed),
                                                                  "") != finished:
                    continue  # a peer's result of this sweep
                if status == "running" and owner and owner != self.owner:
                    if holder_alive(owner, beat, now, self.grace):
                        continue
                    log.warning("study %r: lr=%g seed=%d was held by %s, which %s; taking "
                                "it over", st.name, s.lr, s.seed, _describe(owner),
                                "is gone" if _gone_here(owner) else "stopped heartbeating")
                taken.append(s)
            conn.executemany(
                "INSERT INTO trials (study, lr, seed, status, engine, started, owner, heartbeat)"
                " VALUES (?, ?, ?, 'running', ?, ?, ?, ?) "
                "ON CONFLICT (study, lr, seed) DO UPDATE SET status = 'running', "
                "metric = NULL, curve = '[]', steps = 0, wall_time = 0, error = NULL, "
                "engine = excluded.engine, started = excluded.started, finished = NULL, "
                "owner = excluded.owner, heartbeat = excluded.heartbeat "
                "WHERE trials.status NOT IN ('ok', 'diverged')",
                [(st.name, float(s.lr), int(s.seed), engine, iso_time(now), self.owner, now)
                 for s in taken])
        return taken

    def beat(self) -> None:
        """Renew the heartbeat of every trial this lease still holds."""
        with self.study.store._write() as conn:
            conn.execute("UPDATE trials SET heartbeat = ? WHERE study = ? AND owner = ? "
                         "AND status = 'running'", (time.time(), self.study.name, self.owner))

    def release(self) -> None:
        """Hand back the unfinished trials (still ``running``, free for the next sweep)."""
        with self.study.store._write() as conn:
            conn.execute("UPDATE trials SET owner = NULL, heartbeat = NULL WHERE study = ? "
                         "AND owner = ? AND status = 'running'", (self.study.name, self.owner))

    def holders(self, specs: Sequence[TrialSpec]) -> dict[str, int]:
        """Live holders (other sweeps) of ``specs`` -> how many of them each holds."""
        keys = {(s.lr, s.seed) for s in specs}
        now, out = time.time(), {}
        for lr, seed, owner, beat in self.study.store._read(
                "SELECT lr, seed, owner, heartbeat FROM trials WHERE study = ? AND "
                "status = 'running'", (self.study.name,)):
            if (lr, seed) in keys and owner != self.owner and \
                    holder_alive(owner, beat, now, self.grace):
                out[owner] = out.get(owner, 0) + 1
        return out

    # ------------------------------------------------------------------ thread ------
    def __enter__(self) -> Lease:
        self._thread = threading.Thread(target=self._run, name="lrsweep-heartbeat",
                                        daemon=True)
        self._thread.start()
        return self

    def __exit__(self, *exc: Any) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout=self.interval + 5)
        try:
            self.release()
        except Exception as e:  # never mask the sweep's own outcome
            log.warning("study %r: could not release the leases (%s); the next sweep takes "
                        "them over after %g s", self.study.name, e, self.grace)

    def _run(self) -> None:
        while not self._stop.wait(self.interval):
            try:
                self.beat()
            except Exception as e:  # keep beating: a busy or locked file is transient
                log.debug("heartbeat of %s failed: %s", self.owner, e)


def run_leased(study: Any, specs: Sequence[TrialSpec], engine: str,
               run: Callable[[list[TrialSpec]], None],
               deliver: Callable[[TrialResult], None],
               units: Callable[[list[TrialSpec]], list[list[TrialSpec]]] | None = None) -> None:
    """Train ``specs`` of ``study`` once across every sweep working on it.

    The work is claimed one unit at a time (``units(specs)``: the engine's own grouping,
    one trial for the sequential engine, one stacked group for the vectorized engine; by
    default everything at once), and each unit is ``run`` as soon as it is claimed, so N
    sweeps started on one study share it as they go. What live peers hold is waited for,
    their results ``deliver``-ed as they land; what a dead peer left is taken over."""
    groups = units(list(specs)) if units is not None else [list(specs)]
    with Lease(study) as lease:
        pending: list[TrialSpec] = []  # not ours: finished or held by a peer
        ran = 0
        for unit in groups:
            taken = lease.claim(unit, engine)
            keys = {(s.lr, s.seed) for s in taken}
            pending += [s for s in unit if (s.lr, s.seed) not in keys]
            if taken:
                run(taken)
                ran += len(taken)
        if pending:
            held = lease.holders(pending)
            if held:
                log.warning(
                    "study %r: %d of the %d trials to run are being trained by another live "
                    "sweep (%s); this sweep ran %d and waits for theirs, taking a trial over "
                    "if its heartbeat stops for %g s", study.name, sum(held.values()),
                    len(specs), ", ".join(map(_describe, held)), ran, lease.grace)
        poll = min(0.1, max(0.02, lease.grace / 100))  # a cheap read; a peer may finish soon
        while pending:
            keys = {(s.lr, s.seed) for s in pending}
            for r in study.results():
                if r.key in keys:  # finished by a peer (ok, diverged or failed)
                    deliver(r)
                    keys.discard(r.key)
            pending = [s for s in pending if (s.lr, s.seed) in keys]
            if not pending:
                break
            taken = lease.claim(pending, engine)
            if taken:
                run(taken)
                done = {(s.lr, s.seed) for s in taken}
                pending = [s for s in pending if (s.lr, s.seed) not in done]
            else:
                time.sleep(poll)

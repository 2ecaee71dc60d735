"""One study, one runner: leases with a heartbeat (DESIGN contract 5).

Several processes sweeping one study train each trial once and all return every trial; a
holder killed with ``kill -9`` (or stopped, so that its heartbeat stops) loses nothing: the
other sweep takes its trials over.
"""

from __future__ import annotations

import collections
import os
import signal
import sqlite3
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import pytest

from lrsweep.errors import ConfigError
from lrsweep.store import Store, TrialSpec
from lrsweep.store import lease as lease_mod
from lrsweep.store.lease import Lease, holder_alive

ROOT = Path(__file__).resolve().parents[1]
ENV = {**os.environ, "PYTHONPATH": str(ROOT / "src"), "OMP_NUM_THREADS": "1"}
LRS = [round(1e-3 * 2**i, 10) for i in range(8)]


def objective(trial):
    return -abs(trial.lr - 0.01)


def study_of(db: Path, **kw):
    from lrsweep.task.objective import ObjectiveTask

    return Store(db, **kw).open_study(ObjectiveTask(objective, "max"), "s")


# ---------------------------------------------------------------------- in one process ----
def test_a_live_holder_is_skipped_a_silent_one_is_taken_over(tmp_path):
    study = study_of(tmp_path / "s.db", heartbeat_interval=0.05, grace_period=0.5)
    specs = [TrialSpec(lr, 0) for lr in LRS[:3]]
    a, b = Lease(study), Lease(study)
    assert a.claim(specs, "sequential") == specs
    assert b.claim(specs, "sequential") == []  # a is alive (this very process)
    assert b.holders(specs) == {a.owner: 3}
    with study.store._write() as conn:  # a's heartbeat stopped 1 s ago (> the grace period)
        conn.execute("UPDATE trials SET heartbeat = heartbeat - 1.0")
    assert b.claim(specs, "sequential") == specs
    assert a.claim(specs, "sequential") == []  # and now a is the one that waits


def test_the_heartbeat_thread_renews_and_release_frees(tmp_path):
    study = study_of(tmp_path / "s.db", heartbeat_interval=0.05, grace_period=0.5)
    spec = [TrialSpec(0.1, 0)]

    def beat() -> float:
        return study.store._read("SELECT heartbeat FROM trials")[0][0]

    with Lease(study) as lease:
        lease.claim(spec, "sequential")
        first = beat()
        deadline = time.monotonic() + 30
        while beat() == first:
            assert time.monotonic() < deadline, "no heartbeat"
            time.sleep(0.02)
        assert Lease(study).claim(spec, "sequential") == []
    # released on exit (an exception or Ctrl-C too): the next sweep takes it at once
    assert study.store._read("SELECT status, owner FROM trials") == [("running", None)]
    assert Lease(study).claim(spec, "sequential") == spec


def test_a_dead_process_of_this_host_is_taken_over_at_once(tmp_path):
    study = study_of(tmp_path / "s.db", grace_period=3600)
    dead = subprocess.Popen([sys.executable, "-c", "pass"])
    dead.wait()  # reaped: its pid no longer exists
    owner = f"{lease_mod._HOST}:{dead.pid}:cafe"
    now = time.time()
    assert not holder_alive(owner, now, now, 3600)
    assert holder_alive(f"other-host:{dead.pid}:cafe", now, now, 3600)  # cannot check there
    assert not holder_alive(f"other-host:{dead.pid}:cafe", now - 10, now, 5)
    with study.store._write() as conn:
        conn.execute("INSERT INTO trials (study, lr, seed, status, owner, heartbeat) "
                     "VALUES ('s', 0.1, 0, 'running', ?, ?)", (owner, now))
    assert Lease(study).claim([TrialSpec(0.1, 0)], "sequential") == [TrialSpec(0.1, 0)]


def test_lease_times_are_checked(tmp_path):
    with pytest.raises(ConfigError, match="^heartbeat_interval="):
        Store(tmp_path / "a.db", heartbeat_interval=0)
    with pytest.raises(ConfigError, match="^grace_period=.*more than heartbeat_interval"):
        Store(tmp_path / "a.db", heartbeat_interval=5, grace_period=5)


# ----------------------------------------------------------------- real processes ----
SWEEPER = textwrap.dedent("""
    import os, sys, time
    import lrsweep
    from lrsweep.store import Store

    db, log_path, barrier, n, trial_s = sys.argv[1], sys.argv[2], sys.argv[3], int(sys.argv[4]), float(sys.argv[5])
    LRS = [round(1e-3 * 2**i, 10) for i in range(8)]

    def objective(trial):
        with open(log_path, "a") as f:  # one line per write: appends do not interleave
            f.write(f"start {trial.lr!r} {os.getpid()}\\n")
        time.sleep(trial_s)
        with open(log_path, "a") as f:
            f.write(f"end {trial.lr!r} {os.getpid()}\\n")
        return -abs(trial.lr - 0.01)

    # start together: every process is imported and ready before any claims a trial
    open(f"{barrier}.{os.getpid()}", "w").close()
    while len([p for p in os.listdir(os.path.dirname(barrier))
               if p.startswith(os.path.basename(barrier) + ".")]) < n:
        time.sleep(0.01)
    store = Store(db, heartbeat_interval=0.2, grace_period=2.0)
    ran = []
    r = lrsweep.sweep(objective, LRS, direction="max", store=store, study="s",
                      engine="sequential", on_result=lambda t: ran.append(t.lr))
    print(len(r.trials), len(ran), ",".join(repr(t.metric) for t in r.trials), flush=True)
""")


def start(tmp_path: Path, n: int, trial_s: float) -> tuple[list[subprocess.Popen], Path, Path]:
    script = tmp_path / "sweeper.py"
    script.write_text(SWEEPER)
    db, log = tmp_path / "s.db", tmp_path / "trainings.log"
    (tmp_path / "ready").mkdir()
    barrier = tmp_path / "ready" / "go"
    procs = [subprocess.Popen([sys.executable, str(script), str(db), str(log), str(barrier),
                               str(n), str(trial_s)], env=ENV, stdout=subprocess.PIPE,
                              stderr=subprocess.PIPE, text=True) for _ in range(n)]
    return procs, db, log


def trainings(log: Path) -> tuple[collections.Counter, collections.Counter]:
    starts, ends = collections.Counter(), collections.Counter()
    for line in log.read_text().splitlines():
        kind, lr, _ = line.split()
        (starts if kind == "start" else ends)[float(lr)] += 1
    return starts, ends


def expected_metrics() -> str:
    return ",".join(repr(-abs(lr - 0.01)) for lr in LRS)


@pytest.mark.parametrize("n", [2, 4])
def test_n_processes_on_one_study_train_each_trial_once(tmp_path, n):
    procs, db, log = start(tmp_path, n, trial_s=0.3)
    outs = [p.communicate(timeout=600) for p in procs]
    assert [p.returncode for p in procs] == [0] * n, [o[1][-2000:] for o in outs]
    lines = [o[0].split() for o in outs]
    # every process returns every trial, with the same values...
    assert all(ln[0] == "8" and ln[2] == expected_metrics() for ln in lines), lines
    # ...and each trial was trained exactly once, in one of them
    starts, ends = trainings(log)
    assert starts == ends == collections.Counter({lr: 1 for lr in LRS})
    assert sum(int(ln[1]) for ln in lines) == 8
    # ...and the processes shared the work: trials are claimed one at a time, so each
    # trained some (issue 23: one pid trained all). How evenly is up to the scheduler: on
    # a loaded machine a split of 3/5 is as correct as 4/4.
    ran = sorted(int(ln[1]) for ln in lines)
    assert ran[0] >= 1, ran
    if n == 4:  # the target: with 4 processes none trains more than half of them
        assert ran[-1] <= 8 // 2, ran
    waiting = [o[1] for o in outs if "being trained by another live sweep" in o[1]]
    assert waiting  # the others said why they wait
    with Store(db) as st:
        assert st.get_study("s").running() == [] and st.integrity_check() == "ok"


def _holder(db: Path) -> int:
    """The pid of the process holding the running trials (owner host:pid:token)."""
    deadline = time.monotonic() + 300
    while time.monotonic() < deadline:
        try:
            con = sqlite3.connect(f"file:{db}?mode=ro", uri=True, timeout=5)
            try:
                rows = con.execute("SELECT owner FROM trials WHERE status = 'running' AND "
                                   "owner IS NOT NULL").fetchall()
                done = con.execute("SELECT COUNT(*) FROM trials WHERE status = 'ok'"
                                   ).fetchone()[0]
            finally:
                con.close()
            if rows and done >= 2:
                return int(rows[0][0].split(":")[-2])
        except sqlite3.OperationalError:
            pass  # not created yet
        time.sleep(0.02)
    raise AssertionError("no holder with two finished trials")


def _held_by(db, pid: int) -> bool:
    con = sqlite3.connect(f"file:{db}?mode=ro", uri=True, timeout=5)
    try:
        rows = con.execute("SELECT owner FROM trials WHERE status = 'running' AND "
                           "owner IS NOT NULL").fetchall()
    finally:
        con.close()
    return any(int(r[0].split(":")[-2]) == pid for r in rows)


def _stopped_while_holding(db) -> int:
    """SIGSTOP a process at a moment it holds a running trial (with work split between the
    processes, each holds one trial at a time and holds none between two of them)."""
    for _ in range(200):
        pid = _holder(db)
        os.kill(pid, signal.SIGSTOP)
        if _held_by(db, pid):
            return pid
        os.kill(pid, signal.SIGCONT)
        time.sleep(0.05)
    raise AssertionError("never caught a process holding a trial")


@pytest.mark.parametrize("how", ["kill -9", "stopped (no heartbeat)"])
def test_nothing_is_lost_when_the_holder_dies(tmp_path, how):
    procs, db, log = start(tmp_path, 2, trial_s=0.4)
    pid = _stopped_while_holding(db)
    holder = next(p for p in procs if p.pid == pid)
    other = next(p for p in procs if p.pid != pid)
    if how == "kill -9":
        os.kill(pid, signal.SIGKILL)
    try:
        out, err = other.communicate(timeout=600)
    finally:
        os.kill(pid, signal.SIGKILL)
        holder.wait()
    assert other.returncode == 0, err[-3000:]
    n_trials, ran, metrics = out.split()
    assert n_trials == "8" and metrics == expected_metrics()
    starts, ends = trainings(log)
    assert ends == collections.Counter({lr: 1 for lr in LRS})  # each finished once...
    assert sum(starts.values()) - 8 <= 1  # ...and at most the one in flight started twice
    assert "taking it over" in err
    if how == "kill -9":
        assert "is gone" in err  # a process of this host (a zombie, not reaped yet): at once
    else:
        assert "stopped heartbeating" in err  # alive but silent: after the grace period
    with Store(db) as st:
        assert st.load("s").trials and st.get_study("s").running() == []
        assert st.integrity_check() == "ok"

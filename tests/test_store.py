"""The SQLite store: resume after kill -9, fingerprints, concurrency, foreign files."""

from __future__ import annotations

import hashlib
import json
import os
import signal
import sqlite3
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import pytest
import torch
from torch import nn

import lrsweep
from lrsweep import store as store_mod
from lrsweep.errors import ConfigError, StoreError
from lrsweep.store import Store, TrialResult, TrialSpec, fingerprint, open_study
from lrsweep.store import sqlite as store_sqlite
from lrsweep.store.lease import Lease

ROOT = Path(__file__).resolve().parents[1]


# ------------------------------------------------------------------------------ helpers ----
def make_task(steps: int = 20, width: int = 16, **kw) -> lrsweep.Task:
    g = torch.Generator().manual_seed(0)
    x = torch.randn(128, 8, generator=g)
    y = (x[:, 0] + x[:, 1] > 0).long()

    def model() -> nn.Module:
        return nn.Sequential(nn.Linear(8, width), nn.ReLU(), nn.Linear(width, 2))

    return lrsweep.Task(model=model, optimizer=torch.optim.SGD, train_data=(x, y),
                        val_data=(x, y), batch_size=32, steps=steps, device="cpu", **kw)


def same_trials(a: list[TrialResult], b: list[TrialResult]) -> None:
    """Equal up to wall time (and the engine label)."""
    assert [(t.lr, t.seed) for t in a] == [(t.lr, t.seed) for t in b]
    for x, y in zip(a, b):
        assert (x.status, x.metric, x.curve, x.steps) == (y.status, y.metric, y.curve, y.steps)


def digest(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


LRS = lrsweep.log_grid(1e-3, 30.0, 6)


def left_running(study, specs: list[TrialSpec]) -> None:
    """What a sweep stopped mid-way leaves: ``specs`` claimed (``running``) and their lease
    handed back, free for the next sweep."""
    lease = Lease(study)
    assert lease.claim(specs, "sequential") == specs
    lease.release()


# ---------------------------------------------------------------------- resume, reuse ----
def test_second_sweep_reuses_every_finished_trial(tmp_path):
    task = make_task()
    db = tmp_path / "s.db"
    first = lrsweep.sweep(task, LRS, store=db, engine="sequential")
    assert any(t.status is lrsweep.Status.DIVERGED for t in first.trials)  # stored too
    ran: list[float] = []
    again = lrsweep.sweep(task, LRS, store=db, engine="sequential", on_result=lambda r: ran.append(r.lr))
    assert ran == []
    same_trials(first.trials, again.trials)
    assert again.study == first.study
    # a wider grid runs only the new LRs
    more = [*LRS, 1e-4]
    ran.clear()
    lrsweep.sweep(task, more, store=db, engine="sequential", on_result=lambda r: ran.append(r.lr))
    assert ran == [1e-4]
    loaded = Store(db).load(first.study)
    assert len(loaded.trials) == len(LRS) + 1
    assert loaded.best().lr == first.best().lr
    assert loaded.protocol == json.loads(json.dumps(task.protocol(), default=str))


def test_failed_trials_are_rerun_finished_ones_are_not(tmp_path):
    # state the objective reads, not settings: left out of the fingerprint
    calls: list[float] = lrsweep.fingerprint.exclude([])
    broken = lrsweep.fingerprint.exclude({"on": True})

    def objective(trial):
        calls.append(trial.lr)
        if broken["on"] and trial.lr == 0.1:
            raise RuntimeError("flaky node")
        return -abs(trial.lr - 0.01)

    db = tmp_path / "o.db"
    lrs = [0.001, 0.01, 0.1]
    r1 = lrsweep.sweep(objective, lrs, direction="max", store=db, study="obj")
    assert [t.status.value for t in r1.trials] == ["ok", "ok", "failed"]
    assert "flaky node" in Store(db).load("obj").trials[2].error
    broken["on"] = False
    calls.clear()
    r2 = lrsweep.sweep(objective, lrs, direction="max", store=db, study="obj")
    assert calls == [0.1]
    assert [t.status.value for t in r2.trials] == ["ok", "ok", "ok"]


def test_running_trials_left_by_a_dead_process_are_rerun(tmp_path):
    task = make_task()
    db = tmp_path / "s.db"
    study = open_study(db, task, "crash")
    left_running(study, [TrialSpec(lr, 0) for lr in LRS])
    from lrsweep.train.loop import run_trial

    study.record(run_trial(task, TrialSpec(LRS[0], 0)))  # the only one that finished
    study.store.close()
    st = Store(db).open_study(task, "crash")
    assert st.running() == [TrialSpec(lr, 0) for lr in LRS[1:]]
    assert [t.lr for t in st.results()] == [LRS[0]]
    info = Store(db).studies()[0]
    assert (info.trials, info.running, info.name) == (len(LRS), len(LRS) - 1, "crash")
    ran: list[float] = []
    res = lrsweep.sweep(task, LRS, store=db, study="crash", engine="sequential",
                        on_result=lambda r: ran.append(r.lr))
    assert ran == LRS[1:]
    same_trials(res.trials, lrsweep.sweep(task, LRS, engine="sequential").trials)
    assert Store(db).open_study(task, "crash").running() == []


def test_record_never_replaces_a_finished_result_with_a_failure(tmp_path):
    study = open_study(tmp_path / "s.db", make_task(), "x")
    ok = TrialResult(0.1, 0, "ok", 0.9, (1.0, 0.5), 2, 0.1, "sequential")
    study.record(ok)
    assert Lease(study).claim([TrialSpec(0.1, 0)], "ray") == []  # finished: never rerun
    study.record(TrialResult(0.1, 0, "failed", None, (), 0, 0.0, "ray", error="boom"))
    (got,) = study.results()
    assert (got.status.value, got.metric, got.curve, got.engine) == ("ok", 0.9, (1.0, 0.5),
                                                                      "sequential")
    assert study.running() == []


TASK_CODE = textwrap.dedent("""
    import torch
    from torch import nn
    import lrsweep

    LRS = lrsweep.log_grid(1e-3, 100.0, 8)

    def build_task(steps):
        g = torch.Generator().manual_seed(0)
        x = torch.randn(256, 16, generator=g)
        y = (x[:, :2].sum(1) > 0).long()

        def model():
            return nn.Sequential(nn.Linear(16, 32), nn.Tanh(), nn.Linear(32, 2))

        return lrsweep.Task(model=model, optimizer=torch.optim.SGD, train_data=(x, y),
                            val_data=(x, y), batch_size=32, steps=steps,
                            warmup_steps=steps // 4, device="cpu")
""")

KILL_SCRIPT = TASK_CODE + textwrap.dedent("""
    import sys

    torch.set_num_threads(1)
    store, study, steps = sys.argv[1], sys.argv[2], int(sys.argv[3])
    ran = []
    lrsweep.sweep(build_task(steps), LRS, store=store, study=study, engine="sequential",
                  on_result=lambda r: ran.append(r.lr))
    print("ran", len(ran), flush=True)
""")


def finished_count(db: Path) -> int:
    if not db.exists():
        return 0
    try:
        con = sqlite3.connect(f"file:{db}?mode=ro", uri=True, timeout=5)
        try:
            return con.execute("SELECT COUNT(*) FROM trials WHERE status != 'running'"
                               ).fetchone()[0]
        finally:
            con.close()
    except sqlite3.OperationalError:  # not created yet
        return 0


def test_kill_9_mid_sweep_then_rerun_completes_with_identical_results(tmp_path):
    script = tmp_path / "sweep_script.py"
    script.write_text(KILL_SCRIPT)
    db = tmp_path / "kill.db"
    env = {**os.environ, "PYTHONPATH": str(ROOT / "src"), "OMP_NUM_THREADS": "1"}
    steps = "800"  # ~0.2 s a trial: the kill lands mid-sweep
    proc = subprocess.Popen([sys.executable, str(script), str(db), "k", steps], env=env,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    deadline = time.monotonic() + 120
    while finished_count(db) < 3:
        assert proc.poll() is None, proc.communicate()
        assert time.monotonic() < deadline
        time.sleep(0.02)
    os.kill(proc.pid, signal.SIGKILL)
    proc.wait()
    assert proc.returncode == -signal.SIGKILL
    # what the dead process left: some finished trials and the one in flight 'running'
    # (trials are claimed one at a time), nothing lost
    with Store(db) as st:
        study = st.get_study("k")
        done_before = {t.key: t for t in study.results()}
        assert 3 <= len(done_before) < 8
        assert len(study.running()) <= 1
        assert st.integrity_check() == "ok"

    resumed = subprocess.run([sys.executable, str(script), str(db), "k", steps], env=env,
                             capture_output=True, text=True, timeout=300)
    assert resumed.returncode == 0, resumed.stderr
    assert resumed.stdout.split() == ["ran", str(8 - len(done_before))]

    # the same sweep, uninterrupted (in this process, on one thread like the script)
    ns: dict = {}
    exec(TASK_CODE, ns)
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    try:
        clean = lrsweep.sweep(ns["build_task"](int(steps)), ns["LRS"], engine="sequential")
    finally:
        torch.set_num_threads(threads)
    with Store(db) as st:
        got = st.load("k").trials
        assert len(got) == 8 and st.get_study("k").running() == []
        same_trials(got, clean.trials)
        for t in got:  # the trials finished before the kill were kept, not recomputed
            if t.key in done_before:
                assert t.wall_time == done_before[t.key].wall_time


# -------------------------------------------------------------------------- fingerprint ----
def test_another_protocol_under_the_same_study_name_is_refused(tmp_path):
    db = tmp_path / "s.db"
    lrsweep.sweep(make_task(steps=20), LRS[:2], store=db, study="base", engine="sequential")
    before = len(Store(db).load("base").trials)
    with pytest.raises(StoreError) as e:
        lrsweep.sweep(make_task(steps=30, width=32), LRS[:2], store=db, study="base")
    msg = str(e.value)
    assert "steps: 20 -> 30" in msg
    assert "architecture" in msg and "weights_sha256" in msg
    assert "study='base-v2'" in msg and "--study base-v2" in msg
    assert len(Store(db).load("base").trials) == before  # nothing mixed in
    # the suggested name works
    r = lrsweep.sweep(make_task(steps=30, width=32), LRS[:2], store=db, study="base-v2")
    assert len(r.trials) == 2


def test_fingerprint_sees_data_optimizer_warmup_and_schedule(tmp_path):
    base = make_task()
    fps = {fingerprint(base.protocol())}
    variants = [
        make_task(warmup_steps=5),
        make_task(schedule="cosine"),
        make_task(clip_grad_norm=1.0),
    ]
    g = torch.Generator().manual_seed(1)
    x = torch.randn(128, 8, generator=g)
    variants.append(lrsweep.Task(model=lambda: nn.Sequential(nn.Linear(8, 16), nn.ReLU(),
                                                             nn.Linear(16, 2)),
                                 optimizer=torch.optim.SGD, train_data=(x, (x[:, 0] > 0).long()),
                                 val_data=(x, (x[:, 0] > 0).long()), batch_size=32, steps=20,
                                 device="cpu"))
    variants.append(lrsweep.Task(model=lambda: nn.Sequential(nn.Linear(8, 16), nn.ReLU(),
                                                             nn.Linear(16, 2)),
                                 optimizer=torch.optim.Adam, train_data=base.train.tensors,
                                 val_data=base.val.tensors, batch_size=32, steps=20,
                                 device="cpu"))
    for v in variants:
        fps.add(fingerprint(v.protocol()))
    assert len(fps) == 1 + len(variants)
    assert fingerprint(make_task().protocol()) == fingerprint(base.protocol())  # stable


def test_default_study_name_follows_the_protocol(tmp_path):
    db = tmp_path / "s.db"
    a = lrsweep.sweep(make_task(steps=20), LRS[:2], store=db, engine="sequential")
    b = lrsweep.sweep(make_task(steps=25), LRS[:2], store=db, engine="sequential")
    assert a.study != b.study and a.study.startswith("sequential-")
    assert lrsweep.sweep(make_task(steps=20), LRS[:2], store=db).study == a.study
    named = make_task(name="My Net")
    assert open_study(db, named).name.startswith("my-net-")
    assert [s.name for s in Store(db).studies()][:2] == [a.study, b.study]


def test_objective_studies_are_fingerprinted_by_code_and_direction(tmp_path):
    db = tmp_path / "o.db"

    def objective(trial):
        return trial.lr

    lrsweep.sweep(objective, [0.1, 1.0], direction="max", store=db, study="obj")
    with pytest.raises(StoreError, match="direction"):
        lrsweep.sweep(objective, [0.1, 1.0], direction="min", store=db, study="obj")

    def objective(trial):  # noqa: F811 - same name, other code
        return 2 * trial.lr

    with pytest.raises(StoreError, match="code_sha"):
        lrsweep.sweep(objective, [0.1, 1.0], direction="max", store=db, study="obj")


# -------------------------------------------------------------------------- concurrency ----
WRITER = textwrap.dedent("""
    import sys, time
    import lrsweep

    db, study, offset = sys.argv[1], sys.argv[2], int(sys.argv[3])

    def objective(trial):
        # a comprehension and a set literal: the study's fingerprint (a hash of this code)
        # must still be the same in both processes, or the second writer would be refused
        losses = [1.0 / (1 + step) for step in range(3)]
        for step, loss in enumerate(losses):
            trial.report(step, loss)
        return trial.lr if trial.seed not in {"a", "b", "c"} else 0.0

    lrs = [round(1e-4 * (1 + i + offset), 10) for i in range(80)]
    r = lrsweep.sweep(objective, lrs, direction="max", store=db, study=study,
                      engine="sequential")
    print(len(r.trials), flush=True)
""")


def test_two_processes_write_one_store_while_it_is_read(tmp_path):
    script = tmp_path / "writer.py"
    script.write_text(WRITER)
    db = tmp_path / "c.db"
    env = {**os.environ, "PYTHONPATH": str(ROOT / "src"), "OMP_NUM_THREADS": "1"}
    # same study with overlapping LRs (offset 60), and a second study: every write contends
    procs = [subprocess.Popen([sys.executable, str(script), str(db), study, off], env=env,
                              stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
             for study, off in (("shared", "0"), ("shared", "40"))]
    reads = 0
    while any(p.poll() is None for p in procs):  # a reader never blocks or breaks a writer
        if db.exists() and db.stat().st_size > 0:
            try:
                with Store(db, create=False) as st:
                    for info in st.studies():
                        assert info.trials <= 120
                    reads += 1
            except StoreError as e:
                assert "no such file" in str(e)
        time.sleep(0.01)
    outs = [p.communicate() for p in procs]
    assert [p.returncode for p in procs] == [0, 0], outs
    assert [o[0].strip() for o in outs] == ["80", "80"]
    with Store(db) as st:
        assert st.integrity_check() == "ok"
        res = st.load("shared")
        assert len(res.trials) == 120  # 0..119, the overlap stored once
        assert all(t.ok and t.metric == t.lr and t.curve == (1.0, 0.5, 1 / 3) for t in res.trials)
        assert st.get_study("shared").running() == []
    assert reads > 0


def test_one_store_object_is_safe_across_threads(tmp_path):
    from concurrent.futures import ThreadPoolExecutor

    study = open_study(tmp_path / "t.db", make_task(), "threads")
    results = [TrialResult(1e-3 * (i + 1), 0, "ok", float(i), (1.0,), 1, 0.0, "sequential")
               for i in range(64)]
    with ThreadPoolExecutor(4) as ex:
        list(ex.map(study.record, results))
    assert len(study.results()) == 64


# ------------------------------------------------------------- foreign, corrupt, newer ----
def _refused(path: Path, match: str) -> None:
    before = digest(path)
    with pytest.raises(StoreError, match=match) as e:
        lrsweep.sweep(make_task(), LRS[:1], store=path)
    assert str(path) in str(e.value)
    assert digest(path) == before, "a refused file must never be written to"
    assert not Path(f"{path}-wal").exists()


def test_a_file_that_is_not_sqlite_is_refused_untouched(tmp_path):
    p = tmp_path / "notes.txt"
    p.write_text("my precious notes\n" * 10)
    _refused(p, "not an lrsweep store")


def test_another_sqlite_database_is_refused_untouched(tmp_path):
    p = tmp_path / "app.db"
    con = sqlite3.connect(p)
    con.execute("CREATE TABLE users (id INTEGER, name TEXT)")
    con.commit()
    con.close()
    _refused(p, "not an lrsweep store.*users")


def test_a_newer_schema_is_refused_untouched(tmp_path):
    p = tmp_path / "new.db"
    lrsweep.sweep(make_task(), LRS[:1], store=p, study="s")
    con = sqlite3.connect(p)
    con.execute(f"PRAGMA user_version = {store_sqlite.SCHEMA_VERSION + 1}")
    con.execute("PRAGMA wal_checkpoint(TRUNCATE)")
    con.commit()
    con.close()
    Path(f"{p}-wal").unlink(missing_ok=True)
    _refused(p, "newer lrsweep.*pip install -U lrsweep")
    with pytest.raises(StoreError, match="newer"):
        Store(p, create=False)  # reading too: we cannot know what a newer schema means


def test_a_corrupted_store_gives_a_clear_error(tmp_path):
    p = tmp_path / "s.db"
    lrsweep.sweep(make_task(), LRS[:2], store=p, study="s")
    with Store(p) as st:
        st.conn.execute("PRAGMA wal_checkpoint(TRUNCATE)")
    data = bytearray(p.read_bytes())
    data[100:400] = bytes(range(256)) + bytes(44)  # the schema page
    p.write_bytes(bytes(data))
    _refused(p, "corrupted")
    half = tmp_path / "half.db"
    half.write_bytes(bytes(data[:60]))
    _refused(half, "corrupted")


def test_an_empty_file_becomes_a_store(tmp_path):
    p = tmp_path / "empty.db"
    p.touch()
    r = lrsweep.sweep(make_task(), LRS[:1], store=p, study="s")
    assert Store(p).load("s").trials == r.trials


def test_older_schemas_are_migrated_in_place(tmp_path, monkeypatch):
    p = tmp_path / "old.db"
    r = lrsweep.sweep(make_task(), LRS[:2], store=p, study="s")

    def next_version(conn):
        conn.execute("ALTER TABLE trials ADD COLUMN host TEXT")

    v = store_sqlite.SCHEMA_VERSION
    monkeypatch.setattr(store_sqlite, "SCHEMA_VERSION", v + 1)
    monkeypatch.setattr(store_sqlite, "MIGRATIONS", [*store_sqlite.MIGRATIONS, next_version])
    with Store(p) as st:
        assert st.conn.execute("PRAGMA user_version").fetchone()[0] == v + 1
        cols = [row[1] for row in st.conn.execute("PRAGMA table_info(trials)")]
        assert "host" in cols
        same_trials(st.load("s").trials, r.trials)


def _schema_1_file(p: Path) -> None:
    """A store as lrsweep wrote it before leases (schema 1), with one finished and one
    running trial."""
    con = sqlite3.connect(p)
    for stmt in store_sqlite._SCHEMA_V1:
        con.execute(stmt)
    con.execute("INSERT INTO studies VALUES ('s', 'f', '{}', 'max', 'accuracy', 'then')")
    con.execute("INSERT INTO trials (study, lr, seed, status, metric, curve) VALUES "
                "('s', 0.1, 0, 'ok', 0.9, '[1.0, 0.5]'), ('s', 1.0, 0, 'running', NULL, '[]')")
    con.execute(f"PRAGMA application_id = {store_sqlite.APPLICATION_ID}")
    con.execute("PRAGMA user_version = 1")
    con.commit()
    con.close()


def test_a_schema_1_store_gains_the_lease_columns_and_keeps_its_trials(tmp_path):
    p = tmp_path / "v1.db"
    _schema_1_file(p)
    with Store(p) as st:
        assert st.conn.execute("PRAGMA user_version").fetchone()[0] == 2
        cols = [row[1] for row in st.conn.execute("PRAGMA table_info(trials)")]
        assert {"owner", "heartbeat"} <= set(cols)
        study = st.get_study("s")
        (done,) = study.results()
        assert (done.lr, done.metric, done.curve) == (0.1, 0.9, (1.0, 0.5))
        assert study.running() == [TrialSpec(1.0, 0)]


def test_a_read_only_schema_1_store_is_still_read(tmp_path, monkeypatch):
    p = tmp_path / "v1.db"
    _schema_1_file(p)
    real = os.access
    # a read-only file in a read-only folder (faked: the tests may run as root)
    monkeypatch.setattr(os, "access", lambda path, mode: False if mode & os.W_OK and str(
        path) in (str(p), str(tmp_path)) else real(path, mode))
    with Store(p, create=False) as st:
        assert st.readonly
        assert [t.metric for t in st.load("s").trials] == [0.9]
    con = sqlite3.connect(p)
    assert con.execute("PRAGMA user_version").fetchone()[0] == 1  # not migrated
    con.close()


def test_store_file_columns_use_the_python_names(tmp_path):
    p = tmp_path / "s.db"
    lrsweep.sweep(make_task(), LRS[:1], store=p, study="s")
    con = sqlite3.connect(p)
    cols = [row[1] for row in con.execute("PRAGMA table_info(trials)")]
    for name in ("lr", "seed", "status", "metric", "curve", "steps", "wall_time", "engine",
                 "error", "started", "finished"):
        assert name in cols
    assert con.execute("PRAGMA journal_mode").fetchone()[0] == "wal"
    desc = json.loads(con.execute("SELECT description FROM studies").fetchone()[0])
    assert desc["steps"] == 20 and desc["optimizer"] == "SGD"
    con.close()


# ----------------------------------------------------------------- API, bad arguments ----
def test_studies_load_export_and_delete(tmp_path):
    p = tmp_path / "s.db"
    r = lrsweep.sweep(make_task(), LRS, seeds=(0, 1), store=p, study="two-seeds")
    st = Store(p)
    (info,) = st.studies()
    assert (info.trials, info.ok + info.diverged, info.failed, info.running) == (12, 12, 0, 0)
    assert info.best_lr == r.best().lr and info.best_metric == r.best().metric
    loaded = st.load()  # the only study
    same_trials(loaded.trials, r.trials)
    back = lrsweep.SweepResult.from_json(loaded.to_json(tmp_path / "x.json"))
    same_trials(back.trials, r.trials)
    assert back.study == "two-seeds" and back.direction == "max"
    assert st.delete_study("two-seeds") == 12
    assert st.studies() == []
    with pytest.raises(StoreError, match="no study 'two-seeds'"):
        st.load("two-seeds")


def test_bad_arguments_say_what_to_do(tmp_path):
    with pytest.raises(ConfigError, match="store="):
        lrsweep.sweep(make_task(), LRS[:1], store=123)
    with pytest.raises(ConfigError, match="study="):
        lrsweep.sweep(make_task(), LRS[:1], store=tmp_path / "s.db", study="  ")
    with pytest.raises(ConfigError, match="directory"):
        Store(tmp_path)
    with pytest.raises(StoreError, match="no such file"):
        Store(tmp_path / "missing.db", create=False)
    assert not (tmp_path / "missing.db").exists()
    Store(tmp_path / "a.db").open_study(make_task(), "one")
    Store(tmp_path / "a.db").open_study(make_task(), "two")
    with pytest.raises(ConfigError, match="holds 2: one, two"):
        Store(tmp_path / "a.db").load()
    with pytest.raises(StoreError, match="no study 'three'.*one, two"):
        Store(tmp_path / "a.db").open_study(make_task(), "three", create=False)


def test_store_in_a_new_folder_is_created(tmp_path):
    p = tmp_path / "runs" / "deep" / "s.db"
    lrsweep.sweep(make_task(), LRS[:1], store=str(p), study="s")
    assert p.exists()


def test_fingerprint_ignores_memory_addresses_in_reprs():
    class Fake:
        direction, metric_name, name = "max", "accuracy", "fake"

        def __init__(self, obj):
            self.obj = obj

        def protocol(self):
            return {"loss": repr(self.obj), "steps": 10}

    a, b = Fake(object()), Fake(object())
    assert repr(a.obj) != repr(b.obj)
    pa, pb = store_mod.task_protocol(a), store_mod.task_protocol(b)
    assert pa == pb and pa["loss"] == "<object object>"
    assert fingerprint(pa) == fingerprint(pb)
    assert store_mod.default_study_name(a) == f"fake-{fingerprint(pa)[:8]}"

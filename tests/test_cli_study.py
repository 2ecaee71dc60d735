"""``lrsweep studies | show | plot | export`` and resume through the CLI."""

from __future__ import annotations

import csv
import importlib.util
import io
import json
import os
import re
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
from lrsweep.cli import main
from lrsweep.store import Store
from lrsweep.store.lease import Lease

ROOT = Path(__file__).resolve().parents[1]
ENV = {**os.environ, "PYTHONPATH": str(ROOT / "src"), "OMP_NUM_THREADS": "1"}


def tiny_task(steps: int = 15) -> lrsweep.Task:
    g = torch.Generator().manual_seed(0)
    x = torch.randn(96, 6, generator=g)
    y = (x[:, 0] > 0).long()
    torch.manual_seed(0)
    return lrsweep.Task(model=nn.Sequential(nn.Linear(6, 12), nn.ReLU(), nn.Linear(12, 2)),
                        optimizer=torch.optim.SGD, train_data=(x, y), val_data=(x, y),
                        batch_size=32, steps=steps, device="cpu")


@pytest.fixture(scope="module")
def store(tmp_path_factory) -> Path:
    """A store with two studies: a Task sweep over two seeds (one LR diverges) and an
    objective sweep (one trial fails)."""
    db = tmp_path_factory.mktemp("cli") / "lrsweep.db"
    lrsweep.sweep(tiny_task(), lrsweep.log_grid(1e-3, 100.0, 6), seeds=(0, 1), store=db,
                  study="mlp", engine="sequential")

    def objective(trial):
        if trial.lr > 0.5:
            raise RuntimeError("out of memory")
        return (trial.lr - 0.01) ** 2

    lrsweep.sweep(objective, [0.001, 0.01, 0.1, 1.0], direction="min", store=db, study="obj")
    return db


def run_cli(capsys, *argv: str) -> tuple[int, str, str]:
    rc = main(list(argv))
    out = capsys.readouterr()
    return rc, out.out, out.err


def test_studies_lists_counts_and_best_lr(store, capsys):
    rc, out, _ = run_cli(capsys, "studies", str(store))
    assert rc == 0
    lines = {ln.split()[0]: ln.split() for ln in out.splitlines()[2:]}
    res = Store(store).load("mlp")
    best = res.best()
    n_div = sum(t.status is lrsweep.Status.DIVERGED for t in res.trials)
    assert 0 < n_div < 12  # the grid spans both sides
    mlp = lines["mlp"]
    # trials ok diverged failed running
    assert mlp[1:6] == ["12", str(12 - n_div), str(n_div), "0", "0"]
    # the answer (the estimate over every trial), then the best LR measured
    assert float(mlp[6]) == pytest.approx(res.optimum().lr, rel=1e-3)
    assert mlp[8] == "2"  # the estimate's seeds
    assert float(mlp[9]) == pytest.approx(best.lr, rel=1e-3)
    assert mlp[10] == f"accuracy(max)={best.metric:.4f}"
    assert lines["obj"][1:6] == ["4", "3", "0", "1", "0"]
    assert float(lines["obj"][9]) == pytest.approx(0.01)


def _field(text: str, pattern: str) -> float:
    m = re.search(pattern, text)
    assert m, (pattern, text)
    return float(m.group(1))


def test_show_studies_and_report_state_one_answer(tmp_path, capsys):
    """A study whose trials came from a run and then from a search (other LRs, more seeds):
    show, studies, the report and the Python API give the same optimum and the same best
    LR measured, both over every trial of the study; a lucky LR that one seed ran does not
    become the best."""
    db = tmp_path / "lrsweep.db"
    task = tiny_task()
    lrsweep.sweep(task, lrsweep.log_grid(1e-2, 10.0, 7), seeds=3, store=db, study="s",
                  engine="sequential")
    lrsweep.sweep(task, lrsweep.log_grid(3e-2, 3.0, 5), seeds=1, store=db, study="s",
                  engine="sequential")  # one seed only: not comparable with the 3-seed LRs
    res = Store(db).load("s")
    opt, best = res.optimum(), res.best()
    assert best.seeds == (0, 1, 2) and best.n_lrs >= 2
    rc, show, _ = run_cli(capsys, "show", str(db))
    assert rc == 0
    assert _field(show, r"optimum: lr = (\S+)") == pytest.approx(opt.lr, rel=1e-3)
    assert _field(show, r"best lr measured: (\S+)") == pytest.approx(best.lr, rel=1e-3)
    assert "mean over 3 seeds (0, 1, 2)" in show
    rc, studies, _ = run_cli(capsys, "studies", str(db))
    row = studies.splitlines()[2].split()
    assert float(row[6]) == pytest.approx(opt.lr, rel=1e-3)
    assert float(row[9]) == pytest.approx(best.lr, rel=1e-3)
    html_path = tmp_path / "r.html"
    assert main(["report", str(db), "-o", str(html_path)]) == 0
    head = html_path.read_text()
    head = head[head.index('id="answer"'):head.index('id="metric"')]
    from lrsweep.plot.fmt import fmt_lr

    assert f"lr = {fmt_lr(opt.lr)}" in head and f"lr {fmt_lr(best.lr)}" in head
    assert "mean over 3 seeds" in head


def test_a_one_seed_best_is_labelled_as_one_seeds():
    trials = [lrsweep.TrialResult(lr, 0, "ok", 0.5 + 0.1 * i, steps=1)
              for i, lr in enumerate((1e-3, 1e-2, 1e-1))]
    best = lrsweep.SweepResult(trials, "max", "accuracy").best()
    assert best.one_seed and best.label == "seed 0 only"
    assert best.to_dict()["metric_is"] == "one seed's"
    assert "seed 0 only" in best.text("accuracy")


def test_best_compares_the_same_seeds():
    """An LR that fewer seeds ran is not ranked against the LRs that every seed ran, and
    an LR where a seed diverged is never best."""
    t = lrsweep.TrialResult
    trials = [t(1e-3, s, "ok", 0.80 + 0.01 * s, steps=1) for s in range(3)]
    trials += [t(1e-2, s, "ok", 0.85, steps=1) for s in range(3)]
    trials += [t(3e-3, 0, "ok", 0.99, steps=1)]            # one lucky seed
    trials += [t(1e-1, 0, "ok", 0.999, steps=1), t(1e-1, 1, "diverged", None, steps=1),
               t(1e-1, 2, "ok", 0.999, steps=1)]
    best = lrsweep.SweepResult(trials, "max", "accuracy").best()
    assert best.lr == 1e-2 and best.seeds == (0, 1, 2) and best.n_lrs == 2


def test_show_prints_protocol_table_best_and_optimum(store, capsys):
    rc, out, _ = run_cli(capsys, "show", str(store), "--study", "mlp")
    assert rc == 0
    res = Store(store).load("mlp")
    assert "Sequential + SGD, batch_size=32, steps=15" in out
    assert res.table() in out
    assert f"best lr measured: {res.best().lr:.4g}" in out
    assert f"optimum: lr = {res.optimum().lr:.4g}" in out
    rc, out, _ = run_cli(capsys, "show", str(store), "--study", "obj", "--protocol")
    assert rc == 0 and '"code_sha"' in out and "best lr measured: 0.01" in out


def test_show_reports_running_trials(tmp_path, capsys):
    db = tmp_path / "s.db"
    study = lrsweep.store.open_study(db, tiny_task(), "half")
    lease = Lease(study)  # a sweep that stopped: its trials left running, the lease handed back
    lease.claim([lrsweep.TrialSpec(0.1, 0), lrsweep.TrialSpec(1.0, 0)], "sequential")
    lease.release()
    rc, out, _ = run_cli(capsys, "show", str(db))  # one study: --study may be left out
    assert rc == 0
    assert "no finished trial yet" in out and "2 trial(s) running, held by no live sweep" in out
    rc, out, _ = run_cli(capsys, "studies", str(db))
    assert out.splitlines()[2].split()[1:6] == ["2", "0", "0", "0", "2"]


def test_export_json_round_trip(store, tmp_path, capsys):
    out_file = tmp_path / "mlp.json"
    rc, _, err = run_cli(capsys, "export", str(store), "--study", "mlp", "-o", str(out_file))
    assert rc == 0 and "12 trials" in err
    back = lrsweep.SweepResult.from_json(out_file)
    want = Store(store).load("mlp")
    assert back.trials == want.trials
    assert (back.study, back.direction, back.metric_name) == ("mlp", "max", "accuracy")
    assert back.best() == want.best()
    rc, out, _ = run_cli(capsys, "export", str(store), "--study", "obj")  # to stdout
    data = json.loads(out)
    assert [t["status"] for t in data["trials"]] == ["ok", "ok", "ok", "failed"]
    assert data["best"]["lr"] == 0.01


def test_export_csv_round_trip(store, tmp_path, capsys):
    rc, out, _ = run_cli(capsys, "export", str(store), "--study", "mlp", "--format", "csv")
    assert rc == 0
    rows = list(csv.DictReader(io.StringIO(out)))
    want = Store(store).load("mlp").trials
    assert len(rows) == len(want) == 12
    for row, t in zip(rows, want):
        assert float(row["lr"]) == t.lr and int(row["seed"]) == t.seed
        assert row["status"] == t.status.value
        assert (row["metric"] == "") if t.metric is None else float(row["metric"]) == t.metric
        assert int(row["steps"]) == t.steps
    f = tmp_path / "sub" / "obj.csv"
    assert main(["export", str(store), "--study", "obj", "--format", "csv", "-o", str(f)]) == 0
    assert f.read_text().count("\n") == 5


def _digest(path: Path) -> str:
    import hashlib

    return hashlib.sha256(path.read_bytes()).hexdigest()


def test_export_onto_the_store_or_any_sqlite_file_is_refused(store, tmp_path, capsys):
    before = _digest(store)
    for flags in ((), ("--force",)):
        for fmt in ("json", "csv"):
            rc, out, err = run_cli(capsys, "export", str(store), "--study", "mlp", "--format",
                                   fmt, "-o", str(store), *flags)
            assert rc == 2 and out == "" and len(err.strip().splitlines()) == 1, err
            assert "SQLite file" in err and "never writes" in err
    assert _digest(store) == before
    assert len(Store(store).load("mlp").trials) == 12  # still a working store
    # judged by the header, not the name: a copy of a store called .json, another database
    disguised = tmp_path / "results.json"
    disguised.write_bytes(store.read_bytes())
    other = tmp_path / "app.csv"
    con = sqlite3.connect(other)
    con.execute("CREATE TABLE t (x)")
    con.commit()
    con.close()
    for target in (disguised, other):
        kept = _digest(target)
        rc, _, err = run_cli(capsys, "export", str(store), "--study", "mlp", "-o", str(target),
                             "--force")
        assert rc == 2 and "SQLite file" in err
        assert _digest(target) == kept
    # the store given as its run folder, the output as the store inside it
    rc, _, err = run_cli(capsys, "export", str(store.parent), "--study", "mlp", "-o",
                         str(store.parent / "lrsweep.db"))
    assert rc == 2 and "SQLite file" in err and _digest(store) == before


def test_export_replaces_an_existing_file_only_with_force(store, tmp_path, capsys):
    out_file = tmp_path / "mlp.json"
    out_file.write_text("my notes\n")
    rc, _, err = run_cli(capsys, "export", str(store), "--study", "mlp", "-o", str(out_file))
    assert rc == 2 and "exists" in err and "--force" in err
    assert out_file.read_text() == "my notes\n"
    rc, _, err = run_cli(capsys, "export", str(store), "--study", "mlp", "-o", str(out_file),
                         "--force")
    assert rc == 0 and "12 trials" in err
    assert lrsweep.SweepResult.from_json(out_file).trials == Store(store).load("mlp").trials
    assert [p.name for p in tmp_path.iterdir()] == ["mlp.json"]  # no temporary file left


def test_api_export_needs_overwrite_and_never_writes_a_store(store, tmp_path):
    res = Store(store).load("mlp")
    path = res.to_json(tmp_path / "r.json")
    first = path.read_text()
    for write in (res.to_json, res.to_csv):
        with pytest.raises(lrsweep.ConfigError, match="exists.*overwrite=True"):
            write(path)
        assert path.read_text() == first
    assert res.to_csv(tmp_path / "r.json", overwrite=True).read_text().startswith("lr,seed")
    before = _digest(store)
    for write in (res.to_json, res.to_csv):
        with pytest.raises(lrsweep.ConfigError, match="SQLite file"):
            write(store, overwrite=True)
    assert _digest(store) == before


def test_plot_writes_the_image_or_says_what_to_install(store, tmp_path, capsys, monkeypatch):
    out = tmp_path / "figs" / "mlp.png"
    if importlib.util.find_spec("matplotlib") and importlib.util.find_spec("lrsweep.plot"):
        rc, text, _ = run_cli(capsys, "plot", str(store), "--study", "mlp", "-o", str(out))
        assert rc == 0 and out.stat().st_size > 1000 and f"wrote {out}" in text
    monkeypatch.setitem(sys.modules, "lrsweep.plot", None)
    rc, _, err = run_cli(capsys, "plot", str(store), "--study", "mlp", "-o", str(tmp_path / "x.png"))
    assert rc == 2 and "pip install matplotlib" in err


def test_errors_are_one_line_and_exit_2(store, tmp_path, capsys):
    rc, _, err = run_cli(capsys, "show", str(store), "--study", "nope")
    assert rc == 2 and "no study 'nope'" in err and "mlp, obj" in err
    rc, _, err = run_cli(capsys, "show", str(store))  # two studies: which one?
    assert rc == 2 and "--study NAME" in err
    rc, _, err = run_cli(capsys, "studies", str(tmp_path / "missing.db"))
    assert rc == 2 and "expected an existing store file" in err
    assert not (tmp_path / "missing.db").exists()
    foreign = tmp_path / "app.db"
    con = sqlite3.connect(foreign)
    con.execute("CREATE TABLE t (x)")
    con.commit()
    con.close()
    rc, _, err = run_cli(capsys, "studies", str(foreign))
    assert rc == 2 and "not an lrsweep store" in err
    assert err.count("\n") == 1


def test_studies_through_python_m_lrsweep(store):
    out = subprocess.run([sys.executable, "-m", "lrsweep", "studies", str(store)], env=ENV,
                         capture_output=True, text=True, timeout=120)
    assert out.returncode == 0, out.stderr
    assert out.stdout.splitlines()[0].split()[:3] == ["study", "trials", "ok"]
    assert {ln.split()[0] for ln in out.stdout.splitlines()[2:]} == {"mlp", "obj"}


# --------------------------------------------------------- sweeps through the CLI ----
USER_TASK = textwrap.dedent("""
    import torch
    from torch import nn
    import lrsweep

    def build(steps=8, width=8, **kw):
        g = torch.Generator().manual_seed(0)
        x = torch.randn(128, 4, generator=g)
        y = (x[:, 0] - x[:, 1] > 0).long()
        torch.manual_seed(0)
        return lrsweep.Task(nn.Sequential(nn.Linear(4, width), nn.Tanh(), nn.Linear(width, 2)),
                            torch.optim.SGD, (x, y), (x, y), batch_size=16, steps=steps, **kw)
""")


def test_cli_run_resumes_from_its_store_and_refuses_another_protocol(tmp_path, monkeypatch,
                                                                       capsys):
    (tmp_path / "usertask.py").write_text(USER_TASK)
    monkeypatch.syspath_prepend(str(tmp_path))
    cfg = tmp_path / "sweep.toml"
    cfg.write_text('task = "usertask:build"\nsteps = 8\nnum = 4\nlr-min = 1e-2\nlr-max = 10.0\n'
                   'engine = "sequential"\nquiet = true\nstudy = "mine"\n')
    out = tmp_path / "out"
    assert main(["run", "--config", str(cfg), "--out", str(out)]) == 0
    db = out / "lrsweep.db"  # the CLI's default store
    first = {(t.lr, t.seed): t for t in Store(db).load("mine").trials}
    assert len(first) == 4
    capsys.readouterr()
    # the same command again: everything reused (same wall times: nothing recomputed)
    assert main(["run", "--config", str(cfg), "--out", str(out)]) == 0
    again = Store(db).load("mine").trials
    assert [(t.wall_time, t.metric) for t in again] == \
        [(first[t.key].wall_time, first[t.key].metric) for t in again]
    # a longer grid on the same study adds trials, keeps the old ones
    assert main(["run", "--config", str(cfg), "--num", "7", "--out", str(out)]) == 0
    assert len(Store(db).load("mine").trials) == 4 + 3  # 7 log points share 4 with the 4
    capsys.readouterr()
    # another protocol under the same name: refused, with the way out
    rc = main(["run", "--config", str(cfg), "--steps", "12", "--out", str(out)])
    err = capsys.readouterr().err
    assert rc == 2 and "steps: 8 -> 12" in err and "--study mine-v2" in err
    assert main(["run", "--config", str(cfg), "--steps", "12", "--study", "mine-v2",
                 "--out", str(out)]) == 0
    capsys.readouterr()
    rc, text, _ = run_cli(capsys, "studies", str(out))  # the --out folder is accepted
    assert [ln.split()[0] for ln in text.splitlines()[2:]] == ["mine", "mine-v2"]


SLOW_TASK = USER_TASK.replace("steps=8", "steps=400")


@pytest.mark.slow
def test_kill_9_of_lrsweep_run_then_rerun_completes(tmp_path):
    (tmp_path / "usertask.py").write_text(SLOW_TASK)
    env = {**ENV, "PYTHONPATH": f"{tmp_path}{os.pathsep}{ENV['PYTHONPATH']}"}
    cmd = [sys.executable, "-m", "lrsweep", "run", "--task", "usertask:build", "--lr-min",
           "1e-3", "--lr-max", "10", "--num", "8", "--engine", "sequential", "--quiet",
           "--out", str(tmp_path / "out"), "--study", "demo"]
    db = tmp_path / "out" / "lrsweep.db"
    proc = subprocess.Popen(cmd, env=env, cwd=tmp_path, stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, text=True)
    deadline = time.monotonic() + 180
    while True:
        assert proc.poll() is None, proc.communicate()
        assert time.monotonic() < deadline
        if db.exists():
            try:
                with Store(db, create=False) as st:
                    if "demo" in st.study_names() and len(st.load("demo").trials) >= 2:
                        break
            except lrsweep.StoreError:
                pass
        time.sleep(0.05)
    os.kill(proc.pid, signal.SIGKILL)
    proc.wait()
    shown = subprocess.run([sys.executable, "-m", "lrsweep", "show", str(db)], env=env,
                           capture_output=True, text=True, timeout=120)
    # the killed sweep's pid is gone: its trials are held by no live sweep
    assert shown.returncode == 0 and "held by no live sweep: left by a stopped process" in \
        shown.stdout and "in a live sweep now" not in shown.stdout
    rerun = subprocess.run(cmd, env=env, cwd=tmp_path, capture_output=True, text=True,
                           timeout=300)
    assert rerun.returncode == 0, rerun.stderr
    with Store(db) as st:
        assert len(st.load("demo").trials) == 8 and st.get_study("demo").running() == []


def test_show_tells_trials_a_live_sweep_holds_from_those_left_behind(tmp_path, capsys):
    import os
    import time

    from lrsweep.store import lease

    db = tmp_path / "s.db"
    study = lrsweep.store.open_study(db, tiny_task(), "half")
    specs = [lrsweep.TrialSpec(lr, 0) for lr in (0.01, 0.1, 1.0)]
    lease.Lease(study).claim(specs[:2], "sequential")  # this process: alive, heartbeat now
    left = lease.Lease(study)  # a sweep that stopped: the lease handed back
    left.claim(specs[2:], "sequential")
    left.release()
    rc, out, _ = run_cli(capsys, "show", str(db))
    assert rc == 0
    assert f"2 trial(s) running in a live sweep now (pid {os.getpid()} on {lease._HOST}: 2)" in out
    assert "1 trial(s) running, held by no live sweep" in out and "lr=1/seed=0" in out
    with study.store._write() as conn:  # a heartbeat older than the grace period: stopped
        conn.execute("UPDATE trials SET heartbeat = ?", (time.time() - 3600,))
    rc, out, _ = run_cli(capsys, "show", str(db))
    assert "in a live sweep now" not in out and "3 trial(s) running, held by no live sweep" in out

"""Bad input, one row per case: the Python API raises ``LRSweepError`` whose message names
the argument; the ``lrsweep`` console script (run for real, in a subprocess) exits 2 with one
line on stderr and no traceback. In every case nothing is written."""

from __future__ import annotations

import contextlib
import hashlib
import os
import re
import shutil
import sqlite3
import subprocess
import sys
import textwrap
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import pytest
import torch
from conftest import make_blobs, small_mlp
from torch import nn

import lrsweep
from lrsweep import LRSweepError
from lrsweep.examples import get_task
from lrsweep.store import Store

ROOT = Path(__file__).resolve().parents[1]
ENV = {**os.environ, "PYTHONPATH": str(ROOT / "src"), "OMP_NUM_THREADS": "1"}


def console_script() -> str:
    """The installed ``lrsweep`` entry point (the code under test comes from PYTHONPATH)."""
    found = shutil.which("lrsweep", path=str(Path(sys.executable).parent)) or \
        shutil.which("lrsweep")
    if not found:
        pytest.skip("the lrsweep console script is not installed (pip install -e .)")
    return found


# ------------------------------------------------------------------------ helpers ----
def snapshot(root: Path) -> dict[str, str]:
    """Every file under ``root`` with a hash of its bytes (SQLite's -wal/-shm side files,
    which a reader may create beside a store, are left out: the store is what counts)."""
    out = {}
    for p in sorted(root.rglob("*")):
        if p.is_file() and not p.name.endswith(("-wal", "-shm")):
            out[str(p.relative_to(root))] = hashlib.sha256(p.read_bytes()).hexdigest()
        elif p.is_dir():
            out[str(p.relative_to(root)) + "/"] = ""
    return out


@contextlib.contextmanager
def read_only(*paths: Path):
    """Make ``paths`` read-only for this process: mode bits, and (as root, who ignores
    them) the immutable attribute. Skips where neither works."""
    modes = {p: p.stat().st_mode for p in paths}
    flagged = []
    try:
        for p in paths:
            os.chmod(p, modes[p] & ~0o222)
        if os.geteuid() == 0 and shutil.which("chattr"):
            for p in paths:
                if subprocess.run(["chattr", "+i", str(p)], capture_output=True).returncode == 0:
                    flagged.append(p)
        if any(os.access(p, os.W_OK) for p in paths):
            pytest.skip("cannot make a path read-only here")
        yield
    finally:
        for p in flagged:
            subprocess.run(["chattr", "-i", str(p)], capture_output=True)
        for p, m in modes.items():
            os.chmod(p, m)


def tiny_task(**kw: Any) -> lrsweep.Task:
    x, y = make_blobs(128)
    args = dict(model=small_mlp(), optimizer=torch.optim.SGD, train_data=(x, y),
                val_data=(x, y), batch_size=16, steps=2, device="cpu")
    args.update(kw)
    return lrsweep.Task(**args)


def objective(trial):
    return (trial.lr - 0.01) ** 2


def make_store(path: Path) -> Path:
    lrsweep.sweep(objective, [1e-3, 1e-2, 1e-1], direction="min", store=path, study="obj")
    return path


def damage_a_record(db: Path) -> None:
    """Break the JSON of one trial's record; SQLite's integrity check still passes."""
    con = sqlite3.connect(db)
    con.execute("PRAGMA wal_checkpoint(TRUNCATE)")
    con.close()
    data = bytearray(db.read_bytes())
    i = data.find(b'{"code_sha"')
    i = i if i >= 0 else data.find(b'{"')
    assert i >= 0
    data[i] = ord("#")
    db.write_bytes(bytes(data))
    with sqlite3.connect(db) as con:
        assert con.execute("PRAGMA integrity_check").fetchone()[0] == "ok"


# ---------------------------------------------------------------------- API cases ----
# Each case is a generator: it prepares its inputs, then yields the call that must fail
# (inside any read-only context it needs); the test compares the files around that call.
X, Y = make_blobs(128)
XR, YR = torch.randn(128, 8), torch.randn(128)


def bad_labels(tmp):
    yield lambda: tiny_task(train_data=(X, torch.randint(0, 8, (128,))))


def bad_val_labels(tmp):
    yield lambda: tiny_task(val_data=(X, torch.randint(0, 8, (128,))))


def float_targets_default_loss(tmp):
    yield lambda: tiny_task(train_data=(XR, YR), val_data=(XR, YR))


def mse_shape_mismatch(tmp):
    yield lambda: tiny_task(model=nn.Linear(8, 1), train_data=(XR, YR), val_data=(XR, YR),
                            loss=nn.MSELoss(), metric="loss")


def functional_loss_broadcasts(tmp):
    yield lambda: tiny_task(model=nn.Linear(8, 1), train_data=(XR, YR.unsqueeze(1)),
                            val_data=(XR, YR.unsqueeze(1)), metric="loss",
                            loss=lambda out, y: nn.functional.mse_loss(out, y.squeeze(1)))


def regression_scored_by_accuracy(tmp):
    yield lambda: tiny_task(model=nn.Linear(8, 1), train_data=(XR, YR.unsqueeze(1)),
                            val_data=(XR, YR.unsqueeze(1)), loss=nn.MSELoss())


def model_refuses_the_batch(tmp):
    yield lambda: tiny_task(model=nn.Linear(5, 3))


def model_class_needs_arguments(tmp):
    yield lambda: tiny_task(model=nn.Linear)


def budget_rounds_to_zero(tmp):
    yield lambda: tiny_task(steps=None, epochs=1e-9)


def warmup_rounds_to_zero(tmp):
    yield lambda: tiny_task(steps=None, epochs=2, warmup_epochs=1e-9)


def warmup_longer_than_budget(tmp):
    yield lambda: tiny_task(steps=3, warmup_steps=5)


def schedule_near_miss(tmp):
    yield lambda: tiny_task(schedule="cosin")


def precision_near_miss(tmp):
    yield lambda: tiny_task(precision="bf15")


def metric_near_miss(tmp):
    yield lambda: tiny_task(metric="acuracy")


def engine_near_miss(tmp):
    task = tiny_task()
    yield lambda: lrsweep.sweep(task, [0.1], engine="vectorised", store=tmp / "s.db")


def builtin_task_near_miss(tmp):
    yield lambda: get_task("digits_mlp")


def threads_zero(tmp):
    task = tiny_task()
    yield lambda: lrsweep.sweep(task, [0.1], threads=0, store=tmp / "s.db")


def store_cannot_be_created(tmp):
    task = tiny_task()
    yield lambda: lrsweep.sweep(task, [0.1], store="/proc/lrsweep-test.db")


def store_under_a_file(tmp):
    (tmp / "notes.txt").write_text("x")
    task = tiny_task()
    yield lambda: lrsweep.sweep(task, [0.1], store=tmp / "notes.txt" / "s.db")


def store_is_a_folder(tmp):
    task = tiny_task()
    yield lambda: lrsweep.sweep(task, [0.1], store=tmp)


def store_in_read_only_folder(tmp):
    folder = tmp / "ro"
    folder.mkdir()
    task = tiny_task()
    with read_only(folder):
        yield lambda: lrsweep.sweep(task, [0.1], store=folder / "new.db")


def read_only_store_file(tmp):
    db = make_store(tmp / "s.db")
    with read_only(db):
        assert len(Store(db).load("obj").trials) == 3  # still readable
        yield lambda: lrsweep.sweep(objective, [0.5], direction="min", store=db, study="obj")


def store_in_read_only_folder_sweep(tmp):
    folder = tmp / "ro"
    folder.mkdir()
    db = make_store(folder / "s.db")
    with read_only(folder):
        assert len(Store(db).load("obj").trials) == 3  # still readable
        yield lambda: lrsweep.sweep(objective, [0.5], direction="min", store=db, study="obj")


def damaged_store(tmp):
    db = make_store(tmp / "s.db")
    damage_a_record(db)
    yield lambda: Store(db).load("obj")


def study_near_miss(tmp):
    db = make_store(tmp / "s.db")
    yield lambda: Store(db).load("ojb")


def zero_seeds(tmp):
    yield lambda: lrsweep.sweep(objective, [1e-3], seeds=0, direction="min")


def export_into_a_read_only_folder(tmp):
    folder = tmp / "ro"
    folder.mkdir()
    res = lrsweep.sweep(objective, [1e-3], direction="min")
    with read_only(folder):
        yield lambda: res.to_json(folder / "r.json")


def reversed_range_in_search(tmp):
    yield lambda: lrsweep.search(objective, (1e-1, 1e-3), direction="min")


API_CASES = [  # (case, a regex the one-line message must match)
    (bad_labels, r"^train_data=.*labels in 0\.\.2"),
    (bad_val_labels, r"^val_data=.*Label 7"),
    (float_targets_default_loss, r"^loss: the default loss is nn\.CrossEntropyLoss\(\).*"
                                 r"loss=nn\.MSELoss\(\), metric=\"loss\""),
    (mse_shape_mismatch, r"^loss=MSELoss\(\): .*\(16, 1\).*\(16,\)"),
    (functional_loss_broadcasts, r"^loss: Using a target size"),
    (regression_scored_by_accuracy, r"^metric: .*metric=\"loss\""),
    (model_refuses_the_batch, r"^model: .*RuntimeError: mat1 and mat2"),
    (model_class_needs_arguments, r"^model=nn\.Linear: the class needs arguments "
                                  r"\(in_features, out_features\).*model=nn\.Linear\(\.\.\.\)"),
    (budget_rounds_to_zero, r"^epochs=1e-09: .*at least one optimizer step"),
    (warmup_rounds_to_zero, r"^warmup_epochs=1e-09"),
    (warmup_longer_than_budget, r"^warmup_steps=5"),
    (schedule_near_miss, r"^schedule='cosin'.*Did you mean 'cosine'"),
    (precision_near_miss, r"^precision='bf15'.*Did you mean 'bf16'"),
    (metric_near_miss, r"^metric='acuracy'.*Did you mean 'accuracy'"),
    (engine_near_miss, r"^engine='vectorised'.*Did you mean 'vectorized'"),
    (builtin_task_near_miss, r"^task='digits_mlp'.*Did you mean 'digits-mlp'"),
    (threads_zero, r"^threads=0"),
    (store_cannot_be_created, r"^store '/proc/lrsweep-test.db': cannot be opened or created"),
    (store_under_a_file, r"^store '.*notes.txt/s.db': cannot be created: .* is a file"),
    (store_is_a_folder, r"^store='.*': expected a file path"),
    (store_in_read_only_folder, r"^store '.*new.db': cannot be created: the folder .* "
                                r"is read-only"),
    (read_only_store_file, r"^store '.*s.db': is read-only \(the file is read-only\)"),
    (store_in_read_only_folder_sweep, r"^store '.*s.db': is read-only \(its folder"),
    (damaged_store, r"^store '.*s.db': is damaged: .* study 'obj'"),
    (study_near_miss, r"no study 'ojb'. Did you mean 'obj'\?"),
    (reversed_range_in_search, r"^lr_range"),
    (zero_seeds, r"^seeds=0: expected a count >= 1.*seeds=3 \(seeds 0, 1, 2\)"),
    (export_into_a_read_only_folder, r"^path='.*r.json': cannot be written: the folder .* "
                                     r"is read-only"),
]


@pytest.mark.parametrize("case, pattern", API_CASES, ids=[c.__name__ for c, _ in API_CASES])
def test_api_bad_input(case, pattern, tmp_path):
    steps = case(tmp_path)
    act = next(steps)
    before = snapshot(tmp_path)
    try:
        with pytest.raises(LRSweepError) as err:
            act()
        after = snapshot(tmp_path)
    finally:
        steps.close()
    msg = str(err.value)
    assert "\n" not in msg
    assert re.search(pattern, msg), msg
    assert after == before  # the failing call wrote nothing


def test_two_lrs_a_decade_apart_log_the_range_hint(caplog):
    with caplog.at_level("WARNING", logger="lrsweep"):
        res = lrsweep.sweep(objective, (1e-4, 1e-1), direction="min")
    assert len(res.trials) == 2
    assert "2 LRs" in caplog.text and "log_grid(lo, hi, n)" in caplog.text
    caplog.clear()
    with caplog.at_level("WARNING", logger="lrsweep"):
        lrsweep.sweep(objective, (1e-3, 2e-3), direction="min")
        lrsweep.sweep(objective, lrsweep.log_grid(1e-4, 1e-1, 2), direction="min")
    assert "2 LRs" not in caplog.text


def test_trial_result_repr_is_one_short_line():
    r = lrsweep.TrialResult(1e-3, 0, "ok", 0.95, curve=[2.0] * 5000, steps=5000,
                            wall_time=1.5)
    text = repr(r)
    assert len(text) < 120 and "\n" not in text
    assert "lr=0.001" in text and "metric=0.95" in text and "steps=5000" in text
    assert r.curve == (2.0,) * 5000  # the data is all still there


# ---------------------------------------------------------------------- CLI cases ----
USER_MODULE = textwrap.dedent("""
    import torch
    from torch import nn
    import lrsweep

    def make(steps=2, **kw):
        torch.manual_seed(0)
        x = torch.randn(64, 4); y = (x[:, 0] > 0).long()
        return lrsweep.Task(nn.Linear(4, 2), torch.optim.SGD, (x, y), (x, y), batch_size=16,
                            steps=steps)

    def buggy(**kw):
        sizes = {"small": 3}
        return make(steps=len(sizes["small"]))

    def strict(steps=2):
        return make(steps)
""")


def cli_setup(root: Path) -> dict[str, Path]:
    """The inputs the CLI cases share: a user module, a file, a read-only folder holding a
    store, a damaged store, a store with a Task study swept at batch 16."""
    (root / "mymod.py").write_text(USER_MODULE)
    (root / "broken.py").write_text("import lrsweep\nimport no_such_dependency_xyz\n")
    (root / "notes.txt").write_text("x")
    (root / "ro").mkdir()
    make_store(root / "ro" / "lrsweep.db")
    make_store(root / "dmg.db")
    damage_a_record(root / "dmg.db")
    lrsweep.sweep(tiny_task(), [0.01, 0.1], store=root / "task.db", study="b16",
                  engine="sequential")
    return {"ro": root / "ro"}


RUN = ["run", "--task", "teacher-mlp", "--steps", "2", "--num", "2", "--quiet"]
CLI_CASES = {  # name: (argv, what the one line on stderr must contain)
    "engine near miss": (RUN + ["--engine", "vectorised"], "did you mean 'vectorized'"),
    "task near miss": (["run", "--task", "teacher_mlp"], "did you mean 'teacher-mlp'"),
    "store cannot be created": (RUN + ["--store", "/proc/lrsweep-x.db"],
                                "store '/proc/lrsweep-x.db': cannot be opened or created"),
    "store under a file": (RUN + ["--store", "notes.txt/x.db"], "notes.txt is a file"),
    "out under a file": (RUN + ["--out", "notes.txt/out"], "--out='notes.txt/out'"),
    "out in a read-only folder": (RUN + ["--out", "ro/new"], "ro is read-only"),
    "read-only store, other out": (RUN + ["--store", "ro/lrsweep.db", "--out", "elsewhere"],
                                   "store 'ro/lrsweep.db': is read-only"),
    "user function raises": (["run", "--task", "mymod:buggy", "--quiet"],
                             "buggy() raised TypeError: object of type 'int' has no len() "
                             "(at mymod.py:"),
    "user function refuses overrides": (["run", "--task", "mymod:strict", "--width", "8"],
                                        "refused the overrides"),
    "user module import fails": (["run", "--task", "broken:make"],
                                 "No module named 'no_such_dependency_xyz'"),
    "plot to a text file": (["plot", "ro", "-o", "out.txt"], ".png"),
    "fit plot to a text file": (["fit", "ro", "--plot", "law.txt"], "--plot='law.txt'"),
    "budget rounds to zero": (["run", "--task", "teacher-mlp", "--epochs", "1e-9"],
                              "--epochs=1e-09"),
    "damaged store": (["show", "dmg.db"], "is damaged"),
    "unknown flag": (["run", "--task", "teacher-mlp", "--lr-mn", "1e-3"],
                     "did you mean --lr-min?"),
    "transfer choice near miss": (["transfer", "--lr", "1e-3", "--batch", "1:2",
                                   "--parametrization", "mpu"], "did you mean 'mup'"),
    "transfer half an interval": (["transfer", "--lr", "1e-3", "--low", "1e-4", "--batch",
                                   "1:2"], "--low/--high"),
    "transfer base batch": (["transfer", "--store", "task.db", "--study", "b16", "--batch",
                             "64:1024"], "--batch='64:1024': expected BASE = 16"),
    "threads zero": (RUN + ["--threads", "0"], "--threads='0'"),
    "schedule near miss": (RUN + ["--schedule", "cosin"], "--schedule='cosin'"),
    "one grid point": (RUN[:-3] + ["--num", "1"], "--num=1"),
    "export into a read-only folder": (["export", "ro", "-o", "ro/p.json"],
                                       "--output='ro/p.json': cannot be written: the folder "
                                       "ro is read-only"),
    "report into a read-only folder": (["report", "ro", "-o", "ro/r.html"],
                                       "--output='ro/r.html': cannot be written: the folder "
                                       "ro is read-only"),
    "plot into a read-only folder names the file": (["plot", "ro", "-o", "ro/p.png"],
                                                    "--output='ro/p.png': cannot be written"),
    "batch size in the flag's words": (RUN + ["--batch-size", "0"],
                                       "--batch-size=0: expected a positive integer for "
                                       "in-memory tensors. Pass --batch-size, e.g. "
                                       "--batch-size 128."),
    "base width without muP in the flags' words": (
        RUN + ["--parametrization", "sp", "--base-width", "16"],
        "--base-width=16: expected no base width under --parametrization sp"),
    "search budget in the flag's words": (["search", "--task", "teacher-mlp", "--steps", "2",
                                           "--max-trials", "2", "--quiet"],
                                          "Pass --max-trials as an integer >= 3"),
    "seeds flag below zero": (RUN + ["--seeds", "0,-1"], "--seeds='0,-1'"),
}
if not torch.cuda.is_available():  # where there is no GPU, the advice is the flag
    CLI_CASES["no CUDA here, in the flag's words"] = (
        RUN + ["--device", "cuda"], "CUDA is not available on this machine; use --device cpu.")
BEHAVIOUR = {  # name: (argv, what stdout must contain), exit code 0
    "task from the current folder": (["run", "--task", "mymod:make", "--num", "2", "--quiet",
                                      "--out", "mine"], "best lr measured:"),
    "version": (["--version"], f"lrsweep {lrsweep.__version__}"),
    "studies of a read-only store": (["studies", "ro"], "obj"),
    "show of a read-only store": (["show", "ro"], "best lr measured: 0.01"),
}


@pytest.fixture(scope="module")
def cli(tmp_path_factory):
    """Every CLI case run through the console script, from a folder holding its inputs;
    with the folder's contents before and after each error case."""
    script = console_script()
    root = tmp_path_factory.mktemp("cli-bad-input")
    dirs = cli_setup(root)
    results: dict[str, Any] = {}
    with read_only(dirs["ro"]):
        before = snapshot(root)

        def one(item):
            name, (argv, _) = item
            return name, subprocess.run([script, *argv], cwd=root, env=ENV,
                                        capture_output=True, text=True, timeout=600)

        with ThreadPoolExecutor(3) as pool:
            for name, proc in pool.map(one, CLI_CASES.items()):
                results[name] = proc
        after = snapshot(root)
        for name, proc in map(one, BEHAVIOUR.items()):
            results[name] = proc
    return results, before, after


@pytest.mark.parametrize("name", list(CLI_CASES))
def test_cli_bad_input(cli, name):
    results, before, after = cli
    proc = results[name]
    lines = proc.stderr.strip().splitlines()
    assert proc.returncode == 2, (proc.stdout, proc.stderr)
    assert "Traceback" not in proc.stderr
    assert len(lines) == 1 and lines[0].startswith("lrsweep"), proc.stderr
    assert CLI_CASES[name][1].lower() in lines[0].lower(), lines[0]
    assert before == after  # no case wrote anything


@pytest.mark.parametrize("name", list(BEHAVIOUR))
def test_cli_behaviour(cli, name):
    proc = cli[0][name]
    assert proc.returncode == 0, proc.stderr
    assert BEHAVIOUR[name][1] in proc.stdout

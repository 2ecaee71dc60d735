"""``lrsweep run`` through its entry point."""

from __future__ import annotations

import json
import subprocess
import sys
import textwrap

import pytest

from lrsweep.cli import main

FAST = ["--steps", "4", "--num", "3", "--quiet", "--engine", "sequential"]


def test_run_writes_outputs_and_prints_best(tmp_path, capsys):
    rc = main(["run", "--task", "teacher-mlp", "--lr-min", "1e-3", "--lr-max", "1e-1",
               "--out", str(tmp_path), *FAST])
    out = capsys.readouterr().out
    assert rc == 0
    assert "best lr measured:" in out and "optimum: lr =" in out and "accuracy" in out
    assert (tmp_path / "lrsweep.db").exists()
    (folder,) = [p for p in tmp_path.iterdir() if p.is_dir()]  # OUT/<study>/
    for name in ("sweep.json", "sweep.csv", "sweep.png"):
        assert (folder / name).exists(), name
    data = json.loads((folder / "sweep.json").read_text())
    assert folder.name == data["study"]
    assert len(data["trials"]) == 3 and data["direction"] == "max"


def test_user_error_exits_2_with_one_line(tmp_path):
    out = subprocess.run([sys.executable, "-m", "lrsweep", "run", "--task", "teacher-mlp",
                          "--lr-min", "-1", "--out", str(tmp_path)],
                         capture_output=True, text=True, timeout=120)
    assert out.returncode == 2
    assert "Traceback" not in out.stderr
    assert out.stderr.strip().startswith("lrsweep: error: --lr-min/--lr-max")


def test_help_explains_every_flag():
    out = subprocess.run([sys.executable, "-m", "lrsweep", "run", "--help"],
                         capture_output=True, text=True, timeout=60)
    assert out.returncode == 0
    for flag in ("--task", "--lr-min", "--lr-max", "--num", "--seeds", "--epochs",
                 "--warmup-epochs", "--engine", "--out", "--store", "--study", "--config"):
        assert flag in out.stdout


def test_config_file_and_flags_win(tmp_path, capsys):
    cfg = tmp_path / "sweep.toml"
    cfg.write_text('task = "teacher-mlp"\nsteps = 3\nnum = 2\nlr-min = 1e-3\nlr_max = 1e-2\n'
                   'engine = "sequential"\nquiet = true\n')
    rc = main(["run", "--config", str(cfg), "--num", "3", "--out", str(tmp_path)])
    assert rc == 0
    (out,) = tmp_path.glob("*/sweep.json")
    data = json.loads(out.read_text())
    assert len(data["trials"]) == 3  # --num on the command line beats num in the file
    assert all(t["steps"] == 3 for t in data["trials"])
    bad = tmp_path / "bad.toml"
    bad.write_text('tsak = "x"\n')
    assert main(["run", "--config", str(bad)]) == 2
    assert "tsak" in capsys.readouterr().err


def test_task_from_import_path(tmp_path, monkeypatch, capsys):
    (tmp_path / "mytasks.py").write_text(textwrap.dedent("""
        import torch
        from torch import nn
        import lrsweep

        def make(steps=2, **kw):
            torch.manual_seed(0)
            x = torch.randn(64, 4); y = (x[:, 0] > 0).long()
            return lrsweep.Task(nn.Linear(4, 2), torch.optim.SGD, (x, y), (x, y),
                                batch_size=16, steps=steps)

        def not_a_task(**kw):
            return 3
    """))
    monkeypatch.syspath_prepend(str(tmp_path))
    rc = main(["run", "--task", "mytasks:make", "--lr-min", "0.01", "--lr-max", "1",
               "--out", str(tmp_path / "o"), *FAST])
    assert rc == 0 and "best lr measured:" in capsys.readouterr().out
    assert main(["run", "--task", "mytasks:not_a_task", "--out", str(tmp_path / "p")]) == 2
    assert "returning lrsweep.Task" in capsys.readouterr().err
    assert main(["run", "--task", "nosuchmodule:make", "--out", str(tmp_path / "q")]) == 2


@pytest.mark.parametrize("seeds, expect", [("2", [0, 1]), ("0,5", [0, 5])])
def test_seeds_flag(seeds, expect):
    from lrsweep.cli.common import parse_seeds

    assert parse_seeds(seeds) == expect

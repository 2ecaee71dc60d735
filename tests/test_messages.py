"""What the CLI and the library say in the situations a new user meets: a new store, a
resumed run, a width scan into one folder, a transfer without an interval."""

from __future__ import annotations

import json
import logging
import re

import pytest

import lrsweep
from lrsweep.cli import main
from lrsweep.store import Store

FAST = ["--task", "teacher-mlp", "--steps", "3", "--num", "3", "--lr-min", "1e-3",
        "--lr-max", "1e-1", "--quiet", "--engine", "sequential"]
# a range whose optimum lies inside (fit refuses open-ended optima)
SCAN = ["--task", "teacher-mlp", "--steps", "5", "--num", "5", "--lr-min", "1e-3",
        "--lr-max", "10", "--quiet", "--engine", "sequential"]


def test_a_new_store_is_created_not_migrated(tmp_path, caplog):
    with caplog.at_level(logging.DEBUG, logger="lrsweep"):
        Store(tmp_path / "new.db").close()
    assert "migrating" not in caplog.text


def test_a_fully_resumed_run_says_nothing_was_trained(tmp_path, capsys):
    assert main(["run", *FAST, "--out", str(tmp_path)]) == 0
    first = capsys.readouterr().out
    assert "3 trials trained" in first and "reused" not in first
    assert main(["run", *FAST, "--out", str(tmp_path)]) == 0
    again = capsys.readouterr().out
    assert "(resumed: 3 of 3 trials reused)" in again
    assert "3 of 3 trials reused, nothing trained" in again
    assert "engine " not in again.splitlines()[-1]


def test_width_scan_keeps_each_study_apart_and_fit_reads_them_all(tmp_path, capsys):
    out = tmp_path / "runs"
    for w in (8, 16, 32):
        assert main(["run", *SCAN, "--width", str(w), "--out", str(out)]) == 0
    capsys.readouterr()
    folders = sorted(p.name for p in out.iterdir() if p.is_dir())
    assert [re.match(r"teacher-mlp-width(\d+)-", f).group(1) for f in folders] == \
        ["16", "32", "8"]
    for f in folders:  # each study's files hold that study only
        data = json.loads((out / f / "sweep.json").read_text())
        assert data["study"] == f and len(data["trials"]) == 5
    pytest.importorskip("matplotlib")
    assert main(["fit", str(out), "--x", "width", "--target", "64"]) == 0
    text = capsys.readouterr().out
    assert sorted(re.findall(r"^study \S+: width (\d+)$", text, re.M)) == ["16", "32", "8"]
    assert "prediction: lr" in text


def test_fit_leaves_out_studies_without_the_scale_and_checks_names(tmp_path, capsys):
    out = tmp_path / "runs"
    for w in (8, 16, 32):
        assert main(["run", *SCAN, "--width", str(w), "--out", str(out)]) == 0
    assert main(["run", *SCAN, "--out", str(out)]) == 0  # no --width: no scale in the name
    capsys.readouterr()
    pytest.importorskip("matplotlib")
    assert main(["fit", str(out), "--x", "width"]) == 0
    text = capsys.readouterr().out
    assert "left out (no width in the study): teacher-mlp-steps5-" in text
    assert main(["fit", str(out), "--studies", "nope,teacher-mlp"]) == 2
    assert "--studies" in capsys.readouterr().err


def test_search_names_its_study_like_run(tmp_path, capsys):
    argv = ["search", "--task", "teacher-mlp", "--steps", "2", "--lr-min", "1e-3",
            "--lr-max", "1", "--points", "3", "--max-rounds", "1", "--quiet",
            "--engine", "sequential", "--out", str(tmp_path)]
    for w in (8, 16):  # a second width in the same --out: a second study, not a clash
        assert main(argv + ["--width", str(w)]) == 0
    capsys.readouterr()
    names = Store(tmp_path / "lrsweep.db").study_names()
    assert [n.rsplit("-", 1)[0] for n in names] == ["teacher-mlp-width8-steps2",
                                                    "teacher-mlp-width16-steps2"]
    assert all((tmp_path / n / "search.json").exists() for n in names)


def _interval(out: str) -> tuple[float, float]:
    lo, hi = out.split("=> lr", 1)[1].split("[", 1)[1].split("]", 1)[0].split(",")
    return float(lo), float(hi)


def test_transfer_without_an_interval_gives_the_rules_error_only(capsys):
    """Without the base LR's interval the transferred one is the rule's own error (issue 25),
    said so; with it, both add up and the interval is wider."""
    assert main(["transfer", "--lr", "3e-4", "--batch", "64:1024"]) == 0
    out = capsys.readouterr().out
    assert "the rules' error only" in out and "[0.0012, 0.0012]" not in out
    lo0, hi0 = _interval(out)
    assert lo0 < 0.0012 < hi0
    assert main(["transfer", "--lr", "3e-4", "--low", "2e-4", "--high", "5e-4",
                 "--batch", "64:1024"]) == 0
    lo1, hi1 = _interval(capsys.readouterr().out)
    assert lo1 < lo0 and hi1 > hi0


def test_transfer_from_a_store_starts_from_the_recorded_batch(tmp_path, capsys):
    assert main(["run", *FAST, "--batch-size", "16", "--study", "b16", "--out",
                 str(tmp_path)]) == 0
    capsys.readouterr()
    assert main(["transfer", "--store", str(tmp_path), "--study", "b16",
                 "--batch", "16:256"]) == 0
    assert "batch 16 -> 256" in capsys.readouterr().out
    assert main(["transfer", "--store", str(tmp_path), "--study", "b16",
                 "--batch", "64:256"]) == 2
    assert "--batch 16:TARGET" in capsys.readouterr().err


def test_table_says_what_its_time_column_holds():
    def objective(trial):
        return trial.lr

    one = lrsweep.sweep(objective, [0.1, 0.2], direction="max")
    lines = one.table().splitlines()
    assert lines[0].endswith("time s") and not lines[-1].startswith("time s")  # no note
    two = lrsweep.sweep(objective, [0.1, 0.2], seeds=(0, 1), direction="max")
    assert two.table().splitlines()[0].endswith("time s (sum)")
    assert "summed over the seeds" in two.table()
    shared = lrsweep.SweepResult(
        [lrsweep.TrialResult(0.1, 0, "ok", 1.0, engine="vectorized",
                             extra={"chunk_size": 2}),
         lrsweep.TrialResult(0.2, 0, "ok", 1.0, engine="vectorized",
                             extra={"chunk_size": 2})], "max")
    assert shared.table().splitlines()[0].endswith("time s (share)")
    assert "equal share of its group's wall time" in shared.table()

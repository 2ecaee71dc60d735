"""TensorBoard logging: one run per trial, read back with TensorBoard's own event reader."""

from __future__ import annotations

import math

import pytest
import torch
from conftest import small_mlp

import lrsweep
from lrsweep.cli import main

pytest.importorskip("tensorboard")
from tensorboard.backend.event_processing.event_accumulator import (  # noqa: E402
    EventAccumulator,
)
from tensorboard.plugins.hparams import plugin_data_pb2  # noqa: E402


def read_run(folder):
    """Scalars by tag, and the HParams of the run's session."""
    ea = EventAccumulator(str(folder), size_guidance={"scalars": 0, "tensors": 0})
    ea.Reload()
    scalars = {tag: [(e.step, e.value) for e in ea.Scalars(tag)] for tag in ea.Tags()["scalars"]}
    content = ea.PluginTagToContent("hparams")
    start = plugin_data_pb2.HParamsPluginData.FromString(
        content["_hparams_/session_start_info"]).session_start_info
    hp = {}
    for k, v in start.hparams.items():
        kind = v.WhichOneof("kind")
        hp[k] = getattr(v, kind)
    exp = plugin_data_pb2.HParamsPluginData.FromString(content["_hparams_/experiment"]).experiment
    hp["_metrics"] = [m.name.tag for m in exp.metric_infos]
    return scalars, hp


def make_task(blobs, **kw):
    (xt, yt), (xv, yv) = blobs
    return lrsweep.Task(small_mlp(), torch.optim.SGD, (xt, yt), (xv, yv), batch_size=32,
                        steps=6, device="cpu", **kw)


@pytest.mark.parametrize("engine", ["sequential", "vectorized"])
def test_one_run_per_trial_with_curve_and_hparams(blobs, tmp_path, engine):
    task = make_task(blobs)
    lrs = [1e-2, 1e-1, 50.0]  # the last one diverges
    res = lrsweep.sweep(task, lrs, seeds=(0, 1), engine=engine, tensorboard=tmp_path)
    runs = sorted(p.name for p in tmp_path.iterdir())
    assert runs == sorted(f"lr={lr:g},seed={s}" for lr in lrs for s in (0, 1))
    by_key = {(t.lr, t.seed): t for t in res.trials}
    for (lr, seed), trial in by_key.items():
        scalars, hp = read_run(tmp_path / f"lr={lr:g},seed={seed}")
        assert hp["lr"] == pytest.approx(lr) and hp["seed"] == seed
        assert hp["status"] == trial.status.value
        assert hp["_metrics"] == ["metric/accuracy"]
        curve = [v for _, v in scalars["train/loss"]]
        finite = [v for v in trial.curve if math.isfinite(v)]
        assert curve == pytest.approx(finite, rel=1e-6)
        if trial.ok:
            assert scalars["metric/accuracy"][0][1] == pytest.approx(trial.metric, rel=1e-6)
        else:
            assert "metric/accuracy" not in scalars
    assert by_key[(50.0, 0)].status == "diverged"


def test_resumed_study_logs_only_new_trials(blobs, tmp_path):
    task = make_task(blobs)
    board, store = tmp_path / "tb", tmp_path / "s.db"
    lrsweep.sweep(task, [1e-2, 1e-1], store=store, study="s", tensorboard=board,
                  engine="sequential")
    first = {p.name: sorted(f.name for f in p.iterdir()) for p in board.iterdir()}
    lrsweep.sweep(task, [1e-2, 1e-1, 3e-1], store=store, study="s", tensorboard=board,
                  engine="sequential")
    second = {p.name: sorted(f.name for f in p.iterdir()) for p in board.iterdir()}
    assert set(second) == set(first) | {"lr=0.3,seed=0"}
    assert all(second[k] == first[k] for k in first)  # nothing written twice


def test_search_and_cli_log(blobs, tmp_path):
    task = make_task(blobs)
    found = lrsweep.search(task, (1e-3, 1.0), max_rounds=2, engine="sequential",
                           tensorboard=tmp_path / "search")
    assert len(list((tmp_path / "search").iterdir())) == len(found.trials)
    rc = main(["run", "--task", "teacher-mlp", "--steps", "3", "--num", "2", "--quiet",
               "--engine", "sequential", "--lr-min", "1e-3", "--lr-max", "1e-2",
               "--out", str(tmp_path / "out"), "--tensorboard", str(tmp_path / "cli")])
    assert rc == 0
    names = sorted(p.name for p in (tmp_path / "cli").iterdir())
    assert names == ["lr=0.001,seed=0", "lr=0.01,seed=0"]
    _, hp = read_run(tmp_path / "cli" / names[0])
    assert hp["status"] == "ok" and hp["_metrics"] == ["metric/accuracy"]

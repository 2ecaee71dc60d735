"""The issue-20 benchmark suite (benchmarks/suite) cannot rot: every task builds and trains
a trial at a tiny budget, the committed truths cover every task with the grid they claim,
and the truth's estimator and scoring do what the harness relies on."""

from __future__ import annotations

import math
import sys
from pathlib import Path

import numpy as np
import pytest

import lrsweep

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
pytest.importorskip("sklearn")

from benchmarks.suite import ALL, HELD_OUT, TASKS, harness, truth  # noqa: E402
from benchmarks.suite import truths as T  # noqa: E402


def test_the_suite_has_the_coverage_it_claims():
    assert len(TASKS) >= 12 and len(HELD_OUT) >= 4
    assert all(s.held_out for s in HELD_OUT.values())
    assert not any(s.held_out for s in TASKS.values())
    assert sum(s.data.startswith("real") for s in ALL.values()) >= 4


def test_every_task_builds_and_trains_one_tiny_trial():
    for name, spec in ALL.items():
        task = spec.build(steps=2, warmup_steps=0)
        lr = math.sqrt(spec.lr_range[0] * spec.lr_range[1])
        r = lrsweep.sweep(task, [lr], seeds=[0], progress=False, threads=None).trials[0]
        assert r.ok, (name, r.status, r.error)
        assert r.steps == 2 and math.isfinite(r.metric), name


def test_committed_truths_cover_every_task_with_a_dense_grid():
    for name, spec in ALL.items():
        tr = truth(name)
        assert len(tr.lrs) == T.DENSE_LRS and tr.n_seeds >= 20, name
        assert np.allclose(tr.lrs, lrsweep.log_grid(*spec.lr_range, T.DENSE_LRS)), name
        assert spec.lr_range[0] < tr.lr < spec.lr_range[1], name
        assert 0 <= tr.se < 1.0 and tr.held_out == spec.held_out, name
        # the truth's own regret on the smoothed curve (the floor) is within the tolerance
        tol = harness.TOL_POINTS if tr.accuracy else harness.TOL_REGRET
        assert 0 <= tr.regret(tr.lr) < tol and tr.log2_error(tr.lr) == 0.0, name
        assert tr.regret(tr.lr * 8) > tr.regret(tr.lr), name


def test_vertex_recovers_a_parabola_and_skips_diverged_points():
    x = np.linspace(-5, 0, 41)
    u = -((x + 2.03) ** 2)
    assert T.vertex(x, u)[0] == pytest.approx(-2.03, abs=1e-9)
    u[x > -1.5] = np.nan  # diverged above: the window stops there
    xv, _ = T.vertex(x, u)
    assert xv <= -1.5 and xv == pytest.approx(-2.03, abs=1e-9)


def test_bootstrap_se_shrinks_with_seeds():
    rng = np.random.default_rng(0)
    x = np.linspace(-5, 0, 41)

    def grid(k: int) -> np.ndarray:
        shift = rng.normal(0, 0.3, k)  # each seed moves its optimum sideways
        return (x[:, None] + 2 - shift[None, :]) ** 2 + rng.normal(0, 1, k)[None, :]

    se5 = np.median([T.bootstrap_se(grid(5), x, -1.0, n_boot=100, seed=i) for i in range(5)])
    se40 = np.median([T.bootstrap_se(grid(40), x, -1.0, n_boot=100, seed=i) for i in range(5)])
    assert se40 < se5 / 2


def test_score_judges_by_octaves_or_regret():
    tr = truth("teacher-mlp")
    r = harness.score({"lr": tr.lr * 2, "low": tr.lr / 3, "high": tr.lr * 3,
                       "steps": tr.dense_steps // 10}, tr)
    assert r["err"] == pytest.approx(1.0) and r["holds"] and r["frac"] == pytest.approx(0.1, 0.01)
    assert r["ok"] == (r["regret"] <= harness.TOL_REGRET)
    assert harness.score({"lr": None, "steps": 0}, tr)["ok"] is False

"""The training step's rules, kept by every engine (``lrsweep.train.loop``): the vectorized
engine's per-trial clipping is ``torch.nn.utils.clip_grad_norm_``'s rule, and a trial's
outcome (ok | diverged | failed) is decided in one place (``trial.outcome``) for the training
loop, the vectorized engine and an objective."""

from __future__ import annotations

import math

import pytest
import torch
from torch import nn

import lrsweep
from lrsweep.engines.sequential import SequentialEngine
from lrsweep.engines.vectorized import VectorizedEngine
from lrsweep.engines.vectorized.optim import clip_grad_norms
from lrsweep.results.trial import NON_FINITE_METRIC, Status, TrialSpec
from lrsweep.task.objective import ObjectiveTask
from lrsweep.train.loop import CLIP_EPS, clip_coefficient


@pytest.mark.parametrize("max_norm", [0.05, 1.0, 1e3])
def test_stacked_clipping_is_torchs_clip_per_trial(max_norm):
    """``clip_grad_norms`` on stacked ``[N, ...]`` gradients scales each trial as
    ``torch.nn.utils.clip_grad_norm_`` scales that trial's own gradients (the sequential
    loop's clipping), to rounding (the norms are summed in another order)."""
    g = torch.Generator().manual_seed(0)
    shapes = [(4, 3), (3,), (2, 2, 5)]
    n = 5
    stacked = [torch.randn((n, *s), generator=g) * (1 + i) for i, s in enumerate(shapes)]
    clipped = clip_grad_norms(stacked, max_norm)
    for i in range(n):
        params = [nn.Parameter(torch.zeros(s)) for s in shapes]
        for p, t in zip(params, stacked):
            p.grad = t[i].clone()
        torch.nn.utils.clip_grad_norm_(params, max_norm)
        for p, c in zip(params, clipped):
            assert torch.allclose(p.grad, c[i], rtol=1e-6, atol=0)
    assert CLIP_EPS == 1e-6
    assert float(clip_coefficient(torch.tensor(0.5), 1.0)) == 1.0  # never scales up


def data(n=96, d=4, seed=0):
    g = torch.Generator().manual_seed(seed)
    x = torch.randn(n, d, generator=g)
    y = (x[:, 0] > 0).long()
    return (x, y), (x[:32], y[:32])


@pytest.mark.parametrize("engine", [SequentialEngine(), VectorizedEngine()],
                         ids=["sequential", "vectorized"])
def test_a_non_finite_metric_is_diverged_the_same_everywhere(engine):
    train, val = data()
    task = lrsweep.Task(nn.Linear(4, 2), torch.optim.SGD, train, val, batch_size=16, steps=3,
                        evaluate=lambda model, val_data: math.nan, direction="max",
                        device="cpu")
    out = []
    engine.run(task, [TrialSpec(1e-2, 0), TrialSpec(1e-1, 0)], out.append)
    objective = ObjectiveTask(lambda trial: math.nan, "max")
    out.append(objective.run_trial(TrialSpec(1e-2, 0)))
    for r in out:
        assert (r.status, r.metric, r.error) == (Status.DIVERGED, None, NON_FINITE_METRIC)
    assert [r.steps for r in out] == [3, 3, 0]


def test_raising_and_diverging_objectives():
    def objective(trial):
        trial.report(0, 1.0)
        if trial.lr > 1:
            trial.report(1, math.inf)
        raise ValueError("no metric here")

    task = ObjectiveTask(objective, "min")
    diverged = task.run_trial(TrialSpec(10.0, 0))
    assert diverged.status is Status.DIVERGED and "diverged" in diverged.error
    assert diverged.curve == (1.0, math.inf) and diverged.steps == 2
    failed = task.run_trial(TrialSpec(0.1, 0))
    assert failed.status is Status.FAILED and failed.error.startswith("ValueError: no metric")
    assert "Traceback" in failed.error and failed.steps == 1

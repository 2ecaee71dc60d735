"""The sequential engine keeps DESIGN contracts 1-4: controlled trials, exact warmup,
divergence, the user's model and RNG untouched."""

from __future__ import annotations

import random

import numpy as np
import pytest
import torch
from conftest import small_mlp
from torch import nn
from torch.utils.data import DataLoader, TensorDataset

import lrsweep
from lrsweep import Task
from lrsweep.train.schedule import multiplier


def sgd_task(blobs, **kw):
    (xt, yt), (xv, yv) = blobs
    args = dict(model=small_mlp(dropout=0.2), optimizer=torch.optim.SGD, train_data=(xt, yt),
                val_data=(xv, yv), batch_size=32, epochs=2, device="cpu")
    if "steps" in kw:
        args.pop("epochs")
    args.update(kw)
    return Task(**args)


def run(task, lrs, **kw):
    return lrsweep.sweep(task, lrs, engine="sequential", **kw)


def test_same_sweep_twice_is_identical(blobs):
    task = sgd_task(blobs)
    a = run(task, [0.01, 0.1, 1.0], seeds=(0, 1))
    b = run(task, [0.01, 0.1, 1.0], seeds=(0, 1))
    assert [(t.lr, t.seed, t.metric, t.curve) for t in a.trials] == \
           [(t.lr, t.seed, t.metric, t.curve) for t in b.trials]


def test_user_model_and_rng_untouched(blobs):
    (xt, yt), (xv, yv) = blobs
    model = small_mlp(dropout=0.2)
    model[0].weight.requires_grad_(False)
    model.eval()
    state = {k: v.clone() for k, v in model.state_dict().items()}
    flags = [p.requires_grad for p in model.parameters()]
    torch.manual_seed(123)
    random.seed(5)
    np.random.seed(7)
    rng = (torch.get_rng_state(), random.getstate(), np.random.get_state()[1].copy())
    task = Task(model, torch.optim.Adam, (xt, yt), (xv, yv), batch_size=32, epochs=1)
    run(task, [1e-3, 1e-1])
    assert all(torch.equal(state[k], v) for k, v in model.state_dict().items())
    assert [p.requires_grad for p in model.parameters()] == flags
    assert model.training is False and all(p.grad is None for p in model.parameters())
    assert torch.equal(rng[0], torch.get_rng_state())
    assert rng[1] == random.getstate() and np.array_equal(rng[2], np.random.get_state()[1])


def test_frozen_parameters_stay_frozen_in_trials(blobs):
    model = small_mlp()
    model[0].weight.requires_grad_(False)
    w0 = model[0].weight.detach().clone()
    seen = []

    def opt(params, lr):
        params = list(params)
        seen.append(len(params))
        return torch.optim.SGD(params, lr=lr)

    (xt, yt), (xv, yv) = blobs
    task = Task(model, opt, (xt, yt), (xv, yv), batch_size=32, steps=3)
    r = run(task, [0.5])
    assert r.trials[0].ok and seen[-1] == 3  # 4 tensors, one frozen
    assert torch.equal(model[0].weight, w0)


class Recorder(nn.Module):
    """Records a checksum of every training batch it sees."""

    def __init__(self):
        super().__init__()
        torch.manual_seed(0)
        self.net = nn.Sequential(nn.Linear(8, 16), nn.ReLU(), nn.Dropout(0.5), nn.Linear(16, 3))
        self.seen: list[float] = []

    def forward(self, x):
        if self.training:
            Recorder.log.append(float(x.sum()))
        return self.net(x)


def test_data_order_and_dropout_identical_across_lrs(blobs):
    Recorder.log = []
    (xt, yt), (xv, yv) = blobs
    loader = DataLoader(TensorDataset(xt, yt), batch_size=32, shuffle=True)
    task = Task(Recorder(), torch.optim.SGD, loader, (xv, yv), batch_size=64, epochs=2)
    Recorder.log = []
    r = run(task, [1e-3, 1e-2, 1e-1], seeds=(0,))
    per_trial = [Recorder.log[i * 12:(i + 1) * 12] for i in range(3)]
    assert per_trial[0] == per_trial[1] == per_trial[2]
    assert per_trial[0][:6] != per_trial[0][6:]  # reshuffled between epochs
    # dropout masks and data equal: the loss before the first update is the same for all LRs
    assert len({t.curve[0] for t in r.trials}) == 1
    Recorder.log = []
    run(task, [1e-3], seeds=(1,))
    assert Recorder.log != per_trial[0]  # another seed, another order


def test_dataloader_with_own_generator_is_controlled(blobs):
    (xt, yt), (xv, yv) = blobs
    g = torch.Generator().manual_seed(0)
    loader = DataLoader(TensorDataset(xt, yt), batch_size=32, shuffle=True, generator=g)
    state = g.get_state()
    task = Task(small_mlp(), torch.optim.SGD, loader, (xv, yv), batch_size=64, epochs=1)
    r = run(task, [1e-3, 1e-3 * 1.0001])
    assert r.trials[0].curve[0] == r.trials[1].curve[0]
    assert torch.equal(g.get_state(), state)


def test_divergence_is_detected_and_never_best(blobs):
    task = sgd_task(blobs, epochs=3)
    r = run(task, [0.05, 1e3, 1e6])
    by = {t.lr: t for t in r.trials}
    assert by[1e3].status == "diverged" and by[1e6].status == "diverged"
    assert by[1e3].metric is None and by[1e3].steps < task.steps
    assert r.best().lr == 0.05 and r.best().status == "ok"
    assert np.isnan(r.as_dict()[1e6])
    assert by[0.05].steps == task.steps


def test_divergence_rule_smoothed_factor():
    from lrsweep.train.divergence import DivergenceMonitor

    m = DivergenceMonitor(4.0)
    assert not m.update(1.0)
    # one spike to 10 does not trip a smoothed rule (EMA 0.9*1 + 0.1*10 = 1.9)
    assert not m.update(10.0)
    steps = 0
    while not m.update(10.0):
        steps += 1
    assert 0 < steps < 30
    assert DivergenceMonitor(4.0).update(float("nan"))


class LrSpy(torch.optim.SGD):
    log: list[float] = []

    def step(self, closure=None):
        LrSpy.log.append(self.param_groups[0]["lr"])
        return super().step(closure)


def test_warmup_reaches_full_lr_at_last_warmup_step(blobs):
    task = sgd_task(blobs, optimizer=LrSpy, steps=10, warmup_steps=4)
    LrSpy.log = []
    run(task, [0.1])
    assert LrSpy.log[:4] == pytest.approx([0.025, 0.05, 0.075, 0.1])
    assert LrSpy.log[3] == 0.1 and LrSpy.log[4:] == [0.1] * 6


@pytest.mark.parametrize("schedule", ["cosine", "linear"])
def test_schedules_after_warmup(blobs, schedule):
    task = sgd_task(blobs, optimizer=LrSpy, steps=10, warmup_steps=2, schedule=schedule)
    LrSpy.log = []
    run(task, [0.2])
    expect = [0.2 * multiplier(k, 10, 2, schedule) for k in range(10)]
    assert LrSpy.log == pytest.approx(expect)
    assert LrSpy.log[1] == pytest.approx(0.2) and LrSpy.log[-1] < 0.05


def test_param_group_ratios_are_kept(blobs):
    def opt(params, lr):
        params = list(params)
        return LrSpy([{"params": params[:2], "lr": lr * 10}, {"params": params[2:]}], lr=lr)

    seen = []
    orig = LrSpy.step

    def spy(self, closure=None):
        seen.append([g["lr"] for g in self.param_groups])
        return orig(self, closure)

    LrSpy.step = spy
    try:
        run(sgd_task(blobs, optimizer=opt, steps=4, warmup_steps=2), [0.01])
    finally:
        LrSpy.step = orig
    assert [s[0] / s[1] for s in seen] == pytest.approx([10.0] * 4)
    assert seen[-1] == pytest.approx([0.1, 0.01])


def test_failing_trial_is_recorded_and_sweep_goes_on(blobs):
    def opt(params, lr):
        if lr > 0.5:
            raise RuntimeError("boom at high lr")
        return torch.optim.SGD(params, lr=lr)

    r = run(sgd_task(blobs, optimizer=opt, steps=3), [0.1, 1.0, 0.2])
    by = {t.lr: t for t in r.trials}
    assert by[1.0].status == "failed" and "boom at high lr" in by[1.0].error
    assert by[0.1].ok and by[0.2].ok


def test_interrupt_keeps_finished_results(blobs):
    task = sgd_task(blobs, steps=3)
    calls = []

    def stop(result):
        calls.append(result)
        if len(calls) == 2:
            raise KeyboardInterrupt

    with pytest.raises(KeyboardInterrupt) as info:
        lrsweep.sweep(task, [0.01, 0.02, 0.03, 0.04], engine="sequential", on_result=stop)
    assert len(info.value.partial_result.trials) == 2


def test_evaluation_runs_in_eval_mode_without_grad(blobs):
    modes = []

    class Probe(nn.Module):
        def __init__(self):
            super().__init__()
            self.lin = nn.Linear(8, 3)

        def forward(self, x):
            modes.append((self.training, torch.is_grad_enabled()))
            return self.lin(x)

    (xt, yt), (xv, yv) = blobs
    task = Task(Probe(), torch.optim.SGD, (xt, yt), (xv, yv), batch_size=64, val_batch_size=64,
                steps=2)
    modes.clear()
    run(task, [0.1])
    assert modes[:2] == [(True, True), (True, True)]
    assert modes[2:] == [(False, False)] * 1


def test_table_and_exports(blobs, tmp_path):
    r = run(sgd_task(blobs, steps=5), [0.01, 0.1, 1e4], seeds=(0, 1))
    table = r.table()
    assert "diverged" in table and "*" in table and "accuracy" in table
    r.to_json(tmp_path / "s.json")
    back = lrsweep.SweepResult.from_json(tmp_path / "s.json")
    assert [(t.lr, t.seed, t.status, t.metric, t.curve) for t in back.trials] == \
           [(t.lr, t.seed, t.status, t.metric, t.curve) for t in r.trials]
    lines = (tmp_path / "s.csv").read_text().splitlines() if r.to_csv(tmp_path / "s.csv") else []
    assert lines[0].startswith("lr,seed,status,metric") and len(lines) == 7

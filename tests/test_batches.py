"""Any model, any loop (issue 8): batch shapes, forward forms, AMP, accumulation, clipping,
the objective API."""

from __future__ import annotations

import math

import pytest
import torch
from conftest import HFStyle, make_blobs, small_mlp
from torch import nn
from torch.nn import functional as F  # noqa: N812

import lrsweep
from lrsweep import Task


class TwoInputs(nn.Module):
    def __init__(self):
        super().__init__()
        torch.manual_seed(0)
        self.a = nn.Linear(4, 3)
        self.b = nn.Linear(4, 3)

    def forward(self, xa, xb):
        return self.a(xa) + self.b(xb)


def dict_data(n, seed=0):
    x, y = make_blobs(n, seed=seed)
    return {"input_ids": x, "attention_mask": torch.ones_like(x), "labels": y}


def sweep(task, lrs=(0.01, 0.1), **kw):
    return lrsweep.sweep(task, list(lrs), engine="sequential", **kw)


def test_dict_batches_and_model_owned_loss():
    train, val = dict_data(192), dict_data(64, seed=0)
    task = Task(HFStyle(), torch.optim.Adam, train, val, batch_size=32, epochs=2)
    r = sweep(task)
    assert all(t.ok for t in r.trials) and r.best().metric > 0.5
    as_list = [{k: v[i:i + 32] for k, v in train.items()} for i in range(0, 192, 32)]
    r2 = sweep(Task(HFStyle(), torch.optim.Adam, as_list, [val], epochs=2, shuffle=False))
    assert all(t.ok for t in r2.trials)


def test_dict_batches_loss_metric():
    task = Task(HFStyle(), torch.optim.Adam, dict_data(192), dict_data(64), batch_size=32,
                epochs=1, metric="loss")
    r = sweep(task)
    assert r.direction == "min" and all(t.ok and t.metric > 0 for t in r.trials)


def test_longer_tuples_go_to_the_model_as_positional_inputs():
    x, y = make_blobs(160)
    data = (x[:, :4], x[:, 4:], y)
    task = Task(TwoInputs(), torch.optim.SGD, data, data, batch_size=32, epochs=2)
    assert all(t.ok for t in sweep(task).trials)


def test_forward_returning_loss_or_pair(blobs):
    def fwd_loss(model, batch):
        x, y = batch
        return F.cross_entropy(model(x), y)

    def fwd_pair(model, batch):
        out = model(batch[0])
        return F.cross_entropy(out, batch[1]), out

    a = sweep(Task(small_mlp(), torch.optim.SGD, *blobs, batch_size=32, steps=6,
                   forward=fwd_loss, metric="loss"))
    b = sweep(Task(small_mlp(), torch.optim.SGD, *blobs, batch_size=32, steps=6,
                   forward=fwd_pair, metric="loss"))
    c = sweep(Task(small_mlp(), torch.optim.SGD, *blobs, batch_size=32, steps=6, metric="loss"))
    assert [t.curve for t in a.trials] == [t.curve for t in b.trials] == [t.curve for t in c.trials]
    d = sweep(Task(small_mlp(), torch.optim.SGD, *blobs, batch_size=32, steps=6,
                   forward=fwd_pair))
    assert d.metric_name == "accuracy" and all(t.ok for t in d.trials)


def test_custom_evaluate_and_metric(blobs):
    def neg_loss(model, val):
        x, y = val  # the (x, y) the task was given
        return -float(F.cross_entropy(model(x), y))

    r = sweep(Task(small_mlp(), torch.optim.SGD, *blobs, batch_size=32, steps=6,
                   evaluate=neg_loss, direction="max"))
    assert r.metric_name == "neg_loss" and all(t.metric < 0 for t in r.trials)

    def top2(logits, y):
        return (logits.topk(2, dim=-1).indices == y[:, None]).any(-1).float().mean()

    r = sweep(Task(small_mlp(), torch.optim.SGD, *blobs, batch_size=32, steps=6, metric=top2,
                   direction="max"))
    assert all(0 <= t.metric <= 1 for t in r.trials)


def test_bf16_autocast_on_cpu(blobs):
    r = sweep(Task(small_mlp(), torch.optim.Adam, *blobs, batch_size=32, epochs=2,
                   precision="bf16"))
    fp = sweep(Task(small_mlp(), torch.optim.Adam, *blobs, batch_size=32, epochs=2))
    assert all(t.ok for t in r.trials)
    # same training, lower precision: close but not bit-identical
    assert r.trials[0].curve != fp.trials[0].curve
    assert r.trials[0].curve[0] == pytest.approx(fp.trials[0].curve[0], rel=2e-2)


def test_accumulation_equals_the_larger_batch_for_sgd(blobs):
    big = Task(small_mlp(), torch.optim.SGD, *blobs, batch_size=32, steps=6, shuffle=False)
    acc = Task(small_mlp(), torch.optim.SGD, *blobs, batch_size=8, steps=6, shuffle=False,
               accumulation_steps=4)
    a, b = sweep(big, [0.3]), sweep(acc, [0.3])
    assert a.trials[0].curve == pytest.approx(b.trials[0].curve, rel=1e-5)
    assert a.trials[0].metric == b.trials[0].metric


def test_clipping_bounds_the_update(blobs):
    moved = {}

    def opt(params, lr):
        params = list(params)
        if lr == 0.7 and "p" not in moved:  # the trial's optimizer, not a probe
            moved["p"] = params
            moved["p0"] = [p.detach().clone() for p in params]
        return torch.optim.SGD(params, lr=lr)

    sweep(Task(small_mlp(), opt, *blobs, batch_size=32, steps=1, clip_grad_norm=1e-3), [0.7])
    step = math.sqrt(sum(float((p.detach() - q).pow(2).sum()) for p, q in zip(moved["p"], moved["p0"])))
    assert step == pytest.approx(0.7e-3, rel=1e-3)


def test_objective_api_with_divergence_and_failure():
    def objective(trial):
        if trial.lr > 5:
            raise ValueError("cannot train at this lr")
        loss = 1.0
        for step in range(20):
            loss = loss * (0.9 if trial.lr < 1 else 1.5)
            trial.report(step, loss)
        return -abs(math.log10(trial.lr) + 1)  # best at 0.1

    r = lrsweep.sweep(objective, [0.01, 0.1, 0.5, 2.0, 10.0], direction="max",
                      engine="sequential")
    by = {t.lr: t for t in r.trials}
    assert by[2.0].status == "diverged" and by[10.0].status == "failed"
    assert "cannot train" in by[10.0].error
    assert r.best().lr == 0.1 and by[0.1].steps == 20 and len(by[0.1].curve) == 20
    with pytest.raises(lrsweep.ConfigError, match="^direction="):
        lrsweep.sweep(objective, [0.1])


def test_objective_nan_loss_is_diverged():
    def objective(trial):
        trial.report(0, float("nan"))
        return 1.0

    r = lrsweep.sweep(objective, [0.1], direction="min", engine="sequential")
    assert r.trials[0].status == "diverged"


class _Stream(torch.utils.data.IterableDataset):
    """A DataLoader source with no length: the budget must come as steps=."""

    def __iter__(self):
        g = torch.Generator().manual_seed(0)
        for _ in range(64):
            x = torch.randn(4, generator=g)
            yield x, (x.sum() > 0).long()


def test_iterable_dataset_without_length_trains_by_steps_and_engines_agree():
    loader = torch.utils.data.DataLoader(_Stream(), batch_size=8)
    task = lrsweep.Task(lambda: (torch.manual_seed(0), nn.Linear(4, 2))[1], torch.optim.SGD,
                        loader, loader, steps=12, device="cpu")
    assert task.batches_per_epoch == -1
    seq = lrsweep.sweep(task, [0.01, 0.1], engine="sequential", progress=False)
    vec = lrsweep.sweep(task, [0.01, 0.1], engine="vectorized", progress=False)
    for a, b in zip(seq.trials, vec.trials):
        assert a.status == b.status == "ok" and a.steps == b.steps == 12
        assert a.metric == pytest.approx(b.metric, abs=1e-6)
    with pytest.raises(lrsweep.LRSweepError, match="epochs=1.*steps="):
        lrsweep.Task(nn.Linear(4, 2), torch.optim.SGD, loader, loader, epochs=1)

"""Bad input fails when the Task is built, naming the argument (DESIGN contract 6)."""

from __future__ import annotations

import pytest
import torch
from conftest import small_mlp
from torch import nn
from torch.utils.data import DataLoader, TensorDataset

import lrsweep
from lrsweep import ConfigError, LRSweepError, Task


def build(blobs, **kw):
    (xt, yt), (xv, yv) = blobs
    args = dict(model=small_mlp(), optimizer=torch.optim.SGD, train_data=(xt, yt),
                val_data=(xv, yv), batch_size=32)
    args.update(kw)
    return Task(**args)


def test_valid_task_has_budget(blobs):
    t = build(blobs, epochs=2, warmup_epochs=0.5)
    assert t.steps == 12 and t.warmup_steps == 3 and t.direction == "max"


@pytest.mark.parametrize("kw, name", [
    (dict(metric="f1"), "metric"),
    (dict(schedule="step"), "schedule"),
    (dict(precision="int8"), "precision"),
    (dict(epochs=1, steps=5), "epochs/steps"),
    (dict(steps=4, warmup_steps=4), "warmup"),
    (dict(epochs=-1), "epochs"),
    (dict(divergence_factor=0.5), "divergence_factor"),
    (dict(accumulation_steps=0), "accumulation_steps"),
    (dict(clip_grad_norm=-1.0), "clip_grad_norm"),
    (dict(metric=lambda out, y: 0.0), "direction"),
    (dict(optimizer=3), "optimizer"),
    (dict(batch_size=None), "batch_size"),
    (dict(seed_init=True), "seed_init"),
    (dict(model="resnet"), "model"),
    (dict(direction="up"), "direction"),
])
def test_bad_argument_is_named(blobs, kw, name):
    with pytest.raises(ConfigError) as err:
        build(blobs, **kw)
    assert str(err.value).startswith(name), str(err.value)
    assert "expected" in str(err.value)


def test_model_without_parameters(blobs):
    with pytest.raises(ConfigError, match="^model=.*parameters"):
        build(blobs, model=nn.ReLU())


def test_frozen_model(blobs):
    m = small_mlp()
    for p in m.parameters():
        p.requires_grad_(False)
    with pytest.raises(ConfigError, match="requires_grad"):
        build(blobs, model=m)


def test_loss_not_scalar(blobs):
    with pytest.raises(ConfigError, match="^loss=.*scalar"):
        build(blobs, loss=nn.CrossEntropyLoss(reduction="none"))


def test_empty_loader(blobs):
    empty = DataLoader(TensorDataset(torch.zeros(0, 8), torch.zeros(0, dtype=torch.long)))
    with pytest.raises(ConfigError, match="^train_data="):
        build(blobs, train_data=empty)
    with pytest.raises(ConfigError, match="^val_data="):
        build(blobs, val_data=empty)
    with pytest.raises(ConfigError, match="^train_data="):
        build(blobs, train_data=(torch.zeros(0, 8), torch.zeros(0, dtype=torch.long)))


def test_generator_is_refused(blobs):
    (xt, yt), _ = blobs
    gen = ((xt[i:i + 8], yt[i:i + 8]) for i in range(0, 64, 8))
    with pytest.raises(ConfigError, match="one-shot"):
        build(blobs, train_data=gen, batch_size=None, steps=4)


def test_cuda_on_cpu_machine(blobs):
    if torch.cuda.is_available():
        pytest.skip("CUDA present")
    with pytest.raises(ConfigError, match="^device="):
        build(blobs, device="cuda")


def test_accuracy_needs_class_scores(blobs):
    with pytest.raises(ConfigError, match="^metric="):
        build(blobs, forward=lambda m, b: nn.functional.cross_entropy(m(b[0]), b[1]))


@pytest.mark.parametrize("lrs", [[], [0.1, -1.0], [0.0], ["a"], "0.1", 5])
def test_bad_lrs(blobs, lrs):
    with pytest.raises(ConfigError, match="^lrs="):
        lrsweep.sweep(build(blobs, steps=2), lrs)


@pytest.mark.parametrize("lo, hi", [(1e-1, 1e-3), (0.0, 1.0), (-1.0, 1.0), (1e-3, 1e-3)])
def test_bad_range(lo, hi):
    with pytest.raises(ConfigError, match="expected"):
        lrsweep.log_grid(lo, hi, 5)


def test_bad_seeds_and_engine(blobs):
    task = build(blobs, steps=2)
    with pytest.raises(ConfigError, match="^seeds="):
        lrsweep.sweep(task, [0.1], seeds=(-1,))
    with pytest.raises(ConfigError, match="^engine="):
        lrsweep.sweep(task, [0.1], engine="turbo")


def test_all_errors_share_the_root():
    assert issubclass(ConfigError, LRSweepError) and issubclass(lrsweep.StoreError, LRSweepError)


def test_log_grid_is_log_even_and_inclusive():
    g = lrsweep.log_grid(1e-8, 0.1, 10)
    assert len(g) == 10 and g[0] == 1e-8 and g[-1] == 0.1
    ratios = [b / a for a, b in zip(g, g[1:])]
    assert max(ratios) / min(ratios) < 1 + 1e-9


def test_model_factory_that_needs_arguments_is_named(blobs):
    def make_net(width, depth=2):
        return small_mlp(width=width)

    with pytest.raises(ConfigError, match=r"^model=.*make_net: the function needs arguments "
                                          r"\(width\).*lambda: .*make_net\(\.\.\.\)"):
        build(blobs, model=make_net, steps=2)
    with pytest.raises(ConfigError, match=r"^model=nn\.Bilinear: the class needs arguments "
                                          r"\(in1_features, in2_features, out_features\)"):
        build(blobs, model=nn.Bilinear, steps=2)

    class Net(nn.Sequential):  # a class whose arguments all have defaults is a factory
        def __init__(self, width: int = 16) -> None:
            super().__init__(nn.Linear(8, width), nn.ReLU(), nn.Linear(width, 3))

    task = build(blobs, model=Net, steps=2)
    assert lrsweep.sweep(task, [0.1], engine="sequential").trials[0].ok

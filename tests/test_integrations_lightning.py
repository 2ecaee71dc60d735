"""``task_from_lightning``: one lrsweep trial against ``lightning.Trainer`` itself.

An MLP with dropout, a shuffling train loader (its order is drawn from the global RNG at
every epoch), four epochs with validation at each epoch's end, AdamW with two param groups
at different LRs, and the schedulers Lightning steps per step and per epoch."""

from __future__ import annotations

import copy
import logging
import warnings

import pytest
import torch
from torch import nn
from torch.nn import functional as F  # noqa: N812

import lrsweep

L = pytest.importorskip("lightning")
from lrsweep.errors import ConfigError  # noqa: E402
from lrsweep.integrations.lightning import task_from_lightning  # noqa: E402

STEPS = 35  # 10 batches per epoch: three epoch ends with validation


class Net(L.LightningModule):
    def __init__(self, lr: float = 1e-2, sched: str | None = None) -> None:
        super().__init__()
        self.save_hyperparameters()
        torch.manual_seed(0)
        self.net = nn.Sequential(nn.Linear(10, 32), nn.ReLU(), nn.Dropout(0.2), nn.Linear(32, 3))

    def training_step(self, batch, batch_idx):
        x, y = batch
        loss = F.cross_entropy(self.net(x), y)
        self.log("train_loss", loss)
        return loss

    def validation_step(self, batch, batch_idx):
        x, y = batch
        out = self.net(x)
        self.log("val_loss", F.cross_entropy(out, y))
        self.log("val_acc", (out.argmax(1) == y).float().mean())

    def configure_optimizers(self):
        lr = self.hparams.lr
        opt = torch.optim.AdamW([{"params": self.net[0].parameters()},
                                 {"params": self.net[3].parameters(), "lr": lr / 4}],
                                lr=lr, weight_decay=0.05)
        sched = self.hparams.sched
        if sched == "step":
            return {"optimizer": opt, "lr_scheduler": {
                "scheduler": torch.optim.lr_scheduler.StepLR(opt, 7, 0.5), "interval": "step"}}
        if sched == "epoch":
            return [opt], [torch.optim.lr_scheduler.LinearLR(opt, 0.2, 1.0, total_iters=3)]
        if sched == "plateau":
            return {"optimizer": opt, "lr_scheduler": torch.optim.lr_scheduler.ReduceLROnPlateau(
                opt), "monitor": "val_loss"}
        if sched == "onecycle":
            return {"optimizer": opt, "lr_scheduler": {"interval": "step", "scheduler":
                    torch.optim.lr_scheduler.OneCycleLR(opt, max_lr=0.1, total_steps=100)}}
        return opt


def loaders():
    g = torch.Generator().manual_seed(0)
    x = torch.randn(200, 10, generator=g)
    y = (x @ torch.randn(10, 3, generator=g)).argmax(1)
    train = torch.utils.data.DataLoader(torch.utils.data.TensorDataset(x[:160], y[:160]),
                                        batch_size=16, shuffle=True)
    val = torch.utils.data.DataLoader(torch.utils.data.TensorDataset(x[160:], y[160:]),
                                      batch_size=16)
    return train, val


def lightning_run(module, train, val, seed):
    L.seed_everything(seed, verbose=False)
    trainer = L.Trainer(max_steps=STEPS, accelerator="cpu", logger=False,
                        enable_checkpointing=False, enable_progress_bar=False,
                        enable_model_summary=False)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        trainer.fit(module, train, val)
        return trainer.validate(module, val, verbose=False)[0]


@pytest.fixture(autouse=True)
def _quiet():
    for name in ("lightning", "lightning.pytorch"):
        logging.getLogger(name).setLevel(logging.ERROR)


@pytest.mark.parametrize("sched, engine", [(None, "sequential"), ("step", "sequential"),
                                           ("epoch", "sequential"), ("step", "vectorized")])
def test_trial_matches_lightning_trainer(sched, engine):
    lr, seed = 3e-3, 7
    train, val = loaders()
    ref = lightning_run(Net(lr, sched), train, val, seed)
    module = Net(lr=1.0, sched=sched)  # the trial's LR replaces the module's
    before = copy.deepcopy(module.state_dict())
    task = task_from_lightning(module, train_dataloaders=train, val_dataloaders=val,
                               max_steps=STEPS)
    trial = lrsweep.sweep(task, [lr], seeds=(seed,), engine=engine).trials[0]
    assert trial.status == "ok" and len(trial.curve) == STEPS
    assert abs(trial.metric - ref["val_loss"]) / ref["val_loss"] < 1e-3, (trial.metric, ref)
    # the user's module is untouched: weights, hyperparameters, no lrsweep attributes
    assert all(torch.equal(v, before[k]) for k, v in module.state_dict().items())
    assert module.hparams.lr == 1.0 and "log" not in module.__dict__
    assert module.training and module._trainer is None


def test_monitor_mode_and_group_ratios():
    train, val = loaders()
    task = task_from_lightning(Net(), train_dataloaders=train, val_dataloaders=val,
                               max_steps=5, monitor="val_acc", mode="max")
    assert task.direction == "max" and task.metric_name == "val_acc"
    opt = task.make_optimizer(task.initial_model(0), 0.5)
    assert [g["lr"] for g in opt.param_groups] == [0.5, 0.125]
    trial = lrsweep.sweep(task, [1e-2], engine="sequential").trials[0]
    assert 0 <= trial.metric <= 1


class Manual(Net):
    def __init__(self):
        super().__init__()
        self.automatic_optimization = False


class OwnStep(Net):
    def optimizer_step(self, *args, **kwargs):
        super().optimizer_step(*args, **kwargs)


@pytest.mark.parametrize("module, kw, match", [
    (Net(sched="plateau"), {}, "ReduceLROnPlateau"),
    (Net(sched="onecycle"), {}, r"OneCycleLR's LR at step \d+ does not scale"),
    (Manual(), {}, "automatic_optimization=False"),
    (OwnStep(), {}, "overrides optimizer_step"),
    (Net(), {"monitor": "val_los"}, "monitor='val_los'"),
    (Net(), {"mode": "lower"}, "mode='lower'"),
    (Net(), {"accumulate_grad_batches": 3}, "accumulate_grad_batches=3"),
    (Net(), {"precision": "16-mixed"}, "precision='16-mixed'"),
])
def test_what_cannot_be_reproduced_is_refused(module, kw, match):
    train, val = loaders()
    with pytest.raises(ConfigError, match=match):
        task_from_lightning(module, train_dataloaders=train, val_dataloaders=val,
                            max_steps=STEPS, **kw)


def test_datamodule_source():
    train, val = loaders()

    class Data(L.LightningDataModule):
        def train_dataloader(self):
            return train

        def val_dataloader(self):
            return val

    task = task_from_lightning(Net(), Data(), max_steps=4)
    assert lrsweep.sweep(task, [1e-2], engine="sequential").trials[0].status == "ok"
    with pytest.raises(ConfigError, match="no validation data"):
        task_from_lightning(Net(), train_dataloaders=train, max_steps=4)


class _Jittered(torch.utils.data.Dataset):
    """Random augmentation drawn from torch's RNG in the worker processes."""

    def __init__(self):
        g = torch.Generator().manual_seed(3)
        self.x = torch.randn(48, 10, generator=g)
        self.y = torch.randint(0, 3, (48,), generator=g)

    def __len__(self):
        return len(self.y)

    def __getitem__(self, i):
        return self.x[i] + 0.5 * torch.randn(10), self.y[i]


class _Recording(Net):
    seen: list = []

    def training_step(self, batch, batch_idx):
        _Recording.seen.append(batch[0].clone())
        return super().training_step(batch, batch_idx)


def test_persistent_workers_give_every_lr_of_a_seed_the_same_augmented_batches():
    train = torch.utils.data.DataLoader(_Jittered(), batch_size=16, shuffle=True,
                                        num_workers=2, persistent_workers=True)
    val = torch.utils.data.DataLoader(_Jittered(), batch_size=16)
    task = task_from_lightning(_Recording(), train_dataloaders=train, val_dataloaders=val,
                               max_steps=6)
    seen = {}
    for lr in (1e-3, 1e-2):
        _Recording.seen = []
        lrsweep.sweep(task, [lr], engine="sequential", progress=False)
        seen[lr] = _Recording.seen
    assert len(seen[1e-3]) == 6  # two epochs of three batches
    assert all(torch.equal(a, b) for a, b in zip(seen[1e-3], seen[1e-2]))
    assert not torch.equal(seen[1e-3][0], seen[1e-3][3])  # the augmentation is random

"""Sweep the LR of a PyTorch Lightning module, in one line: the module, its data and
max_steps become an lrsweep Task that trains a deep copy the way lightning.Trainer would
(configure_optimizers with every group scaled to the trial's LR, its scheduler step by step,
the loaders' shuffling), scored by the value validation_step logs.

A small MLP with dropout classifies synthetic data (no download).

    python examples/lightning_module.py
"""

from __future__ import annotations

import lightning as L
import torch
from torch import nn
from torch.nn import functional as F  # noqa: N812

import lrsweep
from lrsweep.integrations.lightning import task_from_lightning


class Classifier(L.LightningModule):
    def __init__(self, lr: float = 1e-3) -> None:
        super().__init__()
        self.save_hyperparameters()
        self.net = nn.Sequential(nn.Linear(20, 64), nn.ReLU(), nn.Dropout(0.1), nn.Linear(64, 4))

    def training_step(self, batch, batch_idx):
        x, y = batch
        loss = F.cross_entropy(self.net(x), y)
        self.log("train_loss", loss)
        return loss

    def validation_step(self, batch, batch_idx):
        x, y = batch
        logits = self.net(x)
        self.log("val_loss", F.cross_entropy(logits, y))
        self.log("val_acc", (logits.argmax(-1) == y).float().mean())

    def configure_optimizers(self):
        opt = torch.optim.AdamW(self.parameters(), lr=self.hparams.lr, weight_decay=0.01)
        warmup = torch.optim.lr_scheduler.LinearLR(opt, start_factor=0.1, total_iters=20)
        return {"optimizer": opt, "lr_scheduler": {"scheduler": warmup, "interval": "step"}}


def loaders():
    g = torch.Generator().manual_seed(0)
    x = torch.randn(2048, 20, generator=g)
    y = (x[:, :8] @ torch.randn(8, 4, generator=g)).argmax(-1)
    data = torch.utils.data.TensorDataset
    train = torch.utils.data.DataLoader(data(x[:1536], y[:1536]), batch_size=64, shuffle=True)
    val = torch.utils.data.DataLoader(data(x[1536:], y[1536:]), batch_size=256)
    return train, val


def main() -> None:
    torch.set_num_threads(1)
    train, val = loaders()
    task = task_from_lightning(Classifier(), train_dataloaders=train, val_dataloaders=val,
                               max_steps=120, monitor="val_acc", mode="max")
    print(task)
    result = lrsweep.sweep(task, lrsweep.log_grid(1e-4, 1.0, 9), seeds=(0, 1))
    print(result.table())
    print(f"best lr {result.best().lr:.3g} (val_acc {result.best().metric:.3f})")
    print(result.optimum())


if __name__ == "__main__":
    main()

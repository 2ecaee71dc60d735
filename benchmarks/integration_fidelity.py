"""How closely one lrsweep trial reproduces the framework's own training (issue 15).

For Hugging Face ``Trainer`` (tiny random GPT-2, no download) and ``lightning.Trainer`` (MLP
with dropout), several set-ups are trained by the framework and by lrsweep (sequential and
vectorized engines) at the same LR and seed. Printed: the relative difference of the final
metric, and the largest relative difference of the per-step training loss.

    python benchmarks/integration_fidelity.py          # one thread (torch.set_num_threads(1))
"""

from __future__ import annotations

import logging
import tempfile
import warnings

import torch

import lrsweep

warnings.filterwarnings("ignore")
for _name in ("transformers", "accelerate", "lightning", "lightning.pytorch"):
    logging.getLogger(_name).setLevel(logging.ERROR)


def rel(a: float, b: float) -> float:
    return abs(a - b) / abs(b)


def curve_rel(ours: tuple[float, ...], theirs: list[float]) -> float:
    return max(rel(a, b) for a, b in zip(ours, theirs))


# ---------------------------------------------------------------------------- transformers --
def hf_rows() -> list[tuple[str, str, float, float]]:
    from transformers import GPT2Config, GPT2LMHeadModel, Trainer, TrainingArguments

    from lrsweep.integrations.transformers import task_from_trainer

    v, t = 32, 16

    class Tokens(torch.utils.data.Dataset):
        def __init__(self, n: int, seed: int) -> None:
            g = torch.Generator().manual_seed(seed)
            x = (torch.randint(0, v, (n, 1), generator=g) + torch.arange(t)) % v
            self.x = torch.where(torch.rand(x.shape, generator=g) < 0.1,
                                 torch.randint(0, v, x.shape, generator=g), x)

        def __len__(self) -> int:
            return len(self.x)

        def __getitem__(self, i: int) -> dict:
            labels = self.x[i].clone()
            labels[:2] = -100
            return {"input_ids": self.x[i], "labels": labels}

    def model_init():
        return GPT2LMHeadModel(GPT2Config(vocab_size=v, n_positions=t, n_embd=32, n_layer=2,
                                          n_head=2, bos_token_id=0, eos_token_id=0))

    def accuracy(p):
        guess, labels = p.predictions.argmax(-1)[:, :-1], p.label_ids[:, 1:]
        keep = labels != -100
        return {"accuracy": float((guess == labels)[keep].mean())}

    base = dict(report_to="none", use_cpu=True, save_strategy="no", disable_tqdm=True,
                logging_strategy="steps", logging_steps=1, per_device_train_batch_size=8,
                per_device_eval_batch_size=7, max_steps=24, seed=11, weight_decay=0.1)
    setups = {
        "dropout, accum 2, cosine warmup, evals": dict(
            gradient_accumulation_steps=2, warmup_steps=0.2, lr_scheduler_type="cosine",
            eval_strategy="steps", eval_steps=5),
        "label smoothing, linear, accuracy": dict(
            label_smoothing_factor=0.1, lr_scheduler_type="linear", warmup_steps=3),
        "bf16, accum 2, constant_with_warmup": dict(
            bf16=True, gradient_accumulation_steps=2, warmup_steps=4,
            lr_scheduler_type="constant_with_warmup"),
    }
    rows = []
    lr = 3e-3
    for name, kw in setups.items():
        metrics = accuracy if "accuracy" in name else None
        trainer = Trainer(model_init=model_init, args=TrainingArguments(
            output_dir=tempfile.mkdtemp(), learning_rate=lr, **base, **kw),
            train_dataset=Tokens(64, 0), eval_dataset=Tokens(24, 1), compute_metrics=metrics)
        trainer.train()
        ref = trainer.evaluate()
        losses = [e["loss"] for e in trainer.state.log_history if "loss" in e]
        key = "eval_accuracy" if metrics else "eval_loss"
        task = task_from_trainer(model_init, TrainingArguments(
            output_dir=tempfile.mkdtemp(), **base, **kw), Tokens(64, 0), Tokens(24, 1),
            compute_metrics=metrics, metric=key)
        for engine in ("sequential", "vectorized"):
            trial = lrsweep.sweep(task, [lr], seeds=(11,), engine=engine).trials[0]
            rows.append((f"hf: {name} ({key})", engine, rel(trial.metric, ref[key]),
                         curve_rel(trial.curve, losses)))
    return rows


# ------------------------------------------------------------------------------- lightning --
def lightning_rows() -> list[tuple[str, str, float, float]]:
    import lightning as L  # noqa: N812
    from torch import nn
    from torch.nn import functional as F  # noqa: N812

    from lrsweep.integrations.lightning import task_from_lightning

    class Net(L.LightningModule):
        def __init__(self, lr: float = 1e-2, sched: str | None = None) -> None:
            super().__init__()
            self.save_hyperparameters()
            torch.manual_seed(0)
            self.net = nn.Sequential(nn.Linear(10, 32), nn.ReLU(), nn.Dropout(0.2),
                                     nn.Linear(32, 3))

        def training_step(self, batch, batch_idx):
            x, y = batch
            return F.cross_entropy(self.net(x), y)

        def validation_step(self, batch, batch_idx):
            x, y = batch
            self.log("val_loss", F.cross_entropy(self.net(x), y))

        def configure_optimizers(self):
            opt = torch.optim.AdamW([{"params": self.net[0].parameters()},
                                     {"params": self.net[3].parameters(),
                                      "lr": self.hparams.lr / 4}], lr=self.hparams.lr)
            if self.hparams.sched == "StepLR per step":
                return {"optimizer": opt, "lr_scheduler": {
                    "scheduler": torch.optim.lr_scheduler.StepLR(opt, 7, 0.5),
                    "interval": "step"}}
            if self.hparams.sched == "LinearLR per epoch":
                return [opt], [torch.optim.lr_scheduler.LinearLR(opt, 0.2, 1.0, total_iters=3)]
            return opt

    class Losses(L.Callback):
        def __init__(self) -> None:
            self.values: list[float] = []

        def on_train_batch_end(self, trainer, module, outputs, batch, batch_idx):
            self.values.append(float(outputs["loss"]))

    g = torch.Generator().manual_seed(0)
    x = torch.randn(200, 10, generator=g)
    y = (x @ torch.randn(10, 3, generator=g)).argmax(1)
    data = torch.utils.data.TensorDataset
    train = torch.utils.data.DataLoader(data(x[:160], y[:160]), batch_size=16, shuffle=True)
    val = torch.utils.data.DataLoader(data(x[160:], y[160:]), batch_size=16)
    rows = []
    lr, seed, steps = 3e-3, 7, 35
    for sched in (None, "StepLR per step", "LinearLR per epoch"):
        for precision in ("32-true", "bf16-mixed"):
            if precision == "bf16-mixed" and sched is not None:
                continue
            module = Net(lr, sched)
            losses = Losses()
            L.seed_everything(seed, verbose=False)
            trainer = L.Trainer(max_steps=steps, accelerator="cpu", logger=False,
                                enable_checkpointing=False, enable_progress_bar=False,
                                enable_model_summary=False, callbacks=[losses],
                                precision=precision)
            trainer.fit(module, train, val)
            ref = trainer.validate(module, val, verbose=False)[0]["val_loss"]
            task = task_from_lightning(Net(1.0, sched), train_dataloaders=train,
                                       val_dataloaders=val, max_steps=steps,
                                       precision=precision)
            for engine in ("sequential", "vectorized"):
                trial = lrsweep.sweep(task, [lr], seeds=(seed,), engine=engine).trials[0]
                rows.append((f"lightning: {sched or 'no scheduler'}, {precision}", engine,
                             rel(trial.metric, ref), curve_rel(trial.curve, losses.values)))
    return rows


def main() -> None:
    torch.set_num_threads(1)
    rows = hf_rows() + lightning_rows()
    width = max(len(r[0]) for r in rows)
    print(f"{'set-up':{width}}  {'engine':10}  {'metric rel diff':>15}  {'max loss rel diff':>17}")
    for name, engine, m, c in rows:
        print(f"{name:{width}}  {engine:10}  {m:15.2e}  {c:17.2e}")


if __name__ == "__main__":
    main()

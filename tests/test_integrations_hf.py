"""``task_from_trainer``: one lrsweep trial against the Hugging Face Trainer itself.

A tiny randomly initialised GPT-2 (no download) on a learnable token sequence; dropout on,
gradient accumulation, weight decay, warmup and a decaying schedule, evaluations during
training (their DataLoaders draw from the RNG that dropout uses)."""

from __future__ import annotations

import random

import numpy as np
import pytest
import torch

import lrsweep

transformers = pytest.importorskip("transformers")
pytest.importorskip("accelerate")
from transformers import GPT2Config, GPT2LMHeadModel, Trainer, TrainingArguments  # noqa: E402

from lrsweep.errors import ConfigError  # noqa: E402
from lrsweep.integrations.transformers import task_from_trainer  # noqa: E402

V, T = 32, 16


class TokenData(torch.utils.data.Dataset):
    """Sequences counting up mod V with 10% noise; the first labels masked (-100)."""

    def __init__(self, n: int, seed: int) -> None:
        g = torch.Generator().manual_seed(seed)
        x = (torch.randint(0, V, (n, 1), generator=g) + torch.arange(T)) % V
        noise = torch.rand(x.shape, generator=g) < 0.1
        self.x = torch.where(noise, torch.randint(0, V, x.shape, generator=g), x)

    def __len__(self) -> int:
        return len(self.x)

    def __getitem__(self, i: int) -> dict:
        labels = self.x[i].clone()
        labels[:2] = -100
        return {"input_ids": self.x[i], "labels": labels, "unused_column": i}


def model_init():
    return GPT2LMHeadModel(GPT2Config(vocab_size=V, n_positions=T, n_embd=32, n_layer=2,
                                      n_head=2, bos_token_id=0, eos_token_id=0))


def accuracy(pred):
    guess = pred.predictions.argmax(-1)[:, :-1]
    labels = pred.label_ids[:, 1:]
    keep = labels != -100
    return {"accuracy": float((guess == labels)[keep].mean())}


ARGS = dict(report_to="none", use_cpu=True, save_strategy="no", logging_strategy="no",
            disable_tqdm=True, per_device_train_batch_size=8, per_device_eval_batch_size=7,
            gradient_accumulation_steps=2, max_steps=15, warmup_steps=0.2,
            lr_scheduler_type="cosine", weight_decay=0.1, seed=11,
            eval_strategy="steps", eval_steps=4)


def make_args(tmp_path, **kw):
    return TrainingArguments(output_dir=str(tmp_path / "hf"), **{**ARGS, **kw})


def trainer_run(tmp_path, lr, compute_metrics=None, **kw):
    trainer = Trainer(model_init=model_init, args=make_args(tmp_path, learning_rate=lr, **kw),
                      train_dataset=TokenData(64, 0), eval_dataset=TokenData(24, 1),
                      compute_metrics=compute_metrics)
    trainer.train()
    return trainer.evaluate()


@pytest.mark.parametrize("engine", ["sequential", "vectorized"])
def test_trial_matches_trainer(tmp_path, engine):
    lr = 3e-3
    ref = trainer_run(tmp_path, lr)["eval_loss"]
    task = task_from_trainer(model_init, make_args(tmp_path), TokenData(64, 0),
                             TokenData(24, 1))
    assert task.steps == 15 and task.accumulation_steps == 2 and task.direction == "min"
    rng = torch.get_rng_state(), random.getstate(), np.random.get_state()[1].copy()
    res = lrsweep.sweep(task, [lr], seeds=(11,), engine=engine)
    trial = res.trials[0]
    assert trial.status == "ok"
    rel = abs(trial.metric - ref) / ref
    assert rel < 1e-3, (trial.metric, ref)
    # the user's RNG is left alone
    assert torch.equal(torch.get_rng_state(), rng[0]) and random.getstate() == rng[1]
    assert np.array_equal(np.random.get_state()[1], rng[2])


def test_compute_metrics_and_label_smoothing_match(tmp_path):
    lr = 4e-3
    extra = dict(label_smoothing_factor=0.1, lr_scheduler_type="linear", eval_strategy="no",
                 gradient_accumulation_steps=1, max_steps=10)
    ref = trainer_run(tmp_path, lr, compute_metrics=accuracy, **extra)
    task = task_from_trainer(model_init, make_args(tmp_path, **extra), TokenData(64, 0),
                             TokenData(24, 1), compute_metrics=accuracy, metric="accuracy")
    assert task.metric_name == "eval_accuracy" and task.direction == "max"
    trial = lrsweep.sweep(task, [lr], seeds=(11,), engine="sequential").trials[0]
    assert trial.metric == pytest.approx(ref["eval_accuracy"], abs=1e-9)
    loss_task = task_from_trainer(model_init, make_args(tmp_path, **extra), TokenData(64, 0),
                                  TokenData(24, 1))
    got = lrsweep.sweep(loss_task, [lr], seeds=(11,), engine="sequential").trials[0].metric
    assert abs(got - ref["eval_loss"]) / ref["eval_loss"] < 1e-3


def test_seeds_vary_the_run_and_the_schedule_is_the_trainers(tmp_path):
    task = task_from_trainer(model_init, make_args(tmp_path, eval_strategy="no"),
                             TokenData(64, 0), TokenData(24, 1))
    res = lrsweep.sweep(task, [3e-3], seeds=(0, 1), engine="sequential")
    a, b = res.trials
    assert a.metric != b.metric and a.curve != b.curve
    # warmup from 0 over ceil(0.2 * 15) = 3 steps, then cosine to 0, as get_scheduler builds it
    from transformers.optimization import get_cosine_schedule_with_warmup

    opt = torch.optim.SGD([torch.zeros(1, requires_grad=True)], lr=1.0)
    sched = get_cosine_schedule_with_warmup(opt, 3, 15)
    expected = []
    for _ in range(15):
        expected.append(opt.param_groups[0]["lr"])
        opt.step()
        sched.step()
    assert list(task.schedule.values) == pytest.approx(expected, abs=1e-15)
    assert task.schedule.values[0] == 0.0


def test_optimizer_groups_are_the_trainers(tmp_path):
    task = task_from_trainer(model_init, make_args(tmp_path, adam_beta2=0.95, adam_epsilon=1e-6),
                             TokenData(64, 0), TokenData(24, 1))
    model = task.initial_model(0)
    opt = task.make_optimizer(model, 1e-3)
    names = {id(p): n for n, p in model.named_parameters()}
    decayed = {names[id(p)] for g in opt.param_groups if g["weight_decay"] == 0.1
               for p in g["params"]}
    plain = {names[id(p)] for g in opt.param_groups if g["weight_decay"] == 0
             for p in g["params"]}
    assert len(decayed) + len(plain) == len(list(model.parameters()))
    # the parameters in the model's order (the Trainer clips over model.parameters())
    assert [id(p) for g in opt.param_groups for p in g["params"]] == \
        [id(p) for p in model.parameters()]
    assert all(g["lr"] == 1e-3 and g["betas"] == (0.9, 0.95) and g["eps"] == 1e-6
               for g in opt.param_groups)
    assert all(n.endswith("bias") or ".ln_" in n for n in plain)
    assert "transformer.h.0.attn.c_attn.weight" in decayed
    assert type(opt) is torch.optim.AdamW


@pytest.mark.parametrize("kw, arg", [
    (dict(optim="adafactor"), "args.optim='adafactor'"),
    (dict(lr_scheduler_type="reduce_lr_on_plateau"), "args.lr_scheduler_type"),
    (dict(lr_scheduler_type="polynomial", lr_scheduler_kwargs={"lr_end": 1e-4}),
     "args.lr_scheduler_type/lr_scheduler_kwargs"),
    (dict(train_sampling_strategy="group_by_length"), "args.train_sampling_strategy"),
    (dict(load_best_model_at_end=True, metric_for_best_model="loss", save_strategy="steps",
          save_steps=4), "args.load_best_model_at_end"),
    (dict(gradient_accumulation_steps=3), "args.gradient_accumulation_steps"),
])
def test_what_cannot_be_reproduced_is_refused(tmp_path, kw, arg):
    with pytest.raises(ConfigError) as e:
        task_from_trainer(model_init, make_args(tmp_path, **kw), TokenData(64, 0),
                          TokenData(24, 1))
    assert str(e.value).startswith(arg)


def test_bad_inputs_fail_early(tmp_path):
    args = make_args(tmp_path)
    with pytest.raises(ConfigError, match="eval_dataset"):
        task_from_trainer(model_init, args, TokenData(64, 0))
    with pytest.raises(ConfigError, match="metric='eval_accuracy'"):
        task_from_trainer(model_init, args, TokenData(64, 0), TokenData(24, 1),
                          metric="accuracy")
    with pytest.raises(ConfigError, match="args="):
        task_from_trainer(model_init, {"learning_rate": 1e-3}, TokenData(64, 0),
                          TokenData(24, 1))


def test_misspelt_metric_fails_before_training(tmp_path):
    # the metric's key is checked by one evaluation of the initial model on two batches,
    # not found missing after every trial has trained
    seen = []

    def counting_accuracy(pred):
        seen.append(len(pred.label_ids))
        return accuracy(pred)

    with pytest.raises(ConfigError) as e:
        task_from_trainer(model_init, make_args(tmp_path), TokenData(64, 0), TokenData(24, 1),
                          compute_metrics=counting_accuracy, metric="acuracy")
    msg = str(e.value)
    assert msg.startswith("metric='acuracy': trainer.evaluate() reports ['eval_accuracy', "
                          "'eval_loss']") and "Did you mean 'accuracy'?" in msg
    assert seen == [14]  # two evaluation batches of 7, before any training

    def broken(pred):
        raise KeyError("logits")

    with pytest.raises(ConfigError, match=r"^eval_dataset/compute_metrics: .*KeyError"):
        task_from_trainer(model_init, make_args(tmp_path), TokenData(64, 0), TokenData(24, 1),
                          compute_metrics=broken, metric="accuracy")


def test_a_model_instance_trains_copies_as_the_trainer_does(tmp_path):
    torch.manual_seed(5)
    model = model_init()
    before = {k: v.clone() for k, v in model.state_dict().items()}
    lr = 3e-3
    args = make_args(tmp_path, eval_strategy="no", learning_rate=lr)
    trainer = Trainer(model=model_init(), args=args, train_dataset=TokenData(64, 0),
                      eval_dataset=TokenData(24, 1))
    trainer.model.load_state_dict(before)
    trainer.train()
    ref = trainer.evaluate()["eval_loss"]
    task = task_from_trainer(model, make_args(tmp_path, eval_strategy="no"), TokenData(64, 0),
                             TokenData(24, 1))
    trial = lrsweep.sweep(task, [lr], seeds=(11,), engine="sequential").trials[0]
    assert abs(trial.metric - ref) / ref < 1e-3, (trial.metric, ref)
    assert all(torch.equal(v, before[k]) for k, v in model.state_dict().items())  # untouched


def test_model_init_of_two_arguments_says_what_to_pass(tmp_path):
    with pytest.raises(ConfigError, match=r"^model_init=.*takes 2 arguments.*or the model "
                                          r"itself"):
        task_from_trainer(lambda a, b: model_init(), make_args(tmp_path), TokenData(64, 0),
                          TokenData(24, 1))
    with pytest.raises(ConfigError, match=r"^model_init=str: expected a function"):
        task_from_trainer("gpt2", make_args(tmp_path), TokenData(64, 0), TokenData(24, 1))

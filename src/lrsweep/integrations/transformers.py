"""A Hugging Face ``Trainer`` set-up as an lrsweep Task.

>>> task = task_from_trainer(model_init, args, train_dataset, eval_dataset)  # doctest: +SKIP
>>> lrsweep.sweep(task, lrsweep.log_grid(1e-5, 1e-2, 8))                   # doctest: +SKIP

A trial at ``lr`` and ``seed`` trains what ``Trainer(model_init=model_init, args=args', ...)
.train()`` trains, where ``args'`` is ``args`` with ``learning_rate=lr`` and ``seed=seed``, and
scores it as ``.evaluate()[metric]``: the same optimizer (the Trainer's class and keyword
arguments, its decay / no-decay groups), the scheduler's LR at every step (read off
``get_scheduler`` itself), warmup, batch size, accumulation with the Trainer's token-count
loss scaling, gradient clipping, bf16 autocast, data collator and column removal, the
sampler's order and the dropout RNG. ``tests/test_integrations_hf.py`` checks it against
the Trainer. What cannot be reproduced is refused, naming the argument.
"""

from __future__ import annotations

import copy
import logging
import math
from collections.abc import Callable
from typing import Any

import torch

from ..errors import ConfigError
from ..task.data import SeededBatches
from ..train.schedule import Table
from . import require
from ._hf_checks import (
    check_args,
    check_dataset,
    check_metric,
    check_model,
    refuse,
    zero_arg,
)

log = logging.getLogger("lrsweep")

def task_from_trainer(
    model_init: Callable[..., torch.nn.Module],
    args: Any,
    train_dataset: Any,
    eval_dataset: Any = None,
    data_collator: Callable | None = None,
    *,
    metric: str = "eval_loss",
    direction: str | None = None,
    compute_metrics: Callable | None = None,
    preprocess_logits_for_metrics: Callable | None = None,
    name: str | None = None,
) -> Any:
    """The Task that ``Trainer(model_init=..., args=args, ...)`` trains, scored as
    ``trainer.evaluate()[metric]``.

    Args:
        model_init: builds a fresh model (called under each trial's seed, as the Trainer
            calls it under ``args.seed``); or a model, as ``Trainer(model=...)`` takes it:
            each trial then trains a copy of it (the model itself is never trained), and
            seeds vary the data order and dropout only.
        args: ``TrainingArguments``. The trial's LR replaces ``args.learning_rate`` and the
            trial's seed replaces ``args.seed`` (``seeds=(args.seed,)`` reproduces your run).
        train_dataset, eval_dataset, data_collator, compute_metrics,
            preprocess_logits_for_metrics: as for the Trainer.
        metric: a key of ``trainer.evaluate()``: ``"eval_loss"`` or ``"eval_<name>"`` of
            ``compute_metrics`` (the ``eval_`` prefix may be left off).
        direction: ``"min"`` or ``"max"``; by default the Trainer's rule for
            ``metric_for_best_model``: lower is better for a name ending in ``loss``.
    """
    require("transformers", "hf", "task_from_trainer")
    require("accelerate", "hf", "task_from_trainer")
    from ..task import Task
    from ._hf_data import ModelFacts, SeedRecords, TrainerEval, TrainerLoss, _collator

    check_args(args)
    # the model factory's qualified name is part of the study's fingerprint: keep it here
    if isinstance(model_init, torch.nn.Module):  # Trainer(model=...): train copies of it
        template = copy.deepcopy(model_init)
        init: Callable[[], torch.nn.Module] = lambda: copy.deepcopy(template)  # noqa: E731
    elif not callable(model_init):
        raise ConfigError(f"model_init={type(model_init).__name__}: expected a function "
                          "returning a model (Trainer(model_init=...)) or a model "
                          "(Trainer(model=...)). Pass one of them.")
    else:
        init = zero_arg(model_init)
    seeds = SeedRecords(init)
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(args.seed)
        probe = seeds.build()
    check_model(probe)
    facts = ModelFacts(probe, args)
    train_dataset, eval_dataset = _datasets(train_dataset, eval_dataset, facts, args)
    given_metric = metric
    metric, direction = _metric_direction(metric, direction, compute_metrics, args)
    batches, steps = _train_batches(train_dataset, args, facts, data_collator, seeds)
    evaluate = TrainerEval(eval_dataset, args, facts,
                           _collator(data_collator, facts, args, "Evaluation"),
                           compute_metrics, preprocess_logits_for_metrics, metric,
                           args.label_smoothing_factor)
    _check_eval(evaluate, probe, facts, metric, given_metric)
    gas = args.gradient_accumulation_steps

    task = Task(
        seeds.build,
        _optimizer(args, probe),
        SeededBatches(batches, batches.n_batches, name="trainer train_dataset",
                      source=train_dataset),
        SeededBatches(lambda seed, epoch: evaluate.batches(), evaluate.n_batches,
                      name="trainer eval_dataset", source=eval_dataset),
        forward=TrainerLoss(facts, args),
        evaluate=evaluate,
        direction=direction,
        steps=steps,
        schedule=_schedule(args, steps),
        precision="bf16" if args.bf16 else "fp32",
        accumulation_steps=gas,
        clip_grad_norm=args.max_grad_norm if args.max_grad_norm and args.max_grad_norm > 0
        else None,
        seed_init=True,
        init_seed=args.seed,
        device=args.device,
        name=name or f"hf-{type(probe).__name__}",
    )
    task.metric_name = metric
    return task


def _datasets(train_dataset: Any, eval_dataset: Any, facts: Any, args: Any) -> tuple[Any, Any]:
    """Both datasets checked, with the columns the model does not take removed."""
    from ._hf_data import _drop_unused_columns

    train_dataset = check_dataset("train_dataset", train_dataset)
    if eval_dataset is None:
        raise ConfigError("eval_dataset=None: expected the dataset the Trainer evaluates on. "
                          "lrsweep scores every trial by trainer.evaluate(); pass eval_dataset.")
    if isinstance(eval_dataset, dict):
        raise ConfigError("eval_dataset: a dict of datasets is not supported; pass the one "
                          "dataset whose metric ranks the LRs.")
    eval_dataset = check_dataset("eval_dataset", eval_dataset)
    return (_drop_unused_columns(train_dataset, facts, args),
            _drop_unused_columns(eval_dataset, facts, args))


def _metric_direction(metric: str, direction: str | None, compute_metrics: Any,
                      args: Any) -> tuple[str, str]:
    """The ``evaluate()`` key that scores a trial, and whether lower or higher is better
    (by default the Trainer's rule for ``metric_for_best_model``)."""
    metric = metric if metric.startswith("eval_") else f"eval_{metric}"
    if metric != "eval_loss" and compute_metrics is None:
        raise ConfigError(f"metric={metric!r}: only 'eval_loss' exists without "
                          "compute_metrics. Pass compute_metrics= or metric='eval_loss'.")
    if direction is None:
        best = args.metric_for_best_model
        if best and metric == (best if best.startswith("eval_") else f"eval_{best}") \
                and args.greater_is_better is not None:
            direction = "max" if args.greater_is_better else "min"
        else:  # the Trainer's default for greater_is_better
            direction = "min" if metric.endswith("loss") else "max"
    return metric, direction


def _train_batches(train_dataset: Any, args: Any, facts: Any, data_collator: Any,
                   seeds: Any) -> tuple[Any, int]:
    """The training batches and the optimizer steps of a trial, as
    ``Trainer.set_initial_training_values`` computes the budget."""
    from ._hf_data import TrainerBatches, _collator

    batches = TrainerBatches(train_dataset, args, facts,
                             _collator(data_collator, facts, args, "Training"), seeds, [])
    if batches.n_batches == 0:
        raise ConfigError(f"train_dataset: {len(train_dataset)} samples make no batch of "
                          f"per_device_train_batch_size={args.per_device_train_batch_size} with "
                          "dataloader_drop_last=True. Lower the batch size.")
    gas = args.gradient_accumulation_steps
    per_epoch = max(batches.n_batches // gas + int(batches.n_batches % gas > 0), 1)
    steps = args.max_steps if args.max_steps > 0 else math.ceil(args.num_train_epochs
                                                                * per_epoch)
    if batches.n_batches % gas and steps > batches.n_batches // gas:
        raise refuse("gradient_accumulation_steps", gas,
                     f"the {batches.n_batches} batches of an epoch leave a last step of "
                     f"{batches.n_batches % gas} batches, which the Trainer scales by its own "
                     "size and lrsweep does not train",
                     "Pick per_device_train_batch_size and gradient_accumulation_steps so that "
                     "they divide the epoch, or stop within the first epoch (max_steps).")
    if gas > batches.n_batches:
        raise refuse("gradient_accumulation_steps", gas,
                     f"more than the {batches.n_batches} batches of an epoch",
                     "Lower gradient_accumulation_steps.")
    batches.draws = _rng_draws(args, steps, batches.steps_per_epoch)
    return batches, steps


def _check_eval(evaluate: Any, probe: torch.nn.Module, facts: Any, metric: str,
                given_metric: str) -> None:
    """The evaluation has batches, and they produce ``metric``."""
    first_eval = next(evaluate.batches(), None)
    if first_eval is None:
        raise ConfigError("eval_dataset: no batch to evaluate (empty, or smaller than "
                          "per_device_eval_batch_size with dataloader_drop_last=True).")
    if metric == "eval_loss" and not (
            (facts.label_names and all(k in first_eval for k in facts.label_names))
            or (not facts.label_names and facts.can_return_loss)):
        raise ConfigError(f"metric='eval_loss': the evaluation batches hold no labels "
                          f"{facts.label_names}, so the Trainer reports no eval_loss. Add "
                          "labels to eval_dataset or set args.label_names.")
    check_metric(evaluate, probe, metric, given_metric)


# ------------------------------------------------------------------- optimizer, schedule ----
class TrainerOptimizer:
    """``optimizer=`` of the Task: ``Trainer.create_optimizer`` at the trial's LR. The
    decay / no-decay split is fixed by position (the order of the trainable parameters).

    The Trainer's two groups (weight decay; none) are given as runs of consecutive
    parameters, so that the optimizer lists the parameters in the model's order: every
    parameter gets the Trainer's settings, and the gradient-norm clipping (over the
    optimizer's parameters here, over ``model.parameters()`` in the Trainer) adds the same
    norms in the same order. Summed in another order, the norm differs in its last bit, and
    under bf16 that grows to ~1e-4 in the loss within a few dozen steps."""

    def __init__(self, cls: type, kwargs: dict[str, Any], decay: list[bool]) -> None:
        self.cls = cls
        self.kwargs = {k: v for k, v in kwargs.items() if k != "lr"}
        self.decay = decay
        self.weight_decay = 0.0

    def __call__(self, params: Any, lr: float) -> torch.optim.Optimizer:
        params = list(params)
        if len(params) != len(self.decay):
            raise ConfigError(f"the model has {len(params)} trainable tensors; the optimizer "
                              f"groups were built for {len(self.decay)}.")
        groups: list[dict[str, Any]] = []
        for p, d in zip(params, self.decay):
            wd = self.weight_decay if d else 0.0
            if not groups or groups[-1]["decay"] != d:
                groups.append({"params": [], "weight_decay": wd, "decay": d})
            groups[-1]["params"].append(p)
        for g in groups:
            del g["decay"]
        return self.cls(groups, lr=lr, **self.kwargs)

    def __repr__(self) -> str:
        kw = ", ".join(f"{k}={v!r}" for k, v in sorted(self.kwargs.items()))
        return (f"TrainerOptimizer({self.cls.__name__}, weight_decay={self.weight_decay}, "
                f"{kw}; {sum(self.decay)} decayed tensors of {len(self.decay)})")


def _optimizer(args: Any, model: torch.nn.Module) -> TrainerOptimizer:
    from transformers import Trainer

    cls, kwargs = Trainer.get_optimizer_cls_and_kwargs(args, model)
    if not (isinstance(cls, type) and issubclass(cls, torch.optim.Optimizer)
            and cls.__module__.startswith("torch.optim")):
        raise refuse("optim", str(args.optim), f"it builds {cls!r}, not a torch.optim "
                     "optimizer", "Use optim='adamw_torch'.")
    decay_names = set(Trainer.get_decay_parameter_names(None, model))  # uses no Trainer state
    decay = [n in decay_names for n, p in model.named_parameters() if p.requires_grad]
    opt = TrainerOptimizer(cls, kwargs, decay)
    opt.weight_decay = args.weight_decay
    return opt


def _schedule(args: Any, steps: int) -> Table:
    """The multiplier of every step, read off the scheduler the Trainer builds."""
    from transformers.optimization import get_scheduler

    warmup = args.get_warmup_steps(steps)
    name = str(getattr(args.lr_scheduler_type, "value", args.lr_scheduler_type))

    def run(base: float) -> list[list[float]]:
        w = [torch.zeros(1, requires_grad=True), torch.zeros(1, requires_grad=True)]
        opt = torch.optim.SGD([{"params": [w[0]]}, {"params": [w[1]]}], lr=base)
        sched = get_scheduler(name, optimizer=opt, num_warmup_steps=warmup,
                              num_training_steps=steps,
                              scheduler_specific_kwargs=args.lr_scheduler_kwargs or {})
        out = []
        for _ in range(steps):
            out.append([g["lr"] / base for g in opt.param_groups])
            opt.step()  # no gradients: nothing moves; keeps the scheduler's order check quiet
            sched.step()
        return out

    at_one, scaled = run(1.0), run(1e-3)
    if any(len(set(row)) > 1 for row in at_one):
        raise refuse("lr_scheduler_type", name, "its param groups follow different curves",
                     "Use a schedule that scales every group alike.")
    for k, (a, b) in enumerate(zip(at_one, scaled)):
        if not math.isclose(a[0], b[0], rel_tol=1e-9, abs_tol=1e-12):
            raise refuse("lr_scheduler_type/lr_scheduler_kwargs",
                         (name, args.lr_scheduler_kwargs),
                         f"the LR at step {k} does not scale with the base LR (an absolute "
                         "floor such as min_lr or lr_end), so trials at different LRs would "
                         "not share one schedule", "Give the floor relative to the LR "
                         "(e.g. min_lr_rate) or use a schedule without one.")
    return Table(tuple(row[0] for row in at_one),
                 name=f"transformers {name} (warmup {warmup} of {steps})")


def _rng_draws(args: Any, steps: int, steps_per_epoch: int) -> list[int]:
    """DataLoader starts (one CPU RNG draw each) before each optimizer step: the train loader
    at every epoch, the eval loader at every evaluation during training."""
    from transformers.trainer_callback import TrainerState

    state = TrainerState()
    state.compute_steps(args, steps)
    strategy = str(getattr(args.eval_strategy, "value", args.eval_strategy))
    draws = [0] * steps
    draws[0] = 1 + int(bool(args.eval_on_start))
    for k in range(1, steps):  # before step k: global_step == k
        if strategy == "steps" and k % state.eval_steps == 0 and args.eval_delay <= k:
            draws[k] += 1
        if k % steps_per_epoch == 0:  # a new epoch: epoch-end evaluation, then the loader
            epoch = k // steps_per_epoch
            if strategy == "epoch" and args.eval_delay <= epoch:
                draws[k] += 1
            draws[k] += 1
    return draws

"""Build-time checks of ``task_from_trainer``: what the Trainer set-up asks that lrsweep
cannot reproduce is refused, naming the argument; the model, datasets and metric are checked
before any trial trains."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import torch

from ..errors import ConfigError, closest, user_error

# optimizers the Trainer builds from torch.optim alone (same class, same keyword arguments)
TORCH_OPTIMS = ("adamw_torch", "adamw_torch_fused", "sgd", "adagrad", "rmsprop")
REFUSED_SCHEDULERS = ("reduce_lr_on_plateau", "greedy")


def refuse(arg: str, given: Any, why: str, todo: str) -> ConfigError:
    return ConfigError(f"args.{arg}={given!r}: {why}. {todo}")


def check_args(args: Any) -> None:
    from transformers import TrainingArguments

    if not isinstance(args, TrainingArguments):
        raise ConfigError(f"args={type(args).__name__}: expected transformers."
                          "TrainingArguments. Pass the arguments you give the Trainer.")
    optim = str(getattr(args.optim, "value", args.optim))
    if optim not in TORCH_OPTIMS:
        raise refuse("optim", optim, "only the Trainer's torch.optim optimizers are "
                     f"reproduced ({', '.join(TORCH_OPTIMS)})",
                     "Sweep with optim='adamw_torch' (or build a Task by hand).")
    if args.optim_target_modules:
        raise refuse("optim_target_modules", args.optim_target_modules, "not reproduced",
                     "Leave it unset.")
    sched = str(getattr(args.lr_scheduler_type, "value", args.lr_scheduler_type))
    if sched in REFUSED_SCHEDULERS:
        raise refuse("lr_scheduler_type", sched, "it reacts to the evaluation metric, which "
                     "lrsweep measures only at the end", "Use a fixed schedule (linear, "
                     "cosine, constant, constant_with_warmup, ...).")
    simple = {
        "deepspeed": "DeepSpeed trains in its own engine",
        "fsdp": "FSDP shards the model over processes",
        "parallelism_config": "parallel training is not reproduced",
        "fp16": "with fp16 the Trainer skips the scheduler's step whenever the grad scaler "
                "skips an optimizer step; lrsweep cannot follow that",
        "fp16_full_eval": "full-fp16 evaluation is not reproduced",
        "bf16_full_eval": "full-bf16 evaluation is not reproduced",
        "torch_compile": "a compiled model is not reproduced (the vectorized engine has "
                         "its own compile=)",
        "neftune_noise_alpha": "NEFTune's embedding noise is not reproduced",
        "use_liger_kernel": "Liger kernels are not reproduced",
        "activation_checkpointing": "not reproduced (it does not change the result; turn it "
                                    "off for the sweep)",
        "auto_find_batch_size": "the batch size must be fixed for controlled trials",
        "load_best_model_at_end": "lrsweep scores the model at the end of training",
        "batch_eval_metrics": "batched compute_metrics is not reproduced",
        "include_for_metrics": "compute_metrics receives predictions and labels only",
    }
    for arg, why in simple.items():
        value = getattr(args, arg, None)
        if value and value != "no":
            raise refuse(arg, value, why, f"Unset {arg} for the sweep.")
    if getattr(args, "past_index", -1) >= 0:
        raise refuse("past_index", args.past_index, "not reproduced", "Leave it at -1.")
    if args.world_size > 1 or args.n_gpu > 1:
        raise refuse("world_size/n_gpu", (args.world_size, args.n_gpu),
                     "lrsweep trains a trial on one device",
                     "Run on one process with one visible GPU (CUDA_VISIBLE_DEVICES=0).")
    strategy = getattr(args, "train_sampling_strategy", "random")
    if strategy not in ("random", "sequential") or getattr(args, "group_by_length", False):
        raise refuse("train_sampling_strategy", strategy, "only 'random' and 'sequential' "
                     "orders are reproduced", "Use train_sampling_strategy='random'.")
    if not args.accelerator_config.use_seedable_sampler:
        raise refuse("accelerator_config.use_seedable_sampler", False,
                     "the order then comes from the global RNG", "Leave it True (default).")
    if args.lr_scheduler_kwargs and not isinstance(args.lr_scheduler_kwargs, dict):
        raise refuse("lr_scheduler_kwargs", args.lr_scheduler_kwargs, "expected a dict",
                     "Pass a dict.")


def check_model(model: Any) -> None:
    from transformers.models.auto.modeling_auto import MODEL_MAPPING_NAMES

    if not isinstance(model, torch.nn.Module):
        raise ConfigError(f"model_init returned {type(model).__name__}: expected an "
                          "nn.Module. Return the model.")
    if model.__class__.__name__ in MODEL_MAPPING_NAMES:
        raise ConfigError(f"model_init: {model.__class__.__name__} computes hidden states "
                          "only, with no loss; the Trainer refuses it too. Use a model with a "
                          "head (AutoModelForXxx).")
    if getattr(model, "hf_device_map", None) is not None or getattr(model, "is_quantized",
                                                                     False):
        raise ConfigError("model_init: a model placed over several devices or quantized is "
                          "not reproduced. Sweep a plain model.")


def check_dataset(name: str, dataset: Any) -> Any:
    if isinstance(dataset, torch.utils.data.IterableDataset) or not hasattr(dataset,
                                                                             "__getitem__"):
        raise ConfigError(f"{name}={type(dataset).__name__}: expected a map-style dataset "
                          "(__len__ and __getitem__); the order of an iterable dataset is its "
                          "own. Materialise it (e.g. a list or datasets.Dataset).")
    try:
        n = len(dataset)
    except TypeError:
        raise ConfigError(f"{name}={type(dataset).__name__}: expected a dataset with a "
                          "length. Materialise it.") from None
    if n == 0:
        raise ConfigError(f"{name}: the dataset is empty. Pass the data to train/evaluate on.")
    return dataset


def check_metric(evaluate: Any, model: torch.nn.Module, metric: str, given: str) -> None:
    """One evaluation of the initial model on two batches of eval_dataset: ``metric`` is a
    key of what ``trainer.evaluate()`` reports. Otherwise every trial would train and then
    fail on the missing key."""
    was_training = model.training
    try:
        with torch.random.fork_rng(devices=[]):  # a collator may draw (masking)
            keys = sorted(evaluate.metrics(model, limit=2))
    except ConfigError:
        raise
    except Exception as e:
        raise ConfigError(f"eval_dataset/compute_metrics: evaluating the initial model on two "
                          f"batches of eval_dataset failed with {user_error(e)}. Check that "
                          "compute_metrics accepts an EvalPrediction and returns a dict.") from e
    finally:
        model.train(was_training)
    if metric not in keys:
        near = closest(metric, keys)
        hint = f"Did you mean {near.removeprefix('eval_')!r}? " if near else ""
        raise ConfigError(f"metric={given!r}: trainer.evaluate() reports {keys} (checked on "
                          f"two evaluation batches before training), not {metric!r}. {hint}"
                          "Pass one of them (the eval_ prefix may be left off), or return it "
                          "from compute_metrics.")


def zero_arg(model_init: Callable) -> Callable[[], torch.nn.Module]:
    from transformers.trainer_utils import number_of_arguments

    try:
        count = number_of_arguments(model_init)
    except (TypeError, ValueError):  # no signature to read: call it as the Trainer would
        count = 0
    if count == 0:
        return model_init
    if count == 1:
        return lambda: model_init(None)  # the Trainer passes trial=None outside a search
    name = getattr(model_init, "__qualname__", type(model_init).__name__)
    raise ConfigError(f"model_init={name}: it takes {count} arguments; the Trainer calls "
                      "model_init() or model_init(trial). Pass a function of 0 or 1 argument "
                      "that returns a fresh model (model_init=lambda: MyModel(config)), or "
                      "the model itself.")

"""The batches, loss and evaluation of a Hugging Face ``Trainer`` run, reproduced step by step
(single process, transformers 5.x semantics).

What the Trainer does, and where it is mirrored here:

- data order: accelerate's ``SeedableRandomSampler`` seeded by ``data_seed`` (default: the
  torch seed in force after ``set_seed(args.seed)`` and ``model_init()``) plus the epoch;
  batches of ``train_batch_size`` collated by the data collator after dropping the columns
  the model's ``forward`` does not take (``TrainerBatches``);
- the loss of a micro-batch: the model's own loss, given ``num_items_in_batch`` (the label
  tokens of the whole accumulation group) when the model accepts loss kwargs, else divided
  by the accumulation steps; label smoothing by the Trainer's ``LabelSmoother``
  (``TrainerLoss``);
- global RNG: after ``model_init`` the Trainer draws one number from torch's CPU generator
  each time a DataLoader starts (every epoch, every evaluation), so dropout masks depend on
  them; the first micro-batch of a step carries the state / the draws to replay;
- ``evaluate()``: ``prediction_step`` on sequential batches of ``eval_batch_size``, each
  batch's mean loss repeated once per sample, ``compute_metrics`` on the concatenated
  predictions (``TrainerEval``).
"""

from __future__ import annotations

import inspect
import random
from collections.abc import Callable, Iterator
from typing import Any

import numpy as np
import torch

RNG_KEY = "lrsweep.rng_state"  # the CPU generator's state before step 0
DRAWS_KEY = "lrsweep.rng_draws"  # DataLoader starts to replay before this step
ITEMS_KEY = "lrsweep.num_items"  # num_items_in_batch of the micro-batch's step


class ModelFacts:
    """What the Trainer reads off the model class once (``Trainer.__init__``, step 6)."""

    def __init__(self, model: torch.nn.Module, args: Any) -> None:
        from transformers.loss.loss_utils import LOSS_MAPPING, ForCausalLMLoss
        from transformers.models.auto.modeling_auto import MODEL_FOR_CAUSAL_LM_MAPPING_NAMES
        from transformers.utils import can_return_loss, find_labels

        if hasattr(model, "accepts_loss_kwargs"):
            self.accepts_loss_kwargs = bool(model.accepts_loss_kwargs)
        else:
            params = inspect.signature(model.forward).parameters.values()
            self.accepts_loss_kwargs = any(p.kind == p.VAR_KEYWORD for p in params)
        self.label_names = (list(args.label_names) if args.label_names is not None
                            else find_labels(model.__class__))
        self.can_return_loss = can_return_loss(model.__class__)
        config = getattr(model, "config", None)
        self.shifts_labels = (LOSS_MAPPING.get(getattr(model, "loss_type", None))
                              is ForCausalLMLoss
                              and not getattr(config, "is_encoder_decoder", False))
        self.is_causal_lm = model._get_name() in MODEL_FOR_CAUSAL_LM_MAPPING_NAMES.values()
        self.ignore_keys = (getattr(config, "keys_to_ignore_at_inference", ["cache"])
                            if config is not None else [])
        columns = list(inspect.signature(model.forward).parameters)
        self.signature_columns = columns + list({"label", "label_ids", *self.label_names})
        self.model_name = model.__class__.__name__

    def num_items(self, batches: list[Any]) -> torch.Tensor | None:
        """``Trainer._get_num_items_in_batch`` for one process."""
        if not batches or not isinstance(batches[0], dict) or "labels" not in batches[0]:
            return None
        if not self.accepts_loss_kwargs:
            return None
        try:
            labels = [b["shift_labels"] if "shift_labels" in b
                      else b["labels"][..., 1:] if self.shifts_labels else b["labels"]
                      for b in batches]
            return sum(lab.ne(-100).sum() for lab in labels)  # type: ignore[return-value]
        except (TypeError, AttributeError):
            return None


def _collator(data_collator: Callable | None, facts: ModelFacts, args: Any,
              description: str) -> Callable:
    from transformers import default_data_collator
    from transformers.trainer_utils import RemoveColumnsCollator

    collate = data_collator if data_collator is not None else default_data_collator
    if not args.remove_unused_columns:
        return collate
    return RemoveColumnsCollator(collate, facts.signature_columns, model_name=facts.model_name,
                                 description=description)


def _fetch(dataset: Any, idx: list[int]) -> list[Any]:
    getitems = getattr(dataset, "__getitems__", None)
    return list(getitems(idx)) if callable(getitems) else [dataset[i] for i in idx]


def _drop_unused_columns(dataset: Any, facts: ModelFacts, args: Any) -> Any:
    """A ``datasets.Dataset`` loses its unused columns up front, as in the Trainer."""
    if not args.remove_unused_columns or not hasattr(dataset, "remove_columns") \
            or not hasattr(dataset, "column_names"):
        return dataset
    ignored = sorted(set(dataset.column_names) - set(facts.signature_columns))
    return dataset.remove_columns(ignored) if ignored else dataset


class SeedRecords:
    """Per trial seed, what ``set_seed(seed)`` + ``model_init()`` leave behind: the CPU RNG
    state and the torch seed in force (the data order's seed when ``data_seed`` is unset).
    Filled by the model factory; a seed the factory has not built here is built once."""

    def __init__(self, model_init: Callable[[], torch.nn.Module]) -> None:
        self.model_init = model_init
        self.records: dict[int, tuple[torch.Tensor, int]] = {}

    def build(self) -> torch.nn.Module:
        """The Task's model factory: called under ``torch.manual_seed(seed)``."""
        seed = torch.initial_seed()
        py, npy = random.getstate(), np.random.get_state()
        try:
            random.seed(seed)
            np.random.seed(seed % 2**32)
            model = self.model_init()
        finally:
            random.setstate(py)
            np.random.set_state(npy)
        self.records[seed] = (torch.get_rng_state(), torch.initial_seed())
        return model

    def get(self, seed: int) -> tuple[torch.Tensor, int]:
        if seed not in self.records:
            with torch.random.fork_rng(devices=[]):
                torch.manual_seed(seed)
                self.build()
        return self.records[seed]


class TrainerBatches:
    """``(seed, epoch) -> micro-batches`` in the Trainer's order, each step's first
    micro-batch carrying the RNG replay and every micro-batch its step's item count."""

    def __init__(self, dataset: Any, args: Any, facts: ModelFacts, collate: Callable,
                 seeds: SeedRecords, draws: list[int]) -> None:
        self.dataset = dataset
        self.args = args
        self.facts = facts
        self.collate = collate
        self.seeds = seeds
        self.draws = draws  # draws[k]: DataLoader starts between step k-1 and step k
        self.batch_size = args.train_batch_size
        n = len(dataset)
        full, rest = divmod(n, self.batch_size)
        self.n_batches = full + (1 if rest and not args.dataloader_drop_last else 0)
        self.accum = args.gradient_accumulation_steps
        self.steps_per_epoch = max(self.n_batches // self.accum, 1)

    def order(self, seed: int, epoch: int) -> list[int]:
        if self.args.train_sampling_strategy == "sequential":
            return list(range(len(self.dataset)))
        from accelerate.data_loader import SeedableRandomSampler

        data_seed = self.args.data_seed
        if data_seed is None:
            data_seed = self.seeds.get(seed)[1]
        sampler = SeedableRandomSampler(data_source=self.dataset, data_seed=data_seed)
        sampler.set_epoch(epoch)
        return list(iter(sampler))

    def __call__(self, seed: int, epoch: int) -> Iterator[dict]:
        order = self.order(seed, epoch)
        bs, accum = self.batch_size, self.accum
        for g in range(self.steps_per_epoch):
            step = epoch * self.steps_per_epoch + g
            group = [dict(self.collate(_fetch(self.dataset, order[i * bs:(i + 1) * bs])))
                     for i in range(g * accum, (g + 1) * accum)]
            items = self.facts.num_items(group)
            for i, batch in enumerate(group):
                if items is not None:
                    batch[ITEMS_KEY] = items
                if i == 0 and step == 0:
                    batch[RNG_KEY] = self.seeds.get(seed)[0]
                if i == 0 and step < len(self.draws) and self.draws[step]:
                    batch[DRAWS_KEY] = self.draws[step]
                yield batch


class TrainerLoss:
    """``forward=`` of the Task: one micro-batch's loss as ``Trainer.training_step`` scales it,
    times the accumulation steps (the engine divides by them again)."""

    def __init__(self, facts: ModelFacts, args: Any) -> None:
        from transformers.trainer_pt_utils import LabelSmoother

        self.facts = facts
        self.accum = args.gradient_accumulation_steps
        eps = args.label_smoothing_factor
        self.smoother = LabelSmoother(epsilon=eps) if eps else None

    def __call__(self, model: torch.nn.Module, batch: dict) -> tuple[torch.Tensor, None]:
        inputs = dict(batch)
        state = inputs.pop(RNG_KEY, None)
        draws = int(inputs.pop(DRAWS_KEY, 0))
        items = inputs.pop(ITEMS_KEY, None)
        if state is not None:
            torch.set_rng_state(state.cpu())
        for _ in range(draws):  # what the Trainer's DataLoader starts took from the RNG
            torch.empty((), dtype=torch.int64).random_()
        loss, _ = compute_loss(model, inputs, items, self.facts, self.smoother)
        if not (self.facts.accepts_loss_kwargs and items is not None):
            return loss, None  # the engine's division by the accumulation steps is the Trainer's
        return loss * self.accum if self.accum > 1 else loss, None


def compute_loss(model: torch.nn.Module, inputs: dict, num_items: Any, facts: ModelFacts,
                 smoother: Any) -> tuple[torch.Tensor, Any]:
    """``Trainer.compute_loss`` (no custom loss function, one process)."""
    labels = inputs.pop("labels") if smoother is not None and "labels" in inputs else None
    if facts.accepts_loss_kwargs and num_items is not None:
        inputs = {**inputs, "num_items_in_batch": num_items}
    outputs = model(**inputs)
    if torch.is_autocast_enabled(labels.device.type if labels is not None else "cpu") \
            or torch.is_autocast_enabled("cuda"):
        # accelerate runs only the model's forward under autocast and hands back its outputs
        # in fp32: what follows (label smoothing, metrics) sees fp32 tensors, outside autocast
        from accelerate.utils import convert_to_fp32

        outputs = convert_to_fp32(outputs)
    if labels is not None:
        with torch.autocast(labels.device.type, enabled=False):
            loss = smoother(outputs, labels, shift_labels=facts.is_causal_lm,
                            num_items_in_batch=num_items)
    else:
        if isinstance(outputs, dict) and "loss" not in outputs:
            raise ValueError("The model did not return a loss from the inputs, only the keys "
                             f"{','.join(outputs.keys())}.")
        loss = outputs["loss"] if isinstance(outputs, dict) else outputs[0]
    return loss, outputs


class TrainerEval:
    """``evaluate=`` of the Task: ``Trainer.evaluate()[metric]`` on the trained model."""

    def __init__(self, dataset: Any, args: Any, facts: ModelFacts, collate: Callable,
                 compute_metrics: Callable | None, preprocess_logits: Callable | None,
                 metric: str, label_smoothing: float) -> None:
        from transformers.trainer_pt_utils import LabelSmoother

        self.dataset = dataset
        self.args = args
        self.facts = facts
        self.collate = collate
        self.compute_metrics = compute_metrics
        self.preprocess_logits = preprocess_logits
        self.metric = metric
        self.smoother = LabelSmoother(epsilon=label_smoothing) if label_smoothing else None
        self.__name__ = metric

    @property
    def n_batches(self) -> int:
        full, rest = divmod(len(self.dataset), self.args.eval_batch_size)
        return full + (1 if rest and not self.args.dataloader_drop_last else 0)

    def batches(self, limit: int | None = None) -> Iterator[dict]:
        bs, n = self.args.eval_batch_size, len(self.dataset)
        for i in range(self.n_batches if limit is None else min(limit, self.n_batches)):
            yield dict(self.collate(_fetch(self.dataset, list(range(i * bs, min((i + 1) * bs,
                                                                                 n))))))

    def __call__(self, model: torch.nn.Module, val_data: Any = None) -> float:
        return float(self.metrics(model)[self.metric])

    @torch.no_grad()
    def metrics(self, model: torch.nn.Module, limit: int | None = None) -> dict[str, float]:
        """What ``trainer.evaluate()`` reports (on the first ``limit`` batches only, if
        given: the build-time check of the metric's name)."""
        from transformers.trainer_pt_utils import EvalLoopContainer
        from transformers.trainer_utils import EvalPrediction, denumpify_detensorize

        from ..task.data import to_device

        args = self.args
        device = next(model.parameters()).device
        only_loss = self.compute_metrics is None or args.prediction_loss_only
        model.eval()
        losses_c = EvalLoopContainer(args.eval_do_concat_batches, padding_index=-100)
        preds_c = EvalLoopContainer(args.eval_do_concat_batches, padding_index=-100)
        labels_c = EvalLoopContainer(args.eval_do_concat_batches, padding_index=-100)
        n, bs = len(self.dataset), args.eval_batch_size
        for i, inputs in enumerate(self.batches(limit)):
            inputs = to_device(dict(inputs), device)
            loss, logits, labels = self._prediction_step(model, inputs, only_loss)
            if loss is not None:
                # each batch's mean loss repeated eval_batch_size times; accelerate's
                # gather_for_metrics cuts the last batch's copies to the samples it holds
                losses_c.add(loss.repeat(min(bs, n - i * bs)))
            if logits is not None:
                if self.preprocess_logits is not None:
                    logits = self.preprocess_logits(logits, labels)
                preds_c.add(logits)
            if labels is not None:
                labels_c.add(labels)
        losses, preds, labels = (c.get_arrays() for c in (losses_c, preds_c, labels_c))
        metrics: dict[str, Any] = {}
        if self.compute_metrics is not None and preds is not None and labels is not None:
            metrics = self.compute_metrics(EvalPrediction(predictions=preds, label_ids=labels))
        metrics = denumpify_detensorize(metrics)
        if isinstance(losses, list) and losses:
            losses = np.concatenate(losses)
        if isinstance(losses, np.ndarray):
            finite = np.isfinite(losses)
            if args.logging_nan_inf_filter and finite.any():
                losses = losses[finite]
            metrics["loss"] = losses.mean().item()
        return {(k if k.startswith("eval_") else f"eval_{k}"): v for k, v in metrics.items()}

    def _prediction_step(self, model: torch.nn.Module, inputs: dict,
                         only_loss: bool) -> tuple[Any, Any, Any]:
        from transformers.trainer_pt_utils import nested_detach

        facts = self.facts
        names = facts.label_names
        has_labels = bool(names) and all(inputs.get(k) is not None for k in names)
        return_loss = inputs.get("return_loss")
        if return_loss is None:
            return_loss = facts.can_return_loss
        without_labels = len(names) == 0 and return_loss
        labels = None
        if has_labels or without_labels:
            labels = nested_detach(tuple(inputs.get(name) for name in names))
            if len(labels) == 1:
                labels = labels[0]
            items = facts.num_items([inputs])
            loss, outputs = compute_loss(model, dict(inputs), items, facts, self.smoother)
            loss = loss.detach().mean()
            if isinstance(outputs, dict):
                logits = tuple(v for k, v in outputs.items()
                               if k not in facts.ignore_keys + ["loss"])
            else:
                logits = outputs[1:]
        else:
            loss = None
            outputs = model(**inputs)
            logits = (tuple(v for k, v in outputs.items() if k not in facts.ignore_keys)
                      if isinstance(outputs, dict) else outputs)
        if only_loss:
            return loss, None, None
        logits = nested_detach(logits)
        if len(logits) == 1:
            logits = logits[0]
        return loss, _to_fp32(logits), labels


def _to_fp32(x: Any) -> Any:
    """accelerate's ``convert_outputs_to_fp32`` under mixed precision."""
    if isinstance(x, torch.Tensor):
        return x.float() if x.dtype in (torch.float16, torch.bfloat16) else x
    if isinstance(x, (tuple, list)):
        return type(x)(_to_fp32(v) for v in x)
    return x

"""``Task``: the training protocol of one trial. Everything is checked when it is built.

A trial = fresh copy of the initial weights + fresh optimizer at one LR + a budget of
optimizer steps over data in an order fixed by the seed + one evaluation. Only the LR differs
between the trials of a sweep.
"""

from __future__ import annotations

import copy
import math
from collections.abc import Callable, Mapping
from typing import Any

import torch
from torch import nn

from . import checks
from .data import Batch, TensorData, batch_size_of, make_data, num_batches, to_device
from .errors import ConfigError, bad_arg, bad_choice
from .fingerprint import callable_name as _describe_callable
from .schedule import SCHEDULES, Table, describe
from .training import run_trial
from .trial import TrialResult, TrialSpec

METRICS = {"accuracy": "max", "loss": "min"}
DIRECTIONS = {"max": "max", "maximize": "max", "min": "min", "minimize": "min"}
PRECISIONS = ("fp32", "bf16", "fp16")


def normalize_direction(direction: str | None, name: str = "direction") -> str:
    if direction is None or str(direction).lower() not in DIRECTIONS:
        raise bad_arg(name, direction, "'max' (higher is better) or 'min' (lower is better)",
                      "Say which way the metric improves, e.g. direction='max' for accuracy.")
    return DIRECTIONS[str(direction).lower()]


def output_logits(out: Any) -> Any:
    """The prediction tensor inside a model output (tensor, .logits, ['logits'], tuple[0])."""
    if isinstance(out, torch.Tensor):
        return out
    if isinstance(out, Mapping):
        if "logits" in out:
            return out["logits"]
        return None
    logits = getattr(out, "logits", None)
    if isinstance(logits, torch.Tensor):
        return logits
    if isinstance(out, (tuple, list)) and out and isinstance(out[0], torch.Tensor):
        return out[0]
    return None


def output_loss(out: Any) -> torch.Tensor | None:
    """The loss a model computed itself (``out.loss`` or ``out['loss']``), if any."""
    if isinstance(out, Mapping):
        v = out.get("loss")
    else:
        v = getattr(out, "loss", None)
    return v if isinstance(v, torch.Tensor) else None


def batch_targets(batch: Batch) -> torch.Tensor | None:
    if isinstance(batch, Mapping):
        for k in ("labels", "label", "targets", "target", "y"):
            if k in batch:
                return batch[k]
        return None
    if isinstance(batch, (tuple, list)) and len(batch) >= 2:
        return batch[-1]
    return None


class Task:
    """What one trial trains.

    Args:
        model: an ``nn.Module`` (deep-copied now; the original is never trained) or a
            zero-argument factory returning one (called under ``init_seed``).
        optimizer: an optimizer class (``torch.optim.AdamW``) or ``callable(params, lr)``
            returning an optimizer (param groups allowed: their LR ratios are kept).
        train_data, val_data: DataLoaders, re-iterables of batches, or in-memory tensors
            ``(x, y)`` / dicts of tensors with ``batch_size=``.
        loss: module, class or ``callable(outputs, targets)``; ignored when the model returns
            its own loss or ``forward=`` is given. Default cross-entropy.
        metric: ``"accuracy"`` (max), ``"loss"`` (min), or ``callable(outputs, targets)``
            averaged over validation samples, with ``direction=``.
        epochs / steps: the budget (optimizer steps). warmup_epochs / warmup_steps: linear
            warmup that reaches the full LR at its last step. schedule: after warmup,
            ``"constant"``, ``"cosine"`` or ``"linear"``; or a ``schedule.Table`` of
            per-step multipliers (warmup included, at least ``steps`` long).
        forward: optional ``callable(model, batch) -> loss`` or ``-> (loss, outputs)``.
        evaluate: optional ``callable(model, val_data) -> float`` replacing the metric
            (``direction=`` required); it gets ``val_data`` as given (tensors on the device).
        precision: ``"fp32"``, ``"bf16"`` or ``"fp16"`` (autocast; fp16 with a grad scaler).
        accumulation_steps: micro-batches per optimizer step. clip_grad_norm: max grad norm.
        divergence_factor: a smoothed training loss above this many times the initial loss
            (or a non-finite loss) stops the trial as diverged.
        init_seed: RNG seed for building the model from a factory. seed_init: if True, each
            sweep seed re-initialises the model (factory only).
        device: where to train; default CUDA when available.
        data_version: any label (``"2024-06-01"``, ``3``) for data that changed in ways the
            fingerprint cannot see (files behind a DataLoader: only its length and 64
            samples spread over it are hashed); a new label makes a new protocol.
    """

    unstackable_reason: str | None = None  # a Task's trials can be stacked (vectorized)

    def __init__(
        self,
        model: nn.Module | Callable[[], nn.Module],
        optimizer: type[torch.optim.Optimizer] | Callable[..., torch.optim.Optimizer],
        train_data: Any,
        val_data: Any,
        *,
        loss: Any = None,
        metric: str | Callable[[Any, Any], Any] = "accuracy",
        direction: str | None = None,
        epochs: float | None = None,
        steps: int | None = None,
        warmup_epochs: float = 0,
        warmup_steps: int | None = None,
        schedule: str | Table = "constant",
        batch_size: int | None = None,
        val_batch_size: int | None = None,
        shuffle: bool = True,
        drop_last: bool = False,
        forward: Callable[[nn.Module, Batch], Any] | None = None,
        evaluate: Callable[[nn.Module, Any], float] | None = None,
        precision: str = "fp32",
        accumulation_steps: int = 1,
        clip_grad_norm: float | None = None,
        divergence_factor: float = 4.0,
        init_seed: int = 0,
        seed_init: bool = False,
        device: str | torch.device | None = None,
        name: str | None = None,
        data_version: Any = None,
    ) -> None:
        self.name = name
        self.data_version = data_version
        self.device = self._check_device(device)
        self.precision = self._check_choice("precision", precision, PRECISIONS)
        self.schedule = (schedule if isinstance(schedule, Table)
                         else self._check_choice("schedule", schedule, SCHEDULES))
        self.accumulation_steps = self._check_int("accumulation_steps", accumulation_steps, 1)
        self.init_seed = self._check_int("init_seed", init_seed, 0)
        self.seed_init = bool(seed_init)
        if clip_grad_norm is not None and not (_is_num(clip_grad_norm) and clip_grad_norm > 0):
            raise bad_arg("clip_grad_norm", clip_grad_norm, "a positive number or None",
                          "Pass e.g. clip_grad_norm=1.0, or leave it unset.")
        self.clip_grad_norm = None if clip_grad_norm is None else float(clip_grad_norm)
        if not (_is_num(divergence_factor) and divergence_factor > 1):
            raise bad_arg("divergence_factor", divergence_factor, "a number > 1",
                          "The default 4.0 stops a trial whose loss grows 4x.")
        self.divergence_factor = float(divergence_factor)

        # --- model -------------------------------------------------------------------------
        self._factory: Callable[[], nn.Module] | None = None
        if isinstance(model, nn.Module):
            self._template = copy.deepcopy(model).cpu()
        elif callable(model):
            checks.check_factory(model)
            self._factory = model
            self._template = self._build_from_factory(self.init_seed)
        else:
            raise bad_arg("model", type(model).__name__,
                          "an nn.Module or a zero-argument function returning one",
                          "Pass your model (it is copied, never trained in place).")
        if self.seed_init and self._factory is None:
            raise bad_arg("seed_init", True, "a model factory (model=lambda: MyNet())",
                          "A module has one set of initial weights; pass a factory to "
                          "re-initialise per seed.")
        n_params = sum(p.numel() for p in self._template.parameters())
        if n_params == 0:
            raise bad_arg("model", type(self._template).__name__, "a model with parameters",
                          "The model has no parameters, so there is nothing to train.")
        if not any(p.requires_grad for p in self._template.parameters()):
            raise bad_arg("model", type(self._template).__name__,
                          "at least one parameter with requires_grad=True",
                          "Every parameter is frozen; unfreeze what should train.")

        # --- optimizer ---------------------------------------------------------------------
        if not callable(optimizer):
            raise bad_arg("optimizer", optimizer,
                          "an optimizer class (torch.optim.AdamW) or callable(params, lr)",
                          "Pass e.g. optimizer=torch.optim.AdamW.")
        self.optimizer = optimizer

        # --- data --------------------------------------------------------------------------
        self.batch_size = batch_size
        self.train = make_data(train_data, name="train_data", batch_size=batch_size,
                               shuffle=shuffle, drop_last=drop_last)
        self.val = make_data(val_data, name="val_data",
                             batch_size=val_batch_size or max(batch_size or 0, 1024),
                             shuffle=False, drop_last=False)
        if isinstance(self.train, TensorData):
            self.train = self.train.to(self.device)
        if isinstance(self.val, TensorData):
            self.val = self.val.to(self.device)
        # what ``evaluate=`` receives: the validation data in the form the user gave it
        # (in-memory tensors already on the device)
        self.val_data = (self.val.tensors if isinstance(self.val, TensorData)
                         else self.val.source)
        n_batches = num_batches(self.train)
        if n_batches == 0:
            raise bad_arg("train_data", "an empty loader", "at least one batch",
                          "The training data yielded no batch; check the dataset and "
                          "batch size (drop_last=True drops a short dataset entirely).")
        if num_batches(self.val) == 0:
            raise bad_arg("val_data", "an empty loader", "at least one batch",
                          "The validation data yielded no batch.")
        self.batches_per_epoch = n_batches  # -1 when unknown

        # --- budget ------------------------------------------------------------------------
        self.epochs, self.steps, self.warmup_steps = self._budget(
            epochs, steps, warmup_epochs, warmup_steps)
        if isinstance(self.schedule, Table) and (len(self.schedule) < self.steps
                                                 or self.warmup_steps):
            raise bad_arg("schedule", self.schedule,
                          f"a table of at least {self.steps} steps, with no separate warmup",
                          "A table holds every step's multiplier, warmup included.")

        # --- loss, forward, metric ---------------------------------------------------------
        self.forward = forward
        if forward is not None and not callable(forward):
            raise bad_arg("forward", forward, "callable(model, batch) -> loss or (loss, out)",
                          "Pass a function or leave forward unset.")
        self._default_loss = loss is None
        if loss is None:
            loss = nn.CrossEntropyLoss()
        elif isinstance(loss, type) and issubclass(loss, nn.Module):
            loss = loss()
        if not callable(loss):
            raise bad_arg("loss", loss, "a loss module, class or callable(outputs, targets)",
                          "Pass e.g. loss=nn.CrossEntropyLoss().")
        self.loss = loss
        self.evaluate_fn = evaluate
        if evaluate is not None:
            if not callable(evaluate):
                raise bad_arg("evaluate", evaluate, "callable(model, val_data) -> float",
                              "Pass a function or leave evaluate unset.")
            self.metric_name = getattr(evaluate, "__name__", "evaluate")
            self.metric_fn: Callable | None = None
            self.direction = normalize_direction(direction)
        elif isinstance(metric, str):
            if metric not in METRICS:
                raise bad_choice("metric", metric, sorted(METRICS),
                                 "Use metric='accuracy' or 'loss', or pass "
                                 "metric=fn(outputs, targets) with direction=.")
            self.metric_name = metric
            self.metric_fn = None
            self.direction = (normalize_direction(direction) if direction is not None
                              else METRICS[metric])
            if self.direction != METRICS[metric]:
                raise bad_arg("direction", direction, f"{METRICS[metric]!r} for {metric}",
                              "Leave direction unset for a built-in metric.")
        elif callable(metric):
            self.metric_name = getattr(metric, "__name__", "metric")
            self.metric_fn = metric
            self.direction = normalize_direction(direction)
        else:
            raise bad_arg("metric", metric, "'accuracy', 'loss' or a callable",
                          "Pass metric='accuracy'.")

        self._check_by_dry_run()

    # ----------------------------------------------------------------------- validation ----
    @staticmethod
    def _check_device(device: Any) -> torch.device:
        if device is None:
            return torch.device("cuda" if torch.cuda.is_available() else "cpu")
        try:
            dev = torch.device(device)
        except (RuntimeError, TypeError) as e:
            raise bad_arg("device", device, "a torch device such as 'cpu' or 'cuda'",
                          "Pass device='cpu' or 'cuda'.") from e
        if dev.type == "cuda" and not torch.cuda.is_available():
            raise bad_arg("device", device, "a device that exists here",
                          "CUDA is not available on this machine; use device='cpu'.")
        return dev

    @staticmethod
    def _check_choice(name: str, value: Any, choices: tuple[str, ...]) -> str:
        if value not in choices:
            raise bad_choice(name, value, choices)
        return value

    @staticmethod
    def _check_int(name: str, value: Any, low: int) -> int:
        if not isinstance(value, int) or isinstance(value, bool) or value < low:
            raise bad_arg(name, value, f"an integer >= {low}", f"Pass an integer >= {low}.")
        return value

    def _budget(self, epochs: Any, steps: Any, warmup_epochs: Any,
                warmup_steps: Any) -> tuple[float | None, int, int]:
        if epochs is not None and steps is not None:
            raise bad_arg("epochs/steps", (epochs, steps), "one budget, not both",
                          "Pass epochs= or steps=.")
        per_epoch = self.batches_per_epoch // self.accumulation_steps \
            if self.batches_per_epoch > 0 else -1
        if self.batches_per_epoch > 0 and per_epoch == 0:
            raise bad_arg("accumulation_steps", self.accumulation_steps,
                          f"at most the {self.batches_per_epoch} batches of one epoch",
                          "Lower accumulation_steps or use a smaller batch size.")
        if steps is not None:
            total = self._check_int("steps", steps, 1)
        else:
            epochs = 1 if epochs is None else epochs
            if not (_is_num(epochs) and epochs > 0):
                raise bad_arg("epochs", epochs, "a positive number", "Pass e.g. epochs=1.")
            if per_epoch < 0:
                raise bad_arg("epochs", epochs, "steps= for data of unknown length",
                              "The training data has no len(); give the budget as steps=.")
            total = int(round(epochs * per_epoch))
            if total < 1:
                raise bad_arg("epochs", epochs, f"a budget of at least one optimizer step "
                              f"(epochs >= {0.5 / per_epoch:.3g} at {per_epoch} steps per "
                              "epoch)", f"Pass e.g. epochs=1, or steps= (epochs={epochs} "
                              "rounds to 0 steps).")
        if warmup_steps is not None:
            if warmup_epochs:
                raise bad_arg("warmup_epochs/warmup_steps", (warmup_epochs, warmup_steps),
                              "one of them", "Pass warmup_epochs= or warmup_steps=.")
            wu = self._check_int("warmup_steps", warmup_steps, 0)
        else:
            if not (_is_num(warmup_epochs) and warmup_epochs >= 0):
                raise bad_arg("warmup_epochs", warmup_epochs, "a number >= 0",
                              "Pass e.g. warmup_epochs=0.5.")
            if warmup_epochs and per_epoch < 0:
                raise bad_arg("warmup_epochs", warmup_epochs,
                              "warmup_steps= for data of unknown length", "Use warmup_steps=.")
            wu = int(round(warmup_epochs * per_epoch)) if warmup_epochs else 0
            if warmup_epochs and wu == 0:
                raise bad_arg("warmup_epochs", warmup_epochs, "a warmup of at least one step "
                              f"(warmup_epochs >= {0.5 / per_epoch:.3g} at {per_epoch} steps "
                              "per epoch), or 0", "Lengthen it, pass warmup_steps=, or "
                              "pass 0 for no warmup.")
        if wu >= total:
            raise bad_arg("warmup_steps" if warmup_steps is not None else "warmup_epochs",
                          warmup_steps if warmup_steps is not None else warmup_epochs, f"a warmup shorter than the {total} training steps (it is {wu})",
                          "Shorten the warmup or lengthen the budget.")
        return (float(epochs) if steps is None else None), total, wu

    def _check_by_dry_run(self) -> None:
        """One forward on a copy (RNG isolated): the loss is a finite scalar, the outputs
        fit the metric. Fails before any training with a message that says what to do."""
        model = copy.deepcopy(self._template).to(self.device)
        batch = next(iter(self.train.batches(0, 0)), None)
        vbatch = next(iter(self.val.batches(0, 0)), None)
        if batch is None:
            raise bad_arg("train_data", "an empty loader", "at least one batch",
                          "The training data yielded no batch.")
        if vbatch is None:
            raise bad_arg("val_data", "an empty loader", "at least one batch",
                          "The validation data yielded no batch.")
        with torch.random.fork_rng(devices=self._rng_devices()):
            try:
                self.make_optimizer(model, 1e-3)
            except Exception as e:  # user code: report what to do
                raise ConfigError(
                    f"optimizer={_describe_callable(self.optimizer)}: calling it as "
                    f"optimizer(params, lr=...) failed: {e}. Pass an optimizer class or a "
                    "callable(params, lr) returning an optimizer.") from e
            model.train()
            dev_batch = to_device(batch, self.device)
            if self.forward is not None:
                loss, out = checks.wrapped("forward", self.compute_loss, model, dev_batch)
            else:
                out = checks.wrapped("model", self.model_outputs, model, dev_batch)
                if output_loss(out) is None:
                    checks.check_targets(
                        self, output_logits(out), batch_targets(dev_batch),
                        default_loss=self._default_loss,
                        train_targets=checks.all_targets(self.train),
                        val_targets=checks.all_targets(self.val))
                loss, out = checks.wrapped("loss", self.loss_of, out, dev_batch)
            if not isinstance(loss, torch.Tensor) or loss.numel() != 1:
                shape = tuple(loss.shape) if isinstance(loss, torch.Tensor) else type(loss)
                raise bad_arg("loss", shape, "a scalar loss tensor",
                              "The loss must reduce to one number (use reduction='mean').")
            if self.evaluate_fn is None and self.metric_name == "accuracy":
                logits = output_logits(out)
                targets = batch_targets(batch)
                if logits is None or targets is None or logits.dim() < 1:
                    raise bad_arg("metric", "accuracy",
                                  "model outputs with class scores and batches with targets",
                                  "Use metric='loss', or make forward= return "
                                  "(loss, outputs), or pass evaluate=.")

    # ------------------------------------------------------------------------- building ----
    def _rng_devices(self) -> list[int]:
        if self.device.type == "cuda":
            return [self.device.index if self.device.index is not None
                    else torch.cuda.current_device()]
        return []

    def _build_from_factory(self, seed: int) -> nn.Module:
        assert self._factory is not None
        with torch.random.fork_rng(devices=[]):
            torch.manual_seed(seed)
            m = self._factory()
        if not isinstance(m, nn.Module):
            raise bad_arg("model", type(m).__name__, "a factory that returns an nn.Module",
                          "Make the factory return the model.")
        return m.cpu()

    def initial_model(self, seed: int = 0) -> nn.Module:
        """A fresh copy of the initial weights on the task's device."""
        if self.seed_init:
            return self._build_from_factory(seed).to(self.device)
        return copy.deepcopy(self._template).to(self.device)

    def make_optimizer(self, model: nn.Module, lr: float) -> torch.optim.Optimizer:
        params = [p for p in model.parameters() if p.requires_grad]
        opt = self.optimizer(params, lr=lr)
        if not isinstance(opt, torch.optim.Optimizer):
            raise bad_arg("optimizer", _describe_callable(self.optimizer),
                          "a callable returning a torch.optim.Optimizer",
                          "Return the optimizer from your function.")
        return opt

    def run_trial(self, spec: TrialSpec, engine: str = "sequential") -> TrialResult:
        """Train and evaluate one trial (``lrsweep.training.run_trial``): how every engine
        runs a Task's trial on its own. Never raises for the trial's own failure."""
        return run_trial(self, spec, engine)

    # ------------------------------------------------------------------------ compute -----
    def compute_loss(self, model: nn.Module, batch: Batch) -> tuple[torch.Tensor, Any]:
        """Loss (a scalar tensor) and outputs of one batch, in the task's forward form."""
        if self.forward is not None:
            res = self.forward(model, batch)
            if isinstance(res, tuple) and len(res) == 2:
                return res[0], res[1]
            own = output_loss(res)
            return (own, res) if own is not None else (res, None)
        return self.loss_of(self.model_outputs(model, batch), batch)

    @staticmethod
    def model_outputs(model: nn.Module, batch: Batch) -> Any:
        """The model's outputs on a batch: ``model(**dict)``, ``model(*inputs)`` (a tuple's
        last element is the target) or ``model(batch)``."""
        if isinstance(batch, Mapping):
            return model(**batch)
        if isinstance(batch, (tuple, list)):
            return model(*batch) if len(batch) < 2 else model(*batch[:-1])
        return model(batch)

    def loss_of(self, out: Any, batch: Batch) -> tuple[torch.Tensor, Any]:
        """The loss of outputs ``out`` on ``batch``: the model's own, or ``loss(logits,
        targets)``."""
        own = output_loss(out)
        if own is not None:
            return own, out
        targets = batch_targets(batch)
        logits = output_logits(out)
        if targets is None or logits is None:
            raise bad_arg("train_data", type(batch).__name__,
                          "batches (inputs, targets), dicts with 'labels', or a model that "
                          "returns its own loss",
                          "Pass forward=callable(model, batch) -> loss for other shapes.")
        return self.loss(logits, targets), out

    def autocast(self) -> Any:
        if self.precision == "fp32":
            return torch.autocast(self.device.type, enabled=False)
        dtype = torch.bfloat16 if self.precision == "bf16" else torch.float16
        return torch.autocast(self.device.type, dtype=dtype)

    @torch.no_grad()
    def evaluate(self, model: nn.Module) -> float:
        """Validation metric of ``model`` (under ``eval()`` and ``no_grad``)."""
        model.eval()
        with self.autocast():
            if self.evaluate_fn is not None:
                return float(self.evaluate_fn(model, self.val_data))
            total, n = 0.0, 0
            for batch in self.val.batches(0, 0):
                batch = to_device(batch, self.device)
                bs = batch_size_of(batch)
                total += float(self.batch_metric(model, batch)) * bs
                n += bs
        return total / max(n, 1)

    def batch_metric(self, model: nn.Module, batch: Batch) -> torch.Tensor:
        """Mean metric over one validation batch (a 0-d tensor)."""
        loss, out = self.compute_loss(model, batch)
        if self.metric_name == "loss" and self.metric_fn is None:
            return loss.detach().float()
        logits = output_logits(out)
        targets = batch_targets(batch)
        if self.metric_fn is not None:
            return torch.as_tensor(self.metric_fn(logits if logits is not None else out,
                                                  targets), dtype=torch.float32)
        return (logits.argmax(dim=-1) == targets).float().mean()

    # ---------------------------------------------------------------------- description ----
    def protocol(self) -> dict[str, Any]:
        """Description of everything that defines a trial except the LR and seed (see
        ``lrsweep.fingerprint``): two tasks with the same protocol produce the same trials.
        The costly parts (hashes of the weights and of the data, the optimizer probe) are
        computed once per object; tensors are hashed again only if modified in place.
        ``lrsweep.fingerprint.fields(task.protocol())`` gives it as short printable fields."""
        from . import fingerprint as fp

        tmpl = self._template
        trainable = [n for n, p in tmpl.named_parameters() if p.requires_grad]
        optimizer = self._cached("optimizer", (self.optimizer, tmpl), lambda _: (
            fp.optimizer_description(self.make_optimizer, tmpl, self.optimizer)))
        uses_loss = self.forward is None
        return {
            "fingerprint_format": fp.FORMAT,
            "model": type(tmpl).__name__,
            "architecture": repr(tmpl),
            "model_config": self._cached("model", tmpl, fp.model_description),
            "weights_sha256": ("per-seed factory " if self.seed_init else "")
            + self._cached("weights", tmpl, fp.weights_digest),
            "factory": fp.describe(self._factory) if self.seed_init else None,
            "trainable": fp.names_digest(trainable),
            "optimizer": optimizer["class"].rsplit(".", 1)[-1],
            "optimizer_callable": optimizer["callable"],
            "param_groups": optimizer["groups"],
            "train_data": self._data_description("train", self.train),
            "val_data": self._data_description("val", self.val),
            "data_version": fp.describe(self.data_version),
            "steps": self.steps,
            "warmup_steps": self.warmup_steps,
            "schedule": describe(self.schedule),
            "metric": self.metric_name,
            "metric_fn": fp.describe(self.metric_fn) if self.metric_fn is not None else None,
            "evaluate": fp.describe(self.evaluate_fn) if self.evaluate_fn is not None else None,
            "direction": self.direction,
            "loss": fp.describe(self.loss) if uses_loss else None,
            "forward": fp.describe(self.forward) if self.forward is not None else None,
            "precision": self.precision,
            "accumulation_steps": self.accumulation_steps,
            "clip_grad_norm": self.clip_grad_norm,
            "divergence_factor": self.divergence_factor,
            "init_seed": self.init_seed,
            "seed_init": self.seed_init,
        }

    def _data_description(self, key: str, data: Any) -> dict[str, Any]:
        from . import fingerprint as fp

        if isinstance(data, TensorData):  # every byte, hashed once per tensor (cached there)
            return {"kind": "tensors", "n": data.n, "batches": num_batches(data),
                    "batch_size": data.batch_size, "shuffle": data.shuffle,
                    "drop_last": data.drop_last, "tensors": fp.tensors_description(data.tensors)}
        return self._cached(key, data, lambda d: fp.source_description(
            d.source, lambda: next(iter(d.batches(0, 0)), None)))

    def _cached(self, key: str, obj: Any, compute: Callable[[Any], Any]) -> Any:
        cache = self.__dict__.setdefault("_describe_cache", {})
        hit = cache.get(key)
        if hit is None or not _same(hit[0], obj):  # recomputed if an object was replaced
            hit = cache[key] = (obj, compute(obj))
        return copy.deepcopy(hit[1])

    def __repr__(self) -> str:
        return (f"Task(model={type(self._template).__name__}, optimizer="
                f"{_describe_callable(self.optimizer)}, steps={self.steps}, "
                f"warmup_steps={self.warmup_steps}, schedule={self.schedule!r}, "
                f"metric={self.metric_name!r} ({self.direction}), device={self.device})")


def _is_num(v: Any) -> bool:
    return isinstance(v, (int, float)) and not isinstance(v, bool) and math.isfinite(v)


def _same(a: Any, b: Any) -> bool:
    if isinstance(a, tuple) and isinstance(b, tuple):
        return len(a) == len(b) and all(x is y for x, y in zip(a, b))
    return a is b

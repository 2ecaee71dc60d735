"""A PyTorch Lightning module as an lrsweep Task.

>>> task = task_from_lightning(module, datamodule, max_steps=200)   # doctest: +SKIP
>>> lrsweep.sweep(task, lrsweep.log_grid(1e-5, 1e-1, 9))           # doctest: +SKIP

A trial trains a deep copy of the module the way ``lightning.Trainer(max_steps=...)`` with
automatic optimization would (one device): the loss ``training_step`` returns, the optimizer
``configure_optimizers`` builds with every param group's LR scaled so that the first group's
is the trial's LR, a returned scheduler followed at every step (its ``interval`` and
``frequency``, read off the scheduler itself), and the data order the loaders draw from the
global RNG in the same sequence as the Trainer (sanity check, validation at every epoch's
end). The score is the value ``validation_step`` (or ``on_validation_epoch_end``) logs under
``monitor``, reduced over the validation epoch as Lightning does (``reduce_fx``, weighted by
batch size for the mean). ``tests/test_integrations_lightning.py`` checks it against the
Trainer. What cannot be reproduced is refused, naming it.
"""

from __future__ import annotations

import copy
import logging
from collections.abc import Callable, Iterator
from typing import Any

import torch

from ..errors import ConfigError
from ..task import Task
from ..task.data import SeededBatches, stop_persistent_workers
from . import require
from ._lightning_log import Logged, attach, ignore
from ._lightning_schedule import configure, lightning_schedule

log = logging.getLogger("lrsweep")

REFUSED_HOOKS = ("optimizer_step", "optimizer_zero_grad", "backward",
                 "configure_gradient_clipping", "on_before_optimizer_step", "on_after_backward",
                 "on_before_backward")
UNCALLED_HOOKS = ("on_fit_start", "on_train_start", "on_train_epoch_start",
                  "on_train_batch_start", "on_train_batch_end", "on_train_epoch_end")
PRECISIONS = {"32-true": "fp32", "32": "fp32", 32: "fp32", "bf16-mixed": "bf16"}


class _Batch:
    """A batch as the loader gave it, with its index; opaque to lrsweep's device moves
    (the module's own transfer hooks move it)."""

    __slots__ = ("batch", "idx")

    def __init__(self, batch: Any, idx: int) -> None:
        self.batch = batch
        self.idx = idx

    def __iter__(self) -> Iterator[Any]:  # no tensors at the top level: batch size unknown
        return iter(())


class ConfigureOptimizers:
    """The Task's ``optimizer``: the trial copy's own ``configure_optimizers()``."""

    def __call__(self, params: Any, lr: float) -> None:
        raise ConfigError("the optimizer of a Lightning task comes from the module; call "
                          "task.make_optimizer(model, lr).")

    def __repr__(self) -> str:
        return "module.configure_optimizers()"


class LightningTask(Task):
    """A Task whose model is a LightningModule: the optimizer comes from the trial copy's own
    ``configure_optimizers``, and ``self.log`` works outside a Trainer."""

    def make_optimizer(self, model: torch.nn.Module, lr: float) -> torch.optim.Optimizer:
        opt, _ = configure(model)
        base = [g.get("initial_lr", g["lr"]) for g in opt.param_groups]
        if not base[0] > 0:
            raise ConfigError("configure_optimizers: the first param group's LR is "
                              f"{base[0]!r}; lrsweep scales every group by the trial's LR over "
                              "it. Give the first group a positive LR.")
        for g, b in zip(opt.param_groups, base):
            g.pop("initial_lr", None)
            g["lr"] = b * (lr / base[0])
        return opt


def task_from_lightning(
    module: Any,
    datamodule: Any = None,
    *,
    train_dataloaders: Any = None,
    val_dataloaders: Any = None,
    max_steps: int,
    monitor: str = "val_loss",
    mode: str = "min",
    accumulate_grad_batches: int = 1,
    gradient_clip_val: float | None = None,
    precision: str | int = "32-true",
    device: str | None = None,
    name: str | None = None,
) -> LightningTask:
    """The Task that ``lightning.Trainer(max_steps=max_steps, ...).fit(module, ...)`` trains,
    scored as ``trainer.validate(...)[0][monitor]``.

    Args:
        module: the LightningModule (deep-copied; never trained in place).
        datamodule, train_dataloaders, val_dataloaders: the data, as for ``Trainer.fit``
            (else the module's own ``train_dataloader`` / ``val_dataloader``).
        max_steps: optimizer steps per trial.
        monitor, mode: the logged validation value that scores a trial, and whether lower
            (``"min"``) or higher (``"max"``) is better.
        accumulate_grad_batches, gradient_clip_val, precision: the Trainer arguments of that
            name (``precision``: ``"32-true"`` or ``"bf16-mixed"``;
            clipping by norm).
        device: where to train (default: CUDA when available).
    """
    require("lightning", "lightning", "task_from_lightning")
    _check_module(module, precision=precision, max_steps=max_steps, mode=mode)
    template, train, val = _prepared(module, datamodule, train_dataloaders, val_dataloaders)
    n_batches = len(train)
    _check_accumulation(accumulate_grad_batches, n_batches, max_steps)
    schedule = lightning_schedule(template, max_steps, n_batches, accumulate_grad_batches)

    evaluate = LightningEval(val, monitor)
    if val is None:
        raise ConfigError("no validation data: pass val_dataloaders=, a datamodule with "
                          "val_dataloader(), or give the module a val_dataloader(); lrsweep "
                          f"scores a trial by the {monitor!r} it logs in validation.")
    task = LightningTask(
        template,
        ConfigureOptimizers(),
        SeededBatches(_train_batches(train, val), n_batches, name="lightning train",
                      source=train),
        SeededBatches(lambda seed, epoch: (_Batch(b, i) for i, b in enumerate(val)),
                      _len(val), name="lightning val", source=val),
        forward=LightningStep(),
        evaluate=evaluate,
        direction=mode,
        steps=max_steps,
        schedule=schedule,
        precision=PRECISIONS[precision],
        accumulation_steps=accumulate_grad_batches,
        clip_grad_norm=gradient_clip_val,
        device=device,
        name=name or f"lightning-{type(module).__name__}",
    )
    task.metric_name = monitor
    evaluate.check(task)
    return task


def _check_module(module: Any, *, precision: Any, max_steps: Any, mode: str) -> None:
    """Refuse what a trial cannot train as the Trainer would, naming it."""
    import lightning.pytorch as pl
    from lightning.pytorch.utilities.model_helpers import is_overridden

    if not isinstance(module, pl.LightningModule):
        raise ConfigError(f"module={type(module).__name__}: expected a lightning."
                          "LightningModule. Pass your module.")
    if not module.automatic_optimization:
        raise ConfigError("module.automatic_optimization=False: manual optimization runs its "
                          "own loop, which lrsweep cannot scale. Sweep with automatic "
                          "optimization, or use lrsweep.sweep(objective) with your loop.")
    for hook in REFUSED_HOOKS:
        if is_overridden(hook, module, parent=pl.LightningModule):
            raise ConfigError(f"module overrides {hook}(): lrsweep does not call it, so the "
                              "trial would not train as the Trainer does. Remove the override "
                              "for the sweep.")
    ignored = [h for h in UNCALLED_HOOKS if is_overridden(h, module, parent=pl.LightningModule)]
    if ignored:
        log.warning("task_from_lightning: the module overrides %s, which lrsweep does not call "
                    "during training", ", ".join(ignored))
    if precision not in PRECISIONS:
        raise ConfigError(f"precision={precision!r}: expected one of {sorted(map(str, PRECISIONS))}. "
                          "Pass precision='32-true' or 'bf16-mixed'.")
    if not isinstance(max_steps, int) or isinstance(max_steps, bool) or max_steps < 1:
        raise ConfigError(f"max_steps={max_steps!r}: expected an integer >= 1. Pass the "
                          "optimizer steps of one trial, e.g. max_steps=200.")
    if mode not in ("min", "max"):
        raise ConfigError(f"mode={mode!r}: expected 'min' or 'max'. Say whether a lower or "
                          "higher monitor value is better.")


def _prepared(module: Any, datamodule: Any, train_dataloaders: Any,
              val_dataloaders: Any) -> tuple[Any, Any, Any]:
    """``(template, train, val)``: the module's copy set up, and its loaders, in the order
    ``Trainer.fit`` prepares them."""
    import lightning.pytorch as pl
    from lightning.pytorch.utilities.model_helpers import is_overridden

    template = copy.deepcopy(module).cpu()
    # Trainer.fit's order: the datamodule's prepare_data and setup, the module's setup and
    # configure_model, then the loaders
    if datamodule is not None:
        if train_dataloaders is not None or val_dataloaders is not None:
            raise ConfigError("datamodule= and train_dataloaders=/val_dataloaders= were both "
                              "given: pass one source of data, as for Trainer.fit.")
        datamodule.prepare_data()
        datamodule.setup("fit")
    if is_overridden("setup", template, parent=pl.LightningModule):
        template.setup("fit")
    if is_overridden("configure_model", template, parent=pl.LightningModule):
        template.configure_model()
    train, val = _loaders(template, datamodule, train_dataloaders, val_dataloaders)
    return template, train, val


def _check_accumulation(accumulate_grad_batches: int, n_batches: int, max_steps: int) -> None:
    if accumulate_grad_batches < 1 or accumulate_grad_batches > n_batches:
        raise ConfigError(f"accumulate_grad_batches={accumulate_grad_batches}: expected 1.."
                          f"{n_batches} (the batches of an epoch).")
    per_epoch = n_batches // accumulate_grad_batches
    if n_batches % accumulate_grad_batches and max_steps > per_epoch:
        raise ConfigError(f"accumulate_grad_batches={accumulate_grad_batches}: the {n_batches} "
                          "batches of an epoch leave a short last step, which Lightning takes "
                          "and lrsweep does not. Pick a value that divides the epoch, or a "
                          "max_steps within the first epoch.")


def _train_batches(train: Any, val: Any) -> Callable[[int, int], Iterator[_Batch]]:
    """The training epochs' batches, the loaders started in the Trainer's sequence."""

    def batches(seed: int, epoch: int) -> Iterator[_Batch]:
        # the loaders draw their shuffling seeds from the global RNG when they start; start
        # them in the Trainer's sequence: from the second epoch on, the validation that
        # closed the previous epoch, then the training epoch (the sanity check runs under
        # isolate_rng, so it draws nothing that training sees)
        if epoch == 0:  # each trial starts new workers: their RNG must not run on from
            # the previous trial (contract 1); within a trial they persist, as in Lightning
            stop_persistent_workers(train)
            stop_persistent_workers(val)
        if val is not None and epoch > 0:
            next(iter(val), None)
        for i, b in enumerate(train):
            yield _Batch(b, i)

    return batches


def _len(loader: Any) -> int:
    try:
        return len(loader)
    except TypeError:
        return -1


def _loaders(module: Any, datamodule: Any, train: Any, val: Any) -> tuple[Any, Any]:
    from lightning.pytorch.utilities.model_helpers import is_overridden

    if datamodule is not None:
        train = datamodule.train_dataloader()
        val = datamodule.val_dataloader() if is_overridden("val_dataloader", datamodule) else None
    if train is None and is_overridden("train_dataloader", module):
        train = module.train_dataloader()
    if val is None and is_overridden("val_dataloader", module):
        val = module.val_dataloader()
    if train is None:
        raise ConfigError("no training data: pass train_dataloaders=, a datamodule, or give "
                          "the module a train_dataloader().")
    for name, loader in (("train_dataloaders", train), ("val_dataloaders", val)):
        if isinstance(loader, (list, tuple, dict)) and not isinstance(loader, torch.Tensor):
            raise ConfigError(f"{name}: several loaders are not supported; pass one DataLoader.")
    if _len(train) <= 0:
        raise ConfigError("train_dataloaders: a loader with a length (and at least one batch) "
                          "is needed to follow Lightning's epochs.")
    return train, val


def _transfer(model: Any, batch: Any) -> Any:
    device = next(model.parameters()).device
    batch = model.on_before_batch_transfer(batch, 0)
    batch = model.transfer_batch_to_device(batch, device, 0)
    return model.on_after_batch_transfer(batch, 0)


class LightningStep:
    """``forward=`` of the Task: ``training_step``'s loss (a tensor, or ``["loss"]``)."""

    def __call__(self, model: Any, item: _Batch) -> tuple[torch.Tensor, None]:
        from lightning.pytorch.utilities.signature_utils import is_param_in_hook_signature

        if model.__dict__.get("log") is not ignore:
            attach(model, None)
        batch = _transfer(model, item.batch)
        if is_param_in_hook_signature(model.training_step, "batch_idx", min_args=2):
            out = model.training_step(batch, item.idx)
        else:
            out = model.training_step(batch)
        if isinstance(out, dict):
            if "loss" not in out:
                raise ConfigError("training_step returned a dict without 'loss'; return the "
                                  "loss or {'loss': loss, ...}.")
            out = out["loss"]
        if not isinstance(out, torch.Tensor):
            raise ConfigError(f"training_step returned {type(out).__name__}: lrsweep needs the "
                              "loss tensor of every batch (returning None skips a batch in "
                              "Lightning, which lrsweep does not reproduce).")
        return out, None


class LightningEval:
    """``evaluate=`` of the Task: one validation epoch, the ``monitor`` value reduced."""

    def __init__(self, val: Any, monitor: str) -> None:
        self.val = val
        self.monitor = monitor
        self.__name__ = monitor

    def run(self, model: Any, limit: int | None = None) -> Logged:
        from lightning.pytorch.utilities.signature_utils import is_param_in_hook_signature

        logged = Logged()
        attach(model, logged)
        model.eval()
        model.on_validation_epoch_start()
        for i, b in enumerate(self.val):
            if limit is not None and i >= limit:
                break
            batch = _transfer(model, b)
            logged.batch = batch
            if is_param_in_hook_signature(model.validation_step, "batch_idx", min_args=2):
                model.validation_step(batch, i)
            else:
                model.validation_step(batch)
        model.on_validation_epoch_end()
        return logged

    @torch.no_grad()
    def __call__(self, model: Any, val_data: Any = None) -> float:
        logged = self.run(model)
        try:
            return logged.value(self.monitor)
        finally:
            attach(model, None)

    @torch.no_grad()
    def check(self, task: Task) -> None:
        """On a copy, one validation batch: the monitor is logged."""
        with torch.random.fork_rng(devices=task._rng_devices()):
            model = task.initial_model(0)
            with task.autocast():
                logged = self.run(model, limit=1)
        if self.monitor not in logged.values:
            raise ConfigError(f"monitor={self.monitor!r}: validation logged "
                              f"{sorted(logged.values) or 'nothing'}. Pass the name your "
                              "validation_step logs with self.log.")

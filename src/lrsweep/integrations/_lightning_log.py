"""``self.log`` / ``self.log_dict`` of a LightningModule outside a Trainer: the values a
validation epoch logs, reduced as Lightning's ``_ResultMetric`` reduces them (``reduce_fx``,
the mean weighted by batch size), and silenced while training."""

from __future__ import annotations

from typing import Any

import torch

from ..errors import ConfigError


class Logged:
    """``self.log`` / ``self.log_dict`` of a module outside a Trainer: epoch-level values
    reduced as Lightning's ``_ResultMetric`` does."""

    def __init__(self) -> None:
        self.values: dict[str, Any] = {}
        self.batch: Any = None

    def log(self, name: str, value: Any, prog_bar: bool = False, logger: bool | None = None,
            on_step: bool | None = None, on_epoch: bool | None = None, reduce_fx: Any = "mean",
            enable_graph: bool = False, sync_dist: bool = False, sync_dist_group: Any = None,
            add_dataloader_idx: bool = True, batch_size: int | None = None,
            metric_attribute: str | None = None, rank_zero_only: bool = False) -> None:
        if on_epoch is False:
            self.values.setdefault(name, ("step-only", None, None))
            return
        from torchmetrics import Metric

        if isinstance(value, Metric):
            self.values[name] = ("metric", value, None)
            return
        fx = getattr(reduce_fx, "__name__", reduce_fx)
        fx = {"mean": "mean", "sum": "sum", "max": "max", "amax": "max", "min": "min",
              "amin": "min"}.get(str(fx), fx)
        v = torch.as_tensor(value).detach()
        if not torch.is_floating_point(v) or v.dtype not in (torch.float32, torch.float64):
            v = v.to(torch.get_default_dtype())
        v = v.reshape(())
        kind, acc, count = self.values.get(name, (fx, None, 0))
        if fx == "mean":
            if batch_size is None:
                from lightning.pytorch.utilities.data import extract_batch_size

                batch_size = extract_batch_size(self.batch)
            acc = v * batch_size if acc is None else acc + v * batch_size
            count += batch_size
        elif fx == "sum":
            acc = v if acc is None else acc + v
        elif fx in ("max", "min"):
            acc = v if acc is None else (torch.maximum if fx == "max" else torch.minimum)(acc, v)
        else:
            raise ConfigError(f"self.log({name!r}, reduce_fx={reduce_fx!r}): lrsweep reduces "
                              "'mean', 'sum', 'max' and 'min'. Use one of them.")
        self.values[name] = (fx, acc, count)
        if on_step:  # Lightning keeps the epoch value under both names
            self.values[f"{name}_epoch"] = self.values[name]

    def log_dict(self, dictionary: dict[str, Any], prog_bar: bool = False,
                 logger: bool | None = None, on_step: bool | None = None,
                 on_epoch: bool | None = None, reduce_fx: Any = "mean", **kwargs: Any) -> None:
        for k, v in dictionary.items():
            self.log(k, v, prog_bar, logger, on_step, on_epoch, reduce_fx,
                     batch_size=kwargs.get("batch_size"))


    def value(self, name: str) -> float:
        if name not in self.values:
            raise KeyError(name)
        kind, acc, count = self.values[name]
        if kind == "step-only":
            raise ConfigError(f"monitor={name!r} is logged with on_epoch=False, so Lightning "
                              "has no epoch value for it. Log it with on_epoch=True.")
        if kind == "metric":
            out = float(acc.compute())
            acc.reset()
            return out
        return float(acc / count) if kind == "mean" else float(acc)


def ignore(*args: Any, **kwargs: Any) -> None:
    """``self.log`` while training: Lightning's training-time logs do not change the run."""


def attach(model: torch.nn.Module, logged: Logged | None) -> None:
    model.__dict__["log"] = logged.log if logged is not None else ignore
    model.__dict__["log_dict"] = logged.log_dict if logged is not None else ignore

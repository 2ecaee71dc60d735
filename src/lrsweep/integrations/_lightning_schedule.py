"""A LightningModule's ``configure_optimizers`` as lrsweep follows it: parsed as Lightning
parses it (one optimizer, at most one scheduler), and the scheduler's LR multiplier at every
optimizer step read off the scheduler itself, stepped as Lightning steps it."""

from __future__ import annotations

import copy
import math
from typing import Any

import torch

from ..errors import ConfigError
from ..train.schedule import Table


def configure(model: Any) -> tuple[torch.optim.Optimizer, Any]:
    """``configure_optimizers`` parsed as Lightning parses it: the one optimizer and the
    scheduler config (or None)."""
    from lightning.pytorch.core.optimizer import (
        _configure_optimizers,
        _configure_schedulers_automatic_opt,
    )

    conf = model.configure_optimizers()
    if conf is None:
        raise ConfigError("configure_optimizers returned None: there is nothing to sweep. "
                          "Return an optimizer.")
    optimizers, schedulers, monitor = _configure_optimizers(conf)
    if len(optimizers) != 1:
        raise ConfigError(f"configure_optimizers returned {len(optimizers)} optimizers: "
                          "automatic optimization trains one. Return one optimizer.")
    configs = _configure_schedulers_automatic_opt(schedulers, monitor)
    if len(configs) > 1:
        raise ConfigError(f"configure_optimizers returned {len(configs)} schedulers; lrsweep "
                          "follows one. Combine them (e.g. SequentialLR).")
    return optimizers[0], (configs[0] if configs else None)


def lightning_schedule(template: Any, steps: int, n_batches: int, accum: int) -> Table | str:
    """The multiplier of every optimizer step, read off the module's own scheduler stepped
    as Lightning steps it (``interval``, ``frequency``, ``lr_scheduler_step``)."""
    _, config = configure(copy.deepcopy(template))
    if config is None:
        return "constant"
    if config.reduce_on_plateau:
        raise ConfigError("configure_optimizers: ReduceLROnPlateau follows the validation "
                          "metric, which lrsweep measures only at the end. Use a fixed "
                          "schedule for the sweep.")
    name = type(config.scheduler).__name__

    def run(scale: float) -> list[list[float]]:
        model = copy.deepcopy(template)
        opt, cfg = configure(model)
        sched = cfg.scheduler
        base = [g.get("initial_lr", g["lr"]) * scale for g in opt.param_groups]
        for g, b in zip(opt.param_groups, base):
            g["lr"] = g["lr"] * scale
            if "initial_lr" in g:
                g["initial_lr"] = b
        if hasattr(sched, "base_lrs"):
            sched.base_lrs = [b * scale for b in sched.base_lrs]
        out: list[list[float]] = []
        epoch = 0
        while len(out) < steps:
            for b in range(n_batches):
                if (b + 1) % accum and b != n_batches - 1:
                    continue  # accumulating: no optimizer step on this batch
                out.append([g["lr"] / bl for g, bl in zip(opt.param_groups, base)])
                if len(out) == steps:
                    return out
                opt.step()  # no gradients: nothing moves
                if cfg.interval == "step" and (b + 1) % cfg.frequency == 0:
                    model.lr_scheduler_step(sched, None)
            if cfg.interval == "epoch" and (epoch + 1) % cfg.frequency == 0:
                model.lr_scheduler_step(sched, None)
            epoch += 1
        return out

    with torch.random.fork_rng(devices=[]):
        at_one, scaled = run(1.0), run(1e-3)
    for k, (a, s) in enumerate(zip(at_one, scaled)):
        if any(not math.isclose(x, a[0], rel_tol=1e-9, abs_tol=1e-15) for x in a):
            raise ConfigError(f"configure_optimizers: {name} gives the param groups different "
                              f"curves (step {k}: {a}); lrsweep applies one multiplier to all. "
                              "Use one curve for every group.")
        if not math.isclose(a[0], s[0], rel_tol=1e-6, abs_tol=1e-15):
            raise ConfigError(f"configure_optimizers: {name}'s LR at step {k} does not scale "
                              "with the optimizer's LR (an absolute bound such as eta_min, "
                              "max_lr or a cyclic range), so trials at different LRs would not "
                              "share one schedule. Express it relative to the LR for the sweep.")
    return Table(tuple(row[0] for row in at_one),
                 name=f"lightning {name} (interval={config.interval}, "
                      f"frequency={config.frequency})")

"""Carry an optimal LR from a small sweep to the target scale.

- ``transfer(optimum, base={...}, target={...})``: batch (linear / sqrt / noise-scale: the
  default with ``b_noise=``; each with its error calibrated on real grids), width (muP),
  depth (Depth-muP, CompleteP) and horizon rules, with a plain-text account.
- ``batch_law(results)``: LR vs batch fitted from the user's own sweeps at 2+ batch sizes.
- ``fit_law(results, x="width")``: a power law fitted across sweeps at several scales, with
  an interval set by the optima's scatter about it; ``law.predict(x)``.
- ``estimate_noise_scale(task)``: the gradient noise scale (McCandlish et al. 2018).
- ``mup_param_groups(model, base_model)``: optimizer param groups with muP per-layer LR
  multipliers, and the readout / attention scaling the model must apply.
- ``depth_param_groups(model, base_depth=...)``: Depth-muP / CompleteP param groups (the
  hidden blocks' LR scaled, embeddings / readout / final norm not) and the residual-branch
  multiplier the model must apply.
- ``mup_optimizer`` / ``depth_optimizer``: an ``optimizer=`` for ``lrsweep.Task`` (a
  ``MuOptimizer`` / ``DepthOptimizer``, both ``ScaledOptimizer``) that builds your optimizer
  class with those multipliers.
- ``confirm(task_at_target, predicted)``: a cheap sweep around a prediction that says
  whether the measured optimum falls inside the predicted interval.

The rules and laws are pure numpy; ``mup``, ``depth`` and ``noise`` touch torch models. The
names load on first use (PEP 562), so reading a law (``lrsweep report``) imports no torch.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

# public name -> the submodule that defines it
_LAZY = {
    "BATCH_RULES": "batch",
    "Confirmation": "confirmation",
    "DepthGroups": "depth",
    "DepthOptimizer": "depth",
    "Law": "laws",
    "MuOptimizer": "mup",
    "MuReadout": "mup",
    "MupGroups": "mup",
    "NoiseScale": "noise",
    "Prediction": "laws",
    "ScaledOptimizer": "scaled_optimizer",
    "Step": "step",
    "Transferred": "rules",
    "attention_scale": "mup",
    "base_shapes": "mup",
    "batch_law": "batch",
    "batch_rule": "batch",
    "block_lr_multiplier": "depth_rules",
    "branch_multiplier": "depth_rules",
    "confirm": "confirmation",
    "depth_optimizer": "depth",
    "depth_param_groups": "depth",
    "depth_rule": "depth_rules",
    "estimate_noise_scale": "noise",
    "fit_law": "laws",
    "horizon_rule": "rules",
    "mup_optimizer": "mup",
    "mup_param_groups": "mup",
    "mup_readout_": "mup",
    "optimizer_family": "family",
    "rule_error": "batch",
    "transfer": "rules",
    "width_rule": "rules",
}

__all__ = [
    "BATCH_RULES",
    "Confirmation",
    "DepthGroups",
    "DepthOptimizer",
    "Law",
    "MuOptimizer",
    "MuReadout",
    "MupGroups",
    "NoiseScale",
    "Prediction",
    "ScaledOptimizer",
    "Step",
    "Transferred",
    "attention_scale",
    "base_shapes",
    "batch_law",
    "batch_rule",
    "block_lr_multiplier",
    "branch_multiplier",
    "confirm",
    "depth_optimizer",
    "depth_param_groups",
    "depth_rule",
    "estimate_noise_scale",
    "fit_law",
    "horizon_rule",
    "mup_optimizer",
    "mup_param_groups",
    "mup_readout_",
    "optimizer_family",
    "rule_error",
    "transfer",
    "width_rule",
]

if TYPE_CHECKING:  # for type checkers and IDEs; at run time the names load lazily
    from .batch import BATCH_RULES, batch_law, batch_rule, rule_error
    from .confirmation import Confirmation, confirm
    from .depth import DepthGroups, DepthOptimizer, depth_optimizer, depth_param_groups
    from .depth_rules import block_lr_multiplier, branch_multiplier, depth_rule
    from .family import optimizer_family
    from .laws import Law, Prediction, fit_law
    from .mup import (
        MuOptimizer,
        MupGroups,
        MuReadout,
        attention_scale,
        base_shapes,
        mup_optimizer,
        mup_param_groups,
        mup_readout_,
    )
    from .noise import NoiseScale, estimate_noise_scale
    from .rules import Transferred, horizon_rule, transfer, width_rule
    from .scaled_optimizer import ScaledOptimizer
    from .step import Step


def __getattr__(name: str) -> Any:
    module = _LAZY.get(name)
    if module is None:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    value = getattr(importlib.import_module(f".{module}", __name__), name)
    globals()[name] = value  # later look-ups skip __getattr__
    return value


def __dir__() -> list[str]:
    return sorted(set(globals()) | set(_LAZY))

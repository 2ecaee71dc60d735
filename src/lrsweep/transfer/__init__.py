"""Carry an optimal LR from a small sweep to the target scale.

- ``transfer(optimum, base={...}, target={...})``: batch (linear / sqrt / noise-scale),
  width (muP), depth (Depth-muP, CompleteP) and horizon rules, with a plain-text account.
- ``fit_law(results, x="width")``: a power law fitted across sweeps at several scales, with
  a bootstrap interval; ``law.predict(x)``.
- ``estimate_noise_scale(task)``: the gradient noise scale (McCandlish et al. 2018).
- ``mup_param_groups(model, base_model)``: optimizer param groups with muP per-layer LR
  multipliers, and the readout / attention scaling the model must apply.
- ``depth_param_groups(model, base_depth=...)``: Depth-muP / CompleteP param groups (the
  hidden blocks' LR scaled, embeddings / readout / final norm not) and the residual-branch
  multiplier the model must apply.
- ``confirm(task_at_target, predicted)``: a cheap sweep around a prediction that says
  whether the measured optimum falls inside the predicted interval.

The rules and laws are pure numpy; ``mup``, ``depth`` and ``noise`` touch torch models.
"""

from __future__ import annotations

from .confirmation import Confirmation, confirm
from .depth import (
    DepthGroups,
    block_lr_multiplier,
    branch_multiplier,
    depth_optimizer,
    depth_param_groups,
)
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
from .rules import (
    Step,
    Transferred,
    batch_rule,
    depth_rule,
    horizon_rule,
    optimizer_family,
    transfer,
    width_rule,
)

__all__ = [
    "Confirmation",
    "DepthGroups",
    "Law",
    "MuOptimizer",
    "MuReadout",
    "MupGroups",
    "NoiseScale",
    "Prediction",
    "Step",
    "Transferred",
    "attention_scale",
    "base_shapes",
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
    "transfer",
    "width_rule",
]

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
    "Law": "laws",
    "MuOptimizer": "mup",
    "MuReadout": "mup",
    "MupGroups": "mup",
    "NoiseScale": "noise",
    "Prediction": "laws",
    "Step": "rules",
    "Transferred": "rules",
    "attention_scale": "mup",
    "base_shapes": "mup",
    "batch_law": "batch",
    "batch_rule": "batch",
    "block_lr_multiplier": "depth",
    "branch_multiplier": "depth",
    "confirm": "confirmation",
    "depth_optimizer": "depth",
    "depth_param_groups": "depth",
    "depth_rule": "rules",
    "estimate_noise_scale": "noise",
    "fit_law": "laws",
    "horizon_rule": "rules",
    "mup_optimizer": "mup",
    "mup_param_groups": "mup",
    "mup_readout_": "mup",
    "optimizer_family": "rules",
    "rule_error": "batch",
    "transfer": "rules",
    "width_rule": "rules",
}

__all__ = [
    "BATCH_RULES",
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
        depth_rule,
        horizon_rule,
        optimizer_family,
        transfer,
        width_rule,
    )


def __getattr__(name: str) -> Any:
    module = _LAZY.get(name)
    if module is None:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    value = getattr(importlib.import_module(f".{module}", __name__), name)
    globals()[name] = value  # later look-ups skip __getattr__
    return value


def __dir__() -> list[str]:
    return sorted(set(globals()) | set(_LAZY))

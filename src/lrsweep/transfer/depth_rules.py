"""The depth rules, Depth-muP and CompleteP, as numbers: the branch exponent ``alpha``, the
hidden blocks' LR factor and the residual-branch multiplier, and ``depth_rule``, the step
``transfer()`` applies for a change of depth. Pure Python; the param groups that apply the
factor to a torch model are in ``lrsweep.transfer.depth``.

With each residual branch multiplied by ``(L'/L)^-alpha``, the global LR is unchanged and
the hidden blocks' LR is multiplied by ``(L'/L)^(alpha - 1)`` for Adam, ``(L'/L)^(2 alpha -
1)`` for SGD. ``depth-mup`` is ``alpha = 1/2`` (Yang et al. 2023, arXiv 2310.02244; Bordelon
et al. 2023, arXiv 2309.16620), ``completep`` is ``alpha = 1`` (Dey et al. 2025, arXiv
2505.01618).
"""

from __future__ import annotations

import math
from typing import Any

from ..errors import bad_arg
from .family import optimizer_family
from .step import Step, closed_step, scale_ratio

DEPTH_RULES = {"depth-mup": 0.5, "completep": 1.0}


def depth_alpha(rule: Any) -> float:
    """The branch exponent ``alpha`` of a depth rule name (or a number in [0, 1])."""
    if isinstance(rule, str) and rule in DEPTH_RULES:
        return DEPTH_RULES[rule]
    if isinstance(rule, (int, float)) and not isinstance(rule, bool) and 0 <= rule <= 1:
        return float(rule)
    raise bad_arg("rule", rule, f"one of {tuple(DEPTH_RULES)} or an alpha in [0, 1]",
                  "Use 'depth-mup' (branch x depth^-1/2) or 'completep' (branch x 1/depth).")


def block_lr_multiplier(base_depth: float, depth: float, rule: Any = "depth-mup",
                        optimizer: Any = "adam") -> float:
    """The hidden blocks' LR factor: ``(depth / base_depth)^(alpha - 1)`` (Adam family) or
    ``^(2 alpha - 1)`` (SGD).

    >>> block_lr_multiplier(4, 16, "depth-mup"), block_lr_multiplier(4, 16, "completep")
    (0.5, 1.0)
    """
    alpha = depth_alpha(rule)
    e = alpha - 1 if optimizer_family(optimizer) == "adam" else 2 * alpha - 1
    return (float(depth) / float(base_depth)) ** e


def branch_multiplier(depth: float, base_depth: float, rule: Any = "depth-mup") -> float:
    """The residual-branch multiplier the model applies: ``(depth / base_depth)^-alpha``
    (1 at the base depth).

    >>> branch_multiplier(16, 4, "depth-mup"), branch_multiplier(16, 4, "completep")
    (0.5, 0.25)
    """
    return (float(depth) / float(base_depth)) ** -depth_alpha(rule)


def depth_rule(base: float, target: float, rule: str = "depth-mup", *,
               optimizer: Any = "adam") -> Step:
    """A depth change when each residual branch is multiplied by ``(L'/L)^-alpha``: the
    global LR is unchanged (factor 1); the hidden blocks' LR is multiplied by
    ``(L'/L)^(alpha - 1)`` (Adam) or ``(L'/L)^(2 alpha - 1)`` (SGD), in
    ``hyper["block_lr_mult"]``, which ``depth_param_groups`` applies to the blocks only.

    >>> step = depth_rule(4, 16)
    >>> step.factor, round(step.hyper["block_lr_mult"], 6)
    (1.0, 0.5)
    """
    if rule not in DEPTH_RULES:
        raise bad_arg("rules['depth']", rule, f"one of {tuple(DEPTH_RULES)}, an exponent or a "
                      "Law", "Use 'depth-mup' (branch x depth^-1/2) or 'completep' "
                      "(branch x 1/depth).")
    k = scale_ratio("depth", base, target)
    alpha = DEPTH_RULES[rule]
    f = block_lr_multiplier(base, target, rule, optimizer)
    e = math.log(f) / math.log(k) if k != 1 else 0.0
    who = "Depth-muP (Yang et al. 2023)" if rule == "depth-mup" else "CompleteP (Dey et al. 2025)"
    return closed_step("depth", rule, base, target, 1.0,
                       f"depth {base:g} -> {target:g}: {who}: global lr unchanged; hidden "
                       f"blocks' lr x ({target:g}/{base:g})^{e:.3g} = x{f:.4g} via "
                       f"depth_param_groups(model, base_depth={base:g}, rule={rule!r}) "
                       f"(embeddings, readout, final norm x1); the model must multiply each "
                       f"residual branch by ({target:g}/{base:g})^-{alpha:g}",
                       {"block_lr_mult": f})

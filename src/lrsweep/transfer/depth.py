"""Depth-muP and CompleteP: optimizer param groups that scale the LR of the hidden (residual)
blocks only, so that an LR tuned at a shallow base depth holds at any depth.

With each residual branch multiplied by ``(depth / base_depth)^-alpha`` in the model, the
hidden blocks' LR is multiplied by ``(depth / base_depth)^(alpha - 1)`` for Adam-family
optimizers and ``(depth / base_depth)^(2 alpha - 1)`` for SGD; embeddings, the readout and
the final norm keep the base LR. ``depth-mup`` is ``alpha = 1/2`` (Yang et al. 2023, arXiv
2310.02244; Bordelon et al. 2023, arXiv 2309.16620): block LR x ``(L/L0)^-1/2`` under Adam;
``completep`` is ``alpha = 1`` (Dey et al. 2025, arXiv 2505.01618): block LR unchanged
under Adam, and Adam's ``eps`` x ``(L/L0)^-alpha`` (pass ``eps=`` to have it set). Every
parameter inside a block follows the block, its biases and norms included, as CompleteP's
reference implementation groups them. Weight decay is left as given (``depth_param_groups``
combines with muP's width multipliers through ``mup=``, which bring their own).

What the model must do besides: multiply the output of every residual branch by
``branch_multiplier(depth, base_depth, rule)`` before adding it to the residual stream
(``x = x + m * block(x)``); at the base depth the multiplier is 1 and the model is the
standard one.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from typing import Any

import torch
from torch import nn

from ..errors import bad_arg
from ..text import format_table
from .depth_rules import block_lr_multiplier, branch_multiplier, depth_alpha
from .scaled_optimizer import ScaledOptimizer

__all__ = ["DepthEntry", "DepthGroups", "DepthOptimizer", "block_lr_multiplier",
           "branch_multiplier", "classify_depth", "depth_optimizer", "depth_param_groups",
           "find_blocks"]


@dataclass(frozen=True)
class DepthEntry:
    """How one parameter is treated: inside a residual block or outside, and its LR and
    weight-decay multipliers (the width ones included when combined with muP)."""

    name: str
    shape: tuple[int, ...]
    kind: str  # "block" | "outside"
    lr_mult: float
    wd_mult: float


@dataclass
class DepthGroups:
    """Param groups for any torch optimizer (iterate it), each with ``lr = lr x lr_mult``;
    ``entries`` say how every parameter was treated; ``block_lr_mult`` is the depth factor
    of the hidden blocks and ``branch_mult`` the residual multiplier the model must apply."""

    groups: list[dict[str, Any]]
    entries: list[DepthEntry]
    blocks: str
    depth: int
    base_depth: int
    alpha: float
    block_lr_mult: float
    branch_mult: float
    eps_mult: float
    instructions: list[str] = field(default_factory=list)

    def __iter__(self) -> Iterator[dict[str, Any]]:
        return iter(self.groups)

    def __len__(self) -> int:
        return len(self.groups)

    def table(self) -> str:
        rows = [("parameter", "shape", "kind", "lr x", "wd x")]
        rows += [(e.name, "x".join(map(str, e.shape)), e.kind, f"{e.lr_mult:.4g}",
                  f"{e.wd_mult:.4g}") for e in self.entries]
        return format_table(rows, align="lllll", rule=False)


def find_blocks(model: nn.Module, depth: int | None = None) -> str:
    """The name of the container (``nn.ModuleList`` / ``nn.Sequential``) that holds the
    residual blocks: the outermost one whose children are all of one module type that has
    parameters (``depth`` of them, if given). Raises if there is not exactly one."""
    found = []
    for name, mod in model.named_modules():
        if not isinstance(mod, (nn.ModuleList, nn.Sequential)) or not len(mod):
            continue
        kids = list(mod.children())
        if len({type(k) for k in kids}) != 1 or not any(True for _ in kids[0].parameters()):
            continue
        if isinstance(kids[0], (nn.Linear, nn.Embedding, nn.LayerNorm)) or not list(
                kids[0].children()):
            continue  # a stack of plain layers, not of blocks
        if depth is not None and len(kids) != depth:
            continue
        found.append(name)
    outer = [n for n in found if not any(n.startswith(o + ".") for o in found if o != n)]
    if len(outer) != 1:
        what = (f"candidates {outer}" if outer else "no container of identical blocks"
                + (f" with {depth} children" if depth is not None else ""))
        raise bad_arg("blocks", None, "the name of the module holding the residual blocks",
                      f"Found {what}; pass blocks= (e.g. blocks='transformer.h'), the name "
                      "in model.named_modules() of the ModuleList or Sequential of blocks.")
    return outer[0]


def _positive_int(name: str, v: Any) -> int:
    if isinstance(v, bool) or not isinstance(v, int) or v < 1:
        raise bad_arg(name, v, "a positive integer", f"Pass {name}= as a number of blocks.")
    return v


def classify_depth(model: nn.Module, *, base_depth: int, depth: int | None = None,
                   rule: Any = "depth-mup", optimizer: Any = "adam",
                   blocks: str | None = None, mup: Any = None) -> tuple[list[DepthEntry],
                                                                     str, int, float]:
    """``(entries, blocks, depth, block_lr_mult)``: one ``DepthEntry`` per trainable
    parameter (the muP multipliers of ``mup`` folded in)."""
    if not isinstance(model, nn.Module):
        raise bad_arg("model", type(model).__name__, "an nn.Module", "Pass the model.")
    base_depth = _positive_int("base_depth", base_depth)
    if blocks is None:
        blocks = find_blocks(model, depth)
    try:
        container = model.get_submodule(blocks)
    except AttributeError as e:
        raise bad_arg("blocks", blocks, "a module name in model.named_modules()",
                      "Pass the name of the ModuleList or Sequential of blocks.") from e
    n_blocks = len(list(container.children()))
    depth = n_blocks if depth is None else _positive_int("depth", depth)
    if depth != n_blocks:
        raise bad_arg("depth", depth, f"the {n_blocks} blocks of {blocks!r}",
                      "Leave depth= unset to count the blocks, or pass the right blocks=.")
    mult = block_lr_multiplier(base_depth, depth, rule, optimizer)
    width = {e.name: e for e in mup.entries} if mup is not None else {}
    prefix = blocks + "."
    entries = []
    for name, p in model.named_parameters():
        if not p.requires_grad:
            continue
        if mup is not None and name not in width:
            raise bad_arg("mup", name, "muP entries for every trainable parameter",
                          "Build the muP groups from the same model.")
        w = width.get(name)
        inside = name.startswith(prefix)
        entries.append(DepthEntry(name, tuple(p.shape), "block" if inside else "outside",
                                  (mult if inside else 1.0) * (w.lr_mult if w else 1.0),
                                  w.wd_mult if w else 1.0))
    return entries, blocks, depth, mult


def depth_param_groups(model: nn.Module, *, base_depth: int, depth: int | None = None,
                       rule: Any = "depth-mup", optimizer: Any = "adam", lr: float,
                       weight_decay: float = 0.0, eps: float | None = None,
                       blocks: str | None = None, mup: Any = None) -> DepthGroups:
    """Optimizer param groups with the Depth-muP / CompleteP LR multiplier on the hidden
    blocks (embeddings, readout, final norm x 1).

    Args:
        model: the model at its working depth.
        base_depth: the depth (number of blocks) the LR was tuned at.
        depth: the model's depth (default: the number of blocks found).
        rule: ``"depth-mup"`` (alpha 1/2), ``"completep"`` (alpha 1) or an alpha.
        optimizer: ``"adam"`` (Adam family) or ``"sgd"``, or the optimizer class.
        lr, weight_decay: the base values; each group gets ``lr x lr_mult`` (and the muP
            weight-decay multiplier when combined with ``mup``).
        eps: Adam's eps at the base depth; if given, every group gets
            ``eps x (depth / base_depth)^-alpha`` (CompleteP).
        blocks: name of the ``ModuleList``/``Sequential`` of residual blocks (default: found).
        mup: ``mup_param_groups(...)`` (or a ``mup_optimizer``) of the same model, to combine
            width and depth multipliers.

    >>> import torch.nn as nn
    >>> class Net(nn.Module):
    ...     def __init__(self, depth):
    ...         super().__init__()
    ...         self.inp = nn.Linear(4, 8)
    ...         self.blocks = nn.ModuleList(nn.Sequential(nn.LayerNorm(8), nn.Linear(8, 8))
    ...                                     for _ in range(depth))
    ...         self.out = nn.Linear(8, 2)
    >>> g = depth_param_groups(Net(16), base_depth=4, lr=1e-3)
    >>> sorted(round(grp["lr"], 6) for grp in g), g.blocks, g.branch_mult
    ([0.0005, 0.001], 'blocks', 0.5)
    """
    if not (isinstance(lr, (int, float)) and not isinstance(lr, bool) and math.isfinite(lr)
            and lr > 0):
        raise bad_arg("lr", lr, "a positive LR", "Pass the LR tuned at the base depth.")
    entries, blocks, depth, mult = classify_depth(model, base_depth=base_depth, depth=depth,
                                                  rule=rule, optimizer=optimizer,
                                                  blocks=blocks, mup=mup)
    alpha = depth_alpha(rule)
    eps_mult = (depth / base_depth) ** -alpha
    params = dict(model.named_parameters())
    by_key: dict[tuple[str, float, float], dict[str, Any]] = {}
    for e in entries:
        key = (e.kind, e.lr_mult, e.wd_mult)
        if key not in by_key:
            g: dict[str, Any] = {"params": [], "lr": lr * e.lr_mult, "lr_mult": e.lr_mult,
                                 "weight_decay": weight_decay * e.wd_mult,
                                 "depth_kind": e.kind, "depth_names": []}
            if eps is not None:
                g["eps"] = eps * eps_mult
            by_key[key] = g
        by_key[key]["params"].append(params[e.name])
        by_key[key]["depth_names"].append(e.name)
    branch = branch_multiplier(depth, base_depth, rule)
    instructions = [
        f"multiply the output of every residual branch in {blocks} by {branch:.4g} "
        f"((depth / base_depth)^-{alpha:g}) before adding it to the residual stream",
        f"hidden blocks train at lr x {mult:.4g}; embeddings, readout and final norm at lr",
    ]
    return DepthGroups(list(by_key.values()), entries, blocks, depth, base_depth, alpha, mult,
                       branch, eps_mult, instructions)


def depth_optimizer(optimizer: Callable[..., torch.optim.Optimizer], model: Any, *,
                    base_depth: int, depth: int | None = None, rule: Any = "depth-mup",
                    family: Any = None, blocks: str | None = None, mup: Any = None,
                    **defaults: Any) -> DepthOptimizer:
    """An ``optimizer=`` for ``lrsweep.Task``: ``callable(params, lr)`` that builds
    ``optimizer`` with the depth param groups of ``depth_param_groups``. ``model`` is the
    template the Task copies, or its factory (built on the meta device); ``defaults`` go to
    the optimizer (``eps``, if given, is scaled by ``(depth / base_depth)^-alpha``)."""
    fam = family if family is not None else optimizer
    if not isinstance(model, nn.Module):
        if not callable(model):
            raise bad_arg("model", type(model).__name__, "an nn.Module or a factory",
                          "Pass the model the Task trains (or its factory).")
        with torch.device("meta"):
            model = model()
    entries, _, depth, _ = classify_depth(model, base_depth=base_depth, depth=depth, rule=rule,
                                          optimizer=fam, blocks=blocks, mup=mup)
    if "eps" in defaults:
        defaults["eps"] = defaults["eps"] * (depth / base_depth) ** -depth_alpha(rule)
    return DepthOptimizer(optimizer, entries, defaults)


class DepthOptimizer(ScaledOptimizer):
    """What ``depth_optimizer`` returns: ``callable(params, lr) -> Optimizer`` with the depth
    (and, combined with muP, the width) LR and weight-decay multipliers per parameter."""

    builder = "depth_optimizer"

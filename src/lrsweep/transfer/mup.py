"""muP (Maximal Update Parametrisation; Yang et al. 2022, Tensor Programs V, arXiv 2203.03466)
for Adam-family and SGD optimizers: optimizer param groups with per-layer LR multipliers, and
the readout / attention scaling the model must apply, so that the LR tuned at a small base
width holds at any width.

How a parameter is classified (as in ``microsoft/mup``'s ``set_base_shapes``): compare its
shape with the same parameter in a model of the base width. Dimensions that differ scale with
width ("infinite"). Without a base model (``base_width=``/``width=``) only what the shapes
of one model can tell is classified; an ambiguous dimension raises instead of guessing.

============== ===================== ================== ==================================
kind           example               Adam / AdamW LR    SGD LR
============== ===================== ================== ==================================
hidden (2 inf) hidden Linear weight  x 1 / fan_in_mult  x fan_out_mult / fan_in_mult
vector (1 inf) bias, norm, embedding x 1                x width_mult (of the infinite dim)
readout        last Linear (fan_in)  x 1                x fan_in_mult
fixed (0 inf)  input-size x classes  x 1                x 1
============== ===================== ================== ==================================

Weight decay moves the other way (``x mult`` where the LR is ``/ mult``), so that AdamW's
``lr x wd`` decay per step is kept, as ``mup.optim`` does.

What the model must do besides (nothing changes at the base width, where muP is the
standard parametrisation):

1. **Readout**: multiply the output layer's input by ``base_width / width``, so its weight
   is scaled and its bias is not, as microsoft/mup's ``MuReadout`` does (``MuReadout``, or
   ``mup_readout_(model, "head", width_mult)`` to swap a Linear in place).
   Starting the readout at zero (``zero_init=True``) is recommended by the paper.
2. **Initialisation**: hidden and input weights keep variance ``1 / fan_in`` -- PyTorch's
   default ``nn.Linear`` / ``nn.Embedding`` inits already do this, so nothing to change
   unless your model uses a custom init with a fixed std (then use ``std / sqrt(fan_in_mult)``
   for hidden matrices).
3. **Attention**: scale logits by ``1 / d_head`` instead of ``1 / sqrt(d_head)``; use
   ``attention_scale(d_head, base_d_head)`` = ``sqrt(base_d_head) / d_head``, equal to the
   usual ``1 / sqrt(d_head)`` at the base width.
"""

from __future__ import annotations

import logging
import math
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass, field
from typing import Any

import torch
from torch import nn

from ..errors import bad_arg
from ..text import format_table
from .family import optimizer_family
from .scaled_optimizer import ScaledOptimizer

log = logging.getLogger("lrsweep")

# an embedding-table size this many times the width or less might also be a growing
# dimension (3 x width qkv, 4 x width MLP, 8 x width in some MLPs): the shortcut refuses it
_SMALL_MULTIPLE = 8


@dataclass(frozen=True)
class MupEntry:
    """How one parameter is treated: its kind, width multipliers and LR / WD multipliers."""

    name: str
    shape: tuple[int, ...]
    base_shape: tuple[int, ...]
    kind: str
    lr_mult: float
    wd_mult: float


@dataclass
class MupGroups:
    """Param groups for any torch optimizer (iterate it, or use ``.groups``), each with
    ``lr = lr x lr_mult``; ``entries`` say how every parameter was treated; ``readouts`` are
    the modules whose output must be multiplied by ``readout_mult``; ``instructions`` is
    what the model must apply."""

    groups: list[dict[str, Any]]
    entries: list[MupEntry]
    readouts: list[str]
    readout_mult: float
    family: str
    instructions: list[str] = field(default_factory=list)

    def __iter__(self) -> Iterator[dict[str, Any]]:
        return iter(self.groups)

    def __len__(self) -> int:
        return len(self.groups)

    def table(self) -> str:
        rows = [("parameter", "shape", "base", "kind", "lr x", "wd x")]
        for e in self.entries:
            rows.append((e.name, "x".join(map(str, e.shape)), "x".join(map(str, e.base_shape)),
                         e.kind, f"{e.lr_mult:.4g}", f"{e.wd_mult:.4g}"))
        return format_table(rows, align="llllll", rule=False)


def base_shapes(model: nn.Module) -> dict[str, tuple[int, ...]]:
    """Parameter name -> shape, to save as the base of a muP model."""
    return {n: tuple(p.shape) for n, p in model.named_parameters()}


def _resolve_base(model: nn.Module, base_model: Any, base_width: Any,
                  width: Any) -> dict[str, tuple[int, ...]]:
    if base_model is not None:
        if isinstance(base_model, nn.Module):
            return base_shapes(base_model)
        if isinstance(base_model, Mapping):
            return {k: tuple(v) for k, v in base_model.items()}
        if callable(base_model):
            with torch.device("meta"):
                built = base_model()
            return base_shapes(built)
        raise bad_arg("base_model", type(base_model).__name__,
                      "a model at the base width, its base_shapes(), or a factory",
                      "Build the same model at the small width you tuned the LR on.")
    if base_width is None:
        raise bad_arg("base_model", None, "base_model= or base_width= (with width=)",
                      "muP needs to know which dimensions grow with width: pass the same "
                      "model built at the base width, or base_width= and the model's width=.")
    width = width if width is not None else getattr(model, "width", None)
    for name, v in (("base_width", base_width), ("width", width)):
        if isinstance(v, bool) or not isinstance(v, int) or v < 1:
            raise bad_arg(name, v, "a positive integer",
                          "Pass base_width= and width= (or give the model a .width).")
    return _shortcut_base(model, base_width, width)


def _shortcut_base(model: nn.Module, base_width: int, width: int) -> dict[str, tuple[int, ...]]:
    """Base shapes from ``base_width``/``width`` alone, where the shapes can tell.

    A dimension equal to ``width`` grows with it; one that ``width`` does not divide is fixed;
    the rows of an ``nn.Embedding`` (a vocabulary, positions) are fixed, and so is any other
    dimension equal to such a table size that is more than ``_SMALL_MULTIPLE`` times the
    width (a readout onto the vocabulary). Any other multiple of the width is ambiguous: a 3 x width
    fused qkv or 4 x width MLP grows, a vocabulary of 50304 = 393 x 128 or 512 classes at
    width 128 do not, and nothing in the shapes of one model says which. Those raise, asking
    for ``base_model=``, from which the growing dimensions are read (as microsoft/mup's
    ``set_base_shapes`` reads them from a base model)."""
    if width == base_width:  # the base model itself: nothing grows
        return base_shapes(model)
    tables: set[int] = set()
    rows: set[str] = set()
    for mname, mod in model.named_modules():
        if isinstance(mod, nn.Embedding):
            tables.add(int(mod.num_embeddings))
            rows.add(f"{mname}.weight" if mname else "weight")
    out: dict[str, tuple[int, ...]] = {}
    ambiguous: list[str] = []
    for n, p in model.named_parameters():
        base = []
        for i, d in enumerate(p.shape):
            k, rest = divmod(int(d), width)
            if rest or (i == 0 and n in rows):
                base.append(d)  # not a multiple of the width, or a lookup table's rows
            elif k == 1:
                base.append(base_width)
            elif d in tables and k > _SMALL_MULTIPLE:
                base.append(d)  # a readout onto a vocabulary: the rows of a table elsewhere
            elif d in tables:
                ambiguous.append(f"{n} dim {i} ({d} = {k} x width {width}, also the size "
                                 "of an embedding table)")
                base.append(d)
            else:
                ambiguous.append(f"{n} dim {i} ({d} = {k} x width {width})")
                base.append(d)
        out[n] = tuple(base)
    if ambiguous:
        shown = "; ".join(ambiguous[:4]) + (f"; and {len(ambiguous) - 4} more"
                                            if len(ambiguous) > 4 else "")
        raise bad_arg("base_width", base_width,
                      "a model whose dimensions say which of them grow with the width",
                      f"From base_width and width alone these dimensions are ambiguous: "
                      f"{shown}. A multiple of the width may grow with it (a fused qkv, an "
                      f"MLP) or be fixed (a vocabulary, classes): pass base_model= (the same "
                      f"model built at the base width, or a factory for it) so the growing "
                      f"dimensions are read from the shapes.")
    return out


def _owner_types(model: nn.Module) -> dict[str, type]:
    owners = {}
    for mname, mod in model.named_modules():
        for pname, _ in mod.named_parameters(recurse=False):
            owners[f"{mname}.{pname}" if mname else pname] = type(mod)
    return owners


def classify(model: nn.Module, base: Mapping[str, tuple[int, ...]], family: str,
             readout: str | None = None) -> list[MupEntry]:
    """One ``MupEntry`` per trainable parameter."""
    owners = _owner_types(model)
    entries = []
    for name, p in model.named_parameters():
        if not p.requires_grad:
            continue
        shape = tuple(p.shape)
        b = base.get(name)
        if b is None or len(b) != len(shape):
            raise bad_arg("base_model", name, f"a parameter {name!r} of {len(shape)} dims",
                          "The base model must have the same parameters as the model, only "
                          "narrower.")
        mults = [s / bs for s, bs in zip(shape, b)]
        inf = [i for i, m in enumerate(mults) if m != 1.0]
        if len(inf) > 2:
            raise bad_arg("model", name, "at most 2 dimensions that grow with width",
                          "muP covers vectors and matrices; reshape or exclude this tensor.")
        embedding = issubclass(owners.get(name, nn.Module), nn.Embedding)
        if not inf:
            kind, lr_m = "fixed", 1.0
        elif len(inf) == 2:
            fan_in, fan_out = mults[1], mults[0]
            kind = "hidden"
            lr_m = 1 / fan_in if family == "adam" else fan_out / fan_in
        else:
            m = mults[inf[0]]
            is_readout = (name.rsplit(".", 1)[0] == readout if readout is not None else
                          len(shape) == 2 and inf[0] == 1 and not embedding)
            kind = "readout" if is_readout else "vector"
            lr_m = 1.0 if family == "adam" else m
        entries.append(MupEntry(name, shape, tuple(b), kind, lr_m, 1 / lr_m))
    return entries


def mup_param_groups(model: nn.Module, base_model: Any = None, *, base_width: int | None = None,
                     width: int | None = None, optimizer: Any = "adam", lr: float,
                     weight_decay: float = 0.0, readout: str | None = None) -> MupGroups:
    """Optimizer param groups with muP per-layer LR (and weight-decay) multipliers.

    Args:
        model: the model at its working width.
        base_model: the same model at the base width (the width the LR was tuned at), its
            ``base_shapes()``, or a zero-argument factory for it (built on the meta device).
        base_width, width: instead of ``base_model``, for models whose shapes tell which
            dimensions grow: those equal to ``width`` grow, those it does not divide and the
            rows of embedding tables do not; other multiples of the width (a 4 x width MLP,
            a vocabulary of 393 x width) are ambiguous and raise, asking for
            ``base_model=`` (check ``.table()`` either way).
        optimizer: ``"adam"`` (Adam, AdamW and other entrywise-normalised optimizers) or
            ``"sgd"``, or the optimizer class.
        lr: the base LR (tuned at the base width); each group gets ``lr x lr_mult``.
        readout: name of the output module (default: every 2-D non-embedding parameter
            whose only growing dimension is its fan-in).

    >>> import torch.nn as nn
    >>> mk = lambda w: nn.Sequential(nn.Linear(8, w), nn.ReLU(), nn.Linear(w, w), nn.ReLU(),
    ...                              nn.Linear(w, 3))
    >>> g = mup_param_groups(mk(256), mk(64), lr=1e-3)
    >>> sorted({round(grp["lr"], 8) for grp in g})
    [0.00025, 0.001]
    """
    if not isinstance(model, nn.Module):
        raise bad_arg("model", type(model).__name__, "an nn.Module", "Pass the model.")
    if not (isinstance(lr, (int, float)) and not isinstance(lr, bool) and math.isfinite(lr)
            and lr > 0):
        raise bad_arg("lr", lr, "a positive LR", "Pass the LR tuned at the base width.")
    family = optimizer_family(optimizer)
    base = _resolve_base(model, base_model, base_width, width)
    entries = classify(model, base, family, readout)
    params = dict(model.named_parameters())
    by_key: dict[tuple[str, float], dict[str, Any]] = {}
    for e in entries:
        key = (e.kind, e.lr_mult)
        if key not in by_key:
            by_key[key] = {"params": [], "lr": lr * e.lr_mult, "lr_mult": e.lr_mult,
                           "weight_decay": weight_decay * e.wd_mult, "mup_kind": e.kind,
                           "mup_names": []}
        by_key[key]["params"].append(params[e.name])
        by_key[key]["mup_names"].append(e.name)
    readouts = sorted({e.name.rsplit(".", 1)[0] for e in entries if e.kind == "readout"})
    fan_ins = [e.shape[1] / e.base_shape[1] for e in entries if e.kind == "readout"]
    readout_mult = 1 / fan_ins[0] if fan_ins else 1.0
    instructions = []
    if readouts:
        instructions.append(f"multiply the input of {', '.join(readouts)} by "
                            f"{readout_mult:.4g} (base_width / width): MuReadout or "
                            "mup_readout_()")
    instructions += [
        "keep hidden and input weights at init variance 1/fan_in (PyTorch's default)",
        "scale attention logits by attention_scale(d_head, base_d_head) = "
        "sqrt(base_d_head) / d_head instead of 1/sqrt(d_head)",
    ]
    return MupGroups(list(by_key.values()), entries, readouts, readout_mult, family,
                     instructions)


def mup_optimizer(optimizer: Callable[..., torch.optim.Optimizer], model: Any,
                  base_model: Any = None, *, base_width: int | None = None,
                  width: int | None = None, family: Any = None,
                  readout: str | None = None, **defaults: Any) -> MuOptimizer:
    """An ``optimizer=`` for ``lrsweep.Task``: ``callable(params, lr)`` that builds
    ``optimizer`` with muP param groups. ``model`` is the template the Task copies, or its
    factory (built on the meta device; its parameters come in the same order as the
    Task's); ``defaults`` go to the optimizer
    (``weight_decay`` is scaled per group)."""
    fam = optimizer_family(family if family is not None else optimizer)
    if not isinstance(model, nn.Module):
        if not callable(model):
            raise bad_arg("model", type(model).__name__, "an nn.Module or a factory",
                          "Pass the model the Task trains (or its factory).")
        with torch.device("meta"):
            model = model()
    base = _resolve_base(model, base_model, base_width, width)
    entries = classify(model, base, fam, readout)
    return MuOptimizer(optimizer, entries, defaults)


class MuOptimizer(ScaledOptimizer):
    """What ``mup_optimizer`` returns: ``callable(params, lr) -> Optimizer`` with the muP
    LR and weight-decay multipliers per parameter."""

    builder = "mup_optimizer"


# ---------------------------------------------------------------- model-side scaling ---
class MuReadout(nn.Linear):
    """``nn.Linear`` whose input is multiplied by ``output_mult`` (= base_width / width
    under muP): ``W (x * output_mult) + b``, the bias unscaled, as microsoft/mup's
    ``MuReadout``; ``zero_init`` starts it at zero, as muP recommends."""

    def __init__(self, in_features: int, out_features: int, bias: bool = True, *,
                 output_mult: float = 1.0, zero_init: bool = False, **kwargs: Any) -> None:
        super().__init__(in_features, out_features, bias=bias, **kwargs)
        self.output_mult = float(output_mult)
        self.scales = "input"  # in the protocol: earlier versions scaled the bias too
        if zero_init:
            with torch.no_grad():
                self.weight.zero_()
                if self.bias is not None:
                    self.bias.zero_()

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return super().forward(x * self.output_mult)

    def extra_repr(self) -> str:
        return super().extra_repr() + f", output_mult={self.output_mult:g}"


def mup_readout_(model: nn.Module, name: str, output_mult: float,
                 zero_init: bool = False) -> MuReadout:
    """Replace the ``nn.Linear`` at ``name`` (e.g. ``"head"`` or ``"4"``) by a ``MuReadout``
    with the same weights and ``output_mult``; returns the new module."""
    parent_name, _, child = name.rpartition(".")
    parent = model.get_submodule(parent_name) if parent_name else model
    old = getattr(parent, child, None)
    if not isinstance(old, nn.Linear):
        raise bad_arg("name", name, "the name of an nn.Linear in the model",
                      "Pass the output layer's name as in model.named_modules().")
    new = MuReadout(old.in_features, old.out_features, old.bias is not None,
                    output_mult=output_mult, zero_init=zero_init,
                    device=old.weight.device, dtype=old.weight.dtype)
    if not zero_init:
        with torch.no_grad():
            new.weight.copy_(old.weight)
            if old.bias is not None:
                new.bias.copy_(old.bias)
    setattr(parent, child, new)
    return new


def attention_scale(d_head: int, base_d_head: int | None = None) -> float:
    """muP attention logit scale: ``sqrt(base_d_head) / d_head`` (``1/d_head`` times a
    constant chosen so that it equals ``1/sqrt(d_head)`` at the base width)."""
    base = d_head if base_d_head is None else base_d_head
    return math.sqrt(base) / d_head

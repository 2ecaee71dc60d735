"""Small models for the built-in tasks, written so that every engine (incl. vmap) can run
them: no data-dependent control flow, no in-place writes to unstacked tensors."""

from __future__ import annotations

import math
from typing import Any

import torch
import torch.nn.functional as F  # noqa: N812
from torch import nn

from ..errors import bad_arg


class MLP(nn.Module):
    """``depth`` hidden layers of ``width`` units with ReLU. ``base_width`` (muP, see
    ``lrsweep.transfer.mup``) multiplies the readout's input by ``base_width / width`` (its
    bias is not scaled, as in microsoft/mup's ``MuReadout``)."""

    def __init__(self, d_in: int, d_out: int, width: int = 128, depth: int = 2,
                 dropout: float = 0.0, base_width: int | None = None) -> None:
        super().__init__()
        layers: list[nn.Module] = []
        d = d_in
        for _ in range(depth):
            layers += [nn.Linear(d, width), nn.ReLU()]
            if dropout:
                layers.append(nn.Dropout(dropout))
            d = width
        self.hidden = nn.Sequential(*layers)
        self.readout = nn.Linear(d, d_out)
        self.width, self.depth = width, depth
        self.readout_mult = 1.0 if base_width is None else base_width / width
        if base_width is not None:  # in the protocol: earlier muP models scaled the bias too
            self.readout_scales = "input"

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        h = self.hidden(x.flatten(1))
        return self.readout(h if self.readout_mult == 1.0 else h * self.readout_mult)


class Block(nn.Module):
    """Pre-norm transformer block with hand-written causal attention."""

    def __init__(self, width: int, n_head: int, context: int, dropout: float,
                 attn_scale: float | None = None) -> None:
        super().__init__()
        self.n_head = n_head
        self.attn_scale = attn_scale  # None: 1/sqrt(d_head); muP: sqrt(base_d_head)/d_head
        self.ln1 = nn.LayerNorm(width)
        self.qkv = nn.Linear(width, 3 * width)
        self.proj = nn.Linear(width, width)
        self.ln2 = nn.LayerNorm(width)
        self.fc = nn.Linear(width, 4 * width)
        self.fc_out = nn.Linear(4 * width, width)
        self.drop = nn.Dropout(dropout)
        mask = torch.tril(torch.ones(context, context, dtype=torch.bool))
        self.register_buffer("mask", mask, persistent=False)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        b, t, c = x.shape
        h = self.n_head
        q, k, v = self.qkv(self.ln1(x)).split(c, dim=-1)
        q = q.view(b, t, h, c // h).transpose(1, 2)
        k = k.view(b, t, h, c // h).transpose(1, 2)
        v = v.view(b, t, h, c // h).transpose(1, 2)
        if self.attn_scale is None:
            att = (q @ k.transpose(-2, -1)) / math.sqrt(c // h)
        else:
            att = (q @ k.transpose(-2, -1)) * self.attn_scale
        att = att.masked_fill(~self.mask[:t, :t], float("-inf")).softmax(dim=-1)
        y = (self.drop(att) @ v).transpose(1, 2).reshape(b, t, c)
        x = x + self.drop(self.proj(y))
        return x + self.drop(self.fc_out(F.gelu(self.fc(self.ln2(x)))))


class TinyGPT(nn.Module):
    """A byte-level GPT: token + position embeddings, ``depth`` blocks, a linear readout.
    ``base_width`` (muP): the readout's input x ``base_width / width`` (its bias unscaled)
    and attention logits scaled by
    ``sqrt(base_d_head) / d_head``; both equal the standard model at ``width == base_width``."""

    def __init__(self, vocab: int = 256, width: int = 64, depth: int = 2, n_head: int = 4,
                 context: int = 64, dropout: float = 0.0, base_width: int | None = None) -> None:
        super().__init__()
        attn_scale = None  # at the base width muP is the standard model, bit for bit
        if base_width is not None and base_width != width:
            attn_scale = math.sqrt(base_width // n_head) / (width // n_head)
        self.tok = nn.Embedding(vocab, width)
        self.pos = nn.Embedding(context, width)
        self.blocks = nn.Sequential(*[Block(width, n_head, context, dropout, attn_scale)
                                      for _ in range(depth)])
        self.ln_f = nn.LayerNorm(width)
        self.readout = nn.Linear(width, vocab)
        self.width, self.depth = width, depth
        self.readout_mult = 1.0 if base_width is None else base_width / width
        if base_width is not None:  # in the protocol: earlier muP models scaled the bias too
            self.readout_scales = "input"

    def forward(self, idx: torch.Tensor) -> torch.Tensor:
        t = idx.shape[-1]
        x = self.tok(idx) + self.pos(torch.arange(t, device=idx.device))
        h = self.ln_f(self.blocks(x))
        return self.readout(h if self.readout_mult == 1.0 else h * self.readout_mult)


def sequence_cross_entropy(logits: torch.Tensor, targets: torch.Tensor) -> torch.Tensor:
    """Cross-entropy over every position of ``[batch, time, vocab]`` logits."""
    return F.cross_entropy(logits.reshape(-1, logits.shape[-1]), targets.reshape(-1))


def parametrize(build: Any, width: int, optimizer: Any, parametrization: str = "sp",
                base_width: int | None = None) -> tuple[Any, Any]:
    """``(model factory, optimizer)`` for a built-in task. ``"sp"`` (standard) returns
    ``build(width, None)`` and the optimizer unchanged. ``"mup"`` builds the model with
    ``base_width`` (default: ``width``) and wraps the optimizer with muP per-layer LR
    multipliers (``lrsweep.transfer.mup_optimizer``), so an LR tuned at ``base_width``
    holds at ``width``."""
    if parametrization == "sp":
        if base_width is not None:
            raise bad_arg("base_width", base_width, "no base width under parametrization='sp'",
                          "Pass parametrization='mup' to use a base width.")
        return (lambda: build(width, None)), optimizer
    if parametrization != "mup":
        raise bad_arg("parametrization", parametrization, "'sp' or 'mup'",
                      "Pass parametrization='mup' for muP, or leave it unset.")
    base = width if base_width is None else base_width
    if isinstance(base, bool) or not isinstance(base, int) or base < 1:
        raise bad_arg("base_width", base_width, "a positive integer",
                      "Pass the width the LR was tuned at, e.g. base_width=64.")
    from ..transfer.mup import mup_optimizer

    opt = mup_optimizer(optimizer, lambda: build(width, base), base_model=lambda: build(base, base))
    return (lambda: build(width, base)), opt

"""The coordinate check of the muP and depth tests: how far a few Adam steps move a model's
output on a fixed batch (muP's check; the same LR should move a larger model about as much)."""

from __future__ import annotations

import torch
from torch import nn


def output_change(model: nn.Module, params, lr: float, steps: int = 3) -> float:
    """Mean |change of the logits| after ``steps`` Adam steps on a fixed batch (16 -> 10)."""
    x = torch.randn(256, 16, generator=torch.Generator().manual_seed(1))
    y = torch.randint(0, 10, (256,), generator=torch.Generator().manual_seed(2))
    opt = torch.optim.Adam(params, lr=lr)
    out0 = model(x).detach()
    for _ in range(steps):
        opt.zero_grad()
        nn.functional.cross_entropy(model(x), y).backward()
        opt.step()
    return float((model(x).detach() - out0).abs().mean())

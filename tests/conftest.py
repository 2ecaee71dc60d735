"""Shared fixtures: tiny tasks that train in milliseconds on CPU."""

from __future__ import annotations

from types import SimpleNamespace

import pytest
import torch
from torch import nn
from torch.nn import functional as F  # noqa: N812

torch.set_num_threads(1)


def make_blobs(n: int = 256, d: int = 8, k: int = 3, seed: int = 0):
    g = torch.Generator().manual_seed(seed)
    centers = torch.randn(k, d, generator=g) * 2
    y = torch.randint(0, k, (n,), generator=g)
    x = centers[y] + torch.randn(n, d, generator=g)
    return x, y


@pytest.fixture
def blobs():
    x, y = make_blobs()
    return (x[:192], y[:192]), (x[192:], y[192:])


def small_mlp(d: int = 8, k: int = 3, width: int = 16, dropout: float = 0.0) -> nn.Module:
    torch.manual_seed(0)
    layers = [nn.Linear(d, width), nn.ReLU()]
    if dropout:
        layers.append(nn.Dropout(dropout))
    layers.append(nn.Linear(width, k))
    return nn.Sequential(*layers)


@pytest.fixture
def mlp():
    return small_mlp()


class HFStyle(nn.Module):
    """Takes keyword inputs and returns an object with .loss and .logits, like HF models."""

    def __init__(self):
        super().__init__()
        torch.manual_seed(0)
        self.emb = nn.Linear(8, 16)
        self.head = nn.Linear(16, 3)

    def forward(self, input_ids, attention_mask=None, labels=None):
        logits = self.head(torch.relu(self.emb(input_ids * attention_mask)))
        loss = F.cross_entropy(logits, labels) if labels is not None else None
        return SimpleNamespace(loss=loss, logits=logits)

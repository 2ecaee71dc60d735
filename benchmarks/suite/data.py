"""Data and small models of the suite's tasks: scikit-learn's bundled tables (standardised,
a fixed split), Python's own standard-library sources as text, and generated data. Nothing
is downloaded; every array is built from a fixed generator, so a task is the same on every
machine."""

from __future__ import annotations

from functools import lru_cache

import torch
from torch import nn

Split = tuple[tuple[torch.Tensor, torch.Tensor], tuple[torch.Tensor, torch.Tensor]]


def _split(x: torch.Tensor, y: torch.Tensor, val_fraction: float, seed: int) -> Split:
    perm = torch.randperm(len(y), generator=torch.Generator().manual_seed(seed))
    n_val = int(round(len(y) * val_fraction))
    val, train = perm[:n_val], perm[n_val:]
    return (x[train], y[train]), (x[val], y[val])


@lru_cache(maxsize=8)
def sklearn_table(name: str, val_fraction: float = 0.3, seed: int = 1234) -> Split:
    """``load_<name>`` of scikit-learn (bundled files): features standardised on the train
    split; a regression target (diabetes) standardised too, as a float column."""
    from sklearn import datasets

    x, y = getattr(datasets, f"load_{name}")(return_X_y=True)
    x = torch.tensor(x, dtype=torch.float32)
    regression = name == "diabetes"
    y = torch.tensor(y, dtype=torch.float32 if regression else torch.long)
    (xt, yt), (xv, yv) = _split(x, y, val_fraction, seed)
    mu, sd = xt.mean(0), xt.std(0).clamp_min(1e-6)
    xt, xv = (xt - mu) / sd, (xv - mu) / sd
    if regression:
        m, s = yt.mean(), yt.std()
        yt, yv = ((yt - m) / s)[:, None], ((yv - m) / s)[:, None]
    return (xt, yt), (xv, yv)


@lru_cache(maxsize=2)
def digits_images() -> Split:
    """The 8x8 digits as ``[n, 1, 8, 8]`` images (the built-in task's split)."""
    from lrsweep.examples.digits import load_digits_tensors

    (xt, yt), (xv, yv) = load_digits_tensors()
    return (xt.view(-1, 1, 8, 8), yt), (xv.view(-1, 1, 8, 8), yv)


@lru_cache(maxsize=4)
def stdlib_text(context: int, n_train: int, n_val: int) -> Split:
    """Byte windows of the standard-library corpus of the built-in ``stdlib-gpt``."""
    from lrsweep.examples.stdlib_gpt import lm_tensors

    (xt, yt), (xv, yv) = lm_tensors(context, n_train, n_val)
    return (xt, yt), (xv, yv)


@lru_cache(maxsize=2)
def moons(n_train: int = 512, n_val: int = 512, noise: float = 0.25, seed: int = 7) -> Split:
    """scikit-learn's two interleaving half-moons (generated), standardised."""
    from sklearn.datasets import make_moons

    x, y = make_moons(n_train + n_val, noise=noise, random_state=seed)
    x = torch.tensor(x, dtype=torch.float32)
    x = (x - x[:n_train].mean(0)) / x[:n_train].std(0)
    y = torch.tensor(y, dtype=torch.long)
    return (x[:n_train], y[:n_train]), (x[n_train:], y[n_train:])


def blobs(n_train: int = 512, n_val: int = 512, d: int = 8, k: int = 4, flip: float = 0.15,
          seed: int = 7) -> Split:
    """Gaussian blobs in ``d`` dimensions, ``k`` classes, a fraction ``flip`` of the labels
    replaced by random ones (a noisy target: a broad, flat top)."""
    g = torch.Generator().manual_seed(seed)
    centers = torch.randn(k, d, generator=g) * 1.2
    y = torch.randint(0, k, (n_train + n_val,), generator=g)
    x = centers[y] + torch.randn(n_train + n_val, d, generator=g)
    noisy = torch.rand(n_train + n_val, generator=g) < flip
    y = torch.where(noisy, torch.randint(0, k, y.shape, generator=g), y)
    return (x[:n_train], y[:n_train]), (x[n_train:], y[n_train:])


def memory_sequences(n_train: int = 1024, n_val: int = 512, length: int = 10, vocab: int = 6,
                     seed: int = 3) -> Split:
    """Sequences of one-hot tokens; the label is the majority token of the first three
    positions (ties: the first), which the GRU must carry to the end of the sequence."""
    g = torch.Generator().manual_seed(seed)
    tok = torch.randint(0, vocab, (n_train + n_val, length), generator=g)
    head = torch.nn.functional.one_hot(tok[:, :3], vocab).sum(1)
    y = head.argmax(1)
    x = torch.nn.functional.one_hot(tok, vocab).float()
    return (x[:n_train], y[:n_train]), (x[n_train:], y[n_train:])


def adding_sequences(n_train: int = 1024, n_val: int = 512, length: int = 12,
                     seed: int = 5) -> Split:
    """The adding problem: inputs (value, marker); the target is the sum of the two marked
    values (a regression column)."""
    g = torch.Generator().manual_seed(seed)
    n = n_train + n_val
    val = torch.rand(n, length, generator=g)
    marks = torch.zeros(n, length)
    first = torch.randint(0, length // 2, (n,), generator=g)
    second = torch.randint(length // 2, length, (n,), generator=g)
    marks[torch.arange(n), first] = 1.0
    marks[torch.arange(n), second] = 1.0
    x = torch.stack([val, marks], dim=-1)
    y = (val * marks).sum(1, keepdim=True)
    return (x[:n_train], y[:n_train]), (x[n_train:], y[n_train:])


class SmallCNN(nn.Module):
    """Two 3x3 convolutions on 8x8 images, optional BatchNorm, a linear readout."""

    def __init__(self, c1: int = 8, c2: int = 16, bn_momentum: float | None = None) -> None:
        super().__init__()
        def norm(c: int) -> nn.Module:
            return nn.Identity() if bn_momentum is None else nn.BatchNorm2d(c, momentum=bn_momentum)
        self.net = nn.Sequential(nn.Conv2d(1, c1, 3, padding=1), norm(c1), nn.ReLU(),
                                 nn.Conv2d(c1, c2, 3, padding=1), norm(c2), nn.ReLU(),
                                 nn.MaxPool2d(2), nn.Flatten(), nn.Linear(c2 * 16, 10))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.net(x)


class GRUHead(nn.Module):
    """A one-layer GRU over the sequence; a linear readout of its last state."""

    def __init__(self, d_in: int, hidden: int, d_out: int) -> None:
        super().__init__()
        self.gru = GRU(d_in, hidden)
        self.readout = nn.Linear(hidden, d_out)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.readout(self.gru(x)[:, -1])


class CharGRU(nn.Module):
    """A byte-level GRU language model: embedding, one GRU layer, a linear readout."""

    def __init__(self, vocab: int = 256, width: int = 32) -> None:
        super().__init__()
        self.emb = nn.Embedding(vocab, width)
        self.gru = GRU(width, width)
        self.readout = nn.Linear(width, vocab)

    def forward(self, idx: torch.Tensor) -> torch.Tensor:
        return self.readout(self.gru(self.emb(idx)))


class GRU(nn.Module):
    """A one-layer GRU written with linear layers (the equations of ``nn.GRU``), so that
    ``torch.func.vmap`` can stack it: the vectorized engine then trains every LR of a seed
    at once, which on CPU is several times faster for a model this small."""

    def __init__(self, d_in: int, hidden: int) -> None:
        super().__init__()
        self.hidden = hidden
        self.wx = nn.Linear(d_in, 3 * hidden)
        self.wh = nn.Linear(hidden, 3 * hidden)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """``[batch, time, d_in] -> [batch, time, hidden]``."""
        gx = self.wx(x)
        h = x.new_zeros(x.shape[0], self.hidden)
        out = []
        for t in range(x.shape[1]):
            xr, xz, xn = gx[:, t].chunk(3, dim=-1)
            hr, hz, hn = self.wh(h).chunk(3, dim=-1)
            r, z = torch.sigmoid(xr + hr), torch.sigmoid(xz + hz)
            h = (1 - z) * torch.tanh(xn + r * hn) + z * h
            out.append(h)
        return torch.stack(out, dim=1)

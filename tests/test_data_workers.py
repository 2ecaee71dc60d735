"""Controlled data with DataLoader workers (issue 12 item 4): random augmentation drawn in
worker processes depends only on (seed, epoch, worker id), also with
``persistent_workers=True``, whose workers would otherwise carry their RNG from one trial
into the next (so two LRs of one seed saw different augmented batches: contract 1)."""

from __future__ import annotations

import torch
from conftest import make_blobs
from torch import nn
from torch.nn import functional as F  # noqa: N812
from torch.utils.data import DataLoader, Dataset

import lrsweep
from lrsweep.engines.sequential import SequentialEngine
from lrsweep.engines.vectorized import VectorizedEngine
from lrsweep.results.trial import TrialSpec


class Augmented(Dataset):
    """Blobs with Gaussian jitter drawn from torch's RNG in ``__getitem__`` (in the
    worker process when ``num_workers > 0``)."""

    def __init__(self, n=64):
        self.x, self.y = make_blobs(n)

    def __len__(self):
        return len(self.y)

    def __getitem__(self, i):
        return self.x[i] + 0.5 * torch.randn(self.x.shape[1]), self.y[i]


class Recorder:
    """``forward=`` that records every training batch it sees, per trial."""

    def __init__(self):
        self.batches: list[torch.Tensor] = []

    def __call__(self, model, batch):
        if model.training:
            self.batches.append(batch[0].clone())
        out = model(batch[0])
        return F.cross_entropy(out, batch[1]), out


def model():
    torch.manual_seed(0)
    return nn.Sequential(nn.Linear(8, 16), nn.ReLU(), nn.Linear(16, 3))


def seen_batches(loader, engine, lrs, seed=0):
    rec = Recorder()
    val = make_blobs(32, seed=1)
    task = lrsweep.Task(model(), torch.optim.SGD, loader, val, batch_size=32, epochs=2,
                        forward=rec, device="cpu")
    out = {}
    for lr in lrs:
        rec.batches = []
        engine.run(task, [TrialSpec(lr, seed)], lambda r: None)
        out[lr] = rec.batches
    return out


def loader(persistent, workers=2, **kw):
    return DataLoader(Augmented(), batch_size=16, shuffle=True, num_workers=workers,
                      persistent_workers=persistent, **kw)


def same(a, b):
    return len(a) == len(b) and all(torch.equal(x, y) for x, y in zip(a, b))


def test_persistent_workers_give_every_lr_of_a_seed_the_same_augmented_batches():
    data = loader(persistent=True)
    got = seen_batches(data, SequentialEngine(), [1e-3, 1e-2, 1e-1])
    assert len(got[1e-3]) == 8  # 2 epochs of 4 batches
    assert same(got[1e-3], got[1e-2]) and same(got[1e-3], got[1e-1])
    # the augmentation is random (two epochs differ), and it follows the seed
    assert not torch.equal(got[1e-3][0], got[1e-3][4])
    other = seen_batches(data, SequentialEngine(), [1e-3], seed=1)[1e-3]
    assert not same(got[1e-3], other)
    # exactly what workers started afresh give: a function of (seed, epoch, worker id)
    assert same(got[1e-3], seen_batches(loader(persistent=False), SequentialEngine(),
                                        [1e-3])[1e-3])


def test_persistent_workers_agree_between_engines():
    data = loader(persistent=True)
    rec_seq = seen_batches(data, SequentialEngine(), [1e-2])[1e-2]
    val = make_blobs(32, seed=1)
    seen = []

    def fwd(m, b):  # under vmap the batch is shared by the stacked trials: record it once
        if m.training:
            seen.append(b[0].clone())
        out = m(b[0])
        return F.cross_entropy(out, b[1]), out

    task = lrsweep.Task(model(), torch.optim.SGD, data, val, batch_size=32, epochs=2,
                        forward=fwd, device="cpu")
    eng = VectorizedEngine(task)
    seen.clear()
    results = []
    eng.run(task, [TrialSpec(lr, 0) for lr in (1e-3, 1e-2)], results.append)
    assert [r.engine for r in results] == ["vectorized", "vectorized"]
    assert same(seen, rec_seq)


def test_workers_are_not_left_running_after_a_trial():
    data = loader(persistent=True)
    seen_batches(data, SequentialEngine(), [1e-3])
    assert getattr(data, "_iterator", None) is None

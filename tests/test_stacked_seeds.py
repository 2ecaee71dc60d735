"""(lr, seed) pairs in one stacked group of the vectorized engine (issue 23).

Each member of a group keeps what makes it its own trial: its seed's initial weights
(``seed_init=True``), data order (the batch index is gathered per member; a DataLoader is
iterated once per seed under that seed's generators), dropout masks and augmentation. The
sequential engine is the reference: at stable LRs every member agrees with it at the README's
tolerance (curves 2e-5 relative, metrics equal).
"""

from __future__ import annotations

import csv
import io
import json
import logging

import pytest
import torch
from torch import nn
from torch.utils.data import DataLoader, Dataset

import lrsweep
from lrsweep.engines.sequential import SequentialEngine
from lrsweep.engines.vectorized import VectorizedEngine
from lrsweep.results.trial import Status, TrialSpec
from lrsweep.store import Store

CURVE_RTOL = 2e-5  # README: where training is stable, curves within 2e-5 relative
LRS = [1e-3, 3e-3, 1e-2, 3e-2]
SEEDS = (0, 1, 2)


def blobs(n=320, d=8, k=3):
    g = torch.Generator().manual_seed(0)
    centers = torch.randn(k, d, generator=g) * 2
    y = torch.randint(0, k, (n,), generator=g)
    x = centers[y] + torch.randn(n, d, generator=g)
    return (x[:256], y[:256]), (x[256:], y[256:])


def dropout_mlp():
    return nn.Sequential(nn.Linear(8, 32), nn.ReLU(), nn.Dropout(0.3), nn.Linear(32, 32),
                         nn.Tanh(), nn.Dropout(0.2), nn.Linear(32, 3))


class Jitter(Dataset):
    """Random augmentation in ``__getitem__`` (main process: the global torch RNG)."""

    def __init__(self, x, y):
        self.x, self.y = x, y

    def __len__(self):
        return len(self.x)

    def __getitem__(self, i):
        return self.x[i] + 0.3 * torch.randn(self.x.shape[1]), self.y[i]


def run(engine, task, lrs=LRS, seeds=SEEDS):
    out = []
    engine.run(task, [TrialSpec(lr, s) for s in seeds for lr in lrs], out.append)
    return {(r.lr, r.seed): r for r in out}


def assert_members_agree(seq, vec):
    assert seq.keys() == vec.keys()
    for key, a in seq.items():
        b = vec[key]
        assert a.status == b.status == Status.OK, (key, b.error)
        assert a.steps == b.steps == len(b.curve)
        assert torch.allclose(torch.tensor(a.curve), torch.tensor(b.curve),
                              rtol=CURVE_RTOL, atol=1e-6), key
        assert a.metric == pytest.approx(b.metric, abs=1e-6), key


def one_group(vec):
    groups = {r.group for r in vec.values()}
    assert len(groups) == 1 and None not in groups, groups
    assert {r.extra["chunk_size"] for r in vec.values()} == {len(vec)}


def test_4_lrs_x_3_seeds_one_group_dropout_shuffled_loader_per_seed_init():
    train, val = blobs()
    loader = DataLoader(Jitter(*train), batch_size=32, shuffle=True)
    task = lrsweep.Task(dropout_mlp, torch.optim.Adam, loader, val, epochs=2, seed_init=True,
                        device="cpu")
    seq = run(SequentialEngine(), task)
    vec = run(VectorizedEngine(task), task)
    one_group(vec)  # 12 trials, one stacked group
    assert_members_agree(seq, vec)
    # what differs between seeds really differs (init, order, masks, augmentation), and each
    # member got its own seed's: the first step's loss is the sequential one, per seed
    firsts = {s: seq[(1e-3, s)].curve[0] for s in SEEDS}
    assert len(set(firsts.values())) == 3
    for s in SEEDS:
        for lr in LRS:
            assert vec[(lr, s)].curve[0] == pytest.approx(firsts[s], rel=1e-6)
    (wall,) = {r.extra["group_wall_time"] for r in vec.values()}
    assert all(r.wall_time == pytest.approx(wall / 12, rel=1e-3) for r in vec.values())


def test_in_memory_data_gathers_each_members_batch_index():
    train, val = blobs()
    task = lrsweep.Task(dropout_mlp(), torch.optim.SGD, train, val, batch_size=48, steps=9,
                        accumulation_steps=2, device="cpu")  # partial batches, accumulation
    seq = run(SequentialEngine(), task, lrs=[1e-2, 5e-2], seeds=(4, 0, 7))
    vec = run(VectorizedEngine(task), task, lrs=[1e-2, 5e-2], seeds=(4, 0, 7))
    one_group(vec)
    assert_members_agree(seq, vec)
    assert seq[(1e-2, 4)].curve[0] != seq[(1e-2, 0)].curve[0]


def test_chunks_and_units_split_a_group_and_keep_the_results():
    train, val = blobs()
    task = lrsweep.Task(dropout_mlp(), torch.optim.Adam, train, val, batch_size=64, steps=6,
                        device="cpu")
    whole = run(VectorizedEngine(task), task)
    eng = VectorizedEngine(task, chunk_size=5)
    specs = [TrialSpec(lr, s) for s in SEEDS for lr in LRS]
    units = eng.units(task, specs)
    assert [len(u) for u in units] == [4, 4, 4]  # 12 as evenly as 5 allows
    assert sorted((s.seed, s.lr) for u in units for s in u) == sorted((s.seed, s.lr) for s in specs)
    parts = run(eng, task)
    assert len({r.group for r in parts.values()}) == 3
    for key, a in whole.items():
        assert torch.allclose(torch.tensor(a.curve), torch.tensor(parts[key].curve),
                              rtol=1e-5)


def test_other_randomness_in_the_forward_keeps_seeds_apart(caplog):
    class Noisy(nn.Module):
        def __init__(self):
            super().__init__()
            self.fc = nn.Linear(8, 3)

        def forward(self, x):
            return self.fc(x + 0.1 * torch.randn_like(x)) if self.training else self.fc(x)

    train, val = blobs()
    task = lrsweep.Task(Noisy(), torch.optim.Adam, train, val, batch_size=64, steps=5,
                        device="cpu")
    with caplog.at_level(logging.INFO, logger="lrsweep"):
        eng = VectorizedEngine(task)
    assert "random numbers other than F.dropout" in caplog.text
    vec = run(eng, task, lrs=LRS[:2], seeds=(0, 1))
    assert len({r.group for r in vec.values()}) == 2  # one group per seed
    assert_members_agree(run(SequentialEngine(), task, lrs=LRS[:2], seeds=(0, 1)), vec)


def test_batches_of_other_shapes_per_seed_train_seed_by_seed(caplog):
    x, y = blobs()[0]

    class Ragged:
        """Batches whose sizes follow the global RNG (so they differ between seeds)."""

        def __iter__(self):
            i = 0
            while i < 200:
                n = int(torch.randint(16, 48, ()))
                yield x[i:i + n], y[i:i + n]
                i += n

        def __len__(self):
            return 4

    task = lrsweep.Task(dropout_mlp(), torch.optim.Adam, Ragged(), blobs()[1], steps=4,
                        device="cpu")
    with caplog.at_level(logging.INFO, logger="lrsweep"):
        vec = run(VectorizedEngine(task), task, lrs=LRS[:2], seeds=(0, 1))
    assert "other shapes" in caplog.text
    assert len({r.group for r in vec.values()}) == 2
    assert_members_agree(run(SequentialEngine(), task, lrs=LRS[:2], seeds=(0, 1)), vec)


def test_group_ids_are_stored_and_exported(tmp_path):
    train, val = blobs()
    task = lrsweep.Task(dropout_mlp(), torch.optim.Adam, train, val, batch_size=64, steps=4,
                        device="cpu")
    res = lrsweep.sweep(task, LRS, seeds=SEEDS, engine="vectorized", store=tmp_path / "s.db",
                        study="s")
    assert len(res.trials) == 12 and len({t.group for t in res.trials}) == 1
    with Store(tmp_path / "s.db") as st:
        loaded = st.load("s")
    assert {t.key: t.group for t in loaded.trials} == {t.key: t.group for t in res.trials}
    assert all("group" not in t.extra for t in loaded.trials)
    rows = list(csv.DictReader(io.StringIO(loaded.csv_text())))
    assert {r["group"] for r in rows} == {res.trials[0].group}
    back = json.loads(json.dumps(loaded.to_dict()))
    assert {t["group"] for t in back["trials"]} == {res.trials[0].group}
    assert "share of group" in repr(res.trials[0])
    # the report's trial table: which group, how many shared its time (issue 21 item 6)
    page = res.report(tmp_path / "r.html").read_text()
    assert "time s (share)" in page and f"{res.trials[0].group} (12)" in page
    # a sequential trial trained alone: no group
    alone = lrsweep.sweep(task, LRS[:1], engine="sequential")
    assert alone.trials[0].group is None


# ------------------------------------------------------------------------------ CUDA ----
cuda = pytest.mark.skipif(not torch.cuda.is_available(), reason="needs CUDA")


@pytest.mark.gpu
@cuda
@pytest.mark.parametrize("dropout", [False, True], ids=["graph", "dropout-eager"])
def test_gpu_lr_seed_groups_match_sequential(dropout):
    """On CUDA: without dropout the (lr, seed) group is captured in a CUDA graph; with
    dropout each seed's generator state is swapped in eagerly (native_dropout masks)."""
    train, val = blobs(n=2304)

    def model():
        return dropout_mlp() if dropout else nn.Sequential(
            nn.Linear(8, 64), nn.ReLU(), nn.Linear(64, 64), nn.Tanh(), nn.Linear(64, 3))

    task = lrsweep.Task(model, torch.optim.Adam, train, val, batch_size=64, epochs=2,
                        seed_init=True, device="cuda")
    seq = run(SequentialEngine(), task)
    vec = run(VectorizedEngine(task), task)
    one_group(vec)
    assert {r.extra["cuda_graph"] for r in vec.values()} == {not dropout}
    assert_members_agree(seq, vec)

"""What the fingerprint costs: hashing all in-memory data, once per tensor.

1. ``tensor_digest`` of one large float32 tensor (``--gb``): the first pass (sha256 over every
   byte), a second call (the cache: version counter unchanged), and a call after an in-place
   change of one element (one more full pass). Throughput in GB/s.
2. ``Task.protocol()`` of a task whose in-memory training data is that tensor: the first call
   (it hashes the data) against the following ones, and against one training step.
3. A DataLoader over a map-style dataset of ``--items`` items: the 64 samples spread over it.

    python benchmarks/fingerprint_cost.py [--gb 1.0] [--items 100000]

One thread (``torch.set_num_threads(1)``).
"""

from __future__ import annotations

import argparse
import os
import platform
import time

import torch
from torch import nn
from torch.utils.data import DataLoader, Dataset

import lrsweep
from lrsweep import fingerprint as fp


def timed(fn):
    t0 = time.perf_counter()
    out = fn()
    return time.perf_counter() - t0, out


class Slow(Dataset):
    """Items built on access (as decoding an image would be): ~0.2 ms each."""

    def __init__(self, n: int) -> None:
        self.n = n

    def __len__(self) -> int:
        return self.n

    def __getitem__(self, i):
        g = torch.Generator().manual_seed(i)
        x = torch.randn(3, 32, 32, generator=g)
        return x.flatten()[:16], int(i % 3)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--gb", type=float, default=1.0, help="size of the large tensor")
    ap.add_argument("--items", type=int, default=100_000, help="items of the DataLoader dataset")
    args = ap.parse_args()
    torch.set_num_threads(1)
    print(f"# {platform.node()}: {os.cpu_count()} CPUs, torch {torch.__version__}, "
          f"load {os.getloadavg()[0]:.1f}, 1 thread")

    rows = int(args.gb * 2**30 / 4 / 64)
    x = torch.randn(rows, 64)
    gb = x.numel() * 4 / 2**30
    cold, d1 = timed(lambda: fp.tensor_digest(x))
    warm, d2 = timed(lambda: fp.tensor_digest(x))
    x[rows // 2, 7] += 1.0
    again, d3 = timed(lambda: fp.tensor_digest(x))
    assert d1 == d2 != d3
    print("\n## 1. tensor_digest of a float32 tensor")
    print(f"| {gb:.2f} GB | first | cached | after an in-place change |")
    print("|---|---|---|---|")
    print(f"| seconds | {cold:.3f} | {warm * 1e6:.1f} us | {again:.3f} |")
    print(f"| GB/s | {gb / cold:.2f} | - | {gb / again:.2f} |")

    x = x.clone()  # a tensor never hashed: the task's first protocol() pays for it
    y = (x[:, 0] > 0).long()
    task = lrsweep.Task(model=lambda: nn.Sequential(nn.Linear(64, 32), nn.ReLU(), nn.Linear(32, 2)),
                        optimizer=torch.optim.SGD, train_data=(x, y), val_data=(x[:1024], y[:1024]),
                        batch_size=256, steps=10, device="cpu")
    first, _ = timed(task.protocol)
    later = min(timed(task.protocol)[0] for _ in range(5))
    model = task.initial_model()
    opt = torch.optim.SGD(model.parameters(), lr=0.1)
    batch = next(iter(task.train.batches(0, 0)))

    def step() -> None:
        loss = nn.functional.cross_entropy(model(batch[0]), batch[1])
        opt.zero_grad()
        loss.backward()
        opt.step()

    one_step = min(timed(step)[0] for _ in range(20))
    print(f"\n## 2. Task.protocol() with {gb:.2f} GB of in-memory training data")
    print("| first call | later calls | later / one training step (batch 256) |")
    print("|---|---|---|")
    print(f"| {first:.3f} s | {later * 1e3:.2f} ms | {later / one_step:.1f} |")

    loader = DataLoader(Slow(args.items), batch_size=128, shuffle=True)
    per_item = min(timed(lambda: loader.dataset[123])[0] for _ in range(20))
    t_loader, desc = timed(lambda: fp.loader_description(loader))
    t_cached, _ = timed(lambda: fp.loader_description(loader))
    print(f"\n## 3. DataLoader over {args.items} items ({desc['samples']} samples hashed)")
    print("| first description | cached | one item |")
    print("|---|---|---|")
    print(f"| {t_loader * 1e3:.1f} ms | {t_cached * 1e3:.2f} ms | {per_item * 1e3:.3f} ms |")


if __name__ == "__main__":
    main()

"""muP in practice: tune the LR on a narrow model, reuse it on a 8x wider one.

What muP asks of your model and optimizer (Yang et al. 2022, Tensor Programs V):

1. the readout's (output layer's) input is multiplied by ``base_width / width``, its bias
   left alone (``MuReadout``, or ``mup_readout_`` to swap an existing ``nn.Linear``);
2. hidden matrices get LR x ``base_width / width`` under Adam (``mup_param_groups`` /
   ``mup_optimizer`` build the param groups); vectors, biases, embeddings keep x1;
3. init stays PyTorch's default (variance 1/fan_in); attention would use
   ``attention_scale(d_head, base_d_head)``.

At the base width the muP model *is* the standard model, so the sweep you ran there stays valid.
Runs in seconds on a CPU (prefix OMP_NUM_THREADS=1 on a busy machine: small models lose
more to thread contention than they gain); no download.

    python examples/mup_transfer.py
"""

from __future__ import annotations

import torch
from torch import nn

import lrsweep
from lrsweep.transfer import MuReadout, confirm, mup_optimizer, mup_param_groups, transfer

BASE, WIDE = 32, 256


class Net(nn.Module):
    def __init__(self, width: int, base_width: int = BASE) -> None:
        super().__init__()
        self.body = nn.Sequential(nn.Linear(20, width), nn.ReLU(), nn.Linear(width, width),
                                  nn.ReLU())
        self.head = MuReadout(width, 4, output_mult=base_width / width)  # step 1

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.head(self.body(x))


def data(n: int, seed: int) -> tuple[torch.Tensor, torch.Tensor]:
    g = torch.Generator().manual_seed(seed)
    x = torch.randn(n, 20, generator=g)
    teacher = torch.randn(20, 4, generator=torch.Generator().manual_seed(99))
    return x, (torch.tanh(x) @ teacher).argmax(1)


def task(width: int) -> lrsweep.Task:
    # step 2: the optimizer gets muP param groups (the Task passes the parameters in order)
    opt = mup_optimizer(torch.optim.Adam, lambda: Net(width), base_model=lambda: Net(BASE))
    return lrsweep.Task(model=lambda: Net(width), optimizer=opt, train_data=data(2048, 0),
                        val_data=data(512, 1), batch_size=64, steps=100, metric="loss",
                        device="cpu")


def main() -> None:
    groups = mup_param_groups(Net(WIDE), Net(BASE), lr=1e-3)
    print(f"muP param groups at width {WIDE} (base {BASE}):")
    print(groups.table())
    print("the model must also:", *groups.instructions, sep="\n  - ")

    small = lrsweep.sweep(task(BASE), lrs=lrsweep.log_grid(1e-4, 1e-1, 8), engine="sequential")
    found = small.optimum()
    print(f"\noptimum at width {BASE}: {found}")
    moved = transfer(found, base={"width": BASE}, target={"width": WIDE})
    print(moved)
    check = confirm(task(WIDE), moved, points=5, engine="sequential")
    print(f"\nat width {WIDE}: {check}")


if __name__ == "__main__":
    main()

"""Your own training loop, swept through the objective API: lrsweep hands each trial its LR
and seed, watches the losses you report for divergence, and ranks what you return.

    python examples/custom_loop.py
"""

from __future__ import annotations

import torch
from torch import nn

import lrsweep


def data(seed: int, n: int = 1024):
    g = torch.Generator().manual_seed(seed)
    x = torch.randn(n, 10, generator=g)
    y = x @ torch.linspace(-1, 1, 10) + 0.1 * torch.randn(n, generator=g)
    return x, y


X, Y = data(0)
XV, YV = data(1, 256)


def objective(trial: lrsweep.Trial) -> float:
    torch.manual_seed(0)  # the same initial weights for every LR
    model = nn.Sequential(nn.Linear(10, 32), nn.Tanh(), nn.Linear(32, 1))
    opt = torch.optim.SGD(model.parameters(), lr=trial.lr, momentum=0.9)
    order = torch.randperm(len(X), generator=torch.Generator().manual_seed(trial.seed))
    for step, idx in enumerate(order.split(32)):
        loss = nn.functional.mse_loss(model(X[idx]).squeeze(-1), Y[idx])
        opt.zero_grad()
        loss.backward()
        opt.step()
        trial.report(step, loss.item())  # raises TrialDiverged if the loss blows up
    with torch.no_grad():
        return nn.functional.mse_loss(model(XV).squeeze(-1), YV).item()


def main() -> None:
    result = lrsweep.sweep(objective, lrsweep.log_grid(1e-4, 3.0, 10), seeds=(0, 1),
                           direction="min")
    print(result.table())
    print(f"best lr {result.best().lr:.3g}")


if __name__ == "__main__":
    main()

"""The classic lr_finder recipe, ``lr_finder(...)``, with the faults of its usual loop
fixed."""

from __future__ import annotations

from typing import Any

import torch
from torch import nn

from .plan.grid import log_grid
from .sweep import sweep
from .task import Task


def lr_finder(
    model: nn.Module,
    OptType: type[torch.optim.Optimizer],  # noqa: N803 - the recipe's name
    train_dataloader: Any,
    val_dataloader: Any,
    Criterion: Any = nn.CrossEntropyLoss,  # noqa: N803 - the recipe's name
    start_lr: float = 1e-8,
    end_lr: float = 0.1,
    warmup_epochs: int = 0,
    training_epochs: int = 1,
    *,
    num: int = 10,
    seed: int = 0,
    engine: str = "auto",
    device: str | torch.device | None = None,
    progress: bool | None = None,
) -> dict[float, float]:
    """LR -> validation accuracy over ``num`` log-spaced LRs from ``start_lr`` to ``end_lr``.

    The classic lr_finder recipe: train a fresh copy of ``model`` for ``training_epochs`` at
    each of ten log-spaced LRs from 1e-8 to 0.1, every one from the same initial weights with
    a fresh ``OptType`` optimizer, and score each by validation accuracy; the names and
    defaults are those of the loop this project started from ("optimal LR search by LR
    sweep"). How it differs from that loop:

    1. Linear warmup reaches exactly the trial's LR at the last warmup step; the original loop
       stops one step short and then keeps the LR at ``(W-1)/W`` of the target for the rest
       of training.
    2. Every trial sees the same data order (and dropout masks) for the given ``seed``; in the
       original loop a shuffling DataLoader gives each LR different noise.
    3. A diverged trial (non-finite loss, or a smoothed loss above 4x the initial loss) is
       stopped early and maps to ``nan`` instead of being scored as if it had trained. Use
       ``lrsweep.sweep(...).best()`` for a choice that never picks it.
    4. ``model`` is deep-copied: it is left untouched (the original loop leaves it in the last
       trial's state), and so are the global RNG states.
    5. Bad input raises ``lrsweep.LRSweepError`` with a message (the original uses ``assert``),
       including ``warmup_epochs >= training_epochs``.
    6. No ``print``: a progress bar where the output is a terminal (``progress=False``
       hides it, ``True`` forces it), details to the ``lrsweep`` logger.
    7. ``Criterion`` may be a loss class (as in the original) or a loss instance.
    8. With ``engine="auto"`` the trials may run all at once (vectorized) where that is
       faster; the results are the same.

    With ``warmup_epochs=0`` and a fixed data order the accuracies equal the original loop's
    (bit for bit with ``engine="sequential"``; the vectorized engine agrees within rounding).
    """
    if device is None:
        try:
            device = next(model.parameters()).device
        except (StopIteration, AttributeError):
            device = None
    task = Task(model=model, optimizer=OptType, train_data=train_dataloader,
                val_data=val_dataloader, loss=Criterion, metric="accuracy",
                epochs=training_epochs, warmup_epochs=warmup_epochs, device=device)
    result = sweep(task, log_grid(start_lr, end_lr, num), seeds=(seed,), engine=engine,
                   progress=progress)
    return result.as_dict()

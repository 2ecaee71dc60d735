"""The simple gradient noise scale ``B_simple = tr(Sigma) / |G|^2`` (McCandlish et al. 2018,
"An Empirical Model of Large-Batch Training", arXiv 1812.06162, Appendix A), measured from
gradient norms at two batch sizes on the user's task.

With ``|G_small|^2`` the squared norm of a gradient over ``B_small`` samples and ``|G_big|^2``
over ``B_big`` samples (both unbiased for ``|G|^2 + tr(Sigma) / B``):

    |G|^2     ~ (B_big |G_big|^2 - B_small |G_small|^2) / (B_big - B_small)
    tr(Sigma) ~ (|G_small|^2 - |G_big|^2) / (1 / B_small - 1 / B_big)

Both are averaged over several big batches before dividing (their ratio is biased
otherwise). The big-batch gradient is the mean of ``B_big / B_small`` small-batch gradients
(exact for a mean-reduced loss), so every sample enters both estimates. The noise scale
grows as training proceeds: measure it on a model trained as far as you care about
(``model=``), or read it as a lower bound at initialisation.
"""

from __future__ import annotations

import logging
import math
from dataclasses import dataclass
from typing import Any

import torch
from torch import nn

from ..errors import bad_arg
from ..task.data import TensorData, batch_size_of, to_device
from ..train.rng import isolated_rng, seed_everything

log = logging.getLogger("lrsweep")


@dataclass(frozen=True)
class NoiseScale:
    """The measured noise scale and its parts. ``b_noise`` is ``inf`` when ``|G|^2`` came
    out non-positive (the gradient is all noise at this point of training)."""

    b_noise: float
    grad_sq: float
    trace: float
    small: int
    big: int
    steps: int

    def __str__(self) -> str:
        return (f"B_noise ~ {self.b_noise:.4g}  (|G|^2 {self.grad_sq:.4g}, tr(Sigma) "
                f"{self.trace:.4g}; batches {self.small} and {self.big}, {self.steps} steps)")


def noise_scale_from_norms(g_small_sq: float, g_big_sq: float, small: int,
                           big: int) -> tuple[float, float, float]:
    """``(B_simple, |G|^2, tr(Sigma))`` from mean squared gradient norms at two batch sizes.

    >>> # |G|^2 = 1, tr(Sigma) = 100: E|G_B|^2 = 1 + 100 / B
    >>> [round(v, 6) for v in noise_scale_from_norms(1 + 100 / 10, 1 + 100 / 100, 10, 100)]
    [100.0, 1.0, 100.0]
    """
    if not 0 < small < big:
        raise bad_arg("small, big", (small, big), "0 < small < big",
                      "The big batch must hold more samples than the small one.")
    g2 = (big * g_big_sq - small * g_small_sq) / (big - small)
    trace = (g_small_sq - g_big_sq) / (1 / small - 1 / big)
    b = trace / g2 if g2 > 0 else math.inf
    return b, g2, trace


def estimate_noise_scale(task: Any, *, small: int | None = None, big: int | None = None,
                         steps: int = 8, model: nn.Module | None = None, seed: int = 0,
                         lr: float | None = None, train_steps: int = 0) -> NoiseScale:
    """Measure ``B_simple`` on ``task`` (an ``lrsweep.Task``).

    Args:
        small: the small batch (default: the task's batch size). For data that is not in
            memory it must equal the loader's batch size.
        big: the big batch, a multiple of ``small`` (default ``8 x small``, at most the
            training set).
        steps: how many big batches to average over.
        model: where to measure (default: the task's initial weights). The noise scale
            grows during training; pass a partly trained model for a truer value.
        seed: the data order.
        lr, train_steps: first train the task's model for ``train_steps`` optimizer steps
            at ``lr`` (with the task's optimizer, warmup and schedule), then measure there.
    """
    if not hasattr(task, "train") or not hasattr(task, "compute_loss"):
        raise bad_arg("task", type(task).__name__, "an lrsweep.Task",
                      "Build a Task(model=..., optimizer=..., train_data=..., val_data=...).")
    if isinstance(steps, bool) or not isinstance(steps, int) or steps < 1:
        raise bad_arg("steps", steps, "an integer >= 1", "Pass e.g. steps=8.")
    data = task.train
    in_memory = isinstance(data, TensorData)
    first = next(iter(data.batches(seed, 0)))
    loader_bs = batch_size_of(first)
    small = small if small is not None else (data.batch_size if in_memory else loader_bs)
    if isinstance(small, bool) or not isinstance(small, int) or small < 1:
        raise bad_arg("small", small, "a positive batch size", "Pass e.g. small=16.")
    if not in_memory and small != loader_bs:
        raise bad_arg("small", small, f"the loader's batch size ({loader_bs})",
                      "With a DataLoader the small batch is the loader's; pass in-memory "
                      "tensors to choose it freely.")
    if big is None:
        big = 8 * small
        if in_memory:
            big = max(small * 2, min(big, (data.n // small) * small))
    if isinstance(big, bool) or not isinstance(big, int) or big <= small or big % small:
        raise bad_arg("big", big, f"a multiple of small={small} greater than it",
                      f"Pass e.g. big={8 * small}.")
    k = big // small
    if in_memory and data.n < small * 2:
        raise bad_arg("small", small, f"at most half the {data.n} training samples",
                      "Use a smaller batch.")

    if isinstance(train_steps, bool) or not isinstance(train_steps, int) or train_steps < 0:
        raise bad_arg("train_steps", train_steps, "an integer >= 0", "Pass e.g. train_steps=100.")
    if train_steps and not (isinstance(lr, (int, float)) and lr > 0):
        raise bad_arg("lr", lr, "a positive LR to train with before measuring",
                      "Pass lr= (e.g. the optimum of a sweep) with train_steps=.")
    net = model if model is not None else task.initial_model(seed)
    if train_steps:
        _train(task, net, float(lr), train_steps, seed)  # type: ignore[arg-type]
    device = next(net.parameters()).device
    params = [p for p in net.parameters() if p.requires_grad]
    was_training = net.training
    sum_small = sum_big = 0.0
    n_small = 0
    try:
        with isolated_rng():
            seed_everything(seed)
            net.train()
            micro = _micro_batches(task, small, seed)
            for _ in range(steps):
                acc = [torch.zeros_like(p) for p in params]
                for _ in range(k):
                    batch = to_device(next(micro), device)
                    with task.autocast():
                        loss, _ = task.compute_loss(net, batch)
                    grads = torch.autograd.grad(loss.float(), params, allow_unused=True)
                    sq = 0.0
                    for a, g in zip(acc, grads):
                        if g is not None:
                            a.add_(g.float())
                            sq += float(g.float().pow(2).sum())
                    sum_small += sq
                    n_small += 1
                sum_big += float(sum(a.div(k).pow(2).sum() for a in acc))
    finally:
        net.train(was_training)
    b, g2, trace = noise_scale_from_norms(sum_small / n_small, sum_big / steps, small, big)
    if not math.isfinite(b):
        log.warning("estimate_noise_scale: |G|^2 came out <= 0 (%.3g): the gradient is "
                    "dominated by noise here; use more steps or a trained model", g2)
    return NoiseScale(b, g2, trace, small, big, steps)


def _micro_batches(task: Any, small: int, seed: int) -> Any:
    """An endless stream of disjoint batches of ``small`` samples, epoch after epoch."""
    data = task.train
    epoch = 0
    while True:
        if isinstance(data, TensorData):
            order = data.order(seed, epoch)
            for i in range(data.n // small):
                yield data.take(order[i * small:(i + 1) * small])
        else:
            for batch in data.batches(seed, epoch):
                if batch_size_of(batch) == small:
                    yield batch
        epoch += 1


def _train(task: Any, net: nn.Module, lr: float, n_steps: int, seed: int) -> None:
    """``n_steps`` optimizer steps of the task's own training loop (``lrsweep.train.loop``, as
    in a trial: data order, warmup, schedule over ``max(n_steps, task.steps)`` steps,
    accumulation, clipping, fp16 scaling), in place on ``net``."""
    from ..train.loop import train

    with isolated_rng():
        seed_everything(seed)
        net.train()
        opt = task.make_optimizer(net, lr)
        train(task, net, opt, seed, steps=n_steps, horizon=max(n_steps, task.steps))

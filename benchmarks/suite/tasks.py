"""The suite's tasks: what each trains and which shape of LR curve it tests.

Every trial is tiny (tens of ms on one CPU thread). ``SPECS`` lists them in a fixed order;
``held_out`` tasks are not tuned on: they run only at the end."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from functools import partial
from typing import Any

import torch
from torch import nn

import lrsweep

from . import data
from .data import GRUHead, SmallCNN


@dataclass(frozen=True)
class SuiteTask:
    name: str
    builder: Callable[..., lrsweep.Task]
    shape: str  # what the task tests
    data: str  # "real: ..." or "generated: ..."
    lr_range: tuple[float, float] = (1e-5, 1.0)
    held_out: bool = False

    def build(self, **over: Any) -> lrsweep.Task:
        """A fresh ``lrsweep.Task``; ``over`` replaces Task keywords (``steps=2`` for a
        smoke test)."""
        return self.builder(**over)


def _task(name: str, over: dict[str, Any], model: Callable[[], nn.Module], optimizer: Any,
          split: data.Split, **kw: Any) -> lrsweep.Task:
    (xt, yt), (xv, yv) = split
    kw.update(over)
    kw.setdefault("device", "cpu")
    kw.setdefault("batch_size", 32)
    return lrsweep.Task(model=model, optimizer=optimizer, train_data=(xt, yt),
                        val_data=(xv, yv), name=f"suite-{name}", **kw)


def get_task_(builtin: str, over: dict[str, Any], **kw: Any) -> lrsweep.Task:
    """A built-in example task (``lrsweep.examples``) with the suite's budget."""
    from lrsweep.examples import TASKS

    return TASKS[builtin](**{**kw, **over})


def mlp(d_in: int, d_out: int, width: int = 32, depth: int = 1) -> Callable[[], nn.Module]:
    from lrsweep.examples.models import MLP

    return lambda: MLP(d_in, d_out, width=width, depth=depth)


# ------------------------------------------------------------------------- builders ----
def digits_mlp(**over: Any) -> lrsweep.Task:
    return get_task_("digits-mlp", over, steps=60, width=32, depth=1, device="cpu",
                    name="suite-digits-mlp")


def teacher_mlp(**over: Any) -> lrsweep.Task:
    return get_task_("teacher-mlp", over, steps=60, width=32, depth=1, metric="loss", device="cpu",
                    name="suite-teacher-mlp")


def stdlib_gpt(**over: Any) -> lrsweep.Task:
    return get_task_("stdlib-gpt", over, steps=40, width=32, depth=1, n_head=2, context=16,
                    n_train=1024, batch_size=16, warmup_steps=4, schedule="cosine",
                    device="cpu", name="suite-stdlib-gpt")


def bn_cnn(**over: Any) -> lrsweep.Task:
    return _task("bn-cnn", over, lambda: SmallCNN(8, 16, bn_momentum=0.6), torch.optim.AdamW,
                 data.digits_images(), metric="accuracy", steps=50, warmup_steps=5,
                 batch_size=16)


def wine_sgdm(**over: Any) -> lrsweep.Task:
    return _task("wine-sgdm", over, mlp(13, 3), partial(torch.optim.SGD, momentum=0.9),
                 data.sklearn_table("wine"), metric="loss", steps=40, batch_size=16)


def cancer_logreg(**over: Any) -> lrsweep.Task:
    return _task("cancer-logreg", over, lambda: nn.Linear(30, 2), torch.optim.SGD,
                 data.sklearn_table("breast_cancer"), metric="loss", steps=60, batch_size=8)


def diabetes_edge(**over: Any) -> lrsweep.Task:
    """Linear regression by plain SGD at batch 8: at 30 steps the larger the LR the better,
    up to the stability edge (2 / the largest eigenvalue of a batch's Hessian, which varies
    from batch to batch): above the optimum some seeds blow up (loss x10-30)."""
    return _task("diabetes-edge", over, lambda: nn.Linear(10, 1), torch.optim.SGD,
                 data.sklearn_table("diabetes"), loss=nn.MSELoss(), metric="loss", steps=30,
                 batch_size=8)


def diabetes_rmsprop(**over: Any) -> lrsweep.Task:
    return _task("diabetes-rmsprop", over, mlp(10, 1), torch.optim.RMSprop,
                 data.sklearn_table("diabetes"), loss=nn.MSELoss(), metric="loss", steps=60)


def gru_memory(**over: Any) -> lrsweep.Task:
    return _task("gru-memory", over, lambda: GRUHead(6, 16, 6), torch.optim.Adam,
                 data.memory_sequences(length=8), metric="accuracy", steps=50)


def second_dip(**over: Any) -> lrsweep.Task:
    """Noisy labels on 128 training points, an over-parametrised MLP: above the first dip
    it overfits (validation loss rises); higher still AdamW's decoupled weight decay
    (lr x 1.0 per step) regularises it, and the loss dips again, a little worse."""
    return _task("second-dip", over, mlp(8, 4, width=64, depth=2),
                 partial(torch.optim.AdamW, weight_decay=1.0),
                 data.blobs(n_train=128, n_val=512, flip=0.3), metric="loss", steps=80,
                 batch_size=16)


def cnn_sgd_cosine(**over: Any) -> lrsweep.Task:
    return _task("cnn-sgd-cosine", over, lambda: SmallCNN(8, 16),
                 partial(torch.optim.SGD, momentum=0.9, nesterov=True), data.digits_images(),
                 metric="loss", steps=50, warmup_steps=5, schedule="cosine")


def blobs_adagrad(**over: Any) -> lrsweep.Task:
    return _task("blobs-adagrad", over, mlp(8, 4), torch.optim.Adagrad, data.blobs(),
                 metric="accuracy", steps=40)


def char_gru(**over: Any) -> lrsweep.Task:
    from lrsweep.examples.models import sequence_cross_entropy

    return _task("char-gru", over, lambda: data.CharGRU(256, 32), torch.optim.AdamW,
                 data.stdlib_text(12, 1024, 128), loss=sequence_cross_entropy, metric="loss",
                 steps=40, batch_size=16, warmup_steps=4, schedule="cosine")


# held out: run only at the end, never tuned on
def iris_adagrad(**over: Any) -> lrsweep.Task:
    return _task("iris-adagrad", over, mlp(4, 3, width=16), torch.optim.Adagrad,
                 data.sklearn_table("iris"), metric="accuracy", steps=30, batch_size=8)


def wine_logreg(**over: Any) -> lrsweep.Task:
    return _task("wine-logreg", over, lambda: nn.Linear(13, 3), partial(torch.optim.SGD, momentum=0.9),
                 data.sklearn_table("wine"), metric="loss", steps=40, batch_size=8)


def cancer_mlp_cosine(**over: Any) -> lrsweep.Task:
    return _task("cancer-mlp-cosine", over, mlp(30, 2), torch.optim.AdamW,
                 data.sklearn_table("breast_cancer"), metric="accuracy", steps=40,
                 warmup_steps=4, schedule="cosine", batch_size=16)


def gru_adding(**over: Any) -> lrsweep.Task:
    return _task("gru-adding", over, lambda: GRUHead(2, 16, 1), torch.optim.Adam,
                 data.adding_sequences(length=10), loss=nn.MSELoss(), metric="loss", steps=50,
                 warmup_steps=5, schedule="cosine")


# held out, added 2026-12-03 after the estimator work of that day, and run once
def moons_sgd(**over: Any) -> lrsweep.Task:
    return _task("moons-sgd", over, mlp(2, 2, width=32, depth=2), torch.optim.SGD,
                 data.moons(), metric="loss", steps=60)


def digits_table_rmsprop(**over: Any) -> lrsweep.Task:
    return _task("digits-rmsprop", over, mlp(64, 10, width=32), torch.optim.RMSprop,
                 data.sklearn_table("digits"), metric="accuracy", steps=40,
                 warmup_steps=4, schedule="cosine")


def wine_adam(**over: Any) -> lrsweep.Task:
    return _task("wine-adam", over, mlp(13, 3, width=16), torch.optim.Adam,
                 data.sklearn_table("wine"), metric="loss", steps=40, batch_size=16)


SPECS: tuple[SuiteTask, ...] = (
    SuiteTask("digits-mlp", digits_mlp, "noisy flat top (accuracy); MLP, Adam, constant",
              "real: scikit-learn digits"),
    SuiteTask("teacher-mlp", teacher_mlp, "smooth asymmetric top (loss); MLP, Adam",
              "generated: teacher network"),
    SuiteTask("stdlib-gpt", stdlib_gpt, "transformer LM, AdamW, warmup + cosine (loss)",
              "real: Python stdlib sources"),
    SuiteTask("bn-cnn", bn_cnn, "noisy plateau (BatchNorm at eval); CNN + BN, AdamW, warmup",
              "real: scikit-learn digits"),
    SuiteTask("wine-sgdm", wine_sgdm, "SGD momentum 0.9, loss; tiny data, asymmetric top",
              "real: scikit-learn wine"),
    SuiteTask("cancer-logreg", cancer_logreg,
              "convex, near its edge: the seeds' spread grows x5 from the optimum to 4x it, "
              "then seeds diverge; logistic regression, plain SGD",
              "real: scikit-learn breast_cancer", lr_range=(1e-4, 10.0)),
    SuiteTask("diabetes-edge", diabetes_edge, "stability edge 2 octaves above the optimum, "
              "heavy-tailed seeds (blow-ups x10-30); linear regression, SGD",
              "real: scikit-learn diabetes", lr_range=(1e-4, 1.0)),
    SuiteTask("diabetes-rmsprop", diabetes_rmsprop, "flat top, a shallow second dip, then a cliff "
              "(seeds diverge) 3 octaves above; MLP regression, RMSprop",
              "real: scikit-learn diabetes"),
    SuiteTask("gru-memory", gru_memory, "sharp accuracy peak, falling over 2 octaves to where "
              "seeds diverge; GRU, Adam",
              "generated: memory sequences"),
    SuiteTask("second-dip", second_dip, "a second dip at ~30x the optimum (overfit, then "
              "weight decay); MLP, AdamW wd=1", "generated: noisy-label blobs"),
    SuiteTask("cnn-sgd-cosine", cnn_sgd_cosine, "narrow asymmetric top, heavy tail at 2x (mean 1.5x "
              "the median), divergence at 4x; CNN, SGD Nesterov, warmup + cosine",
              "real: scikit-learn digits"),
    SuiteTask("blobs-adagrad", blobs_adagrad, "flat top (accuracy, noisy labels); Adagrad",
              "generated: Gaussian blobs"),
    SuiteTask("char-gru", char_gru, "GRU char LM, AdamW, warmup + cosine (loss)",
              "real: Python stdlib sources"),
    SuiteTask("iris-adagrad", iris_adagrad, "tiny data, accuracy plateau; Adagrad",
              "real: scikit-learn iris", held_out=True),
    SuiteTask("wine-logreg", wine_logreg, "stability edge; logistic regression, SGD momentum",
              "real: scikit-learn wine", lr_range=(1e-4, 10.0), held_out=True),
    SuiteTask("cancer-mlp-cosine", cancer_mlp_cosine, "accuracy, AdamW warmup + cosine",
              "real: scikit-learn breast_cancer", held_out=True),
    SuiteTask("gru-adding", gru_adding, "cliff; GRU regression, Adam, warmup + cosine",
              "generated: adding problem", held_out=True),
    SuiteTask("moons-sgd", moons_sgd, "plain SGD, a 2-layer MLP (loss)",
              "generated: scikit-learn half-moons", lr_range=(1e-4, 10.0), held_out=True),
    SuiteTask("digits-rmsprop", digits_table_rmsprop,
              "accuracy, RMSprop, warmup + cosine; MLP on the 64 pixels",
              "real: scikit-learn digits", held_out=True),
    SuiteTask("wine-adam", wine_adam, "tiny data, Adam, constant (loss)",
              "real: scikit-learn wine", held_out=True),
)

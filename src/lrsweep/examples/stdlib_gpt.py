"""``stdlib-gpt``: a tiny byte-level transformer language model trained on text that ships
with every Python: the standard library's own source files. Metric: validation loss.

The corpus is a fixed list of stdlib modules read as bytes and cut into windows of
``context + 1`` bytes; the last ``val_windows`` windows are the validation set."""

from __future__ import annotations

import sysconfig
from functools import lru_cache
from pathlib import Path
from typing import Any

import torch

from ..errors import LRSweepError
from ..task import Task
from .models import TinyGPT, parametrize, sequence_cross_entropy

CORPUS = ("argparse.py", "difflib.py", "inspect.py", "textwrap.py", "typing.py",
          "dataclasses.py", "functools.py", "collections/__init__.py", "pathlib.py",
          "json/decoder.py", "json/encoder.py", "string.py", "shutil.py", "tempfile.py")


@lru_cache(maxsize=2)
def corpus_bytes() -> bytes:
    root = Path(sysconfig.get_paths()["stdlib"])
    parts = [(root / name).read_bytes() for name in CORPUS if (root / name).exists()]
    if not parts:
        raise LRSweepError(f"stdlib-gpt: no standard-library sources found under {root}")
    return b"\n".join(parts)


def lm_tensors(context: int = 64, n_train: int = 8192, val_windows: int = 512
               ) -> tuple[tuple, tuple]:
    data = torch.frombuffer(bytearray(corpus_bytes()), dtype=torch.uint8).long()
    n = len(data) // (context + 1)
    windows = data[: n * (context + 1)].view(n, context + 1)
    val = windows[-val_windows:]
    train = windows[: min(n - val_windows, n_train)]
    return (train[:, :-1], train[:, 1:]), (val[:, :-1], val[:, 1:])


def stdlib_gpt(*, width: int = 64, depth: int = 2, n_head: int = 4, context: int = 64,
               batch_size: int = 32, n_train: int = 8192, dropout: float = 0.0,
               optimizer: Any = torch.optim.AdamW, parametrization: str = "sp",
               base_width: int | None = None, **task_kwargs: Any) -> Task:
    train, val = lm_tensors(context, n_train)
    task_kwargs.setdefault("name", "stdlib-gpt")
    if "epochs" not in task_kwargs:
        task_kwargs.setdefault("steps", 150)
    model, optimizer = parametrize(
        lambda w, b: TinyGPT(256, w, depth, n_head, context, dropout, base_width=b), width,
        optimizer, parametrization, base_width)
    return Task(model=model, optimizer=optimizer, train_data=train, val_data=val, batch_size=batch_size,
                loss=sequence_cross_entropy, metric="loss", **task_kwargs)

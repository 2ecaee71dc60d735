"""Isolation of global RNG state: a sweep leaves torch's (CPU and CUDA), numpy's and Python's
global generators exactly as it found them."""

from __future__ import annotations

import contextlib
import random
from collections.abc import Iterator

import numpy as np
import torch


@contextlib.contextmanager
def isolated_rng() -> Iterator[None]:
    py_state = random.getstate()
    np_state = np.random.get_state()
    cuda = torch.cuda.is_available() and torch.cuda.is_initialized()
    devices = list(range(torch.cuda.device_count())) if cuda else []
    try:
        with torch.random.fork_rng(devices=devices):
            yield
    finally:
        random.setstate(py_state)
        np.random.set_state(np_state)


def fork_devices(device: torch.device) -> list[int]:
    """The CUDA devices whose RNG ``torch.random.fork_rng`` must save for work on
    ``device``: its own (the current one for a bare ``cuda``), none on the CPU."""
    if device.type == "cuda":
        return [device.index if device.index is not None else torch.cuda.current_device()]
    return []


def seed_everything(seed: int) -> None:
    """Seed the generators a trial may draw from (dropout, user code)."""
    torch.manual_seed(seed)
    random.seed(seed)
    np.random.seed(seed % (2**32))

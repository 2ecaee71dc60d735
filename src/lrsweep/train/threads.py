"""CPU threads for a sweep: set for the sweep, restored after it.

torch's default intra-op thread count is one per core. On a machine whose cores are busy
with other work (another job, a data loader, a shared box) those threads wait on each other
and a small model trains several times slower than with one thread (``benchmarks/threads.py``
measures it; ``benchmarks/RESULTS.md`` has the figures). The ``"auto"`` policy therefore
counts the cores that are idle when the sweep starts and uses at most that many threads:

* on an idle machine: torch's setting, unchanged (so never slower than the default);
* with k of n cores busy: ``n - k`` threads (at least 1), never more than torch's setting.

The count is read from ``/proc/stat`` over 50 ms (Linux; elsewhere from the
one-minute load average), and read again as trials finish (at most every 0.5 s, this
process's own CPU time subtracted), so that the count follows a load that comes or goes
during the sweep; it changes between trials only. Only a ``Task`` on the CPU is affected; a GPU task, or an
objective function (``sweep(objective, ...)``) that trains wherever it likes, is left alone
unless ``threads=N`` is given.
"""

from __future__ import annotations

import contextlib
import logging
import os
import time
from collections.abc import Iterator
from typing import Any

import torch

from ..errors import bad_arg

log = logging.getLogger("lrsweep")

SAMPLE_SECONDS = 0.05


def _cpu_times() -> tuple[float, float] | None:
    """(busy, total) jiffies of all cores, from the first line of ``/proc/stat``."""
    try:
        with open("/proc/stat") as f:
            fields = f.readline().split()
    except OSError:
        return None
    if not fields or fields[0] != "cpu":
        return None
    vals = [float(v) for v in fields[1:]]
    idle = vals[3] + (vals[4] if len(vals) > 4 else 0.0)  # idle + iowait
    total = sum(vals[:8])  # guest time is already counted in user
    return total - idle, total


def busy_cores(sample: float = SAMPLE_SECONDS) -> float | None:
    """How many cores other work keeps busy now (None if it cannot be read)."""
    cores = os.cpu_count() or 1
    a = _cpu_times()
    if a is not None:
        time.sleep(sample)
        b = _cpu_times()
        if b is not None and b[1] > a[1]:
            return cores * (b[0] - a[0]) / (b[1] - a[1])
    try:
        return min(float(os.getloadavg()[0]), float(cores))
    except (AttributeError, OSError):  # no load average (Windows)
        return None


def auto_threads(current: int, busy: float | None, cores: int | None = None) -> int:
    """The ``"auto"`` policy: the idle cores (a core at least half idle counts), at least 1,
    at most ``current``.

    >>> auto_threads(2, 0.05, cores=2), auto_threads(2, 1.0, cores=2), auto_threads(16, 3.4, 16)
    (2, 1, 13)
    """
    cores = cores or os.cpu_count() or 1
    if busy is None:
        return current
    idle = int(cores - busy + 0.5)
    return max(1, min(current, idle))


def check_threads(threads: Any) -> int | str | None:
    if threads is None or threads == "auto":
        return threads
    if isinstance(threads, int) and not isinstance(threads, bool) and threads >= 1:
        return threads
    raise bad_arg("threads", threads, "'auto', None (torch's setting) or an integer >= 1",
                  "Leave threads='auto', or pass e.g. threads=1.")


def applies(task: Any) -> bool:
    """The auto policy is for tasks that train on the CPU (not a GPU, not an objective)."""
    device = getattr(task, "device", None)
    return isinstance(device, torch.device) and device.type == "cpu"


class Threads:
    """The thread count of one sweep. Under ``"auto"``, ``recheck()`` (called as trials
    finish) re-counts the cores other work keeps busy since the last look, its own CPU time
    subtracted, and moves the count between trials: a load that arrives, or leaves, after
    the sweep started is followed within ``RECHECK_SECONDS``."""

    def __init__(self, threads: int | str | None, task: Any) -> None:
        self.torch = torch.get_num_threads()  # the user's setting, restored at the end
        self.auto = threads == "auto" and applies(task)
        self.cores = os.cpu_count() or 1
        if self.auto:
            busy = busy_cores()
            self.threads = auto_threads(self.torch, busy, self.cores)
            if self.threads != self.torch:
                log.info("threads: %d for this sweep instead of torch's %d (about %.1f of %d "
                         "cores busy with other work; threads=None keeps torch's setting)",
                         self.threads, self.torch, busy or 0.0, self.cores)
            self._mark()
        else:
            self.threads = self.torch if threads in (None, "auto") else int(threads)
        self.used = {self.threads}

    def _mark(self) -> None:
        self._when, self._cpu, self._own = time.monotonic(), _cpu_times(), _own_seconds()

    def recheck(self) -> None:
        if not self.auto or time.monotonic() - self._when < RECHECK_SECONDS:
            return
        before, own, when = self._cpu, self._own, self._when
        self._mark()
        if before is None or self._cpu is None or self._cpu[1] <= before[1]:
            return
        total = self.cores * (self._cpu[0] - before[0]) / (self._cpu[1] - before[1])
        others = max(0.0, total - (self._own - own) / max(self._when - when, 1e-9))
        new = auto_threads(self.torch, others, self.cores)
        if new != self.threads:
            log.info("threads: %d -> %d (about %.1f of %d cores now busy with other work)",
                     self.threads, new, others, self.cores)
            self.threads = new
            self.used.add(new)
            torch.set_num_threads(new)


RECHECK_SECONDS = 0.5


def _own_seconds() -> float:
    t = os.times()
    return t.user + t.system  # every thread of this process


@contextlib.contextmanager
def sweep_threads(threads: int | str | None, task: Any) -> Iterator[Threads]:
    """torch's intra-op threads for the sweep inside, restored after it (also on error)."""
    policy = Threads(threads, task)
    if policy.threads != policy.torch:
        torch.set_num_threads(policy.threads)
    try:
        yield policy
    finally:
        if torch.get_num_threads() != policy.torch:
            torch.set_num_threads(policy.torch)

"""CPU threads: how long a sweep of the built-in tasks takes with torch's default intra-op
thread count, with 1 thread and with 2, on an otherwise idle machine and with the machine's
other cores kept busy by spinning processes (as on a shared box, or beside a data loader).

Every configuration runs in this process; the thread count is set with
``torch.set_num_threads`` before each timed sweep and restored after it. Configurations are
interleaved (repeat 1 of every configuration, then repeat 2, ...) so that a change in the
machine's load hits them alike; each cell is the median of the repeats. Ratios are to the
default thread count under the same load, measured in the same run.

``policy`` rows time ``lrsweep.sweep(..., threads="auto")`` starting from torch's default,
which is what the CLI and ``engine="auto"`` do.

    python benchmarks/threads.py                       # all built-in tasks, ~10 minutes
    python benchmarks/threads.py --tasks teacher-mlp --repeats 3 --busy 1
"""

from __future__ import annotations

import argparse
import inspect
import multiprocessing as mp
import os
import platform
import statistics
import time
from typing import Any

import torch

import lrsweep
from lrsweep.examples import get_task

# per task: a budget that keeps one sweep to a few seconds on one core
STEPS = {"digits-mlp": 60, "teacher-mlp": 60, "stdlib-gpt": 20}


def spin() -> None:  # a busy process: one core at 100 %
    while True:
        pass


def timed_sweep(task: Any, lrs: list[float], engine: str, threads: int | str) -> float:
    """Seconds for one sweep with ``threads`` (an int set by hand, or "auto")."""
    has_threads = "threads" in inspect.signature(lrsweep.sweep).parameters
    old = torch.get_num_threads()
    try:
        kw: dict[str, Any] = {"progress": False} if "progress" in inspect.signature(
            lrsweep.sweep).parameters else {}
        if threads == "auto":
            kw["threads"] = "auto"
        else:
            torch.set_num_threads(int(threads))
            if has_threads:
                kw["threads"] = None  # leave the count set here alone
        t0 = time.perf_counter()
        lrsweep.sweep(task, lrs, engine=engine, **kw)
        return time.perf_counter() - t0
    finally:
        torch.set_num_threads(old)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--tasks", nargs="+", default=list(STEPS))
    ap.add_argument("--engines", nargs="+", default=["auto", "sequential"])
    ap.add_argument("--lrs", type=int, default=6, help="LRs per sweep (default 6)")
    ap.add_argument("--repeats", type=int, default=3)
    ap.add_argument("--busy", type=int, default=None,
                    help="spinning processes in the busy condition (default: cores - 1)")
    ap.add_argument("--loads", nargs="+", default=["idle", "busy"])
    args = ap.parse_args()

    default = torch.get_num_threads()
    cores = os.cpu_count() or 1
    n_busy = args.busy if args.busy is not None else max(1, cores - 1)
    counts: list[int | str] = sorted({default, 1, 2})
    if "threads" in inspect.signature(lrsweep.sweep).parameters:
        counts.append("auto")
    lrs = lrsweep.log_grid(1e-4, 1e-1, args.lrs)
    tasks = {n: get_task(n, steps=STEPS.get(n, 40), device="cpu") for n in args.tasks}
    print(f"# {platform.processor() or platform.machine()}, {cores} CPUs, torch "
          f"{torch.__version__}, default threads {default}, load average at start "
          f"{os.getloadavg()[0]:.2f}; {args.lrs} LRs per sweep, median of {args.repeats}; "
          f"busy = {n_busy} spinning process(es)")
    for task in tasks.values():  # warm-up: first-call costs out of the timings
        timed_sweep(task, lrs[:2], "sequential", default)

    times: dict[tuple[str, str, str, Any], list[float]] = {}
    loads: dict[str, list[float]] = {}
    for load in args.loads:
        procs = [mp.Process(target=spin, daemon=True) for _ in range(n_busy if load == "busy"
                                                                    else 0)]
        for p in procs:
            p.start()
        try:
            time.sleep(0.5 if procs else 0)
            for _ in range(args.repeats):
                for name, task in tasks.items():
                    for engine in args.engines:
                        for n in counts:
                            t = timed_sweep(task, lrs, engine, n)
                            times.setdefault((load, name, engine, n), []).append(t)
                            print(f"# {load} {name} {engine} threads={n}: {t:.2f} s "
                                  f"(load average {os.getloadavg()[0]:.2f})", flush=True)
                loads.setdefault(load, []).append(os.getloadavg()[0])
        finally:
            for p in procs:
                p.terminate()
                p.join()

    print(f"{'load':5} {'task':12} {'engine':10} {'threads':>12} {'s':>7} {'ratio':>6}")
    for (load, name, engine, n), ts in times.items():
        ref = statistics.median(times[(load, name, engine, default)])
        s = statistics.median(ts)
        label = f"{n}" + (" (default)" if n == default else "")
        print(f"{load:5} {name:12} {engine:10} {label:>12} {s:7.2f} {s / ref:6.2f}")
    for load, vals in loads.items():
        print(f"# load average during '{load}': {min(vals):.2f}..{max(vals):.2f}")


if __name__ == "__main__":
    main()

"""Overhead of the Ray engine against the local engines on ``digits-mlp``.

On a CPU machine: the same sweep (10 LRs, 1 seed) through ``engine="sequential"`` and through
``engine="ray"`` on a local Ray instance (one group per CPU, sequential inside each group),
with Ray's start-up (the first sweep of the process: ``ray.init`` + worker start + shipping
the task) and without it (a later sweep on the warm instance). Ratios are Ray / sequential
(lower is better; below 1 means the Ray workers ran the trials in parallel faster than one
process did).

With CUDA: also ``engine="vectorized"`` on the GPU against ``engine="ray"`` with one
group per GPU (vectorized inside the group).

    python benchmarks/ray_overhead.py [--epochs 2 10] [--lrs 10] [--repeats 3]
"""

from __future__ import annotations

import argparse
import os
import platform
import time
from typing import Any

import torch

import lrsweep
from lrsweep.engines import ray as ray_engine
from lrsweep.examples import default_lr_range, get_task


def best_of(repeats: int, task: Any, lrs: list[float], **kw: Any) -> tuple[float, Any]:
    """The fastest of ``repeats`` sweeps: (seconds, result)."""
    runs = []
    for _ in range(repeats):
        t0 = time.perf_counter()
        res = lrsweep.sweep(task, lrs, **kw)
        runs.append((time.perf_counter() - t0, res))
    return min(runs, key=lambda p: p[0])


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--epochs", type=float, nargs="+", default=[2.0, 10.0])
    ap.add_argument("--lrs", type=int, default=10)
    ap.add_argument("--repeats", type=int, default=3)
    ap.add_argument("--cpus", type=int, default=os.cpu_count() or 2,
                    help="CPUs of the local Ray instance")
    ap.add_argument("--threads", type=int, default=1,
                    help="torch threads of the sequential baseline (each Ray group uses "
                         "num_cpus_per_group=1 thread); on a busy machine more threads than "
                         "free cores make small models many times slower")
    args = ap.parse_args()
    import ray

    torch.set_num_threads(args.threads)

    lrs = lrsweep.log_grid(*default_lr_range("digits-mlp"), args.lrs)
    cuda = torch.cuda.is_available()
    print(f"# {platform.node()}: {os.cpu_count()} CPUs, torch {torch.__version__}, "
          f"ray {ray.__version__}, torch threads {torch.get_num_threads()}, "
          f"GPU: {torch.cuda.get_device_name() if cuda else 'none'}, "
          f"load average {os.getloadavg()[0]:.1f}")

    rows = []
    startup = None
    for epochs in args.epochs:
        task = get_task("digits-mlp", epochs=epochs, device="cpu")
        t_seq, seq = best_of(args.repeats, task, lrs, engine="sequential")
        if startup is None:  # the first Ray sweep of the process pays the start-up
            engine = ray_engine.RayEngine(local_engine="sequential",
                                          init_kwargs={"num_cpus": args.cpus})
            t_cold, _ = best_of(1, task, lrs, engine=engine)
        t_ray, res = best_of(args.repeats, task, lrs, engine="ray", local_engine="sequential")
        # built from an import path: each worker rebuilds it, nothing is shipped
        path_task = ray_engine.load_task("lrsweep.examples:get_task", name="digits-mlp",
                                         epochs=epochs, device="cpu")
        t_path, _ = best_of(args.repeats, path_task, lrs, engine="ray",
                            local_engine="sequential")
        agree = seq.best().lr == res.best().lr
        rows.append(("cpu", epochs, "sequential", t_seq, t_ray, t_path, agree))
        if startup is None:
            startup = (epochs, t_cold - t_ray)
            rows.append(("cpu", epochs, "sequential (Ray cold start)", t_seq, t_cold, None,
                         agree))

    if cuda:
        for epochs in args.epochs:
            task = ray_engine.load_task("lrsweep.examples:get_task", name="digits-mlp",
                                        epochs=epochs, device="cuda")
            best_of(1, task, lrs, engine="vectorized")  # warm-up (kernels, caches)
            t_vec, vec = best_of(args.repeats, task, lrs, engine="vectorized")
            best_of(1, task, lrs, engine="ray", local_engine="vectorized")
            t_ray, res = best_of(args.repeats, task, lrs, engine="ray",
                                 local_engine="vectorized", num_gpus_per_group=1)
            rows.append(("cuda", epochs, "vectorized", t_vec, t_ray, None,
                         vec.best().lr == res.best().lr))
    else:
        print("# no CUDA device here: the Ray-vs-vectorized GPU rows are skipped")

    print(f"\n{args.lrs} LRs x 1 seed on digits-mlp; times are the best of {args.repeats}; "
          "ratio = Ray / baseline (lower is better)")
    print("| device | epochs | baseline | baseline s | Ray s | ratio | Ray, import path s "
          "| ratio | same best LR |")
    print("|---|---|---|---|---|---|---|---|---|")
    for dev, ep, base, tb, tr, tp, agree in rows:
        path = f"{tp:.2f} | {tp / tb:.2f}" if tp is not None else "- | -"
        print(f"| {dev} | {ep:g} | {base} | {tb:.2f} | {tr:.2f} | {tr / tb:.2f} | {path} "
              f"| {agree} |")
    if startup is not None:
        print(f"\nRay start-up (cold - warm Ray sweep at {startup[0]:g} epochs): "
              f"{startup[1]:.1f} s")
    ray_engine.shutdown()


if __name__ == "__main__":
    main()

"""Overhead of the Ray engine against the local engines on ``digits-mlp``.

On a CPU machine: the same sweep (10 LRs, 1 seed) through ``engine="sequential"`` and through
``engine="ray"`` on a local Ray instance, sequential inside each group: with Ray's start-up
(the first sweep of the process: ``ray.init`` + worker start + shipping the task), and on the
warm instance as one group (the pure overhead: same work, one process, plus Ray), as one group
per CPU (the overhead and the parallel gain), and with the task built from an import path.
Ratios are time / sequential (lower is better).

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


def timed(task: Any, lrs: list[float], **kw: Any) -> tuple[float, Any]:
    t0 = time.perf_counter()
    res = lrsweep.sweep(task, lrs, **kw)
    return time.perf_counter() - t0, res


def interleaved(repeats: int, configs: dict[str, tuple[Any, dict[str, Any]]],
                lrs: list[float]) -> dict[str, tuple[float, Any]]:
    """Best time of each configuration, the configurations taking turns (so a busy machine
    slows them alike)."""
    best: dict[str, tuple[float, Any]] = {}
    for _ in range(repeats):
        for name, (task, kw) in configs.items():
            t, res = timed(task, lrs, **kw)
            if name not in best or t < best[name][0]:
                best[name] = (t, res)
    return best


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

    rows: list[tuple[str, float, str, float, float, bool]] = []
    seq_kw = {"engine": "sequential"}
    ray_kw = {"engine": "ray", "local_engine": "sequential"}
    for i, epochs in enumerate(args.epochs):
        task = get_task("digits-mlp", epochs=epochs, device="cpu")
        # built from an import path: each worker rebuilds it, nothing is shipped
        path_task = ray_engine.load_task("lrsweep.examples:get_task", name="digits-mlp",
                                         epochs=epochs, device="cpu")
        if i == 0:  # the first Ray sweep of the process pays the start-up
            t_seq0, _ = timed(task, lrs, **seq_kw)
            engine = ray_engine.RayEngine(local_engine="sequential",
                                          init_kwargs={"num_cpus": args.cpus})
            t_cold, _ = timed(task, lrs, engine=engine)
            timed(path_task, lrs, **ray_kw)  # workers build the import-path task once
        best = interleaved(args.repeats, {
            "sequential": (task, seq_kw),
            "ray, 1 group (overhead only)": (task, {**ray_kw, "group_size": len(lrs)}),
            f"ray, {args.cpus} workers": (task, ray_kw),
            f"ray, {args.cpus} workers, import-path task": (path_task, ray_kw),
        }, lrs)
        t_seq, seq = best["sequential"]
        if i == 0:
            rows.append(("cpu", epochs, "ray, first sweep (with Ray start-up)", t_cold,
                         t_cold / t_seq0, True))
        for name, (t, res) in best.items():
            rows.append(("cpu", epochs, name, t, t / t_seq, res.best().lr == seq.best().lr))

    if cuda:
        for epochs in args.epochs:
            task = ray_engine.load_task("lrsweep.examples:get_task", name="digits-mlp",
                                        epochs=epochs, device="cuda")
            gpu_kw = {"engine": "ray", "local_engine": "vectorized", "num_gpus_per_group": 1}
            timed(task, lrs, engine="vectorized")  # warm-up (kernels, caches)
            timed(task, lrs, **gpu_kw)
            best = interleaved(args.repeats, {"vectorized": (task, {"engine": "vectorized"}),
                                              "ray, 1 group per GPU": (task, gpu_kw)}, lrs)
            t_vec, vec = best["vectorized"]
            for name, (t, res) in best.items():
                rows.append(("cuda", epochs, name, t, t / t_vec,
                             res.best().lr == vec.best().lr))
    else:
        print("# no CUDA device here: the Ray-vs-vectorized GPU rows are skipped")

    print(f"\n{args.lrs} LRs x 1 seed on digits-mlp; best of {args.repeats} interleaved runs; "
          "ratio = time / the device's baseline (sequential on CPU, vectorized on CUDA)")
    print("| device | epochs | engine | s | ratio | same best LR |")
    print("|---|---|---|---|---|---|")
    for dev, ep, name, t, ratio, agree in rows:
        print(f"| {dev} | {ep:g} | {name} | {t:.2f} | {ratio:.2f} | {agree} |")
    ray_engine.shutdown()


if __name__ == "__main__":
    main()

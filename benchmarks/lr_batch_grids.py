"""LR x batch (and LR x width) grids on the built-in tasks, for ``transfer_real.py`` and
``law_quality.py``: every (task, scale, lr, seed) trial, cached as JSON under
``benchmarks/data/lr-batch-grids/`` so the analyses rerun in seconds.

Each batch grid trains at a fixed number of epochs (the same samples seen at every batch
size, as the Step Law grids hold the tokens fixed), validation loss, 3 seeds, the vectorized
engine (all LRs of a seed as one stacked model), 1 torch thread. A cached grid is reused;
``--force`` reruns one (the old file is kept as ``.bak``); a grid that gained seeds here
trains only the seeds its cache lacks.

    python benchmarks/lr_batch_grids.py                 # every grid missing from the cache
    python benchmarks/lr_batch_grids.py --only teacher-sgd --force
"""

from __future__ import annotations

import argparse
import functools
import json
import time
from pathlib import Path

import torch

from lrsweep import log_grid, sweep
from lrsweep.examples import get_task

HERE = Path(__file__).resolve().parent
CACHE = HERE / "data" / "lr-batch-grids"
SEEDS = (0, 1, 2)

# name -> (task, optimizer family, fixed overrides, axis, scales, LR grid)
GRIDS: dict[str, dict] = {
    "teacher-adam": dict(task="teacher-mlp", family="adam", axis="batch_size",
                         scales=[16, 32, 64, 128, 256, 512],
                         over=dict(width=64, metric="loss", epochs=2, n_train=32768),
                         lrs=(1e-4, 1.0, 21)),
    "teacher-sgd": dict(task="teacher-mlp", family="sgd", axis="batch_size",
                        scales=[16, 32, 64, 128, 256, 512],
                        over=dict(width=64, metric="loss", epochs=2, n_train=32768,
                                  optimizer="sgd-momentum"),
                        lrs=(1e-3, 10.0, 21)),
    "digits-adam": dict(task="digits-mlp", family="adam", axis="batch_size",
                        scales=[4, 8, 16, 32, 64],
                        over=dict(width=64, metric="loss", epochs=10),
                        lrs=(1e-4, 1.0, 21), seeds=tuple(range(8))),  # noisy: 8 seeds
    # a width scan under standard parametrisation (the optimum drifts with width)
    "teacher-width": dict(task="teacher-mlp", family="adam", axis="width",
                          scales=[16, 32, 64, 128, 256, 512],
                          over=dict(metric="loss", steps=300, batch_size=64, n_train=8192),
                          lrs=(1e-4, 1.0, 21)),
    "gpt-adamw": dict(task="stdlib-gpt", family="adam", axis="batch_size",
                      scales=[4, 8, 16, 32],
                      over=dict(width=32, n_head=2, context=32, n_train=2048, epochs=1),
                      lrs=(1e-3, 0.3, 11), seeds=(0, 1)),
}


def _optimizer(name):
    if name == "sgd-momentum":
        return functools.partial(torch.optim.SGD, momentum=0.9)
    return name


def run_grid(name: str, log=print, have: dict | None = None) -> dict:
    """Every trial of grid ``name``; with ``have`` (the cached grid), only the seeds it
    lacks are trained and added to its trials."""
    spec = GRIDS[name]
    done = set(have["seeds"]) if have else set()
    seeds = [s for s in spec.get("seeds", SEEDS) if s not in done]
    rows = list(have["trials"]) if have else []
    t_all = time.perf_counter()
    for s in spec["scales"]:
        over = dict(spec["over"])
        if "optimizer" in over:
            over["optimizer"] = _optimizer(over["optimizer"])
        over[spec["axis"]] = s
        task = get_task(spec["task"], **over)
        t0 = time.perf_counter()
        res = sweep(task, log_grid(*spec["lrs"]), seeds=seeds, engine="vectorized",
                    progress=False, threads=1)
        for t in res.trials:
            rows.append(dict(scale=s, lr=t.lr, seed=t.seed, status=str(t.status.value),
                             metric=t.metric))
        log(f"  {name} {spec['axis']}={s}: {res.optimum().summary()[:100]} "
            f"({time.perf_counter() - t0:.0f} s)")
    return dict(name=name, task=spec["task"], family=spec["family"], axis=spec["axis"],
                scales=spec["scales"], over=spec["over"], seeds=list(spec.get("seeds", SEEDS)),
                metric="loss", trials=rows,
                seconds=round(time.perf_counter() - t_all + (have or {}).get("seconds", 0), 1))


def load(name: str) -> dict | None:
    path = CACHE / f"{name}.json"
    return json.loads(path.read_text()) if path.exists() else None


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--only", help="comma list of grids (default all)")
    ap.add_argument("--force", action="store_true", help="rerun cached grids")
    args = ap.parse_args()
    torch.set_num_threads(1)
    CACHE.mkdir(parents=True, exist_ok=True)
    names = args.only.split(",") if args.only else list(GRIDS)
    for name in names:
        path = CACHE / f"{name}.json"
        have = load(name) if not args.force else None
        want = set(GRIDS[name].get("seeds", SEEDS))
        if have is not None and want <= set(have["seeds"]):
            print(f"{name}: cached ({path.name})")
            continue
        if path.exists():
            path.replace(path.with_suffix(".json.bak"))
        if have is not None:
            print(f"{name}: adding seeds {sorted(want - set(have['seeds']))}")
        data = run_grid(name, have=have)
        path.write_text(json.dumps(data, indent=0))
        print(f"{name}: {len(data['trials'])} trials in {data['seconds']:.0f} s -> {path.name}")


if __name__ == "__main__":
    main()

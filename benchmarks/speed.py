"""Speed of a 10-LR sweep: the seed document's loop against lrsweep's engines.

For each case (10 LRs, 1 epoch of 60k samples at batch 128): an MLP of width 256 and of
width 1024 (784 inputs, 2 hidden layers), a small CNN on 32x32x3 images, and a small
transformer; all on synthetic data generated here. Methods:

- ``seed loop``: a faithful copy of the seed document's ``lr_finder`` (DataLoader over a
  TensorDataset, one trial after another, eager);
- ``sequential``: lrsweep's sequential engine;
- ``vectorized``: all trials stacked, eager; ``+graph``: the step captured in a CUDA graph;
  ``+compile``: the step compiled (and captured);
- ``auto`` (CPU): what ``engine="auto"`` picks.

Columns: end-to-end seconds (everything a user waits for: set-up, capture or compile,
training, evaluation) and the ratio to the seed loop; steady-state seconds per sweep step
(all 10 trials advanced by one step, after warm-up) and its ratio; one-time seconds (capture,
compile); the largest metric difference against the sequential engine (and status
mismatches).

    python benchmarks/speed.py --device cuda            # the GPU table (~2-4 minutes)
    python benchmarks/speed.py --device cpu --quick     # CPU, fewer samples
    python benchmarks/speed.py --device cuda --seeds 3  # + (lr, seed) stacking, 3 seeds
    python benchmarks/speed.py --device cpu --builtin digits-mlp,teacher-mlp,stdlib-gpt \
        --lrs 5 --seeds 3                               # one search round per built-in task

The seeds table (``--seeds N``, N > 1) runs the same LRs for N seeds: ``sequential``;
``vectorized, per seed`` (LR-only stacking: one stacked group per seed, one after another,
``stack_seeds=False``); ``vectorized, (lr, seed)`` (every pair in one group); and ``1 seed``
(the vectorized engine on the first seed alone), so that ``x 1 seed`` says what the extra
seeds cost. ``--builtin`` times that table on the built-in tasks (their own budgets, ``--lrs``
LRs from 1e-4 to 1e-2 where Adam trains stably) instead of the synthetic cases.
"""

from __future__ import annotations

import argparse
import logging
import math
import platform
import sys
import time
from copy import deepcopy

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn
from torch.nn.modules.loss import _Loss
from torch.utils.data import DataLoader, TensorDataset

import lrsweep

LRS = [float(v) for v in np.logspace(-5, -1, 10)]
BATCH = 128


# ------------------------------------------------------------------ the seed's loop ----
def lr_finder(
    model: nn.Module,
    OptType: type[torch.optim.Optimizer],  # noqa: N803 (the seed's names)
    train_dataloader: DataLoader,
    val_dataloader: DataLoader,
    Criterion: type[_Loss] = nn.CrossEntropyLoss,  # noqa: N803
    start_lr: float = 1e-8,
    end_lr: float = 0.1,
    warmup_epochs: int = 0,
    training_epochs: int = 1,
    steady: list | None = None,
) -> dict[float, float]:
    """The seed document's code, line for line (its print()s removed; ``steady`` collects
    the time of each trial's steps after its first five, for the steady-state column)."""
    assert warmup_epochs < training_epochs

    rsts = {}
    lr_range = np.logspace(np.log10(start_lr), np.log10(end_lr), 10)
    init_wts = deepcopy(model.state_dict())
    device = next(model.parameters()).device
    criterion = Criterion().to(device)

    for i, lr in enumerate(lr_range):
        if i != 0:
            model.load_state_dict(init_wts)

        warmup_batches = warmup_epochs * len(train_dataloader)
        batch_cnt = 1
        if warmup_batches != 0:
            optimizer = OptType(model.parameters(), lr=lr * batch_cnt / warmup_batches)
        else:
            optimizer = OptType(model.parameters(), lr=lr)

        model.train()
        for _ in range(training_epochs):
            for inputs, targets in train_dataloader:
                if steady is not None and batch_cnt == 6:
                    sync(device)
                    t_steady = time.perf_counter()
                inputs, targets = inputs.to(device), targets.to(device)
                optimizer.zero_grad()
                outputs = model(inputs)
                loss = criterion(outputs, targets)
                loss.backward()
                optimizer.step()

                batch_cnt += 1
                if batch_cnt < warmup_batches:
                    for param_group in optimizer.param_groups:
                        param_group['lr'] = lr * batch_cnt / warmup_batches
        if steady is not None and batch_cnt > 6:
            sync(device)
            steady.append((time.perf_counter() - t_steady) / (batch_cnt - 6))

        model.eval()
        correct, total = 0, 0
        with torch.no_grad():
            for inputs, targets in val_dataloader:
                inputs, targets = inputs.to(device), targets.to(device)
                outputs = model(inputs)
                _, preds = torch.max(outputs, 1)
                correct += (preds == targets).sum().item()
                total += targets.size(0)

        acc = correct / total
        rsts[lr] = acc

    return rsts


def sync(device: torch.device | str) -> None:
    if torch.device(device).type == "cuda":
        torch.cuda.synchronize()


# --------------------------------------------------------------------------- cases ----
class MLP(nn.Module):
    def __init__(self, width: int) -> None:
        super().__init__()
        self.net = nn.Sequential(nn.Linear(784, width), nn.ReLU(), nn.Linear(width, width),
                                 nn.ReLU(), nn.Linear(width, 10))

    def forward(self, x):
        return self.net(x)


class CNN(nn.Module):
    def __init__(self) -> None:
        super().__init__()
        self.c1 = nn.Conv2d(3, 32, 3, padding=1)
        self.c2 = nn.Conv2d(32, 64, 3, padding=1)
        self.fc = nn.Linear(64 * 8 * 8, 10)

    def forward(self, x):
        x = F.max_pool2d(F.relu(self.c1(x)), 2)
        x = F.max_pool2d(F.relu(self.c2(x)), 2)
        return self.fc(x.flatten(1))


class Block(nn.Module):
    def __init__(self, d: int, heads: int, p: float) -> None:
        super().__init__()
        self.heads = heads
        self.ln1, self.ln2 = nn.LayerNorm(d), nn.LayerNorm(d)
        self.qkv, self.proj = nn.Linear(d, 3 * d), nn.Linear(d, d)
        self.ff = nn.Sequential(nn.Linear(d, 4 * d), nn.GELU(), nn.Linear(4 * d, d))
        self.drop = nn.Dropout(p)

    def forward(self, x):
        b, t, d = x.shape
        q, k, v = self.qkv(self.ln1(x)).split(d, dim=-1)
        q, k, v = (z.reshape(b, t, self.heads, -1).transpose(1, 2) for z in (q, k, v))
        att = self.drop(((q @ k.transpose(-1, -2)) / math.sqrt(d // self.heads)).softmax(-1))
        x = x + self.drop(self.proj((att @ v).transpose(1, 2).reshape(b, t, d)))
        return x + self.drop(self.ff(self.ln2(x)))


class Transformer(nn.Module):
    """Sequence classifier: 2 pre-norm blocks, d=128, 4 heads, mean pooling."""

    def __init__(self, vocab: int = 64, t: int = 32, d: int = 128) -> None:
        super().__init__()
        self.emb = nn.Embedding(vocab, d)
        self.pos = nn.Parameter(torch.randn(t, d) * 0.02)
        self.blocks = nn.Sequential(Block(d, 4, 0.1), Block(d, 4, 0.1))
        self.ln = nn.LayerNorm(d)
        self.head = nn.Linear(d, 10)

    def forward(self, idx):
        return self.head(self.ln(self.blocks(self.emb(idx) + self.pos)).mean(1))


def make_data(case: str, n: int, seed: int = 0):
    g = torch.Generator().manual_seed(seed)
    if case.startswith("mlp"):
        x = torch.randn(n, 784, generator=g)
        teacher = torch.randn(784, 10, generator=g)
        return x, (x @ teacher).argmax(1)
    if case == "cnn":
        x = torch.randn(n, 3, 32, 32, generator=g)
        teacher = torch.randn(3 * 8 * 8, 10, generator=g)
        return x, (F.avg_pool2d(x, 4).flatten(1) @ teacher).argmax(1)
    x = torch.randint(0, 64, (n, 32), generator=g)
    return x, (x[:, :8].sum(1) % 10)  # class: sum of the first 8 tokens mod 10


def make_model(case: str) -> nn.Module:
    torch.manual_seed(0)
    return {"mlp-256": lambda: MLP(256), "mlp-1024": lambda: MLP(1024), "cnn": CNN,
            "transformer": Transformer}[case]()


# ------------------------------------------------------------------------- methods ----
def run_seed_loop(case, train, val, device):
    t0 = time.perf_counter()
    model = make_model(case).to(device)
    tl = DataLoader(TensorDataset(*train), batch_size=BATCH, shuffle=True)
    vl = DataLoader(TensorDataset(*val), batch_size=1024)
    steady: list[float] = []
    accs = lr_finder(model, torch.optim.Adam, tl, vl, start_lr=LRS[0], end_lr=LRS[-1],
                     steady=steady)
    sync(device)
    return time.perf_counter() - t0, sum(steady), 0.0, list(accs.values()), None


def make_task(case, train, val, device, steps=None):
    return lrsweep.Task(make_model(case), torch.optim.Adam, train, val, batch_size=BATCH,
                        val_batch_size=1024, device=device,
                        **({"steps": steps} if steps else {"epochs": 1}))


def run_engine(case, train, val, device, engine, **options):
    t0 = time.perf_counter()
    task = make_task(case, train, val, device)
    res = lrsweep.sweep(task, lrs=LRS, engine=engine, **options)
    sync(device)
    wall = time.perf_counter() - t0
    trials = sorted(res.trials, key=lambda r: r.lr)
    steady = once = None
    if trials and "steady_step_seconds" in trials[0].extra:
        # per sweep step: the steady time of each chunk, summed over chunks
        steady = sum(r.extra["steady_step_seconds"] / r.extra["chunk_size"] for r in trials)
        once = max(r.extra.get("setup_seconds", 0.0) for r in trials)
    return wall, steady, once, trials, res.engine


def sequential_steady(case, train, val, device):
    """Seconds per sweep step of the sequential engine: the difference of two budgets."""
    per_epoch = math.ceil(len(train[0]) / BATCH)
    s1, s2 = max(per_epoch // 4, 6), per_epoch
    times = []
    for s in (s1, s2):
        task = make_task(case, train, val, device, steps=s)
        t0 = time.perf_counter()
        lrsweep.sweep(task, lrs=LRS, engine="sequential")
        sync(device)
        times.append(time.perf_counter() - t0)
    return max(times[1] - times[0], 1e-9) / (s2 - s1)


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--device", default="cuda" if torch.cuda.is_available() else "cpu")
    ap.add_argument("--quick", action="store_true", help="3,200 training samples (CPU)")
    ap.add_argument("--samples", type=int, default=None)
    ap.add_argument("--cases", default="mlp-256,mlp-1024,cnn,transformer")
    ap.add_argument("--compile", action="store_true",
                    help="also time compile=True on CPU (always on CUDA)")
    ap.add_argument("--repeats", type=int, default=2,
                    help="best of this many runs per method, methods interleaved (compile: "
                         "the first, cold run)")
    ap.add_argument("--threads", type=int, default=None)
    ap.add_argument("--seeds", type=int, default=1,
                    help="N > 1: also the (lr, seed) stacking table with N seeds")
    ap.add_argument("--builtin", default=None,
                    help="comma-separated built-in tasks: only the seeds table, on them")
    ap.add_argument("--lrs", type=int, default=len(LRS),
                    help="LRs in the seeds table (default 10)")
    ap.add_argument("--steps", type=int, default=None,
                    help="budget of the built-in tasks (default: their own)")
    ap.add_argument("--search", default=None,
                    help="comma-separated built-in tasks: time a default lrsweep.search on "
                         "each (3 seeds, engine auto) against the sequential engine and one "
                         "seed")
    ap.add_argument("--max-trials", type=int, default=None,
                    help="--search: max_trials (default: search's own)")
    ap.add_argument("--val-samples", type=int, default=4096)
    args = ap.parse_args(argv)
    if args.threads:
        torch.set_num_threads(args.threads)
    logging.basicConfig(level=logging.WARNING)
    cuda = torch.device(args.device).type == "cuda"
    n = args.samples or (3_200 if args.quick else 60_000)
    dev_name = torch.cuda.get_device_name() if cuda else platform.processor() or "cpu"
    print(f"# device={args.device} ({dev_name}), torch {torch.__version__}, "
          f"threads={torch.get_num_threads()}" + (
              f", built-in tasks {args.builtin or args.search}" if args.builtin or args.search
              else
              f", {len(LRS)} LRs, {n} samples, batch {BATCH}, 1 epoch, Adam, best of "
              f"{args.repeats}"))
    warm = make_model("mlp-256").to(args.device)  # device and library start-up, untimed
    warm(torch.randn(8, 784, device=args.device)).sum().backward()
    if args.builtin or args.search:
        from lrsweep.examples import get_task

        def build(name):
            return get_task(name, device=args.device,
                            **({"steps": args.steps} if args.steps else {}))

        if args.builtin:
            seeds_table(args.builtin.split(","), build, args)
        if args.search:
            search_table(args.search.split(","), build, args)
        return 0
    header = (f"| {'case':<11} | {'method':<18} | {'end-to-end s':>12} | {'e2e x':>6} | "
              f"{'steady ms/step':>14} | {'steady x':>8} | {'one-time s':>10} | "
              f"{'max dmetric':>13} |")
    print(header)
    print("|" + "|".join("-" * (len(c)) for c in header.split("|")[1:-1]) + "|")
    for case in args.cases.split(","):
        train = make_data(case, n, seed=0)
        val = make_data(case, args.val_samples, seed=1)
        methods = [("seed loop", None, {}), ("sequential", "sequential", {}),
                   ("vectorized", "vectorized", {"cuda_graph": False})]
        if cuda:
            methods.append(("vectorized+graph", "vectorized", {"cuda_graph": True}))
        if cuda or args.compile:
            methods.append(("vectorized+compile", "vectorized",
                            {"compile": True, "cuda_graph": cuda}))
        methods.append(("auto", "auto", {}))
        runs: dict[str, list] = {label: [] for label, _, _ in methods}
        for _ in range(args.repeats):
            for label, engine, opts in methods:
                if engine is None:
                    runs[label].append(run_seed_loop(case, train, val, args.device))
                    continue
                out = run_engine(case, train, val, args.device, engine, **opts)
                if engine == "sequential":
                    out = (out[0], sequential_steady(case, train, val, args.device)) + out[2:]
                runs[label].append(out)
        seed_wall = min(r[0] for r in runs["seed loop"])
        seed_steady = min(r[1] for r in runs["seed loop"])
        seq_trials = runs["sequential"][-1][3]
        for label, engine, _opts in methods:
            rs = runs[label]
            cold = label.endswith("compile")
            wall = rs[0][0] if cold else min(r[0] for r in rs)
            steadies = [r[1] for r in rs if r[1]]
            used = rs[-1][4]
            if engine == "auto" and used == "sequential":
                steadies = [r[1] for r in runs["sequential"]]
            steady = min(steadies) if steadies else None
            once = rs[0][2] if cold else min((r[2] or 0.0) for r in rs)
            d = "-" if engine is None else "ref" if engine == "sequential" else \
                diff(seq_trials, rs[-1][3])
            if engine == "auto":
                label = f"auto ({used})"
            print(f"| {case:<11} | {label:<18} | {wall:12.2f} | {seed_wall / wall:6.2f} | "
                  f"{1e3 * steady if steady else float('nan'):14.3f} | "
                  f"{seed_steady / steady if steady else float('nan'):8.2f} | "
                  f"{once or 0.0:10.2f} | {d:>13} |", flush=True)
    if args.seeds > 1:
        def build_case(case):
            return make_task(case, make_data(case, n, seed=0),
                             make_data(case, args.val_samples, seed=1), args.device)

        seeds_table(args.cases.split(","), build_case, args)
    return 0


def seeds_table(names, build, args) -> None:
    """(lr, seed) stacking: ``args.lrs`` LRs x ``args.seeds`` seeds, per task."""
    from lrsweep.engines.vectorized import VectorizedEngine

    seeds = tuple(range(args.seeds))
    lrs = [float(v) for v in np.logspace(-4, -2, args.lrs)] if args.builtin else \
        [float(v) for v in np.logspace(-5, -1, args.lrs)]
    print(f"\n# (lr, seed) stacking: {len(lrs)} LRs x {len(seeds)} seeds "
          f"({lrs[0]:.0e}..{lrs[-1]:.0e}), best of {args.repeats}")
    header = (f"| {'task':<11} | {'method':<22} | {'trials':>6} | {'end-to-end s':>12} | "
              f"{'x sequential':>12} | {'x 1 seed':>8} | {'groups':>6} | {'max dmetric':>13} |")
    print(header)
    print("|" + "|".join("-" * (len(c)) for c in header.split("|")[1:-1]) + "|")
    for name in names:
        methods = [("sequential", lambda: "sequential", seeds),
                   ("vectorized, per seed", lambda: VectorizedEngine(stack_seeds=False), seeds),
                   ("vectorized, (lr, seed)", lambda: VectorizedEngine(), seeds),
                   ("vectorized, 1 seed", lambda: VectorizedEngine(), seeds[:1]),
                   ("auto", lambda: "auto", seeds)]
        runs: dict[str, list] = {m[0]: [] for m in methods}
        for _ in range(args.repeats):
            for label, engine, ss in methods:
                task = build(name)  # built anew: every method pays the same set-up
                t0 = time.perf_counter()
                res = lrsweep.sweep(task, lrs=lrs, seeds=ss, engine=engine(), threads=None,
                                    progress=False)
                sync(args.device)
                runs[label].append((time.perf_counter() - t0,
                                    sorted(res.trials, key=lambda r: (r.seed, r.lr))))
        best = {label: min(r[0] for r in rs) for label, rs in runs.items()}
        ref = runs["sequential"][-1][1]
        for label, _engine, ss in methods:
            trials = runs[label][-1][1]
            if label == "auto":
                label_shown = f"auto ({'+'.join(sorted({t.engine for t in trials}))})"
            else:
                label_shown = label
            d = "ref" if label == "sequential" else diff(
                [t for t in ref if t.seed in ss], trials)
            groups = len({t.group for t in trials if t.group is not None})
            one = best[label] / best["vectorized, 1 seed"]
            print(f"| {name:<11} | {label_shown:<22} | {len(trials):6d} | {best[label]:12.2f} | "
                  f"{best['sequential'] / best[label]:12.2f} | {one:8.2f} | {groups:6d} | "
                  f"{d:>13} |", flush=True)


def search_table(names, build, args) -> None:
    """A default ``lrsweep.search`` (3 seeds, engine auto) per built-in task, against the
    same search on the sequential engine and with one seed; one process, task built anew
    for each run (its set-up is timed)."""
    from lrsweep.examples import default_lr_range

    kw = {} if args.max_trials is None else {"max_trials": args.max_trials}
    print(f"\n# default search (lrsweep.search, 3 seeds unless said), "
          f"{'max_trials=' + str(args.max_trials) if kw else 'its default budget'}")
    print("| task | run | engine | trials | rounds | wall s | x default | x one seed | "
          "optimum lr |")
    print("|---|---|---|---|---|---|---|---|---|")
    # untimed: the first search of a process pays one-time imports and device start-up
    lrsweep.search(build(names[0]), default_lr_range(names[0]), progress=False, threads=None,
                   max_trials=3, seeds=1, engine="sequential")
    for name in names:
        runs = [("default", {}), ("sequential", {"engine": "sequential"}),
                ("one seed", {"seeds": 1})]
        rows = []
        for label, opts in runs:
            t0 = time.perf_counter()
            found = lrsweep.search(build(name), default_lr_range(name), progress=False,
                                   threads=None, **kw, **opts)
            sync(args.device)
            wall = time.perf_counter() - t0
            try:
                lr = found.optimum().lr
            except Exception:  # no trial ok: nothing to estimate
                lr = None
            rows.append((label, found, wall, lr))
        walls = {label: wall for label, _, wall, _ in rows}
        for label, found, wall, lr in rows:
            print(f"| {name} | {label} | {found.result.engine} | {len(found.result.trials)} | "
                  f"{len(found.rounds)} | {wall:.2f} | {wall / walls['default']:.2f} | "
                  f"{wall / walls['one seed']:.2f} | {'-' if lr is None else f'{lr:.3g}'} |",
                  flush=True)


def diff(ref, trials) -> str:
    worst, mismatched = 0.0, 0
    for a, b in zip(ref, trials):
        if a.status != b.status:
            mismatched += 1
        elif a.ok and b.ok:
            worst = max(worst, abs(a.metric - b.metric))
    return f"{worst:.1e}" + (f" ({mismatched} st)" if mismatched else "")


if __name__ == "__main__":
    sys.exit(main())

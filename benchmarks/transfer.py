"""Evidence for ``lrsweep.transfer``: does the optimum measured at a small scale predict the
optimum at a larger one?

For each axis, the optimum is measured by a sweep (validation loss, ``SweepResult.optimum()``)
at every scale. Then, per axis:

- width, under standard parametrisation (SP) and under muP (``parametrization="mup"``,
  base width = the smallest): the drift of the optimum across widths; the muP rule (LR
  unchanged) from the smallest width; a power law fitted on the three smallest widths.
- batch (fixed epochs, Adam): the sqrt rule and the noise-scale rule (B_noise measured with
  ``estimate_noise_scale`` on the task, at initialisation and half-way through training)
  from the smallest batch; a law fitted on the three smallest batches.
- horizon (steps, full run only): a law fitted on the three shortest budgets.

Each prediction is scored at the largest scale by |log2(predicted / measured)| (target <= 1,
i.e. within 2x, for width under muP and batch under sqrt or noise-scale), and by whether the
measured optimum falls inside the predicted interval.

CPU only here (no GPU on this machine): scales are CPU-sized. ``--quick`` runs a smaller
version in about a minute or two.

    python benchmarks/transfer.py            # full: a few minutes on 2 busy cores
    python benchmarks/transfer.py --quick
"""

from __future__ import annotations

import argparse
import math
import time
from dataclasses import dataclass
from pathlib import Path

import torch

from lrsweep import SweepResult, log_grid, sweep
from lrsweep.examples import get_task
from lrsweep.transfer import estimate_noise_scale, fit_law, transfer


@dataclass
class Row:
    task: str
    axis: str
    setting: str
    scales: list
    optima: list
    predictor: str
    predicted: float | None
    low: float | None
    high: float | None
    seconds: float

    @property
    def measured(self):
        return self.optima[-1]

    def error(self) -> float | None:
        if self.predicted is None:
            return None
        return abs(math.log2(self.predicted / self.measured.lr))

    def inside(self) -> str:
        if self.predicted is None or (self.low is None and self.high is None):
            return "-"
        lr = self.measured.lr  # an open end (None: the optimum sat at a range edge) holds all
        inside = (self.low is None or self.low <= lr) and (self.high is None or lr <= self.high)
        return "yes" if inside else "no"


def measure(task_name: str, overrides: dict, grid: list, seeds: tuple, engine: str):
    """The optimum of one sweep, widening the grid (up to twice) when it sits on an edge."""
    trials = []
    lrs = list(grid)
    step = grid[1] / grid[0]
    for _ in range(3):
        task = get_task(task_name, **overrides)
        res = sweep(task, lrs, seeds=seeds, engine=engine)
        trials += res.trials
        res = SweepResult(trials, res.direction, res.metric_name)
        opt = res.optimum()
        if opt.lr is not None and opt.at_low_edge:
            lo = min(t.lr for t in trials)
            lrs = [lo / step**k for k in (3, 2, 1)]
        elif opt.lr is not None and opt.at_high_edge and opt.diverged_above is None:
            hi = max(t.lr for t in trials)
            lrs = [hi * step**k for k in (1, 2, 3)]
        else:
            return opt
    return opt


def sweep_axis(task_name, axis, scales, base_overrides, grid, seeds, engine, log):
    optima = []
    for s in scales:
        t0 = time.perf_counter()
        opt = measure(task_name, {**base_overrides, axis: s}, grid, seeds, engine)
        optima.append(opt)
        log(f"  {task_name} {axis}={s} {base_overrides.get('parametrization', '')}: "
            f"{opt.summary()[:110]}  ({time.perf_counter() - t0:.0f} s)")
    return optima


def law_row(task, axis, setting, scales, optima, seconds, plots=None):
    law = fit_law(list(zip(scales[:3], optima[:3])), x=axis)
    p = law.predict(scales[-1])
    if plots:
        path = Path(plots) / f"{task}-{axis}-{setting}.png"
        fig = law.plot(path, target=scales[-1], measured=optima[-1].lr,
                       title=f"{task}: optimal lr vs {axis} ({setting})")
        import matplotlib.pyplot as plt

        plt.close(fig)
    return Row(task, axis, setting, scales, optima,
               f"law on {scales[0]}-{scales[2]} (b={law.exponent():+.2f})", p.lr, p.low, p.high,
               seconds)


def rule_row(task, axis, setting, scales, optima, seconds, name, **transfer_kw):
    moved = transfer(optima[0], {axis: scales[0]}, {axis: scales[-1]}, **transfer_kw)
    return Row(task, axis, setting, scales, optima, name, moved.lr, moved.low, moved.high,
               seconds)


def batch_rows(task, batches, quick, grid, seeds, args, log):
    """Batch axis at fixed epochs (the number of samples seen is the same at every batch)."""
    rows = []
    t0 = time.perf_counter()
    bover = {"width": 128, "metric": "loss", "epochs": 4 if quick else 8}
    if quick:
        bover["n_train"] = 2048
    optima = sweep_axis(task, "batch_size", batches, bover, grid, seeds, args.engine, log)
    sec = time.perf_counter() - t0
    rows.append(rule_row(task, "batch", "adam", batches, optima, sec, "sqrt rule"))
    # the noise scale grows as the loss falls: measure it at initialisation and half-way
    # through the smallest batch's run at its optimum
    small_task = get_task(task, batch_size=batches[0], **bover)
    for when, n in (("init", 0), ("mid-run", small_task.steps // 2)):
        noise = estimate_noise_scale(small_task, steps=16, lr=optima[0].lr, train_steps=n)
        log(f"  {task} ({when}): {noise}")
        rows.append(rule_row(task, "batch", "adam", batches, optima, sec,
                             f"noise-scale rule (B_noise {noise.b_noise:.0f}, {when})",
                             rules={"batch": "noise_scale"}, b_noise=noise.b_noise))
    rows.append(law_row(task, "batch", "adam", batches, optima, sec, args.plots))
    return rows


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--quick", action="store_true", help="smaller scales, fewer LRs")
    ap.add_argument("--tasks", default="teacher-mlp,digits-mlp",
                    help="built-in tasks for the width axis (default teacher-mlp,digits-mlp)")
    ap.add_argument("--seeds", type=int, default=1)
    ap.add_argument("--engine", default="sequential")
    ap.add_argument("--threads", type=int, default=1, help="torch threads (the machine is "
                    "shared)")
    ap.add_argument("--axes", default=None,
                    help="comma list among width,batch,steps,gpt (default width,batch,steps; "
                         "--quick: width,batch). gpt = the stdlib-gpt width axis, widths "
                         "32..128, 80 steps, 8 LRs: ~8 min per seed on a CPU")
    ap.add_argument("--plots", metavar="DIR", help="write a log-log plot of each fitted law here")
    args = ap.parse_args()
    if args.plots:
        Path(args.plots).mkdir(parents=True, exist_ok=True)
    torch.set_num_threads(args.threads)
    seeds = tuple(range(args.seeds))
    quick = args.quick
    widths = [32, 64, 128, 256] if quick else [32, 64, 128, 256, 512]
    batches = [16, 32, 64, 128] if quick else [16, 32, 64, 128, 256]
    horizons = [50, 100, 200, 400]
    axes = set((args.axes or ("width,batch" if quick else "width,batch,steps")).split(","))
    unknown = axes - {"width", "batch", "steps", "gpt"}
    if unknown:
        ap.error(f"--axes: unknown {sorted(unknown)}")
    grid = log_grid(1e-4, 1e-1, 10 if quick else 13)
    # budget per trial on the width axis: teacher-mlp 200 steps; digits-mlp its default (2
    # epochs, 90 steps) -- longer, its 1437 training images overfit and the validation-loss
    # optimum mixes in regularisation, which moves with width
    width_steps = {"teacher-mlp": 120 if quick else 200}
    tasks = [t for t in args.tasks.split(",") if t]
    if quick:
        tasks = tasks[:1]
    rows: list[Row] = []
    log = print
    t_all = time.perf_counter()

    for task in tasks if "width" in axes else []:
        for par in ("sp", "mup"):
            t0 = time.perf_counter()
            base = {"metric": "loss", "parametrization": par}
            if task in width_steps:
                base["steps"] = width_steps[task]
            if par == "mup":
                base["base_width"] = widths[0]
            optima = sweep_axis(task, "width", widths, base, grid, seeds, args.engine, log)
            sec = time.perf_counter() - t0
            if par == "mup":
                rows.append(rule_row(task, "width", par, widths, optima, sec, "muP rule (lr x1)",
                                     parametrization="mup"))
            else:
                rows.append(Row(task, "width", par, widths, optima, "no rule (lr x1)",
                                optima[0].lr, optima[0].low, optima[0].high, sec))
            rows.append(law_row(task, "width", par, widths, optima, sec, args.plots))

    if "gpt" in axes:
        gwidths, ggrid = [32, 64, 128], log_grid(3e-4, 1e-1, 8)
        for par in ("sp", "mup"):
            t0 = time.perf_counter()
            base = {"steps": 80, "n_train": 2048, "parametrization": par}
            if par == "mup":
                base["base_width"] = gwidths[0]
            optima = sweep_axis("stdlib-gpt", "width", gwidths, base, ggrid, seeds, args.engine,
                                log)
            sec = time.perf_counter() - t0
            if par == "mup":
                rows.append(rule_row("stdlib-gpt", "width", par, gwidths, optima, sec,
                                     "muP rule (lr x1)", parametrization="mup"))
            else:
                rows.append(Row("stdlib-gpt", "width", par, gwidths, optima, "no rule (lr x1)",
                                optima[0].lr, optima[0].low, optima[0].high, sec))

    task = "teacher-mlp"
    if "batch" in axes:
        rows += batch_rows(task, batches, quick, grid, seeds, args, log)
    if "steps" in axes:
        t0 = time.perf_counter()
        over = {"width": 128, "metric": "loss"}
        optima = sweep_axis(task, "steps", horizons, over, grid, seeds, args.engine, log)
        sec = time.perf_counter() - t0
        rows.append(Row(task, "steps", "adam", horizons, optima, "no rule (lr x1)",
                        optima[0].lr, optima[0].low, optima[0].high, sec))
        rows.append(law_row(task, "steps", "adam", horizons, optima, sec, args.plots))

    print()
    print(f"transfer benchmark ({'quick' if quick else 'full'}), CPU, {len(seeds)} seed(s), "
          f"{time.perf_counter() - t_all:.0f} s in all")
    header = ("task", "axis", "param", "scales", "optimum at each scale", "drift log2",
              "predictor at the largest scale", "predicted", "measured", "|log2 err|",
              "in interval")
    table = [header]
    for r in rows:
        err = r.error()
        table.append((
            r.task, r.axis, r.setting, f"{r.scales[0]}..{r.scales[-1]}",
            " ".join(f"{o.lr:.2g}" for o in r.optima),
            f"{math.log2(r.optima[-1].lr / r.optima[0].lr):+.2f}",
            r.predictor, "-" if r.predicted is None else f"{r.predicted:.3g}",
            f"{r.measured.lr:.3g}", "-" if err is None else f"{err:.2f}", r.inside()))
    widths_col = [max(len(str(row[i])) for row in table) for i in range(len(header))]
    for i, row in enumerate(table):
        print("  ".join(str(c).ljust(w) for c, w in zip(row, widths_col)).rstrip())
        if i == 0:
            print("-" * (sum(widths_col) + 2 * (len(header) - 1)))


if __name__ == "__main__":
    main()

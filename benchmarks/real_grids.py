"""Loaders shared by ``law_quality.py`` and ``transfer_real.py``: the Step Law MoE grid
(``data/steplaw-moe/``, real LLM pretraining runs, one seed) and the built-in tasks' LR x
batch / LR x width grids (``data/lr-batch-grids/``, made by ``lr_batch_grids.py``), as
cells (one configuration at one batch size or width: a sweep over LR), and the optimum of a
cell from lrsweep's own estimator (``SweepResult.optimum()``)."""

from __future__ import annotations

import csv
import json
from collections import defaultdict
from dataclasses import dataclass
from pathlib import Path

from lrsweep import SweepResult, TrialResult

HERE = Path(__file__).resolve().parent
MOE_CSV = HERE / "data" / "steplaw-moe" / "moe_lr_bs_loss.csv"
GRID_DIR = HERE / "data" / "lr-batch-grids"
BUILTIN_BATCH = ("teacher-adam", "teacher-sgd", "digits-adam", "gpt-adamw")
BUILTIN_WIDTH = ("teacher-width",)
#: a Step Law run diverged when its loss is far above the rest (they lie near 2-3)
DIVERGED_LOSS = 5.0


@dataclass
class Cell:
    """One sweep over LR: ``config`` names the configuration (task or (model, tokens)),
    ``scale`` the batch size (or width) it ran at, ``trials`` its (lr, seed, loss) runs."""

    grid: str
    config: tuple
    scale: float
    trials: list
    family: str = "adam"
    features: dict | None = None

    def result(self, seeds=None) -> SweepResult:
        rows = [TrialResult(lr, s, st, m) for lr, s, st, m in self.trials
                if seeds is None or s in seeds]
        return SweepResult(rows, "min", "loss")

    def optimum(self, seeds=None):
        return self.result(seeds).optimum()

    @property
    def seeds(self) -> list[int]:
        return sorted({s for _, s, _, _ in self.trials})

    def best_loss(self) -> float:
        """The best seed-mean loss measured in this cell (for the loss-optimal batch)."""
        by = defaultdict(list)
        for lr, _, st, m in self.trials:
            if st == "ok" and m is not None:
                by[lr].append(m)
        n = max(len(v) for v in by.values())
        return min(sum(v) / len(v) for v in by.values() if len(v) == n)


def moe_cells() -> list[Cell]:
    """The 16 (sparsity, tokens) configurations x 5 batch sizes of the MoE grid."""
    by = defaultdict(list)
    feats = {}
    with MOE_CSV.open() as f:
        for r in csv.DictReader(f):
            key = (r["moe_name"], float(r["D"]))
            loss = float(r["smooth loss"])
            st = "diverged" if loss > DIVERGED_LOSS else "ok"
            by[(key, int(r["bs"]))].append((float(r["lr"]), 0, st, loss if st == "ok" else None))
            feats[key] = {"Na": float(r["Na"]), "D": float(r["D"]), "N": float(r["N"])}
    return [Cell("moe", key, bs, sorted(t), "adam", feats[key])
            for (key, bs), t in sorted(by.items(), key=lambda kv: (kv[0][0][0], kv[0][0][1],
                                                                   kv[0][1]))]


def builtin_cells(name: str) -> list[Cell]:
    path = GRID_DIR / f"{name}.json"
    if not path.exists():
        raise SystemExit(f"{path} is missing: run python benchmarks/lr_batch_grids.py --only "
                         f"{name}")
    data = json.loads(path.read_text())
    by = defaultdict(list)
    for t in data["trials"]:
        by[t["scale"]].append((t["lr"], t["seed"], t["status"], t["metric"]))
    return [Cell(name, (name,), s, sorted(by[s], key=lambda r: (r[0], r[1])), data["family"])
            for s in sorted(by)]


def by_config(cells: list[Cell]) -> dict[tuple, list[Cell]]:
    out: dict[tuple, list[Cell]] = defaultdict(list)
    for c in cells:
        out[c.config].append(c)
    return {k: sorted(v, key=lambda c: c.scale) for k, v in out.items()}

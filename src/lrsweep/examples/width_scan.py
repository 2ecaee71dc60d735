"""The muP demo: the optimal LR across widths, under the standard parametrisation (SP) and
under muP, on ``teacher-mlp``.

Under SP the optimum of Adam falls as the model widens; under muP (``parametrization="mup"``,
base width = the narrowest) it stays where the narrowest model put it, so an LR tuned at
width 64 holds at 512. The demo sweeps each width (validation loss, a few seeds), fits
``lr* ~ width^b`` (``lrsweep.transfer.fit_law``) for each parametrisation and prints the
optima, the exponents with their 90% intervals and whether each law is flat (its interval
holds b = 0) or drifts.

    python -m lrsweep.examples.width_scan           # widths 64..512: ~2 min of CPU
    python -m lrsweep.examples.width_scan --quick   # widths 64..256, shorter: ~25 s of CPU

Widths under ~64 are too narrow to show it: at width 16 the hidden layer is narrower than
the 32 inputs and the 64-unit teacher, and muP's rules hold only when the width dominates
the fixed dimensions (scan 16..64: exponent -0.37 under muP, -0.84 under SP).
"""

from __future__ import annotations

import argparse
import math
import time
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from ..errors import bad_arg

FULL = {"widths": (64, 128, 256, 512), "steps": 200, "seeds": 3}
QUICK = {"widths": (64, 128, 256), "steps": 120, "seeds": 3}
GRID = (3e-4, 3e-2, 9)  # 1/4 decade apart: brackets SP at 512 (~8e-4) and muP (~3e-3)


@dataclass
class Scan:
    """The optima of one parametrisation across widths, and the law fitted on them."""

    parametrization: str
    results: dict[int, Any]  # width -> SweepResult
    law: Any  # lrsweep.transfer.Law

    @property
    def optima(self) -> dict[int, Any]:
        return {w: r.optimum() for w, r in self.results.items()}

    @property
    def exponent(self) -> float:
        return self.law.exponent()

    @property
    def exponent_interval(self) -> tuple[float, float]:
        return self.law.exponent_interval()

    @property
    def flat(self) -> bool:
        """The exponent's interval holds 0: no drift that the data can tell."""
        lo, hi = self.exponent_interval
        return lo <= 0.0 <= hi

    @property
    def drift(self) -> float:
        """log2(optimum at the widest / at the narrowest)."""
        lrs = [o.lr for o in self.optima.values()]
        return math.log2(lrs[-1] / lrs[0])


def width_scan(parametrization: str = "mup", widths: Sequence[int] = FULL["widths"], *,
               base_width: int | None = None, steps: int = FULL["steps"],
               seeds: int = FULL["seeds"], grid: tuple[float, float, int] = GRID,
               engine: str = "auto", **task_options: Any) -> Scan:
    """Sweep ``teacher-mlp`` at each width (validation loss, ``seeds`` seeds, ``steps``
    steps) and fit ``lr* ~ width^b``. Under ``"mup"`` the base width is ``base_width``
    (default: the narrowest width)."""
    from ..plan.grid import log_grid
    from ..sweep import sweep
    from ..transfer import fit_law
    from . import get_task

    widths = sorted(int(w) for w in widths)
    if len(widths) < 3 or len(set(widths)) != len(widths):
        raise bad_arg("widths", widths, "three or more different widths",
                      "A law across widths needs three, e.g. widths=(64, 128, 256).")
    if parametrization not in ("sp", "mup"):
        raise bad_arg("parametrization", parametrization, "'sp' or 'mup'",
                      "Pass parametrization='mup' or 'sp'.")
    extra: dict[str, Any] = dict(task_options)
    if parametrization == "mup":
        extra.update(parametrization="mup", base_width=base_width or widths[0])
    lrs = log_grid(*grid)
    results = {}
    for w in widths:
        task = get_task("teacher-mlp", width=w, steps=steps, metric="loss", **extra)
        results[w] = sweep(task, lrs, seeds=list(range(seeds)), engine=engine, progress=False)
    law = fit_law({w: r.optimum() for w, r in results.items()}, x="width")
    return Scan(parametrization, results, law)


def report(scans: Sequence[Scan]) -> str:
    """The optima per width side by side, then each law's exponent and verdict."""
    widths = list(scans[0].results)
    lines = ["width  " + "  ".join(f"{s.parametrization + ' optimum [90% interval]':>32}"
                                   for s in scans)]
    for w in widths:
        cells = []
        for s in scans:
            o = s.optima[w]
            cells.append(f"{o.lr:>10.3g} [{o.low:.3g}, {o.high:.3g}]".rjust(32))
        lines.append(f"{w:>5}  " + "  ".join(cells))
    for s in scans:
        lo, hi = s.exponent_interval
        verdict = ("flat: the interval holds 0" if s.flat else
                   f"drifts: x{2 ** s.drift:.2g} from width {widths[0]} to {widths[-1]}")
        lines.append(f"{s.parametrization:>4}: lr* ~ width^{s.exponent:+.2f} "
                     f"[{lo:+.2f}, {hi:+.2f}] (90%), {verdict}")
    return "\n".join(lines)


def main(argv: Sequence[str] | None = None) -> int:
    ap = argparse.ArgumentParser(prog="python -m lrsweep.examples.width_scan",
                                 description=__doc__.splitlines()[0])
    ap.add_argument("--quick", action="store_true", help="widths 64..256, shorter runs")
    ap.add_argument("--seeds", type=int, default=None)
    args = ap.parse_args(argv)
    import torch

    torch.set_num_threads(1)  # tiny models: threads cost more than they give
    setting = dict(QUICK if args.quick else FULL)
    if args.seeds:
        setting["seeds"] = args.seeds
    t0 = time.perf_counter()
    scans = [width_scan(p, setting["widths"], steps=setting["steps"], seeds=setting["seeds"])
             for p in ("sp", "mup")]
    print(f"teacher-mlp, Adam, {setting['steps']} steps, validation loss, "
          f"{setting['seeds']} seeds, muP base width {setting['widths'][0]} "
          f"({time.perf_counter() - t0:.0f} s)")
    print(report(scans))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())

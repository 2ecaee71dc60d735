"""Is a task's miss the estimator's or the search's? The estimator on every trial the
suite's searches ran on a task, pooled (hundreds of trials over many seeds).

Run after ``benchmarks/suite_quality.py`` (which fills the trial cache). If the pooled
estimate is near the truth while single searches miss in one direction, the misses come
from what one search samples (too few seeds at a sharp top); if the pooled estimate misses
too, the estimator (or the truth's own definition on that curve) is biased there.

    python benchmarks/suite_pooled.py [--tasks a,b] [--held-out]

Reads only ``--cache``; trains nothing. Estimators: the default quadratic, ``"gp"``, and
the quadratic with a narrower window (``max_span=0.5``).
"""

from __future__ import annotations

import argparse
import math
import sys
import warnings
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from benchmarks.suite import ALL, HELD_OUT, TASKS  # noqa: E402
from benchmarks.suite import truths as T  # noqa: E402

VARIANTS = {"quadratic": {}, "gp": {"estimator": "gp"},
            "max_span 0.5": {"max_span": 0.5, "min_span": 0.25}}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--tasks", default=None, help="comma-separated task names")
    ap.add_argument("--held-out", action="store_true", help="include the held-out tasks")
    ap.add_argument("--cache", default="/tmp/lrsweep-bench/suite")
    args = ap.parse_args()
    from lrsweep.errors import LRSweepError
    from lrsweep.store import Store

    names = (args.tasks.split(",") if args.tasks
             else list(TASKS) + (list(HELD_OUT) if args.held_out else []))
    unknown = [n for n in names if n not in ALL]
    if unknown:
        sys.exit(f"--tasks: unknown {unknown}; the suite's tasks are {sorted(ALL)}")
    truths = T.load()
    print(f"{'task':>22} {'trials':>6} {'seeds':>5}  " + "  ".join(f"{v:>14}" for v in VARIANTS)
          + "   (log2 estimate / truth, octaves; [interval holds the truth])")
    for name in names:
        path = Path(args.cache) / f"{name}.db"
        if not path.exists():
            print(f"{name:>22}  no cache: run benchmarks/suite_quality.py first")
            continue
        res = Store(path).load("trial-cache")
        tr = truths[name]
        cells = []
        for kw in VARIANTS.values():
            try:
                with warnings.catch_warnings():
                    warnings.simplefilter("ignore")
                    o = res.optimum(**kw)
            except (LRSweepError, ValueError, ImportError) as e:
                cells.append(f"{'error':>14}")
                print(f"   {name}: {e}", file=sys.stderr)
                continue
            holds = (o.low or 0) <= tr.lr <= (o.high or math.inf)
            cells.append(f"{math.log2(o.lr / tr.lr):+8.2f} [{'y' if holds else 'n'}]  ")
        label = name + (" (H)" if tr.held_out else "")
        print(f"{label:>22} {len(res.trials):>6} {len({t.seed for t in res.trials}):>5}  "
              + "  ".join(cells))


if __name__ == "__main__":
    main()

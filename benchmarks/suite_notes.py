"""Which of the suite's default searches get a given note in their answer (issue 20): each
task's 5 searches replayed on the suite's trial cache (nothing is trained when the search
code has not changed since ``suite_quality.py`` ran), with each run's |log2| error.

    python benchmarks/suite_notes.py                       # "near the stability edge"
    python benchmarks/suite_notes.py --note "lopsided top" --tasks wine-sgdm
"""

from __future__ import annotations

import argparse
import logging
import math
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from benchmarks.suite import ALL  # noqa: E402
from benchmarks.suite import truths as T  # noqa: E402
from benchmarks.suite.harness import CachedEngine, default_seed_count, rep_seeds  # noqa: E402


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--note", default="near the stability edge")
    ap.add_argument("--tasks", default=None, help="comma-separated task names (default all)")
    ap.add_argument("--reps", type=int, default=5)
    ap.add_argument("--threads", type=int, default=1)
    ap.add_argument("--cache", default="/tmp/lrsweep-bench/suite")
    args = ap.parse_args()
    import torch

    import lrsweep

    torch.set_num_threads(args.threads)
    logging.getLogger("lrsweep").setLevel(logging.ERROR)
    names = args.tasks.split(",") if args.tasks else list(ALL)
    truths = T.load()
    print(f"torch threads: {args.threads}; 'N' marks a run whose note holds {args.note!r}; "
          "the number is log2(found / truth)")
    fired = total = 0
    for name in names:
        spec, tr = ALL[name], truths[name]
        task = spec.build()
        engine = CachedEngine(task, str(Path(args.cache) / f"{name}.db"))
        marks = []
        for rep in range(args.reps):
            found = lrsweep.search(task, spec.lr_range, engine=engine, progress=False,
                                   seeds=rep_seeds(rep, default_seed_count()))
            opt = found.optimum()
            hit = args.note in opt.note
            fired, total = fired + hit, total + 1
            marks.append(f"{'N' if hit else '.'}{math.log2(opt.lr / tr.lr):+.2f}")
        label = name + (" (H)" if spec.held_out else "")
        print(f"{label:>22} " + " ".join(marks) + f"   ({engine.trained} trials trained)",
              flush=True)
    print(f"{fired} of {total} runs")


if __name__ == "__main__":
    main()

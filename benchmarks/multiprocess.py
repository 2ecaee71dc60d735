"""N processes on one study share its trials (issue 23, item 5).

Each process runs the same ``lrsweep.sweep`` into one SQLite store, as a user does with one
process per GPU. Trials (or stacked groups) are claimed one at a time, so the processes
split the work; every process returns the whole sweep. The clock starts when every process
has imported lrsweep and built its task (a barrier) and stops when the last one returns.

Cases:

- ``sleep``: an objective that sleeps ``--sleep`` seconds per trial (I/O- or GPU-bound work:
  N processes should finish in about 1/N of the time; target: 2 processes <= 0.6x one);
- ``teacher-mlp``: the built-in task with the sequential engine (claims trial by trial),
  and with the vectorized engine in chunks of ``--chunk`` trials (claims group by group).
  CPU-bound: on a machine whose cores are busy with other work, two processes gain little.

    python benchmarks/multiprocess.py                  # ~2 minutes on 2 cores
    python benchmarks/multiprocess.py --cases sleep --trials 12 --sleep 0.2
"""

from __future__ import annotations

import argparse
import collections
import os
import subprocess
import sys
import tempfile
import textwrap
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]

WORKER = textwrap.dedent("""
    import os, sys, time
    import torch
    torch.set_num_threads(1)
    import lrsweep

    case, db, folder, n_trials, sleep_s, chunk, steps = sys.argv[1:8]
    n_trials, sleep_s, chunk, steps = int(n_trials), float(sleep_s), int(chunk), int(steps)
    lrs = lrsweep.log_grid(1e-4, 1e-1, n_trials)

    def objective(trial):
        time.sleep(sleep_s)
        return -abs(trial.lr - 0.01)

    if case == "sleep":
        task, kw = objective, {"direction": "max", "engine": "sequential"}
    else:
        from lrsweep.examples import get_task

        task = get_task("teacher-mlp", device="cpu", steps=steps)
        kw = ({"engine": "sequential"} if case == "teacher-mlp/sequential" else
              {"engine": "vectorized", "chunk_size": chunk})
    open(os.path.join(folder, f"ready.{os.getpid()}"), "w").close()
    while not os.path.exists(os.path.join(folder, "go")):
        time.sleep(0.005)
    ran = []
    res = lrsweep.sweep(task, lrs, store=db, study="s", threads=None, progress=False,
                        on_result=lambda r: ran.append(r.key), **kw)
    print(len(res.trials), len(ran), time.time(), flush=True)
""")


def run(case: str, procs: int, args: argparse.Namespace) -> tuple[float, list[int], int]:
    """Wall seconds from the barrier to the last process's return; trials each trained;
    trials each returned."""
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp)
        script = folder / "worker.py"
        script.write_text(WORKER)
        env = {**os.environ, "PYTHONPATH": str(ROOT / "src"), "OMP_NUM_THREADS": "1"}
        ps = [subprocess.Popen([sys.executable, str(script), case, str(folder / "s.db"),
                                str(folder), str(args.trials), str(args.sleep),
                                str(args.chunk), str(args.steps)], env=env,
                               stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
              for _ in range(procs)]
        while len(list(folder.glob("ready.*"))) < procs:
            if any(p.poll() not in (None, 0) for p in ps):
                raise RuntimeError(ps[0].communicate()[1][-2000:])
            time.sleep(0.01)
        t0 = time.time()
        (folder / "go").touch()
        outs = [p.communicate(timeout=1200) for p in ps]
        for p, (_out, err) in zip(ps, outs):
            if p.returncode:
                raise RuntimeError(err[-3000:])
        ends = [float(o[0].split()[2]) for o in outs]
        ran = [int(o[0].split()[1]) for o in outs]
        returned = collections.Counter(int(o[0].split()[0]) for o in outs)
        (n_returned,) = returned  # every process returned the same, whole sweep
        return max(ends) - t0, ran, n_returned


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--cases", default="sleep,teacher-mlp/sequential,teacher-mlp/vectorized")
    ap.add_argument("--procs", default="1,2", help="process counts to compare")
    ap.add_argument("--trials", type=int, default=16)
    ap.add_argument("--sleep", type=float, default=0.25)
    ap.add_argument("--steps", type=int, default=64, help="teacher-mlp's budget per trial")
    ap.add_argument("--chunk", type=int, default=4, help="vectorized: trials per group")
    args = ap.parse_args(argv)
    counts = [int(v) for v in args.procs.split(",")]
    print(f"# {args.trials} trials per sweep; sleep {args.sleep} s per trial; teacher-mlp "
          f"{args.steps} steps per trial; vectorized groups of {args.chunk}; cpus "
          f"{os.cpu_count()}")
    print("| case | processes | wall s | x 1 process | trained by each | returned |")
    print("|---|---|---|---|---|---|")
    for case in args.cases.split(","):
        base = None
        for n in counts:
            wall, ran, returned = run(case, n, args)
            base = wall if base is None else base
            assert sum(ran) == args.trials, (case, n, ran)  # each trial trained once
            print(f"| {case} | {n} | {wall:.2f} | {wall / base:.2f} | "
                  f"{', '.join(map(str, sorted(ran, reverse=True)))} | {returned} |",
                  flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())

"""What the SQLite store costs, and what resuming saves.

1. The same sweep (``teacher-mlp``, sequential) with ``store=None`` and with a fresh SQLite
   store: the store's share of the wall time (ratio with / without; 1.00 = free).
2. Rerunning that sweep on the store (everything reused) against running it: the resume's
   cost as a fraction of the sweep.
3. Raw operations on a file: ``record()`` of one trial with a loss curve of ``--curve``
   steps (one committed transaction each), a lease claim of a batch,
   a heartbeat renewing those leases, ``load`` of a study
   of ``--trials`` trials, ``studies()`` (no curves read).

    python benchmarks/store_overhead.py [--steps 60] [--lrs 10] [--repeats 3]
"""

from __future__ import annotations

import argparse
import os
import platform
import tempfile
import time
from pathlib import Path
from typing import Any

import torch

import lrsweep
from lrsweep.examples import get_task
from lrsweep.results.trial import TrialResult, TrialSpec
from lrsweep.store import Store
from lrsweep.store.lease import HEARTBEAT_INTERVAL, Lease


def timed(fn: Any) -> tuple[float, Any]:
    t0 = time.perf_counter()
    out = fn()
    return time.perf_counter() - t0, out


def best(repeats: int, fn: Any) -> float:
    return min(timed(fn)[0] for _ in range(repeats))


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--steps", type=int, default=60, help="optimizer steps per trial")
    ap.add_argument("--lrs", type=int, default=10)
    ap.add_argument("--repeats", type=int, default=3)
    ap.add_argument("--trials", type=int, default=1000, help="trials of the raw-ops study")
    ap.add_argument("--curve", type=int, default=1000, help="loss-curve length, raw ops")
    args = ap.parse_args()
    torch.set_num_threads(1)
    print(f"# {platform.node()}: {os.cpu_count()} CPUs, torch {torch.__version__}, "
          f"sqlite {__import__('sqlite3').sqlite_version}, load {os.getloadavg()[0]:.1f}")

    task = get_task("teacher-mlp", steps=args.steps)
    lrs = lrsweep.log_grid(1e-4, 1.0, args.lrs)
    kw = dict(engine="sequential")
    with tempfile.TemporaryDirectory() as tmp:
        n = iter(range(10**6))
        mem = best(args.repeats, lambda: lrsweep.sweep(task, lrs, **kw))
        sql = best(args.repeats, lambda: lrsweep.sweep(
            task, lrs, store=Path(tmp) / f"s{next(n)}.db", **kw))
        db = Path(tmp) / "resume.db"
        lrsweep.sweep(task, lrs, store=db, study="r", **kw)
        resume = best(args.repeats, lambda: lrsweep.sweep(task, lrs, store=db, study="r", **kw))

        # raw operations
        st = Store(Path(tmp) / "raw.db")
        study = st.open_study(task, "raw")
        curve = tuple(1.0 / (1 + i) for i in range(args.curve))
        results = [TrialResult(1e-5 * (1 + i), 0, "ok", 0.5, curve, args.curve, 1.0, "sequential")
                   for i in range(args.trials)]
        t_rec, _ = timed(lambda: [study.record(r) for r in results])
        # what a sweep does before training: claim leases, then renew them
        lease = Lease(st.open_study(task, "leased"))
        t_claim, _ = timed(lambda: lease.claim([TrialSpec(r.lr, 0) for r in results],
                                               "sequential"))
        t_beat = best(args.repeats, lease.beat)
        t_load, res = timed(study.load)
        assert len(res.trials) == args.trials
        t_studies = best(args.repeats, st.studies)
        size = (Path(tmp) / "raw.db").stat().st_size + (
            Path(tmp) / "raw.db-wal").stat().st_size
        st.close()

    per_trial = mem / args.lrs
    rows = [
        ("sweep with store / without", f"{sql / mem:.3f}",
         f"{mem:.2f} s vs {sql:.2f} s, {args.lrs} trials x {args.steps} steps"),
        ("resume (all reused) / sweep", f"{resume / mem:.3f}",
         f"{resume * 1000:.0f} ms to reuse {args.lrs} trials"),
        ("record() / one trial", f"{t_rec / args.trials / per_trial:.4f}",
         f"{t_rec / args.trials * 1000:.2f} ms per record, curve {args.curve} steps"),
        ("lease claim, per trial", "",
         f"{t_claim / args.trials * 1e6:.1f} us ({args.trials} in one transaction)"),
        ("heartbeat / interval", f"{t_beat / HEARTBEAT_INTERVAL:.5f}",
         f"{t_beat * 1000:.2f} ms to renew {args.trials} leases, every "
         f"{HEARTBEAT_INTERVAL:g} s"),
        ("load study", "", f"{t_load * 1000:.0f} ms for {args.trials} trials "
                           f"x {args.curve}-step curves ({size / 2**20:.1f} MiB on disk)"),
        ("studies() summary", f"{t_studies / t_load:.3f}",
         f"{t_studies * 1000:.0f} ms (ratio to load: curves not read)"),
    ]
    w = [max(len(r[i]) for r in rows) for i in range(3)]
    print(f"{'measure':<{w[0]}}  {'ratio':>{w[1]}}  detail")
    for r in rows:
        print(f"{r[0]:<{w[0]}}  {r[1]:>{w[1]}}  {r[2]}")


if __name__ == "__main__":
    main()

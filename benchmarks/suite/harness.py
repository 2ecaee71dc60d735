"""The harness: every method on every task, 5 repetitions on disjoint seed sets (none of
them the truth's), judged against the task's truth by the worst case per task.

Methods (``METHODS``): ``search`` (``lrsweep.search`` with its defaults over the task's
range), ``search20`` (``max_trials=20``), ``tpe`` (Optuna TPE, 20 one-seed trials, the best
trial's LR) and ``grid`` (the 10-point log grid over the range, one seed, its best LR).

Every method runs without a store (it sees only its own trials: a search into a study that
already holds trials would use them), on ``CachedEngine``: a trial (LR, seed) that any method
trained before, under any version of the search, is read from the ``trial-cache`` study of
the task's store instead of being trained again; so a rerun, or a changed search, trains only
what is new. Each run's record (what the method returned, unscored) goes to
``<cache>/results-<label>.json``, ``label`` a hash of the search's and the estimator's
source (``code_label``); the report scores it against the truths as they are then
(``--report LABEL`` prints it again).
"""

from __future__ import annotations

import hashlib
import inspect
import json
import math
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np

import lrsweep

from . import ALL
from .truths import Truth, load

SEED_BASE, SEED_STRIDE = 1000, 100  # repetition r: seeds 1000 + 100 r, ...
TPE_TRIALS = 20
# the targets
TOL_OCT, TOL_REGRET, TOL_POINTS = 0.3, 0.005, 0.5
MEDIAN_OCT, COVERAGE, CONVERGED, STEPS = 0.15, 0.85, 0.80, 0.25


def code_label() -> str:
    """A short hash of the search's and the estimator's source (the study names carry it)."""
    root = Path(lrsweep.__file__).resolve().parent
    files = sorted([root / "search.py", *root.glob("plan/*.py"), *root.glob("results/*.py"),
                    *root.glob("analysis/*.py")])
    h = hashlib.sha1()
    for f in files:
        if f.exists():
            h.update(f.read_bytes())
    return h.hexdigest()[:8]


class CachedEngine:
    """An lrsweep engine that reads finished trials from a study of a store and trains the
    rest on ``engine="auto"``, recording them there."""

    name = "cached"

    def __init__(self, task: Any, store: str, study: str = "trial-cache") -> None:
        from lrsweep.engines import get_engine
        from lrsweep.results.trial import Status
        from lrsweep.store import open_study

        self.handle = open_study(store, task, study)
        self.inner = get_engine("auto", task)
        self.done = {r.key: r for r in self.handle.results()
                     if r.status in (Status.OK, Status.DIVERGED)}
        self.trained = 0

    def run(self, task: Any, specs: Any, on_result: Callable[[Any], None]) -> None:
        todo = []
        for s in specs:
            r = self.done.get((s.lr, s.seed))
            if r is None:
                todo.append(s)
            else:
                on_result(r)

        def collect(r: Any) -> None:
            self.handle.record(r)
            self.done[r.key] = r
            self.trained += 1
            on_result(r)

        if todo:
            self.inner.run(task, todo, collect)


def rep_seeds(rep: int, n: int) -> list[int]:
    b = SEED_BASE + SEED_STRIDE * rep
    return list(range(b, b + n))


def default_seed_count() -> int:
    """How many seeds ``search`` starts with by default (its ``seeds=`` default)."""
    d = inspect.signature(lrsweep.search).parameters["seeds"].default
    return d if isinstance(d, int) else len(d)


# -------------------------------------------------------------------------- methods ----
def run_search(task: Any, lr_range: tuple, engine: CachedEngine, rep: int,
               **options: Any) -> dict[str, Any]:
    """``search`` from the repetition's first seeds (its own default count); the extra
    seeds it adds are the integers after them (its default), inside the repetition's
    block of ``SEED_STRIDE``."""
    found = lrsweep.search(task, lr_range, seeds=rep_seeds(rep, default_seed_count()),
                           engine=engine, progress=False, **options)
    opt = found.optimum()
    return {"lr": opt.lr, "low": opt.low, "high": opt.high, "steps": found.steps_used,
            "trials": len(found.trials), "stopped": str(found.stopped),
            "converged": bool(found.converged), "basis": str(getattr(opt, "basis", "")),
            "rounds": len(found.rounds)}


def run_tpe(task: Any, lr_range: tuple, engine: CachedEngine, rep: int) -> dict[str, Any]:
    try:
        import optuna
    except ImportError as e:
        raise SystemExit("the TPE rows need optuna: pip install 'lrsweep[bench]'") from e
    optuna.logging.set_verbosity(optuna.logging.WARNING)
    seed = rep_seeds(rep, 1)[0]
    steps: list[int] = []
    worst = math.inf if task.direction == "min" else -math.inf

    def objective(trial: Any) -> float:
        lr = trial.suggest_float("lr", *lr_range, log=True)
        r = lrsweep.sweep(task, [lr], seeds=[seed], engine=engine, progress=False,
                          threads=None).trials[0]
        steps.append(r.steps)
        return r.metric if r.ok and r.metric is not None else worst

    st = optuna.create_study(direction="minimize" if task.direction == "min" else "maximize",
                             sampler=optuna.samplers.TPESampler(seed=rep))
    st.optimize(objective, n_trials=TPE_TRIALS)
    ok = [t for t in st.trials if t.value is not None and math.isfinite(t.value)]
    pick = min if task.direction == "min" else max
    best = pick(ok, key=lambda t: t.value) if ok else None
    return {"lr": None if best is None else best.params["lr"], "steps": sum(steps),
            "trials": TPE_TRIALS}


def run_grid(task: Any, lr_range: tuple, engine: CachedEngine, rep: int) -> dict[str, Any]:
    res = lrsweep.sweep(task, lrsweep.log_grid(*lr_range, 10), seeds=rep_seeds(rep, 1),
                        engine=engine, progress=False, threads=None)
    best = res.best()
    return {"lr": None if best is None else best.lr,
            "steps": sum(t.steps for t in res.trials), "trials": len(res.trials)}


METHODS: dict[str, tuple[str, Callable[..., dict[str, Any]]]] = {
    "search": ("search defaults", run_search),
    "search20": ("search max_trials=20",
                 lambda *a: run_search(*a, max_trials=20)),
    "tpe": (f"Optuna TPE, {TPE_TRIALS} trials", run_tpe),
    "grid": ("10-point grid, 1 seed", run_grid),
}


# -------------------------------------------------------------------------- scoring ----
def score(r: dict[str, Any], tr: Truth) -> dict[str, Any]:
    r = dict(r)
    r["err"] = tr.log2_error(r.get("lr"))
    r["regret"] = tr.regret(r.get("lr"))
    if "low" in r:
        r["holds"] = bool((r["low"] or 0) <= tr.lr <= (r["high"] or math.inf))
    r["frac"] = r["steps"] / tr.dense_steps
    tol = TOL_POINTS if tr.accuracy else TOL_REGRET
    r["ok"] = bool(r["err"] <= TOL_OCT or r["regret"] <= tol)
    return r


def run(names: list[str], cache: str, reps: int, methods: list[str] | None = None,
        label: str | None = None) -> dict[str, Any]:
    truths = load()
    missing = [n for n in names if n not in truths]
    if missing:
        raise SystemExit(f"no truth for {missing}: run --truths first")
    label = label or code_label()
    keys = methods or list(METHODS)
    out_path = Path(cache) / f"results-{label}.json"
    record: dict[str, Any] = json.loads(out_path.read_text()) if out_path.exists() else {}
    print(f"search code {label}; results -> {out_path}")
    for name in names:
        spec, tr = ALL[name], truths[name]
        task = spec.build()
        engine = CachedEngine(task, str(Path(cache) / f"{name}.db"))
        for key in keys:
            title, fn = METHODS[key]
            t0 = time.perf_counter()
            trained = engine.trained
            raw = [fn(task, spec.lr_range, engine, rep) for rep in range(reps)]
            record.setdefault(name, {})[key] = raw
            runs = [score(r, tr) for r in raw]
            errs = [r["err"] for r in runs]
            print(f"  {name}: {title}: |log2| med {np.median(errs):.3f} max {max(errs):.3f}, "
                  f"steps {np.median([r['frac'] for r in runs]):.1%} "
                  f"({time.perf_counter() - t0:.0f} s, {engine.trained - trained} trials "
                  "trained)", flush=True)
        out_path.write_text(json.dumps(record))
    report(record, names, truths, keys)
    return record


def report_saved(label: str, names: list[str], cache: str) -> None:
    """Print the report of a saved run (``results-<label>.json``) against today's truths."""
    path = Path(cache) / f"results-{label}.json"
    if not path.exists():
        raise SystemExit(f"--report: no {path}")
    record = json.loads(path.read_text())
    names = [n for n in names if n in record]
    keys = [k for k in METHODS if any(k in record[n] for n in names)]
    print(f"search code {label} (saved run)")
    report(record, names, load(), keys)


# --------------------------------------------------------------------------- report ----
def _fmt_regret(v: float, acc: bool) -> str:
    if not math.isfinite(v):
        return "inf"
    return f"{v:.2f}pt" if acc else f"{v:.2%}"


def report(record: dict[str, Any], names: list[str], truths: dict[str, Truth],
           keys: list[str]) -> None:
    print("\nper task (worst case over repetitions first); truth se: the truth's own "
          "bootstrap sd (octaves); regret: relative for a loss, points for accuracy; floor: "
          "the truth LR's own regret on the smoothed curve; ok: runs within the tolerance")
    print(f"{'task':>20} {'method':>21} {'|log2| max':>10} {'med':>6} {'regret max':>10} "
          f"{'med':>8} {'holds':>5} {'conv':>4} {'steps max':>9} {'med':>6} {'ok':>4} "
          f"{'truth se':>8} {'floor':>7}")
    for name in names:
        tr = truths[name]
        for key in keys:
            runs = [score(r, tr) for r in record.get(name, {}).get(key, [])]
            if not runs:
                continue
            n = len(runs)
            errs = [r["err"] for r in runs]
            regs = [r["regret"] for r in runs]
            holds = f"{sum(r['holds'] for r in runs)}/{n}" if "holds" in runs[0] else "-"
            conv = f"{sum(r['converged'] for r in runs)}/{n}" if "converged" in runs[0] else "-"
            fr = [r["frac"] for r in runs]
            label = name + (" (H)" if tr.held_out else "")
            print(f"{label:>20} {METHODS[key][0]:>21} {max(errs):>10.3f} "
                  f"{np.median(errs):>6.3f} {_fmt_regret(max(regs), tr.accuracy):>10} "
                  f"{_fmt_regret(float(np.median(regs)), tr.accuracy):>8} {holds:>5} "
                  f"{conv:>4} {max(fr):>9.1%} {np.median(fr):>6.1%} "
                  f"{sum(r['ok'] for r in runs)}/{n} {tr.se:>8.3f} "
                  f"{_fmt_regret(tr.regret(tr.lr), tr.accuracy):>7}")
    summary(record, names, truths)


def summary(record: dict[str, Any], names: list[str], truths: dict[str, Truth]) -> None:
    """The issue's targets, over every task and repetition."""
    scored = {n: {k: [score(r, truths[n]) for r in v] for k, v in record.get(n, {}).items()}
              for n in names}

    def runs(key: str, pool: list[str]) -> list[dict[str, Any]]:
        return [r for n in pool for r in scored[n].get(key, [])]

    for title, pool in (("tuned-on tasks", [n for n in names if not truths[n].held_out]),
                        ("held-out tasks", [n for n in names if truths[n].held_out])):
        s = runs("search", pool)
        if not s:
            continue
        print(f"\ntargets, default search, {title} ({len(pool)} tasks, {len(s)} runs):")
        failed = [n for n in pool if any(not r["ok"] for r in scored[n].get("search", []))]
        med = float(np.median([r["err"] for r in s]))
        cov = np.mean([r["holds"] for r in s])
        conv = np.mean([r["converged"] for r in s])
        fr = [r["frac"] for r in s]

        def mark(ok: bool) -> str:
            return "PASS" if ok else "FAIL"

        print(f"  {mark(not failed)} |log2| <= {TOL_OCT} or regret <= {TOL_REGRET:.1%} "
              f"({TOL_POINTS} points) on every task and run: "
              f"{len(pool) - len(failed)}/{len(pool)} tasks"
              + (f" (failed: {', '.join(failed)})" if failed else ""))
        print(f"  {mark(med <= MEDIAN_OCT)} median |log2| <= {MEDIAN_OCT}: {med:.3f}")
        print(f"  {mark(cov >= COVERAGE)} interval holds the truth >= {COVERAGE:.0%}: "
              f"{cov:.0%}")
        print(f"  {mark(conv >= CONVERGED)} converged (tight or flat) >= {CONVERGED:.0%}: "
              f"{conv:.0%}")
        print(f"  {mark(max(fr) <= STEPS)} trial-steps <= {STEPS:.0%} of the 41 x 5 grid: "
              f"max {max(fr):.1%}, median {np.median(fr):.1%}")
        behind = []
        for n in pool:
            a, b = scored[n].get("search20"), scored[n].get("tpe")
            if a and b and not (np.median([r["err"] for r in a])
                                < np.median([r["err"] for r in b])):
                behind.append(n)
        if runs("search20", pool) and runs("tpe", pool):
            print(f"  {mark(not behind)} max_trials=20 median closer than TPE's on every "
                  f"task: {len(pool) - len(behind)}/{len(pool)}"
                  + (f" (not on: {', '.join(behind)})" if behind else ""))

"""What to do next, as commands that run as printed: each step carries the task (the CLI's
``--task`` and its overrides), where the trials live (``--out``/``--store``, ``--study``), and
numbers read from the settings that produced the result (the search's tolerance and budget),
and it answers the reason the search stopped (a spent ``max_trials`` asks for more trials, not
more rounds). ``Recipe`` is how to run more trials into the same study; without one (a result
made in Python, not by the CLI) only the Python call is given, on the user's ``task``.
"""

from __future__ import annotations

import inspect
import math
import re
import shlex
import sys
from dataclasses import asdict, dataclass, field
from typing import Any

from ..plot.fmt import fmt_lr

__all__ = ["SEARCH_DEFAULTS", "Recipe", "NextStep", "next_steps", "search_defaults", "stop_kind"]

#: search settings that the CLI has a flag for: name -> flag
SEARCH_FLAGS = {"tolerance": "--tolerance", "max_rounds": "--max-rounds",
                "max_trials": "--max-trials", "max_steps": "--max-steps",
                "max_seeds": "--max-seeds", "points": "--points",
                "refine_points": "--refine-points", "band_tol": "--band-tol"}


@dataclass(frozen=True)
class NextStep:
    """One thing to do next: ``text``, and the command (``cli``) or call (``api``) that does
    it (empty when there is nothing to run)."""

    text: str
    cli: str = ""
    api: str = ""


@dataclass(frozen=True)
class Recipe:
    """How to run more trials into the study a report describes.

    ``task_args``: the CLI's task flags (``("--task", "teacher-mlp", "--width", "64")``; empty
    when the study was not made by the CLI); ``where_args``: ``--out``/``--store`` as given;
    ``study``/``store``: the study and the store's path (for the Python calls too);
    ``api_task``: the Python expression of the task; ``grid``: (lr_min, lr_max, num) of the
    run; ``seeds``: the seeds as passed (``"3"``, ``"0,5"``); ``search``: the search's
    settings (``lr_min``, ``lr_max``, ``tolerance``, ``max_trials``, ...; empty for a run).
    """

    task_args: tuple[str, ...] = ()
    where_args: tuple[str, ...] = ()
    study: str | None = None
    store: str | None = None
    api_task: str = "task"
    grid: tuple[float, float, int] | None = None
    seeds: str | None = None
    search: dict[str, Any] = field(default_factory=dict)

    def cli(self, command: str, flags: list[str]) -> str:
        """``lrsweep COMMAND`` with the task, the flags, and where the study lives; "" when
        the task has no CLI form."""
        if not self.task_args:
            return ""
        where = list(self.where_args)
        if self.study:
            where += ["--study", self.study]
        return shlex.join(["lrsweep", command, *self.task_args, *flags, *where])

    def api(self, fn: str, args: list[str]) -> str:
        """``lrsweep.FN(task, ARGS, store=..., study=...)``."""
        extra = [f"store={self.store!r}"] if self.store else []
        extra += [f"study={self.study!r}"] if self.study and self.store else []
        call = f"lrsweep.{fn}({', '.join([self.api_task, *args, *extra])})"
        # `import lrsweep` loads its submodules on first use of their names, not as
        # attributes: the call imports what it names
        return ("import lrsweep.examples; " + call if "lrsweep.examples." in self.api_task
                else call)

    def to_dict(self) -> dict[str, Any]:
        d = asdict(self)
        d["task_args"], d["where_args"] = list(self.task_args), list(self.where_args)
        d["grid"] = None if self.grid is None else list(self.grid)
        return d

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> Recipe:
        grid = d.get("grid")
        return cls(tuple(d.get("task_args") or ()), tuple(d.get("where_args") or ()),
                   d.get("study"), d.get("store"), d.get("api_task") or "task",
                   None if not grid else (float(grid[0]), float(grid[1]), int(grid[2])),
                   d.get("seeds"), dict(d.get("search") or {}))


#: ``search()``'s defaults for the settings the steps quote (kept here so that a report
#: imports no torch; tests/test_report.py checks them against ``search``'s signature)
SEARCH_DEFAULTS: dict[str, Any] = {"tolerance": 2**0.5, "max_rounds": 6, "max_trials": 48,
                                   "max_steps": None, "max_seeds": None, "points": None,
                                   "refine_points": 4, "band_tol": 0.01, "seeds": 3}


def search_defaults() -> dict[str, Any]:
    """``search()``'s own defaults (tolerance, max_trials, ...): read from its signature
    when ``lrsweep.search`` is loaded, else the copy above (checked against it by a test)."""
    mod = sys.modules.get("lrsweep.search")
    if mod is None:
        return dict(SEARCH_DEFAULTS)
    return {k: p.default for k, p in inspect.signature(mod.search).parameters.items()
            if p.default is not inspect.Parameter.empty}


#: ``lrsweep.search.StopReason`` values -> the kinds the steps answer
REASONS = {"tight": "converged", "flat": "flat", "noise-limited": "noise-limited",
           "max-rounds": "max_rounds", "nothing-to-try": "exhausted"}


def stop_kind(stopped: Any, reason: Any = None) -> str:
    """The kind of a search's stop: converged, flat (converged, flat top), noise-limited,
    max_trials, max_steps, budget (both budgets set: either was spent), max_rounds, failed, exhausted (no new LR worth
    trying), or "". ``reason``: the typed ``StopReason`` (or its value), ``stopped``: the
    words (they say which budget was spent)."""
    text = str(stopped or "").lower()
    value = str(getattr(reason, "value", reason) or "").lower()
    if value == "budget":
        spent = re.search(r"budget spent \(([^)]*)\)", text)
        names = spent.group(1) if spent else text
        both = "max_steps" in names and "max_trials" in names
        return "budget" if both else "max_steps" if "max_steps" in names else "max_trials"
    if value in REASONS:
        return "failed" if value == "nothing-to-try" and "failed" in text else REASONS[value]
    for key, out in (("flat", "flat"), ("converged", "converged"),
                     ("noise-limited", "noise-limited"), ("max_trials", "max_trials"),
                     ("max_steps", "max_steps"), ("max_rounds", "max_rounds"),
                     ("every trial failed", "failed"), ("no new lrs", "exhausted")):
        if key in text:
            if out == "converged" and "not converged" in text:
                continue
            return out
    return ""


def _num(v: float) -> str:
    """An LR for a flag, exact enough that a rerun draws the same grid (so that its trials
    are found in the store, not trained again)."""
    return f"{v:.10g}"


def _get(opt: Any, name: str, default: Any = None) -> Any:
    return getattr(opt, name, default)


def _search_flags(settings: dict[str, Any], defaults: dict[str, Any], **changed: Any) -> list[str]:
    """The search's own flags as it ran (those away from the defaults), with ``changed``."""
    out: list[str] = []
    merged = {**settings, **changed}
    for name, flag in SEARCH_FLAGS.items():
        v = merged.get(name)
        if v is None or (name not in changed and v == defaults.get(name)):
            continue
        out += [flag, f"{v:g}" if isinstance(v, float) else str(v)]
    return out


def next_steps(opt: Any, *, recipe: Recipe | None = None, kind: str = "sweep",
               stopped: Any = "", reason: Any = None, lr_range: tuple[float, float] | None = None,
               n_failed: int = 0, batch_size: int | None = None,
               n_lrs: int | None = None, optimizer: str | None = None) -> list[NextStep]:
    """The steps for ``opt`` (an ``Optimum``) of a ``kind`` ("sweep" or "search") that
    stopped for ``reason`` (a ``StopReason``; ``stopped``: its words), with ``recipe`` to
    rerun it."""
    rc = recipe or Recipe()
    defaults = search_defaults()
    settings = {**{k: defaults.get(k) for k in SEARCH_FLAGS}, **rc.search}
    tol = float(settings.get("tolerance") or defaults["tolerance"])
    lo_tried, hi_tried = lr_range if lr_range else (None, None)
    grid = rc.grid or ((lo_tried, hi_tried, n_lrs or 10) if lo_tried else None)
    seeds_flag = ["--seeds", rc.seeds] if rc.seeds else []
    seeds_api = [f"seeds={_seeds_py(rc.seeds)}"] if rc.seeds else []
    found = bool(_get(opt, "found", _get(opt, "lr") is not None))
    div = _get(opt, "diverged_above")
    steps: list[NextStep] = []

    def rerun(lo: float, hi: float, text: str, *, seeds: str | None = None) -> NextStep:
        """A run (a sweep) or a search like the one reported, over ``lo``..``hi``."""
        s_flag = ["--seeds", seeds] if seeds else seeds_flag
        s_api = [f"seeds={_seeds_py(seeds)}"] if seeds else seeds_api
        if kind == "search":
            flags = ["--lr-min", _num(lo), "--lr-max", _num(hi), *s_flag,
                     *_search_flags(settings, defaults)]
            return NextStep(text, rc.cli("search", flags),
                        rc.api("search", [f"lr_range=({_num(lo)}, {_num(hi)})", *s_api]))
        num = _grid_num(grid, lo, hi)
        flags = ["--lr-min", _num(lo), "--lr-max", _num(hi), "--num", str(num), *s_flag]
        return NextStep(text, rc.cli("run", flags),
                    rc.api("sweep", [f"lrsweep.log_grid({_num(lo)}, {_num(hi)}, {num})", *s_api]))

    if not found:
        if div is not None:
            steps.append(rerun(div / 1000, div / 10,
                               f"Every LR diverged: sweep lower LRs, below {fmt_lr(div)}."))
        else:
            steps.append(NextStep("No trial finished: the error of each failed trial is in the "
                              "table below."))
        return steps

    low_edge, high_edge = _get(opt, "at_low_edge"), _get(opt, "at_high_edge")
    if low_edge and lo_tried:
        steps.append(rerun(lo_tried / 100, hi_tried,
                           "Widen the range downwards: the best LR is the lowest one tried."))
    if high_edge and hi_tried:
        steps.append(rerun(lo_tried, hi_tried * 100,
                           "Widen the range upwards: the best LR is the highest one tried."))
    one_seed = _get(opt, "basis") == "one-seed" or (
        _get(opt, "basis") not in ("seeds", "one-seed") and int(_get(opt, "n_seeds", 1) or 1) < 2)
    stop = stop_kind(stopped, reason) if kind == "search" else ""
    ratio = _get(opt, "ratio", math.inf)
    if one_seed and not (low_edge or high_edge) and lo_tried:
        steps.append(rerun(lo_tried, hi_tried, "Run more seeds, so that the interval covers "
                           "the seed-to-seed noise and not only this seed's curve.", seeds="3"))
    if kind == "search" and stop in ("max_trials", "max_steps", "budget", "max_rounds",
                                     "noise-limited", "exhausted") and not (low_edge or high_edge):
        more_step = _search_on(opt, rc, stop, settings, defaults, tol,
                               (settings.get("lr_min") or lo_tried,
                                settings.get("lr_max") or hi_tried), seeds_flag, seeds_api)
        if more_step is not None:
            steps.append(more_step)
    elif kind == "sweep" and not one_seed and not (low_edge or high_edge) and (
            not math.isfinite(ratio) or ratio > tol):
        steps.append(_narrow(opt, rc, div, tol))
    if n_failed:
        steps.append(NextStep(f"{n_failed} trial(s) failed: their errors are in the trial table."))
    if not any(s.cli or s.api for s in steps):
        steps.insert(0, _use(opt, rc, batch_size, optimizer))
    return steps


def _search_on(opt: Any, rc: Recipe, stop: str, settings: dict[str, Any],
               defaults: dict[str, Any], tol: float, lr_range: tuple[Any, Any],
               seeds_flag: list[str], seeds_api: list[str]) -> NextStep | None:
    """A search that stopped on its budget or its noise: the same search, let go on (more
    seeds, or a larger budget), reusing its trials."""
    lo_s, hi_s = lr_range
    n = int(_get(opt, "n_seeds", 1) or 1)
    ratio = _get(opt, "ratio", math.inf)
    if stop == "noise-limited" or stop == "exhausted":
        more = int(settings.get("max_seeds") or n) + 2
        width = opt.with_seeds(more) if hasattr(opt, "with_seeds") else math.inf
        buys = (f": with {more} seeds the interval would be about a factor of "
                f"{width:.2f} wide" if math.isfinite(width) and width < ratio else "")
        trials = int(settings.get("max_trials") or 0)
        changed: dict[str, Any] = {"max_seeds": more}
        if trials:
            changed["max_trials"] = trials * 2
        text = (f"More seeds narrow it{buys}; the search reuses every trial it ran.")
        flags = ["--lr-min", _num(lo_s), "--lr-max", _num(hi_s), *seeds_flag,
                 *_search_flags(settings, defaults, **changed)]
        return NextStep(text, rc.cli("search", flags), rc.api(
            "search", [f"lr_range=({_num(lo_s)}, {_num(hi_s)})", *seeds_api,
                       *(f"{k}={v}" for k, v in changed.items())]))
    limits = ["max_trials", "max_steps"] if stop == "budget" else [stop]
    changed = {k: (int(settings[k]) + 3 if k == "max_rounds" else int(settings[k]) * 2)
               for k in limits if settings.get(k)}
    if not changed:
        return None
    what = {"max_trials": "trials", "max_steps": "trial-steps",
            "max_rounds": "rounds"}
    spent = " and ".join(f"{settings[k]} {what[k]}" for k in changed)
    text = (f"Let the search go on: its budget of {spent} ran out before the "
            f"interval's high/low reached {tol:.2f}; it reuses every trial it ran.")
    flags = ["--lr-min", _num(lo_s), "--lr-max", _num(hi_s), *seeds_flag,
             *_search_flags(settings, defaults, **changed)]
    return NextStep(text, rc.cli("search", flags), rc.api(
        "search", [f"lr_range=({_num(lo_s)}, {_num(hi_s)})", *seeds_api,
                   *(f"{k}={v}" for k, v in changed.items())]))


def _narrow(opt: Any, rc: Recipe, div: float | None, tol: float) -> NextStep:
    """A sweep whose interval is wider than a search's tolerance: the search over it."""
    band = _get(opt, "band") or (opt.lr, opt.lr)
    lo = min(band[0], _get(opt, "low") or band[0]) / 3
    hi = max(band[1], _get(opt, "high") or band[1]) * 3
    if div is not None:
        hi = min(hi, div)
    return NextStep(f"Narrow it down: a search adds LRs inside the interval until its "
                f"high/low is at most {tol:.2f} (its tolerance), into the same study.",
                rc.cli("search", ["--lr-min", fmt_lr(lo), "--lr-max", fmt_lr(hi)]),
                rc.api("search", [f"lr_range=({lo:.3g}, {hi:.3g})"]))


def _use(opt: Any, rc: Recipe, batch_size: int | None, optimizer: str | None) -> NextStep:
    tol = _get(opt, "band_tol", 0.01)
    text = (f"Use lr {fmt_lr(opt.lr)}. Any LR in the band does within {tol:.0%} as well. To "
            "carry it to a larger batch, width or depth, apply the scaling rules.")
    if not batch_size:
        return NextStep(text)
    sgd = str(optimizer or "").lower().startswith("sgd")
    flags = ["--batch", f"{batch_size}:{batch_size * 4}"] + (["--optimizer", "sgd"] if sgd else [])
    low, high = _get(opt, "low"), _get(opt, "high")
    if rc.store and rc.study:
        cli = shlex.join(["lrsweep", "transfer", "--store", rc.store, "--study", rc.study,
                          *flags])
    else:
        interval = (["--low", fmt_lr(low, 4), "--high", fmt_lr(high, 4)]
                    if low is not None and high is not None else [])
        cli = shlex.join(["lrsweep", "transfer", "--lr", fmt_lr(opt.lr, 4), *interval, *flags])
    point = (f"({opt.lr:.4g}, {low:.4g}, {high:.4g})" if low is not None and high is not None
             else f"{opt.lr:.4g}")
    api = (f"import lrsweep.transfer; lrsweep.transfer.transfer({point}, base={{'batch': {batch_size}}}, "
           f"target={{'batch': {batch_size * 4}}}" + (", optimizer='sgd'" if sgd else "") + ")")
    return NextStep(text, cli, api)


def _seeds_py(text: str | None) -> str:
    """``--seeds`` as Python: ``3`` (a count) or ``(0, 5)``."""
    s = str(text or "1").strip()
    if "," in s:
        vals = [v.strip() for v in s.split(",") if v.strip()]
        return "(" + ", ".join(vals) + ("," if len(vals) == 1 else "") + ")"
    return s


def _grid_num(grid: tuple[float, float, int] | None, lo: float, hi: float) -> int:
    """LRs for ``lo``..``hi`` at the spacing of ``grid`` (10 without one)."""
    if not grid or not grid[0] or not grid[1] or grid[2] < 2 or grid[1] <= grid[0]:
        return 10
    per = math.log10(grid[1] / grid[0]) / (grid[2] - 1)
    return max(2, int(round(math.log10(hi / lo) / per)) + 1)

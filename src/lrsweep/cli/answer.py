"""One answer, printed alike by ``run``, ``search`` and ``show``: the estimate over all of the
study's trials (``lrsweep.analysis``), the best LR measured (``SweepResult.best``: a mean over
the same seeds), the band, and a warning when the metric is saturated. And how to run more
trials into the study (``Recipe``), which the report's next steps carry."""

from __future__ import annotations

import argparse
import json
from pathlib import Path
from typing import TYPE_CHECKING, Any

from ..errors import LRSweepError
from .flags import as_flags

if TYPE_CHECKING:
    from ..report.next_steps import Recipe

RECIPE_FILE = "recipe.json"

def recipe_from_args(args: argparse.Namespace, study: str | None, *,
                     grid: tuple[float, float, int] | None = None,
                     search: dict[str, Any] | None = None) -> Recipe:
    """How to run more trials into ``study`` with the same task and store, from the flags
    this command was given (the task's overrides included, whether from flags or --config)."""
    from ..report.next_steps import Recipe
    from .common import resolve_store
    from .task_args import TASK_OVERRIDES

    task_args = ["--task", str(args.task)]
    api_args = []
    for key in TASK_OVERRIDES:
        v = getattr(args, key, None)
        if v is None:
            continue
        task_args += ["--" + key.replace("_", "-"), f"{v:g}" if isinstance(v, float) else str(v)]
        api_args.append(f"{key}={v!r}")
    where = ["--out", str(args.out or args.default_out)]
    if args.store:
        where += ["--store", str(args.store)]
    from ..examples import TASKS

    api_task = (f"lrsweep.examples.get_task({', '.join([repr(args.task), *api_args])})"
                if args.task in TASKS else "task")
    return Recipe(tuple(task_args), tuple(where), study, str(resolve_store(args)), api_task,
                  grid, None if args.seeds is None else str(args.seeds), dict(search or {}))


def save_recipe(folder: Path, recipe: Recipe) -> Path:
    """Keep the recipe in the study's folder, for ``lrsweep report`` to read later."""
    path = folder / RECIPE_FILE
    path.write_text(json.dumps(recipe.to_dict(), indent=1) + "\n")
    return path


def load_recipe(folder: Path | None) -> Recipe | None:
    from ..report.next_steps import Recipe

    if folder is None or not (folder / RECIPE_FILE).is_file():
        return None
    try:
        return Recipe.from_dict(json.loads((folder / RECIPE_FILE).read_text()))
    except (OSError, ValueError, TypeError, AttributeError, IndexError):
        return None


def study_result(store: Path, study: str | None, fallback: Any) -> Any:
    """Every trial of ``study`` in ``store`` (the answer is over all of them, whichever
    command ran them); ``fallback`` when the store cannot be read."""
    from ..store import Store

    try:
        with Store(store, create=False) as s:
            full = s.load(study)
    except (LRSweepError, OSError):
        return fallback
    full.reused = getattr(fallback, "reused", 0)
    full.threads = getattr(fallback, "threads", None)
    full.engine = getattr(fallback, "engine", full.engine)
    return full


def optimum_of(result: Any, **options: Any) -> tuple[Any, str]:
    """``result.optimum()``, or (None, why) when it cannot be estimated (the estimate is a
    bonus on top of the table, never a reason to fail)."""
    if not any(t.ok for t in result.trials):
        return None, ""
    try:
        return result.optimum(**options), ""
    except (LRSweepError, ValueError, ArithmeticError) as e:
        return None, f"not estimated ({e})"


def answer_lines(result: Any, opt: Any, *, why: str = "", stopped: str = "") -> list[str]:
    """The answer as ``run``, ``search`` and ``show`` print it."""
    name = result.metric_name
    best = result.best()
    lines = []
    if opt is not None and opt.found:
        lines.append(f"optimum: lr = {opt.lr:.4g}   ({as_flags(opt.interval_text())})")
        if opt.metric is not None:
            how = "fitted" if opt.metric_fitted else "measured"
            lines.append(f"  {name} at the optimum ({how}): {opt.metric:.4f}")
    elif opt is not None:
        lines.append(f"optimum: none ({opt.note or 'no trial finished'})")
    elif why:
        lines.append(f"optimum: {why}")
    if best is not None:
        pad = "  " if lines else ""
        lines.append(f"{pad}best lr measured: {best.lr:.4g}  "
                     f"({best.text(name).split(': ', 1)[1]})")
    elif result.trials:
        lines.append("best lr measured: none: every trial diverged or failed (diverged: "
                     "lower --lr-max; failed: the error is in the store, `lrsweep export`)")
    if opt is None or not opt.found:
        return lines
    if opt.band is not None:
        lines.append(f"  band (within {opt.band_tol:.0%} of the best): "
                     f"[{opt.band[0]:.4g}, {opt.band[1]:.4g}]")
    if opt.diverged_above is not None:
        lines.append(f"  diverged at: {opt.diverged_above:.4g} (the first divergence above "
                     "the best)")
    if opt.open_low or opt.open_high:
        side = "low" if opt.open_low else "high"
        lines.append(f"  WARNING: the interval is open at the {side} end: widen the range "
                     "(--lr-min/--lr-max)")
    saturated = result.saturated()
    if saturated:
        lines.append(f"  WARNING: {saturated}")
    if stopped:
        words = as_flags(str(stopped))
        if opt.converged:
            lines.append(f"  {words}" if words.startswith("converged") else
                         f"  converged: {words}")
        else:
            state = ("NOT converged, noise-limited" if words.startswith("noise-limited")
                     else "NOT converged")
            lines.append(f"  {state}: {words}")
    if opt.note:
        lines.append(f"  note: {opt.note}")
    return lines

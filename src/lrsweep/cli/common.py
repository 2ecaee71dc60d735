"""Options shared by the sub-commands that sweep (the task flags, the sweep's options) and
where their outputs go (the folder, the store, the files). The task itself is built by
``lrsweep.cli.task_args``."""

from __future__ import annotations

import argparse
import logging
import os
from pathlib import Path
from typing import Any

from ..errors import bad_arg, bad_choice
from .task_args import TASK_OVERRIDES

log = logging.getLogger("lrsweep")

SWEEP_OPTIONS: dict[str, tuple[Any, str]] = {
    "lr_min": (float, "lowest LR of the grid (default: the task's range)"),
    "lr_max": (float, "highest LR of the grid (default: the task's range)"),
    "seeds": (str, "an integer N for seeds 0..N-1, or a comma list such as 0,3,7 (default: run 1, search 3)"),
    "engine": (str, "auto, sequential, vectorized or ray (default auto)"),
    "threads": (str, "CPU threads while training: auto (default: the idle cores, at most "
                     "torch's count), torch (torch's own setting) or a number"),
}


def add_task_args(p: argparse.ArgumentParser) -> None:
    g = p.add_argument_group("task")
    g.add_argument("--task", help="a built-in task (digits-mlp, teacher-mlp, stdlib-gpt) or "
                                  "package.module:function returning an lrsweep.Task")
    g.add_argument("--config", metavar="FILE",
                   help="a TOML file with the same options as the flags (flags win)")
    for name, (typ, text) in TASK_OVERRIDES.items():
        g.add_argument("--" + name.replace("_", "-"), type=typ, default=None, help=text)
    s = p.add_argument_group("sweep")
    for name, (typ, text) in SWEEP_OPTIONS.items():
        s.add_argument("--" + name.replace("_", "-"), type=typ, default=None, help=text)
    s.add_argument("--quiet", action="store_true",
                   help="no progress bar (it shows only where stderr is a terminal anyway)")


def add_output_args(p: argparse.ArgumentParser, default_out: str = "lrsweep-out") -> None:
    g = p.add_argument_group("output")
    g.add_argument("--out", default=None, metavar="DIR",
                   help=f"folder for the results (default {default_out})")
    g.add_argument("--store", default=None, metavar="PATH",
                   help="SQLite store for resumable studies (default OUT/lrsweep.db)")
    g.add_argument("--study", default=None, help="study name in the store (default: the task name and a short hash of its "
                        "protocol, so a changed protocol starts a new study)")
    g.add_argument("--tensorboard", default=None, metavar="DIR",
                   help="write one TensorBoard run per trial trained into DIR (loss curve, "
                        "HParams lr/seed/status -> metric); needs lrsweep[tensorboard]")
    p.set_defaults(default_out=default_out)


def parse_seeds(text: Any) -> list[int]:
    if text is None:
        return [0]
    if isinstance(text, int):
        return list(range(text))
    s = str(text).strip()
    try:
        if "," in s:
            vals = [int(v) for v in s.split(",") if v.strip()]
            if not vals or min(vals) < 0:
                raise ValueError(s)
            return vals
        n = int(s)
    except ValueError as e:
        raise bad_arg("--seeds", text, "a count N (seeds 0..N-1) or a comma list of seeds "
                      ">= 0", "Use --seeds 3 (seeds 0,1,2) or --seeds 0,5,9.") from e
    if n < 1:
        raise bad_arg("--seeds", text, "at least 1", "Use --seeds 1 or more.")
    return list(range(n))


def lr_range_from_args(args: argparse.Namespace, task_name: str) -> tuple[float, float]:
    from ..examples import default_lr_range
    from ..plan.grid import check_lr_range

    lo, hi = default_lr_range(task_name)
    lo = args.lr_min if args.lr_min is not None else lo
    hi = args.lr_max if args.lr_max is not None else hi
    check_lr_range(lo, hi, "--lr-min/--lr-max")
    return lo, hi


def sweep_kwargs(args: argparse.Namespace) -> dict[str, Any]:
    """What the sweep options mean for ``sweep``/``search``: the bar and the threads."""
    threads = getattr(args, "threads", None)
    return {"progress": False if args.quiet else None,
            "threads": "auto" if threads is None else parse_threads(threads)}


def check_sweep_args(args: argparse.Namespace) -> None:
    """Options that ``sweep`` would only check once the store and the folder exist."""
    if args.engine is not None:
        from ..engines import ENGINES

        if args.engine not in ENGINES:
            raise bad_choice("--engine", args.engine, ENGINES, "Leave it unset for auto.")
    parse_seeds(args.seeds)
    threads = getattr(args, "threads", None)
    if threads is not None:
        parse_threads(threads)


def parse_threads(text: Any) -> int | str | None:
    """``--threads``: ``auto`` (the measured policy), ``torch`` (torch's own setting) or N."""
    s = str(text).strip().lower()
    if s in ("auto", "torch"):
        return "auto" if s == "auto" else None
    try:
        n = int(s)
    except ValueError:
        n = 0
    if n < 1:
        raise bad_arg("--threads", text, "auto, torch, or a number of threads >= 1",
                      "Leave it at auto (see the README's CPU threads), or pass e.g. "
                      "--threads 1.")
    return n


def check_writable_dir(path: Path, name: str) -> None:
    """``path`` is a folder, or can be made one, that this process can write into; nothing
    is created here."""
    probe = path
    while not probe.exists():
        if probe.parent == probe:
            break
        probe = probe.parent
    if probe.exists() and not probe.is_dir():
        where = "is a file" if probe == path else f"is under {probe}, which is a file"
        raise bad_arg(name, str(path), "a folder", f"{path} {where}; pass another folder.")
    if probe.exists() and not os.access(probe, os.W_OK | os.X_OK):
        raise bad_arg(name, str(path), "a folder this user can write to",
                      f"{probe} is read-only; pass a folder you can write to.")


def out_dir(args: argparse.Namespace) -> Path:
    """The ``--out`` folder, checked (nothing is created until there is something to put
    in it: the store, or a study's files)."""
    path = Path(args.out or args.default_out)
    check_writable_dir(path, "--out")
    return path


def study_dir(folder: Path, study: str | None) -> Path:
    """``OUT/<study>/``: each study's files apart, so that runs at several scales into one
    ``--out`` (a width scan) never overwrite each other's files."""
    path = folder / safe_name(study)
    if path.exists() and not path.is_dir():  # a study named like the store file
        path = folder / (safe_name(study) + "-files")
    try:
        path.mkdir(parents=True, exist_ok=True)
    except OSError as e:
        raise bad_arg("--out", str(folder), "a folder that can be created",
                      f"Creating {path} failed ({e.strerror or e}); the trials are in the "
                      "store; pass another --out.") from e
    return path


IMAGE_FORMATS = ("png", "pdf", "svg", "jpg", "jpeg", "eps", "ps", "tif", "tiff", "webp",
                 "pgf", "raw", "rgba", "svgz")


def check_image_path(path: str | Path, name: str) -> Path:
    """An image file name whose suffix matplotlib can write; checked before any work."""
    p = Path(path)
    try:
        from matplotlib.backend_bases import FigureCanvasBase

        formats = tuple(sorted(FigureCanvasBase.get_supported_filetypes()))
    except ImportError:
        formats = IMAGE_FORMATS
    suffix = p.suffix.lower().lstrip(".")
    if suffix not in formats:
        raise bad_arg(name, str(path), f"an image file ending in one of "
                      f"{', '.join('.' + f for f in formats)}",
                      f"Pass e.g. {name} {p.with_suffix('.png')}.")
    from ..outputs import check_folder

    check_folder(p, name)  # the message names the file passed, not its folder
    return p


def safe_name(name: str | None) -> str:
    return "".join(c if c.isalnum() or c in "-_." else "-" for c in (name or "study")) \
        .strip(".") or "study"


def resolve_store(args: argparse.Namespace) -> Path:
    return Path(args.store) if args.store else out_dir(args) / "lrsweep.db"


def open_store_arg(path: str, name: str = "STORE") -> Any:
    """Open an existing store given as a file or as a run's ``--out`` folder (read-only use:
    nothing is created)."""
    from ..store import Store

    p = Path(path)
    if p.is_dir() and (p / "lrsweep.db").is_file():
        p = p / "lrsweep.db"
    if not p.is_file():
        raise bad_arg(name, path, "an existing store file or a run's --out folder",
                      "Check the path; `lrsweep run --out DIR` keeps its store in DIR/lrsweep.db.")
    return Store(p, create=False)


def write_outputs(result: Any, folder: Path, stem: str = "sweep") -> list[Path]:
    """Write ``stem``.json, .csv and .png into ``folder``; returns the paths written."""
    # the run's own folder: its files are rewritten on every run (a store is still refused)
    written = [result.to_json(folder / f"{stem}.json", overwrite=True),
               result.to_csv(folder / f"{stem}.csv", overwrite=True)]
    try:
        result.plot(folder / f"{stem}.png")
        written.append(folder / f"{stem}.png")
    except ImportError as e:
        log.warning("no plot written: %s (pip install matplotlib)", e)
    return written

"""``lrsweep studies | show | plot | export``: read a store, also while a sweep writes it."""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path
from typing import Any

from ..errors import LRSweepError
from ..text import format_table

STORE_HELP = ("the SQLite store (a sweep's --store; `lrsweep run` keeps one in OUT/lrsweep.db, "
              "and the folder OUT itself is accepted)")
STUDY_HELP = "the study's name (see `lrsweep studies PATH`); optional when the store holds one"


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser(
        "studies", help="list the studies of a store, with trial counts and best LR",
        description="List every study in a store: its trials by status (ok, diverged, "
                    "failed, and running: in flight now, or left by a stopped process and "
                    "rerun on resume) and its best LR. Safe while a sweep is writing.")
    p.add_argument("path", metavar="PATH", help=STORE_HELP)
    p.set_defaults(func=cmd_studies)

    p = sub.add_parser(
        "show", help="print a study's table and its optimum",
        description="Print a study's protocol, its table (one row per LR, mean over seeds, "
                    "the best marked '*'), the best LR and the estimated optimum with its "
                    "interval. Safe while a sweep is writing.")
    p.add_argument("path", metavar="PATH", help=STORE_HELP)
    p.add_argument("--study", default=None, help=STUDY_HELP)
    p.add_argument("--protocol", action="store_true",
                   help="print the full stored protocol (the fingerprinted description) as JSON")
    p.set_defaults(func=cmd_show)

    p = sub.add_parser(
        "plot", help="plot a study: metric against LR, and the loss curves",
        description="Draw a study's metric against LR (log axis) and its training-loss "
                    "curves into an image file (needs matplotlib).")
    p.add_argument("path", metavar="PATH", help=STORE_HELP)
    p.add_argument("--study", default=None, help=STUDY_HELP)
    p.add_argument("-o", "--output", default=None, metavar="FILE",
                   help="image file to write (.png, .pdf, .svg; default STUDY.png)")
    p.set_defaults(func=cmd_plot)

    p = sub.add_parser(
        "export", help="export a study's trials as JSON or CSV",
        description="Write a study's finished trials as JSON (the SweepResult format, read "
                    "back by SweepResult.from_json) or CSV (one row per trial).")
    p.add_argument("path", metavar="PATH", help=STORE_HELP)
    p.add_argument("--study", default=None, help=STUDY_HELP)
    p.add_argument("--format", choices=("json", "csv"), default="json",
                   help="json (default) or csv")
    p.add_argument("-o", "--output", default=None, metavar="FILE",
                   help="file to write (default: standard output); never an SQLite file "
                        "such as the store itself")
    p.add_argument("--force", action="store_true",
                   help="replace FILE if it exists (an SQLite file is refused even so)")
    p.set_defaults(func=cmd_export)


def _open(path: str) -> Any:
    from .common import open_store_arg

    return open_store_arg(path, "PATH")


def _fmt(v: float | None, spec: str) -> str:
    return "-" if v is None else format(v, spec)


def cmd_studies(args: argparse.Namespace) -> int:
    from .answer import optimum_of

    with _open(args.path) as store:
        infos = store.studies()
        results = {s.name: store.load(s.name) for s in infos if s.ok}
    if not infos:
        print(f"{args.path}: no study yet")
        return 0
    # the answer `show` and `report` give: the estimate over all of the study's trials,
    # and the best LR measured (a mean over the same seeds)
    rows = [("study", "trials", "ok", "diverged", "failed", "running", "optimum lr",
             "interval", "seeds", "best lr measured", "best metric", "created")]
    for s in infos:
        res = results.get(s.name)
        opt = optimum_of(res)[0] if res is not None else None
        best = res.best() if res is not None else None
        found = opt is not None and opt.found
        interval = "-" if not found else (f"x{opt.ratio:.2f}" if opt.low and opt.high
                                          else "open")
        seeds = "-" if not found else (
            f"{opt.n_seeds}" if opt.basis == "seeds" else "1")
        best_metric = "-" if best is None else f"{s.metric}({s.direction})={best.metric:.4f}"
        rows.append((s.name, str(s.trials), str(s.ok), str(s.diverged), str(s.failed),
                     str(s.running), _fmt(opt.lr if found else None, ".3e"), interval, seeds,
                     _fmt(None if best is None else best.lr, ".3e"), best_metric,
                     s.created[:19].replace("T", " ")))
    print(format_table(rows))
    return 0


def cmd_show(args: argparse.Namespace) -> int:
    from ..store.lease import running_holders

    with _open(args.path) as store:
        result = store.load(args.study)
        study = store.get_study(result.study)
        live, left = running_holders(study) if study.running() else ({}, [])
        created = store._study_row(result.study)[5]  # not studies(): it reads every study
    proto = result.protocol
    print(f"study {result.study} in {args.path} (fingerprint {study.fingerprint[:12]}, "
          f"created {created[:19].replace('T', ' ')})")
    print("protocol: " + _protocol_line(proto))
    if args.protocol:
        print(json.dumps(proto, indent=1, sort_keys=True, default=str))
    if result.trials:
        print(result.table())
    else:
        print("no finished trial yet")
    if live:
        print(f"{sum(live.values())} trial(s) running in a live sweep now ("
              + ", ".join(f"{who}: {n}" for who, n in live.items())
              + "); their results land here when they finish")
    if left:
        print(f"{len(left)} trial(s) running, held by no live sweep: left by a stopped process "
              "(rerun the same sweep on this store to finish them): "
              + ", ".join(f"lr={s.lr:.3g}/seed={s.seed}" for s in left[:8])
              + (" ..." if len(left) > 8 else ""))
    from .answer import answer_lines, optimum_of

    opt, why = optimum_of(result)
    for line in answer_lines(result, opt, why=why):
        print(line)
    return 0


def _protocol_line(p: dict[str, Any]) -> str:
    if "objective" in p:
        return f"objective {p['objective']} ({p.get('direction')})"
    parts = [f"{p.get('model', '?')} + {p.get('optimizer', '?')}",
             f"steps={p.get('steps')}", f"warmup_steps={p.get('warmup_steps')}",
             f"schedule={p.get('schedule')}",
             f"metric={p.get('metric')} ({p.get('direction')})"]
    train = p.get("train_data") or {}
    if isinstance(train, dict) and train.get("batch_size"):
        parts.insert(1, f"batch_size={train['batch_size']}")
    return ", ".join(parts)


def cmd_plot(args: argparse.Namespace) -> int:
    from .common import check_image_path, safe_name

    if args.output:
        check_image_path(args.output, "--output")
    with _open(args.path) as store:
        result = store.load(args.study)
    out = check_image_path(args.output or f"{safe_name(result.study)}.png", "--output")
    try:
        if out.parent != Path("."):
            out.parent.mkdir(parents=True, exist_ok=True)
        result.plot(out)
    except OSError as e:
        raise LRSweepError(f"--output={str(out)!r}: cannot be written "
                           f"({e.strerror or e}). Pass a file in a folder you can write "
                           "to.") from e
    except ImportError as e:
        raise LRSweepError(f"plot needs matplotlib and lrsweep.plot ({e}). Install it with "
                           "pip install matplotlib (or pip install 'lrsweep[plot]').") from e
    print(f"wrote {out}")
    return 0


def cmd_export(args: argparse.Namespace) -> int:
    from ..outputs import check_output, write_text

    out = None
    if args.output:
        # checked before the store is even read: a refused export touches nothing
        out = check_output(args.output, overwrite=args.force, name="--output",
                           force_hint="--force")
    with _open(args.path) as store:
        result = store.load(args.study)
    text = (json.dumps(result.to_dict(), indent=1, default=str) + "\n"
            if args.format == "json" else result.csv_text())
    if out is None:
        sys.stdout.write(text)
        return 0
    write_text(out, text, overwrite=args.force, name="--output", force_hint="--force",
               newline="" if args.format == "csv" else None)
    print(f"wrote {out} ({len(result.trials)} trials)", file=sys.stderr)
    return 0

"""``lrsweep report``: one self-contained HTML report of a study; and the report.html that
``lrsweep run`` and ``lrsweep search`` write next to their plot."""

from __future__ import annotations

import argparse
import logging
from pathlib import Path
from typing import Any

log = logging.getLogger("lrsweep")


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser(
        "report", help="write a self-contained HTML report of a study",
        description="Write one HTML file that opens anywhere and loads nothing from the "
                    "network: the optimum first (its interval and what it covers, the band, "
                    "whether it converged, what to do next), then the metric against the LR, "
                    "the training-loss curves, the search rounds, every trial, the protocol, "
                    "and the law across scales when the store holds the task at three or more "
                    "scales.")
    p.add_argument("source", metavar="SOURCE",
                   help="a run's --out folder, a store file, or a sweep.json")
    p.add_argument("--study", default=None,
                   help="the study to report (optional when the store holds one, or when "
                        "SOURCE is a run's folder: its last run's study)")
    p.add_argument("-o", "--output", default=None, metavar="FILE",
                   help="the HTML file (default: report.html next to the study's plot for a "
                        "run's folder, STUDY.html otherwise)")
    p.add_argument("--force", action="store_true",
                   help="replace an existing file that is not an earlier report")
    p.set_defaults(func=cmd_report)


def cmd_report(args: argparse.Namespace) -> int:
    from ..report import build_report, write_report
    from ..report.source import load_source
    from .common import safe_name

    src = load_source(args.source, args.study)
    if args.output:
        out = Path(args.output)
    elif src.folder is not None:  # next to the study's plot
        out = src.folder / "report.html"
    elif Path(args.source).is_dir():
        out = Path(args.source) / "report.html"
    else:
        out = Path(safe_name(src.result.study) + ".html")
    try:
        text = build_report(src.result, search=src.search, law=src.law,
                            fingerprint=src.fingerprint, source=src.origin)
    except ImportError as e:
        from ..errors import LRSweepError

        raise LRSweepError(f"the report needs matplotlib ({e}): pip install matplotlib "
                           "(or pip install 'lrsweep[plot]').") from e
    write_report(out, text, overwrite=args.force, name="--output", force_hint="--force")
    print(f"wrote {out}")
    return 0


def write_run_report(result: Any, out: Path, *, search: Any = None,
                     store: Any = None) -> list[Path]:
    """The report of the run just made, for ``lrsweep run`` / ``lrsweep search``: next to
    its plot in ``out``/STUDY/report.html, and as ``out``/report.html (the latest run's, the
    file to open). Earlier reports are replaced; another file of that name is kept, with a
    warning. Nothing (and a warning) without matplotlib."""
    from ..errors import LRSweepError
    from ..report import build_report, write_report
    from .common import study_dir

    fingerprint, law = None, None
    if store is not None and result.study:
        try:
            from ..report.source import find_law
            from ..store import Store

            with Store(store, create=False) as s:
                fingerprint = s.get_study(result.study).fingerprint
                law = find_law(s, result.study)
        except Exception as e:  # the report is a bonus on top of the run's files
            log.warning("report: the store could not be read (%s)", e)
    try:
        text = build_report(result, search=search, law=law, fingerprint=fingerprint)
    except ImportError as e:
        log.warning("no report written: %s (pip install matplotlib)", e)
        return []
    written = []
    for path in (study_dir(out, result.study) / "report.html", out / "report.html"):
        try:
            written.append(write_report(path, text))
        except LRSweepError as e:
            log.warning("report not written: %s", e)
    return written

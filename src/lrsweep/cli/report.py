"""``lrsweep report``: one self-contained HTML report of a study; and the report.html that
``lrsweep run`` and ``lrsweep search`` write next to their plot."""

from __future__ import annotations

import argparse
import json
import logging
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from ..errors import bad_arg
from .common import safe_name

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

    src = load_source(args.source, args.study)
    if args.output:
        out = Path(args.output)
    elif src.folder is not None:  # next to the study's plot
        out = src.folder / "report.html"
    elif Path(args.source).is_dir():
        out = Path(args.source) / "report.html"
    else:
        out = Path(safe_name(src.result.study) + ".html")
    from ..outputs import check_output
    from ..report import is_report

    # refused before the report is built: a read-only folder, a foreign file, a store
    check_output(out, overwrite=args.force or is_report(out), name="--output",
                 force_hint="--force")
    try:
        text = build_report(src.result, search=src.search, law=src.law,
                            fingerprint=src.fingerprint, source=src.origin,
                            recipe=_recipe(src))
    except ImportError as e:
        from ..errors import LRSweepError

        raise LRSweepError(f"the report needs matplotlib ({e}): pip install matplotlib "
                           "(or pip install 'lrsweep[plot]').") from e
    write_report(out, text, overwrite=args.force, name="--output", force_hint="--force")
    print(f"wrote {out}")
    return 0


def _recipe(src: Source) -> Any:
    """The recipe the run kept in the study's folder, with the store as read here (the
    path given to ``lrsweep report``); the Python calls on ``task`` without one."""
    from dataclasses import replace

    from ..report import Recipe
    from .answer import load_recipe

    recipe = load_recipe(src.folder)
    store = src.store
    if recipe is None:
        return Recipe(study=src.result.study if store else None, store=store)
    if store is None:
        return recipe
    where = (["--out", str(Path(store).parent)] if Path(store).name == "lrsweep.db"
             else ["--store", store])
    return replace(recipe, store=store, where_args=tuple(where))


def write_run_report(result: Any, out: Path, *, search: Any = None, store: Any = None,
                     optimum: Any = None, recipe: Any = None) -> list[Path]:
    """The report of the run just made, for ``lrsweep run`` / ``lrsweep search``: next to
    its plot in ``out``/STUDY/report.html, and as ``out``/report.html (the latest run's, the
    file to open). Earlier reports are replaced; another file of that name is kept, with a
    warning. Nothing (and a warning) without matplotlib. ``optimum``: the answer printed
    (default: the estimate over ``result``); ``recipe``: how to run more trials into the
    study (the report's next steps carry it)."""
    from ..errors import LRSweepError
    from ..report import build_report, write_report
    from .common import study_dir

    fingerprint, law = None, None
    if store is not None and result.study:
        try:
            from ..store import Store
            from ..transfer.study_law import find_law

            with Store(store, create=False) as s:
                fingerprint = s.get_study(result.study).fingerprint
                law = find_law(s, result.study)
        except Exception as e:  # the report is a bonus on top of the run's files
            log.warning("report: the store could not be read (%s)", e)
    try:
        text = build_report(result, search=search, law=law, fingerprint=fingerprint,
                            optimum=optimum, recipe=recipe)
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


# ------------------------------------------------- reading SOURCE (a run's folder) ----
@dataclass
class Source:
    result: Any                               # SweepResult
    origin: str                               # what was read, for the page's header
    search: dict[str, Any] | None = None      # search.json of the same study
    fingerprint: str | None = None
    law: Any = None
    folder: Path | None = None                # the study's folder of a run's --out
    store: str | None = None                  # the store read (as given), None for a JSON


def _search_of(folder: Path | None, result: Any) -> dict[str, Any] | None:
    """The folder's search.json when it is this result's search (its rounds tried exactly
    this result's LRs)."""
    if folder is None or not (folder / "search.json").is_file():
        return None
    try:
        d = json.loads((folder / "search.json").read_text())
        lrs = {float(lr) for r in d.get("rounds", []) for lr in r.get("lrs", [])}
    except (OSError, ValueError, TypeError, AttributeError):
        return None
    return d if lrs and lrs == set(result.lrs) else None


def _json_study(path: Path) -> str | None:
    try:
        return json.loads(path.read_text()).get("study")
    except (OSError, ValueError, AttributeError):
        return None


def study_folder(out: Path, study: str | None) -> Path | None:
    """Where ``lrsweep run --out OUT`` keeps a study's files (OUT/STUDY/), if it exists."""
    for cand in (out / safe_name(study), out / (safe_name(study) + "-files")):
        if (cand / "sweep.json").is_file():
            return cand
    return None


def _latest_study(out: Path, names: list[str]) -> str | None:
    """The study of ``names`` whose files in ``out`` were written last (the latest run)."""
    stamped = []
    for n in names:
        folder = study_folder(out, n)
        if folder is not None:
            stamped.append(((folder / "sweep.json").stat().st_mtime, n))
    if not stamped and _json_study(out / "sweep.json") in names:  # the older, flat layout
        return _json_study(out / "sweep.json")
    return max(stamped)[1] if stamped else None


def load_source(source: str | Path, study: str | None = None, *,
                name: str = "SOURCE") -> Source:
    """Read ``source``: a run's ``--out`` folder (its store), a study's folder in it
    (OUT/STUDY/), a store file, or a sweep.json file."""
    from ..results.sweep_result import SweepResult
    from ..store import Store
    from ..transfer.study_law import find_law

    p = Path(source)
    out: Path | None = None
    if p.is_dir():
        if (p / "lrsweep.db").is_file():
            out, p = p, p / "lrsweep.db"
        elif (p / "sweep.json").is_file() and (p.parent / "lrsweep.db").is_file():
            # a study's folder: read its study from the store above it
            study = study or _json_study(p / "sweep.json")
            out, p = p.parent, p.parent / "lrsweep.db"
        elif (p / "sweep.json").is_file():
            p = p / "sweep.json"
        else:
            raise bad_arg(name, str(source), "a run's --out folder (with lrsweep.db), a "
                          "study's folder (with sweep.json), a store file or a sweep.json",
                          "Check the path; `lrsweep run --out DIR` writes DIR/lrsweep.db.")
    elif not p.is_file():
        raise bad_arg(name, str(source), "an existing folder, store or sweep.json",
                      "Check the path.")
    if p.suffix == ".json":
        try:
            result = SweepResult.from_json(p)
        except (ValueError, KeyError, TypeError) as e:
            raise bad_arg(name, str(p), "a sweep.json written by lrsweep",
                          f"It could not be read ({e}).") from e
        if study is not None and result.study != study:
            raise bad_arg("--study", study, f"the study of {p} ({result.study!r})",
                          "Drop --study, or point at the store that holds it.")
        return Source(result, str(p), _search_of(p.parent, result), folder=p.parent)
    out = out or p.parent
    with Store(p, create=False) as store:
        names = store.study_names()
        if study is None and len(names) > 1:
            study = _latest_study(out, names)
        result = store.load(study)
        fp = store.get_study(result.study).fingerprint
        law = find_law(store, result.study)
    folder = study_folder(out, result.study)
    search = _search_of(folder, result) or _search_of(out, result)
    return Source(result, str(p), search, fp, law, folder=folder, store=str(p))

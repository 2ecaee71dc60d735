"""Where a report's content comes from when it is made after the fact (``lrsweep report
SOURCE``): a run's ``--out`` folder, a store file, or a ``sweep.json``; the search rounds a
folder's ``search.json`` holds; and a law across scales when the store holds the same task
swept at three or more scales (the study names carry the scale: ``teacher-mlp-width64-...``).
"""

from __future__ import annotations

import json
import logging
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from ..errors import LRSweepError, bad_arg

log = logging.getLogger("lrsweep")

__all__ = ["Source", "find_law", "load_source"]

# the scale axes a study name can carry (as `lrsweep run --width 64` names it)
AXES = ("width", "depth", "batch_size", "steps", "epochs")
_HASH = re.compile(r"-[0-9a-f]{8}$")


@dataclass
class Source:
    result: Any                               # SweepResult
    origin: str                               # what was read, for the page's header
    search: dict[str, Any] | None = None      # search.json of the same study
    fingerprint: str | None = None
    law: Any = None
    folder: Path | None = None                # the study's folder of a run's --out


def _scale_key(name: str, axis: str) -> tuple[str, float] | None:
    """``teacher-mlp-width64-0a1b2c3d`` -> (``teacher-mlp-width*``, 64.0) for ``width``."""
    base = _HASH.sub("", name)
    pat = re.compile(rf"(?:^|(?<=[-_.])){re.escape(axis)}[=:-]?(\d+(?:\.\d+)?)(?=$|[-_.])")
    m = pat.search(base)
    if not m:
        return None
    return base[:m.start()] + axis + "*" + base[m.end():], float(m.group(1))


def find_law(store: Any, study: str) -> Any:
    """A power law across the studies of ``store`` that are ``study``'s task at other
    scales of one axis (three scales at least), or None."""
    from ..transfer import fit_law

    names = store.study_names()
    for axis in AXES:
        key = _scale_key(study, axis)
        if key is None:
            continue
        group: dict[float, str] = {}
        for n in names:
            k = _scale_key(n, axis)
            if k is not None and k[0] == key[0]:
                group.setdefault(k[1], n)  # one study per scale: the first made
        if len(group) < 3:
            continue
        try:
            scales = sorted(group)
            return fit_law([store.load(group[s]) for s in scales], x=axis, values=scales)
        except (LRSweepError, ValueError, ArithmeticError) as e:
            log.info("report: no law across %s (%s)", axis, e)
    return None


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
    from ..cli.common import safe_name

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
    from ..result import SweepResult
    from ..store import Store

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
    return Source(result, str(p), search, fp, law, folder=folder)

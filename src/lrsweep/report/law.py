"""A law across scales for the report, when a store holds the same task swept at three or
more scales of one axis (the study names carry the scale: ``teacher-mlp-width64-...``)."""

from __future__ import annotations

import logging
import re
from typing import Any

from ..errors import LRSweepError

log = logging.getLogger("lrsweep")

__all__ = ["find_law"]

# the scale axes a study name can carry (as `lrsweep run --width 64` names it)
AXES = ("width", "depth", "batch_size", "steps", "epochs")
_HASH = re.compile(r"-[0-9a-f]{8}$")


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

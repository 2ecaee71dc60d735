"""The law across scales of a store: when it holds one task swept at three or more scales of
one axis, the power law through their optima (``lrsweep report`` shows it). The scale of each
study is read by ``lrsweep.transfer.scales``; studies of one task are told apart from other
tasks by their names (the same name with the scale replaced)."""

from __future__ import annotations

import logging
from typing import Any

from ..errors import LRSweepError
from .laws import Law, fit_law
from .scales import scale_in_name, scale_of

log = logging.getLogger("lrsweep")

__all__ = ["SCALE_AXES", "find_law"]

#: the scale axes a study name can carry (as `lrsweep run --width 64` names it)
SCALE_AXES = ("width", "depth", "batch_size", "steps", "epochs")


def find_law(store: Any, study: str) -> Law | None:
    """A power law across the studies of ``store`` that are ``study``'s task at other
    scales of one axis (three scales at least), or None."""
    names = store.study_names()
    for axis in SCALE_AXES:
        key = scale_in_name(study, axis)
        if key is None:
            continue
        group: dict[float, str] = {}
        for n in names:
            k = scale_in_name(n, axis)
            if k is not None and k[0] == key[0]:
                group.setdefault(k[1], n)  # one study per scale: the first made
        if len(group) < 3:
            continue
        try:
            results = [store.load(group[s]) for s in sorted(group)]
            # the scale the sweep records, where it does (its name's otherwise)
            scales = [scale_of(r, axis)[0] for r in results]
            return fit_law(results, x=axis, values=scales)
        except (LRSweepError, ValueError, ArithmeticError) as e:
            log.info("report: no law across %s (%s)", axis, e)
    return None

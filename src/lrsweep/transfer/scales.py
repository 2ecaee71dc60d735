"""The scale (width, depth, batch, steps, ...) a sweep was run at, read from the sweep itself,
the one place ``fit_law``, ``lrsweep fit`` and the report's law across scales read it.

Where it is read, in order: an attribute of that name, ``.scale[axis]``, the sweep's
protocol (``protocol[axis]``, ``protocol['scale'][axis]``, ``['overrides']``,
``['task_options']``), and last the study / task name (``teacher-mlp-width64-0a1b2c3d``:
``lrsweep run --width 64`` names its study so). The name is the fallback because
``Task.protocol()`` does not record the overrides a task was built with: for studies made by
the CLI the name is the only record of their scale.
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from typing import Any

from ..errors import bad_arg
from ._inputs import Point, as_point, positive

__all__ = ["scale_in_name", "scale_of", "scaled_points"]

_HASH = re.compile(r"-[0-9a-f]{8}$")  # the store's suffix on a default study name
_NUMBER = r"(\d+(?:\.\d+)?(?:e[-+]?\d+)?)"


def scale_in_name(name: str, axis: str) -> tuple[str, float] | None:
    """``(name with the scale replaced by *, scale)`` of ``axis`` in a study or task name:
    ``axis``, an optional ``= _ : -``, a number, at word boundaries. Two studies of one task at
    different scales have the same key.

    >>> scale_in_name("teacher-mlp-width64-0a1b2c3d", "width")
    ('teacher-mlp-width*', 64.0)
    >>> scale_in_name("mlp-depth=12", "depth"), scale_in_name("mlp-width64", "depth")
    (('mlp-depth*', 12.0), None)
    """
    base = _HASH.sub("", name)
    m = re.search(rf"(?<![a-z0-9]){re.escape(axis)}[=_:-]?{_NUMBER}(?![0-9a-zA-Z])", base)
    if not m:
        return None
    return base[:m.start()] + axis + "*" + base[m.end():], float(m.group(1))


def scale_of(obj: Any, axes: tuple[str, ...] | str) -> tuple[float, ...]:
    """The scale of a sweep on each of ``axes``, read from the sweep (see the module)."""
    axes = (axes,) if isinstance(axes, str) else axes
    out = []
    for a in axes:
        v = _lookup(obj, a)
        if v is None:
            raise bad_arg("values", None, f"the {a} of each sweep",
                          f"lrsweep could not read the {a} from {type(obj).__name__}; pass "
                          f"values=[...] with one {a} per sweep.")
        out.append(v)
    return tuple(out)


def _lookup(obj: Any, axis: str) -> float | None:
    candidates: list[Any] = [getattr(obj, axis, None)]
    for holder in ("scale", "scales"):
        d = getattr(obj, holder, None)
        if isinstance(d, Mapping):
            candidates.append(d.get(axis))
    proto = getattr(obj, "protocol", None)
    if isinstance(proto, Mapping):
        candidates.append(proto.get(axis))
        for holder in ("scale", "scales", "overrides", "task_options"):
            d = proto.get(holder)
            if isinstance(d, Mapping):
                candidates.append(d.get(axis))
    for v in candidates:
        f = positive(v)
        if f is not None:
            return f
    for text in (getattr(obj, "study", None), getattr(obj, "name", None),
                 proto.get("task") if isinstance(proto, Mapping) else None):
        if isinstance(text, str):
            found = scale_in_name(text, axis)
            if found:
                return found[1]
    return None


def scaled_points(results: Any, axes: tuple[str, ...],
                  values: Sequence[Any] | None) -> list[tuple[tuple[float, ...], Point]]:
    """``fit_law``'s inputs as ``(scale, Point)`` pairs: a mapping ``{scale: optimum}``,
    ``(scale, optimum)`` pairs, or optima with ``values=`` or a scale they record."""
    if isinstance(results, Mapping):
        items = list(results.items())
    else:
        try:
            seq = list(results)
        except TypeError:
            raise bad_arg("results", type(results).__name__, "a list or dict of optima",
                          "Pass {width: optimum, ...} or a list of sweeps with values=.") \
                from None
        if values is not None:
            if len(values) != len(seq):
                raise bad_arg("values", list(values), f"{len(seq)} scales, one per result",
                              "Give one scale per sweep, in the same order.")
            items = list(zip(values, seq))
        elif seq and all(isinstance(r, tuple) and len(r) == 2 for r in seq):
            items = seq
        else:
            items = [(scale_of(r, axes), r) for r in seq]
    return [(_scale_tuple(scale, axes), as_point(res, "results", warn=False))
            for scale, res in items]


def _scale_tuple(scale: Any, axes: tuple[str, ...]) -> tuple[float, ...]:
    if isinstance(scale, Mapping):
        vals = [scale.get(a) for a in axes]
    elif isinstance(scale, (tuple, list)):
        vals = list(scale)
    else:
        vals = [scale]
    if len(vals) != len(axes) or any(positive(v) is None for v in vals):
        raise bad_arg("values", scale, f"a positive scale for each of {axes}",
                      "Give each sweep's scale, e.g. values=[64, 128, 256].")
    return tuple(float(v) for v in vals)

"""The library's messages in the CLI's words: Python's ``name=value`` becomes the flag that
sets it (``use seeds=3`` -> ``use --seeds 3``)."""

from __future__ import annotations

import re

__all__ = ["FLAGS", "as_flags"]

# Python argument names in the library's messages -> the flag that sets them here
FLAGS = {"seeds": "--seeds", "max_rounds": "--max-rounds", "max_trials": "--max-trials",
         "max_steps": "--max-steps", "max_seeds": "--max-seeds", "tolerance": "--tolerance",
         "points": "--points", "refine_points": "--refine-points", "band_tol": "--band-tol",
         "engine": "--engine", "threads": "--threads", "study": "--study"}


def as_flags(text: str, names: dict[str, str] | None = None) -> str:
    """``text`` with Python's ``name=value`` spelled as the CLI's flags: ``use seeds=3`` ->
    ``use --seeds 3``, ``use device='cpu'`` -> ``use --device cpu``, ``Pass batch_size=,
    e.g. batch_size=128`` -> ``Pass --batch-size, e.g. --batch-size 128``. A message's head
    (``name=given: expected ...``) keeps its form, with the flag's name."""
    names = FLAGS if names is None else names
    if not names:
        return text
    alt = "|".join(sorted(map(re.escape, names), key=len, reverse=True))
    head = re.match(rf"({alt})=", text)
    if head:
        text = names[head.group(1)] + text[len(head.group(1)):]
        start = len(names[head.group(1)]) + 1
    else:
        start = 0

    def flag(m: re.Match[str]) -> str:
        value = m.group(2)
        if value and value[0] in "'\"" and value[-1] == value[0]:
            value = value[1:-1]
        return names[m.group(1)] + (f" {value}" if value else "")

    body = re.sub(rf"(?<![\w\-.])({alt})=('[^']*'|\"[^\"]*\"|[\w.+\-]+)?", flag, text[start:])
    return text[:start] + body

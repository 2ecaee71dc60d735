"""The broad search-quality suite of issue 20: tasks, their dense-grid truths, a harness.

Import it from the repository root (``benchmarks`` is a namespace package)::

    import sys; sys.path.insert(0, "<repo root>")
    from benchmarks.suite import TASKS, HELD_OUT, build, truth

- ``TASKS``: name -> ``SuiteTask`` for the tasks one may tune on; ``HELD_OUT``: the same
  for the tasks kept aside (run them only at the end). A ``SuiteTask`` has ``.build()``
  (a fresh ``lrsweep.Task``), ``.lr_range`` (the dense grid's and the searches' range),
  ``.shape`` (what it tests), ``.data`` and ``.held_out``.
- ``build(name)``: the ``lrsweep.Task``; ``truth(name)``: its ``Truth`` from the committed
  ``benchmarks/data/search_truths.json`` (``.lr``, ``.se`` in octaves, ``.metric``,
  ``.direction``, the dense curve, ``.log2_error(lr)``, ``.regret(lr)``,
  ``.dense_steps`` = trial-steps of the 41 x 5 grid).

Commands (from the repository root; trials go into the ``--cache`` store, so reruns are
cheap)::

    python benchmarks/suite_quality.py --truths            # (re)compute missing truths
    python benchmarks/suite_quality.py                     # the harness, tuned-on tasks
    python benchmarks/suite_quality.py --held-out          # every task, held-out included
"""

from __future__ import annotations

from .tasks import SPECS, SuiteTask
from .truths import TRUTHS_PATH, Truth, load

TASKS: dict[str, SuiteTask] = {s.name: s for s in SPECS if not s.held_out}
HELD_OUT: dict[str, SuiteTask] = {s.name: s for s in SPECS if s.held_out}
ALL: dict[str, SuiteTask] = {**TASKS, **HELD_OUT}


def build(name: str):  # -> lrsweep.Task
    return ALL[name].build()


def truth(name: str) -> Truth:
    truths = load()
    if name not in truths:
        raise KeyError(f"no truth for {name!r} in {TRUTHS_PATH}; run "
                       "`python benchmarks/suite_quality.py --truths --tasks {name}`")
    return truths[name]


__all__ = ["ALL", "HELD_OUT", "TASKS", "SuiteTask", "Truth", "build", "truth"]

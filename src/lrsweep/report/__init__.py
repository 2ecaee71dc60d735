"""One self-contained HTML report of a sweep or a search: the answer first (the optimum, its
interval and what it covers, the band, whether it converged, what to do next), then the
metric against the LR, the loss curves, the search rounds, the trials, the protocol, and the
law across scales when there is one.

The file loads nothing: the CSS is inline, the figures are inline SVG, there is no script.
It opens from a disk, a share or an e-mail attachment alike. ``SweepResult.report(path)``,
``SearchResult.report(path)`` and ``lrsweep report SOURCE`` write it.
"""

from __future__ import annotations

import os
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

from .facts import answer
from .next_steps import Recipe
from .page import GENERATOR, page

__all__ = ["Recipe", "build_report", "is_report", "write_report"]


def _search_info(search: Any) -> tuple[list[dict[str, Any]], dict[Any, int], dict[str, Any]]:
    """Rounds rows, LR -> round, and (stopped, n_rounds) of a SearchResult or of its
    ``to_dict()`` (as ``lrsweep search`` writes it to search.json)."""
    from ..plot import rounds_plot_data, trial_rounds

    if search is None:
        return [], {}, {}
    if isinstance(search, dict):
        raw = search.get("rounds") or []
        stopped = search.get("stopped", "")
        reason = search.get("stop_reason")
    else:
        raw = search.rounds
        stopped = search.stopped
        reason = getattr(search, "stop_reason", None)
    rows = rounds_plot_data(raw)
    return rows, trial_rounds(rows), {"stopped": str(stopped), "stop_reason": reason,
                                      "n_rounds": len(rows)}


def _law_block(law: Any, target: float | None = None) -> dict[str, Any] | None:
    from .figures import law_svg

    if law is None:
        return None
    try:
        svg = law_svg(law, target)
    except Exception as e:  # the figure is a bonus; the numbers below stay
        svg = None
        text = f"(no figure: {e})\n"
    else:
        text = ""
    return {"svg": svg, "formula": law.formula(), "text": text + str(law),
            "lead": f"The optimum measured at {law.n_points} scales, and the power law "
                    "fitted through them (the style of `lrsweep fit`)."}


def build_report(result: Any, *, search: Any = None, optimum: Any = None, law: Any = None,
                 law_target: float | None = None, fingerprint: str | None = None,
                 title: str | None = None, source: str | None = None,
                 recipe: Recipe | None = None) -> str:
    """The report of ``result`` (a ``SweepResult``) as an HTML string.

    ``search``: the ``SearchResult`` (or its ``to_dict()``) that produced ``result``, for
    the rounds; ``optimum``: the estimate to report (default: ``result.optimum()``);
    ``law``: a fitted ``Law`` to show across scales; ``fingerprint``: the store's key of the
    protocol (default: computed from ``result.protocol``); ``recipe``: how to run more
    trials into the study (the CLI's task flags, the store and the study), so that every
    next step the report suggests runs as printed (default: the Python calls on ``task``,
    with the result's store and study when it has them).
    """
    from .._version import __version__
    from ..fingerprint import fingerprint as protocol_fingerprint
    from ..plot import sweep_plot_data
    from ..plot.data import short_reason
    from ..plot.draw import figure_class
    from . import figures

    figure_class()  # without matplotlib, say so before anything is computed
    rows, round_of, info = _search_info(search)
    if optimum is None:
        optimum = (search.optimum() if search is not None and hasattr(search, "optimum")
                   else result.optimum() if any(t.ok for t in result.trials) else None)
    labels = {r["index"]: short_reason(r["reason"]) for r in rows}
    data = sweep_plot_data(result, optimum=optimum if optimum is not None else False,
                           rounds=round_of or None, round_labels=labels)
    opt = data.optimum
    if opt is None:  # nothing finished: an estimate that says so
        from ..analysis import optimum_from_trials

        opt = optimum_from_trials(result.trials, result.direction)
    best = result.best()
    lrs = result.lrs
    protocol = dict(result.protocol or {})
    if recipe is None:
        store = getattr(result, "store", None)
        recipe = Recipe(study=result.study if store else None,
                        store=None if store is None else str(store))
    ans = answer(opt, metric_name=result.metric_name,
                 lr_range=(lrs[0], lrs[-1]) if lrs else None,
                 search=info if search is not None else None,
                 n_failed=sum(t.status.value == "failed" for t in result.trials),
                 best=best, recipe=recipe, batch_size=_batch_size(protocol),
                 optimizer=protocol.get("optimizer"), n_lrs=len(lrs),
                 saturated=result.saturated())
    figs = {"metric": figures.metric_svg(data) if result.trials else None,
            "zoom": figures.zoom_svg(data), "loss": figures.loss_svg(data),
            "rounds": figures.rounds_svg(rows, data) if rows else None}
    if fingerprint is None and protocol:
        fingerprint = protocol_fingerprint(protocol)
    kind = "search" if rows else "sweep"
    name = title or result.study or (
        f"{protocol.get('model') or protocol.get('objective') or 'lrsweep'} {kind}")
    better = "higher is better" if result.direction == "max" else "lower is better"
    seeds = len(result.seeds)
    meta = (f"{len(result.trials)} trials, {len(lrs)} LR{'s' if len(lrs) != 1 else ''} x "
            f"{seeds} seed"
            f"{'s' if seeds != 1 else ''}, engine {result.engine}"
            + (f", {len(rows)} search rounds" if rows else "")
            + (f"; from {source}" if source else ""))
    search_text = ""
    if rows:
        search_text = (f"After {len(rows)} rounds and {len(result.trials)} trials the search "
                       f"stopped: {info['stopped']}.")
    return page(title=name, meta=meta, answer=ans,
                metric_label=f"{result.metric_name}, {better}", result=result,
                figures=figs, rounds=rows, round_of=round_of, search_text=search_text,
                protocol=protocol, fingerprint=fingerprint, law=_law_block(law, law_target),
                generated=datetime.now(timezone.utc).strftime("%Y-%m-%d %H:%M UTC"),
                version=__version__)


def _batch_size(protocol: dict[str, Any]) -> int | None:
    """The training batch size a protocol records (None when it does not)."""
    train = protocol.get("train_data")
    if isinstance(train, str):  # an older store kept the description as text
        import ast

        try:
            train = ast.literal_eval(train)
        except (ValueError, SyntaxError):
            return None
    size = train.get("batch_size") if isinstance(train, dict) else None
    return size if isinstance(size, int) and not isinstance(size, bool) and size > 0 else None


def is_report(path: str | os.PathLike[str]) -> bool:
    """True when ``path`` is a report lrsweep wrote (its generator tag in the first 1 kB)."""
    try:
        with open(path, "rb") as f:
            head = f.read(1024)
    except OSError:
        return False
    return f'<meta name="generator" content="{GENERATOR}'.encode() in head


def write_report(path: str | os.PathLike[str], text: str, *, overwrite: bool = False,
                 name: str = "path", force_hint: str = "overwrite=True") -> Path:
    """Write the HTML atomically. An existing file is replaced only with ``overwrite``, or
    when it is itself an lrsweep report (derived from the store, so nothing is lost); an
    SQLite file never."""
    from ..outputs import write_text

    replace = overwrite or is_report(path)
    return write_text(path, text, overwrite=replace, name=name, force_hint=force_hint)

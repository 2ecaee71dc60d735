"""The report's figures as inline SVG: text stays text (crisp at any zoom, searchable),
nothing is fetched, and each figure's ids are its own."""

from __future__ import annotations

import dataclasses
import io
import math
import re
from typing import Any

from ..plot.data import lr_ticks
from ..plot.draw import draw_loss, draw_metric, draw_rounds, figure_class
from ..plot.records import SweepPlotData

__all__ = ["figure_svg", "law_svg", "loss_svg", "metric_svg", "rounds_svg", "zoom_window"]

_ID = re.compile(r'\bid="([^"]+)"')
_REF = re.compile(r'(?:href="#|url\(#)([^")]+)')


def figure_svg(fig: Any, name: str) -> str:
    """``fig`` as an ``<svg>`` element to inline in HTML: no XML prolog or DOCTYPE, no
    global ``<style>`` (the page's CSS carries its one rule), ids used by references
    prefixed with ``name`` (two figures never share one) and the others dropped."""
    import matplotlib as mpl

    buf = io.StringIO()
    with mpl.rc_context({"svg.fonttype": "none", "svg.hashsalt": f"lrsweep-{name}"}):
        fig.savefig(buf, format="svg",
                    metadata={"Date": None, "Creator": None, "Format": None, "Type": None})
    svg = buf.getvalue()
    svg = svg[svg.index("<svg"):]
    svg = re.sub(r"<metadata>.*?</metadata>", "", svg, flags=re.S)
    svg = re.sub(r'<style type="text/css">.*?</style>', "", svg, flags=re.S)
    refs = set(_REF.findall(svg))
    svg = _ID.sub(lambda m: f'id="{name}-{m.group(1)}"' if m.group(1) in refs else "", svg)
    svg = re.sub(r'(href="#|url\(#)([^")]+)', lambda m: f"{m.group(1)}{name}-{m.group(2)}",
                 svg)
    # size by the page (CSS), keep the aspect ratio from the viewBox
    svg = re.sub(r'<svg([^>]*?) width="[^"]*" height="[^"]*"', r'<svg\1', svg, count=1)
    svg = svg.replace("<svg", f'<svg class="fig" role="img" aria-label="{name} figure"', 1)
    return svg.strip()


def _figure(w: float, h: float) -> Any:
    return figure_class()(figsize=(w, h), layout="constrained")


def metric_svg(data: SweepPlotData) -> str:
    fig = _figure(8.6, 4.5)
    draw_metric(fig.subplots(), data)
    return figure_svg(fig, "metric")


def zoom_window(data: SweepPlotData) -> tuple[tuple[float, float], tuple[float, float]] | None:
    """x and y limits of a close-up on the optimum (the fit's window and the band, a little
    wider), or None when it would show nothing the full figure does not (fewer than four
    points inside, or most of the range)."""
    opt = data.optimum
    if opt is None or not opt.found or opt.fit_range is None:
        return None
    lo, hi = opt.fit_range
    if opt.band is not None:
        lo, hi = min(lo, opt.band[0]), max(hi, opt.band[1])
    lo, hi = lo / 1.4, hi * 1.4
    lrs = [p.lr for p in data.points]
    inside = [p.metric for p in data.points if lo <= p.lr <= hi]
    if len(inside) < 4 or not lrs:
        return None
    full = math.log10(max(lrs) / min(lrs)) or 1.0
    if math.log10(hi / lo) > 0.6 * full:
        return None
    fit_y = [y for x, y in zip(*data.fit) if lo <= x <= hi] if data.fit else []
    ys = inside + fit_y
    span = (max(ys) - min(ys)) or 0.05
    return (lo, hi), (min(ys) - 0.15 * span, max(ys) + 0.08 * span)


def zoom_svg(data: SweepPlotData) -> str | None:
    window = zoom_window(data)
    if window is None:
        return None
    (x0, x1), (y0, y1) = window
    fig = _figure(8.6, 3.6)
    ax = fig.subplots()
    inside = [lr for lr in data.diverged if x0 <= lr <= x1]
    # the trials outside the window are not drawn (a renderer clips them onto the edge,
    # where they would read as measurements at the window's end)
    zoomed = dataclasses.replace(data, outliers=[], ylim=(y0, y1), lr_ticks=lr_ticks(x0, x1),
                                 points=[p for p in data.points if x0 <= p.lr <= x1],
                                 diverged=inside,
                                 failed=[lr for lr in data.failed if x0 <= lr <= x1])
    draw_metric(ax, zoomed, legend=False)
    ax.set_xlim(x0, x1)
    return figure_svg(fig, "zoom")


def loss_svg(data: SweepPlotData) -> str:
    fig = _figure(8.6, 4.3)
    draw_loss(fig.subplots(), data)
    return figure_svg(fig, "loss")


def rounds_svg(rows: list[dict[str, Any]], data: SweepPlotData) -> str:
    fig = _figure(8.6, 1.0 + 0.42 * len(rows))
    draw_rounds(fig.subplots(), rows, data.lr_ticks)
    return figure_svg(fig, "rounds")


def law_svg(law: Any, target: float | None = None) -> str:
    """The law plot of ``lrsweep fit``, drawn at the size of the report's other figures
    (so that its text is the same size on the page)."""
    fig = _figure(8.6, 4.3)
    law.plot(target=target, ax=fig.subplots())
    return figure_svg(fig, "law")

"""Drawing what ``lrsweep.plot.data`` computed: thin, one function per panel, each drawing
into an Axes it is given (the PNG puts two side by side; the HTML report gives each its own
figure). matplotlib only through ``matplotlib.figure.Figure``: no pyplot, no global state,
never a window. The colours follow the law plot of ``lrsweep fit``: the fit and its interval
in C0 blue, measured points in black, a diverged LR in red."""

from __future__ import annotations

import math
from pathlib import Path
from typing import Any

import numpy as np

from .data import LR_CMAP, LR_CMAP_RANGE, wrap_title
from .fmt import fmt_lr
from .records import SweepPlotData

__all__ = ["draw_loss", "draw_metric", "draw_rounds", "figure_class", "render"]

FIT = "C0"
BAND = "#2CA02C"
DIVERGED = "#D62728"
MUTED = "0.45"


def figure_class() -> Any:
    try:
        from matplotlib.figure import Figure
    except ImportError as e:
        raise ImportError("lrsweep's plots need matplotlib: pip install matplotlib "
                          "(or pip install 'lrsweep[plot]')") from e
    return Figure


def _lr_cmap() -> Any:
    from matplotlib import colormaps
    from matplotlib.colors import ListedColormap

    base = colormaps[LR_CMAP]
    return ListedColormap(base(np.linspace(*LR_CMAP_RANGE, 256)), name="lrsweep-lr")


def interval_label(opt: Any) -> str:
    """What the shaded interval is: a confidence interval over seeds, or (one seed) how
    precisely that seed's curve places its optimum, with no confidence level."""
    if getattr(opt, "basis", None) == "one-seed" or (
            getattr(opt, "basis", None) is None and opt.n_seeds < 2):
        return "interval (this seed's curve only)"
    return f"{opt.level:.0%} interval of the optimum"


def _fixed_ticks(axis: Any, ticks: list[tuple[float, str]]) -> None:
    from matplotlib.ticker import FixedFormatter, FixedLocator, NullFormatter

    if not ticks:
        return
    axis.set_major_locator(FixedLocator([v for v, _ in ticks]))
    axis.set_major_formatter(FixedFormatter([t for _, t in ticks]))
    axis.set_minor_formatter(NullFormatter())


def draw_metric(ax: Any, d: SweepPlotData, *, legend: bool = True) -> None:
    """The metric against the LR: trials (marker and colour by round), the fitted curve,
    the optimum with its interval, the near-optimal band, diverged LRs at the bottom."""
    opt = d.optimum
    pts = d.points
    all_lrs = [p.lr for p in pts] + list(d.diverged) + list(d.failed)
    x0, x1 = (min(all_lrs) / 1.5, max(all_lrs) * 1.5) if all_lrs else (1e-6, 1.0)
    ax.set_xscale("log")
    ax.set_xlim(x0, x1)
    if opt is not None and opt.found:
        # an open end runs to the end of the LRs tried (Optimum.bounds), else to the axis
        bounds = getattr(opt, "bounds", None) or (opt.low, opt.high)
        low = bounds[0] if bounds[0] is not None else x0
        high = bounds[1] if bounds[1] is not None else x1
        ax.axvspan(low, high, color=FIT, alpha=0.14, lw=0, label=interval_label(opt))
        ax.axvline(opt.lr, color=FIT, lw=1.3, ls=(0, (4, 2)),
                   label=f"optimum {fmt_lr(opt.lr)}")
        if opt.band is not None:
            ax.axvspan(opt.band[0], opt.band[1], ymin=0, ymax=0.035, color=BAND, lw=0,
                       alpha=0.85, label=f"band: within {opt.band_tol:.0%} of the best")
    if d.mean and d.n_seeds > 1:
        lrs, means = zip(*d.mean)
        ax.plot(lrs, means, color=MUTED, lw=1, zorder=2,
                label=f"mean over {d.n_seeds} seeds")
    elif d.mean:
        lrs, means = zip(*d.mean)
        ax.plot(lrs, means, color="0.7", lw=0.9, zorder=2)
    several = d.n_rounds > 1
    for r in d.rounds:
        mine = [p for p in pts if p.round == r.index]
        if not mine:
            continue
        label = r.label if several else (
            "trials (one per seed)" if d.n_seeds > 1 else "trials")
        ax.scatter([p.lr for p in mine], [p.metric for p in mine], s=26,
                   marker=r.marker, color=r.color if several else "k",
                   edgecolors="white", linewidths=0.5, zorder=4, label=label)
    if d.fit is not None:
        ax.plot(*d.fit, color=FIT, lw=2, zorder=3, label="fitted curve")
    trans = ax.get_xaxis_transform()
    for lrs, marker, color, label in ((d.diverged, "x", DIVERGED, "diverged"),
                                      (d.failed, "s", MUTED, "failed")):
        if lrs:  # a diverged trial has no metric: its LR is marked along the bottom
            ax.scatter(lrs, [0.018] * len(lrs), marker=marker, color=color, s=36, zorder=5,
                       transform=trans, label=label, clip_on=False)
    if d.ylim is not None:
        ax.set_ylim(*d.ylim)
    hidden = d.outliers
    if hidden:
        below = d.direction == "max"
        ax.scatter([p.lr for p in hidden], [0.075 if below else 0.965] * len(hidden),
                   marker="v" if below else "^", color=MUTED, s=30, zorder=5,
                   transform=trans, clip_on=False,
                   label=f"{len(hidden)} far outlier(s) {'below' if below else 'above'} "
                         "the axis")
    if opt is not None and opt.found and (opt.at_low_edge or opt.at_high_edge):
        low_side = opt.at_low_edge
        ax.annotate("optimum may lie\nbeyond the range", xy=(0.0 if low_side else 1.0, 0.5),
                    xycoords="axes fraction", xytext=(8 if low_side else -8, 0),
                    textcoords="offset points", ha="left" if low_side else "right",
                    va="center", fontsize=8, color=FIT)
    _fixed_ticks(ax.xaxis, d.lr_ticks)
    ax.set_xlabel("learning rate")
    better = "higher" if d.direction == "max" else "lower"
    ax.set_ylabel(f"{d.metric_name} ({better} is better)")
    ax.grid(True, which="major", color="0.9", lw=0.8)
    ax.set_axisbelow(True)
    for side in ("top", "right"):
        ax.spines[side].set_visible(False)
    if legend:
        n = len(ax.get_legend_handles_labels()[1])
        if n > 8:  # a search's rounds: below the axes, where it hides no point
            ax.legend(fontsize=7.5, loc="upper center", bbox_to_anchor=(0.5, -0.12),
                      ncols=3, frameon=False, columnspacing=1.2, handletextpad=0.4)
        else:
            ax.legend(fontsize=7.5, loc="best", framealpha=0.92, borderaxespad=0.6)


def draw_loss(ax: Any, d: SweepPlotData, *, colorbar: bool = True) -> None:
    """Training loss against step, one colour per LR (the colour bar names them): the
    smoothed mean over seeds solid, each trial's raw curve faint, a diverged trial dashed
    and crossed where it stopped (at the top edge when that is off the axes)."""
    from matplotlib.colors import LogNorm
    from matplotlib.lines import Line2D

    loss = d.loss
    ax.set_xlabel("optimizer step")
    seeds = d.n_seeds
    ax.set_ylabel("training loss" + (f" (mean over {seeds} seeds)" if seeds > 1 else ""))
    for side in ("top", "right"):
        ax.spines[side].set_visible(False)
    ax.grid(True, which="major", color="0.9", lw=0.8)
    ax.set_axisbelow(True)
    if not loss:
        ax.text(0.5, 0.5, "no training-loss curves recorded", ha="center",
                transform=ax.transAxes, color=MUTED)
        return
    cmap = _lr_cmap()
    lo, hi = loss.lr_range
    norm = LogNorm(lo, hi if hi > lo else lo * 10)
    ylim = loss.ylim
    for s in loss.series:
        color = cmap(norm(s.lr))
        for steps, raw in s.raw:
            ax.plot(steps, raw, color=color, lw=0.6, alpha=0.22, zorder=1)
        ls = "-" if s.status == "ok" else (0, (3, 1.5))
        ax.plot(s.steps, s.ema, color=color, lw=1.7, ls=ls, zorder=3)
        if s.end is not None and ylim is not None:
            step, value = s.end
            top = ylim[1] if not math.isfinite(value) else min(value, ylim[1])
            ax.plot([step], [top], marker="X", color=color, ms=7, mec="white", mew=0.6,
                    zorder=5, clip_on=False)
    ax.set_yscale(loss.yscale)
    if ylim is not None:
        ax.set_ylim(*ylim)
    if loss.yscale == "log":
        _fixed_ticks(ax.yaxis, loss.yticks)
    handles = [Line2D([], [], color="0.25", lw=1.7, label="smoothed (EMA)"),
               Line2D([], [], color="0.25", lw=0.6, alpha=0.35, label="raw, each trial")]
    if any(s.status != "ok" for s in loss.series):
        handles.append(Line2D([], [], color="0.25", lw=1.7, ls=(0, (3, 1.5)), marker="X",
                              ms=6, mec="white", label="diverged (x: where it stopped)"))
    ax.legend(handles=handles, fontsize=7.5, loc="best", framealpha=0.92)
    if loss.shown < loss.total:
        ax.set_title(f"{loss.shown} of {loss.total} LRs shown, spread over the range",
                     fontsize=8, color=MUTED, loc="left")
    if colorbar:
        from matplotlib.cm import ScalarMappable

        from .data import lr_ticks

        cb = ax.figure.colorbar(ScalarMappable(norm=norm, cmap=cmap), ax=ax, pad=0.01,
                                fraction=0.05, aspect=30)
        cb.set_label("learning rate (colour)")
        _fixed_ticks(cb.ax.yaxis, lr_ticks(norm.vmin, norm.vmax) or
                     [(v, fmt_lr(v)) for v in (norm.vmin, norm.vmax)])
        for s in loss.series:  # a notch on the bar for each LR drawn
            cb.ax.axhline(s.lr, color="white" if s.status == "ok" else DIVERGED,
                          lw=0.9)


def draw_rounds(ax: Any, rows: list[dict[str, Any]],
                lr_ticks: list[tuple[float, str]] | None = None) -> None:
    """One line per search round, top to bottom: the range it drew from (grey), the LRs
    it added (its marker), and the optimum after it with its interval (blue)."""
    if not rows:
        return
    ax.set_xscale("log")
    for r in rows:
        y = r["index"]
        if len(r["lr_range"]) == 2:
            ax.plot(r["lr_range"], [y, y], color="0.8", lw=1, zorder=1)
        ax.scatter(r["lrs"], [y] * len(r["lrs"]), marker=r["marker"], color=r["color"],
                   s=24, zorder=3, edgecolors="white", linewidths=0.4)
        if r["lr"] is not None:
            low = r["low"] if r["low"] is not None else r["lr"]
            high = r["high"] if r["high"] is not None else r["lr"]
            ax.plot([low, high], [y - 0.28, y - 0.28], color=FIT, lw=4, alpha=0.45,
                    solid_capstyle="butt", zorder=2)
            ax.plot([r["lr"]], [y - 0.28], "o", color=FIT, ms=4, zorder=4)
            text = f"x{r['ratio']:.2f}" if r["ratio"] else ""
            ax.annotate(text, (high, y - 0.28), xytext=(5, 0), textcoords="offset points",
                        va="center", fontsize=7.5, color=FIT)
    ax.set_yticks([r["index"] for r in rows])
    ax.set_yticklabels([f"round {r['index']}" for r in rows])
    ax.set_ylim(max(r["index"] for r in rows) + 0.7, min(r["index"] for r in rows) - 0.6)
    if lr_ticks:
        _fixed_ticks(ax.xaxis, lr_ticks)
    ax.set_xlabel("learning rate   (markers: LRs the round added; blue: the optimum "
                  "and its interval after it, x its high/low)", fontsize=8)
    ax.grid(True, axis="x", color="0.9", lw=0.8)
    ax.set_axisbelow(True)
    for side in ("top", "right", "left"):
        ax.spines[side].set_visible(False)
    ax.tick_params(axis="y", length=0)


def render(data: SweepPlotData, path: str | Path | None = None, *,
           title: str | None = None, dpi: int = 130) -> Any:
    """The two-panel figure of ``sweep_plot_data`` output (metric against LR; training
    loss); saved to ``path`` if given. Returns the Figure."""
    Figure = figure_class()
    fig = Figure(figsize=(13, 5.2), layout="constrained")
    ax, ax_loss = fig.subplots(1, 2, width_ratios=(1, 1.08))
    draw_metric(ax, data)
    draw_loss(ax_loss, data)
    text = data.title if title is None else title
    if text:
        fig.suptitle(wrap_title(text, 13, 10.5), fontsize=10.5)
    if path is not None:
        fig.savefig(path, dpi=dpi)
    return fig

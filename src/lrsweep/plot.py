"""Figures of a sweep or a search: the metric against the LR (log axis) with the fitted
optimum, its interval and the near-optimal band; and the training-loss curves per LR.

Split as optuna's visualization is: ``sweep_plot_data`` computes everything drawn (plain
numbers, tested without matplotlib) and ``render`` draws it. matplotlib is imported lazily and
only through ``matplotlib.figure.Figure`` (no pyplot: no global state, no backend to pick,
never a window).
"""

from __future__ import annotations

import math
from pathlib import Path
from typing import Any

import numpy as np

from .analysis import Optimum
from .trial import Status

__all__ = ["plot_search", "plot_sweep", "render", "sweep_plot_data"]


def sweep_plot_data(result: Any, *, optimum: bool | Optimum = True,
                    rounds: dict[float, int] | None = None) -> dict[str, Any]:
    """What ``plot_sweep`` draws, as plain data.

    Keys: ``points`` (finished trials: lr, seed, metric, round), ``mean`` (lr, mean metric)
    for LRs where no seed diverged, ``diverged`` and ``failed`` (their LRs), ``optimum`` (an
    ``Optimum`` or None), ``fit`` (xs, ys of the fitted curve, or None), ``curves`` (lr,
    status, mean training loss per step over seeds), ``metric_name``, ``direction``.
    """
    rounds = rounds or {}
    points = [{"lr": t.lr, "seed": t.seed, "metric": t.metric, "round": rounds.get(t.lr, 1)}
              for t in result.trials if t.ok]
    mean = []
    for lr in result.lrs:
        m = result.mean_metric(lr)
        if m is not None:
            mean.append((lr, m))
    diverged = sorted({t.lr for t in result.trials if t.status is Status.DIVERGED})
    failed = sorted({t.lr for t in result.trials if t.status is Status.FAILED})
    opt: Optimum | None
    if isinstance(optimum, Optimum):
        opt = optimum
    elif optimum and points:
        opt = result.optimum()
    else:
        opt = None
    fit = None
    if opt is not None and opt.fit is not None and opt.fit_range is not None:
        xs = np.logspace(math.log10(opt.fit_range[0]), math.log10(opt.fit_range[1]), 60)
        fit = (xs.tolist(), opt.predict(xs).tolist())
    curves = []
    for lr, group in result.by_lr().items():
        runs = [t.curve for t in group if t.curve]
        if not runs:
            continue
        n = min(len(c) for c in runs)
        avg = np.mean([c[:n] for c in runs], axis=0)
        status = ("diverged" if any(t.status is Status.DIVERGED for t in group)
                  else "failed" if all(t.status is Status.FAILED for t in group) else "ok")
        curves.append({"lr": lr, "status": status, "loss": avg.tolist()})
    return {"points": points, "mean": mean, "diverged": diverged, "failed": failed,
            "optimum": opt, "fit": fit, "curves": curves, "ylim": _zoom(points, opt),
            "metric_name": result.metric_name, "direction": result.direction,
            "n_rounds": max(rounds.values()) if rounds else 1}


def _zoom(points: list[dict[str, Any]], opt: Optimum | None) -> tuple[float, float] | None:
    """y-limits that show the top of the curve: the points within a factor 3 of the fit's
    LR range, when the far points would otherwise flatten it (None: let matplotlib choose)."""
    if opt is None or opt.fit_range is None or len(points) < 4:
        return None
    lo, hi = opt.fit_range[0] / 3, opt.fit_range[1] * 3
    near = [p["metric"] for p in points if lo <= p["lr"] <= hi]
    every = [p["metric"] for p in points]
    if len(near) < 3:
        return None
    span, full = max(near) - min(near), max(every) - min(every)
    if span <= 0 or full < 3 * span:
        return None
    return min(near) - 0.1 * span, max(near) + 0.1 * span


def _figure_class() -> Any:
    try:
        from matplotlib.figure import Figure
    except ImportError as e:
        raise ImportError("lrsweep's plots need matplotlib: pip install matplotlib "
                          "(or pip install 'lrsweep[plot]')") from e
    return Figure


def render(data: dict[str, Any], path: str | Path | None = None, *,
           title: str | None = None) -> Any:
    """Draw ``sweep_plot_data`` output; save to ``path`` if given; return the Figure."""
    Figure = _figure_class()
    from matplotlib import colormaps
    from matplotlib.lines import Line2D

    fig = Figure(figsize=(12, 4.6), layout="constrained")
    ax, ax_loss = fig.subplots(1, 2)
    n_rounds = data["n_rounds"]
    cmap = colormaps["viridis"]
    opt: Optimum | None = data["optimum"]

    # --- left: metric against LR ---
    if opt is not None and opt.found:
        ax.axvspan(*opt.bounds, color="tab:orange", alpha=0.25,  # open ends: the range tried
                   label=f"{opt.level:.0%} interval" if opt.basis == "seeds" else "one seed's curve")
        if opt.band is not None:
            ax.axvspan(opt.band[0], opt.band[1], ymin=0, ymax=0.04, color="tab:green",
                       alpha=0.8, label=f"band (within {opt.band_tol:.0%})")
        ax.axvline(opt.lr, color="tab:orange", lw=1.5, label=f"optimum {opt.lr:.3g}")
    pts = data["points"]
    if pts:
        rnd = np.array([p["round"] for p in pts])
        colors = (cmap((rnd - 1) / max(n_rounds - 1, 1)) if n_rounds > 1 else "tab:blue")
        ax.scatter([p["lr"] for p in pts], [p["metric"] for p in pts], s=14, c=colors,
                   alpha=0.8, zorder=3, label="trials (colour: round)" if n_rounds > 1
                   else "trials (one per seed)")
    if data["mean"]:
        lrs, means = zip(*data["mean"])
        ax.plot(lrs, means, color="0.3", lw=1, zorder=2, label="mean over seeds")
    if data["fit"] is not None:
        ax.plot(*data["fit"], color="tab:red", lw=2, zorder=4, label="fit")
    for lrs, marker, color, label in ((data["diverged"], "x", "tab:red", "diverged"),
                                      (data["failed"], "s", "0.4", "failed")):
        if lrs:
            # crosses along the bottom of the axis: a diverged trial has no metric
            ax.scatter(lrs, [0.02] * len(lrs), marker=marker, color=color, s=40, zorder=5,
                       transform=ax.get_xaxis_transform(), label=label, clip_on=False)
    ax.set_xscale("log")
    all_lrs = [p["lr"] for p in pts] + list(data["diverged"]) + list(data["failed"])
    if all_lrs:
        ax.set_xlim(min(all_lrs) / 1.5, max(all_lrs) * 1.5)
    ylim = data.get("ylim")
    if ylim is not None:
        ax.set_ylim(*ylim)
        # the zoom keeps the top readable; the points it leaves out are marked at the edge
        worse_below = data["direction"] == "max"
        hidden = [p["lr"] for p in pts if (p["metric"] < ylim[0] if worse_below
                                           else p["metric"] > ylim[1])]
        if hidden:
            ax.scatter(hidden, [0.06 if worse_below else 0.94] * len(hidden),
                       marker="v" if worse_below else "^", color="0.5", s=22, zorder=5,
                       transform=ax.get_xaxis_transform(), clip_on=False,
                       label=f"{len(hidden)} point(s) off the axis")
    ax.set_xlabel("learning rate")
    better = "higher" if data["direction"] == "max" else "lower"
    ax.set_ylabel(f"{data['metric_name']} ({better} is better)")
    ax.grid(True, which="major", alpha=0.3)
    ax.legend(fontsize=7, loc="best")

    # --- right: training-loss curves, coloured by LR ---
    curves = data["curves"]
    if curves:
        logs = np.log10([c["lr"] for c in curves])
        span = max(float(np.ptp(logs)), 1e-12)
        positive = all(min(c["loss"]) > 0 for c in curves if c["loss"])
        finite = [v for c in curves for v in c["loss"] if math.isfinite(v)]
        for c, lx in zip(curves, logs):
            ax_loss.plot(c["loss"], color=cmap((lx - logs.min()) / span), lw=1,
                         ls="--" if c["status"] != "ok" else "-")
        if positive and finite and max(finite) / min(finite) > 20:
            ax_loss.set_yscale("log")
        if finite:  # keep a diverged curve from squashing the others
            hi = float(np.quantile(finite, 0.98))
            lo = min(finite)
            if hi > lo:
                ax_loss.set_ylim(lo * 0.9 if lo > 0 else lo, hi * 1.1)
        handles = [Line2D([], [], color=cmap(0.0), label=f"lr {10 ** logs.min():.2g}"),
                   Line2D([], [], color=cmap(1.0), label=f"lr {10 ** logs.max():.2g}"),
                   Line2D([], [], color="0.5", ls="--", label="diverged / failed")]
        ax_loss.legend(handles=handles, fontsize=7)
    ax_loss.set_xlabel("optimizer step")
    ax_loss.set_ylabel("training loss (mean over seeds)")
    ax_loss.grid(True, alpha=0.3)
    if title:
        fig.suptitle(title, fontsize=10)
    elif opt is not None:
        fig.suptitle(opt.summary(), fontsize=8)
    if path is not None:
        fig.savefig(path, dpi=110)
    return fig


def plot_sweep(result: Any, path: str | Path | None = None, *, optimum: bool | Optimum = True,
               rounds: dict[float, int] | None = None, title: str | None = None) -> Any:
    """Plot a ``SweepResult``: metric against LR with the optimum, its interval and band,
    diverged trials as crosses, and the training-loss curves. Returns the Figure."""
    _figure_class()  # without matplotlib, fail before computing anything
    return render(sweep_plot_data(result, optimum=optimum, rounds=rounds), path, title=title)


def plot_search(found: Any, path: str | Path | None = None, *,
                title: str | None = None) -> Any:
    """Plot a ``SearchResult``: as ``plot_sweep`` over all its trials, points coloured by the
    round that added them."""
    return plot_sweep(found.result, path, optimum=found.optimum(), rounds=found.round_of(),
                      title=title)

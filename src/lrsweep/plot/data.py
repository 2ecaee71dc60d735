"""What the sweep figures draw, as plain numbers: computed here (pure numpy, no matplotlib,
tested on its own) and drawn by ``lrsweep.plot.draw``, as optuna's visualization splits it.

The choices a reader relies on live here: which points fit on the y-axis (all of them, but
for at most a few far outliers, which are marked at the edge), how rounds are told apart,
which LRs the loss panel shows and how it smooths them, the tick values and their labels.
"""

from __future__ import annotations

import math
import textwrap
from collections.abc import Sequence
from typing import Any

import numpy as np

from ..analysis import Optimum
from ..analysis import metric_bounds as metric_range
from ..results.trial import Status
from .fmt import fmt_lr, fmt_tick
from .records import LossCurve, LossPanel, LossSeries, Point, RoundStyle, SweepPlotData

__all__ = ["ema", "lr_ticks", "log_ticks", "metric_bounds", "rounds_plot_data",
           "short_reason", "sweep_plot_data", "trial_rounds", "y_limits"]

# rounds: a marker each, and colours from a qualitative palette (Okabe-Ito, colour-blind
# safe) that shares nothing with the sequential palette of the LRs in the loss panel
ROUND_MARKERS = ("o", "s", "^", "D", "v", "P", "X", "*")
ROUND_COLORS = ("#222222", "#E69F00", "#CC79A7", "#009E73", "#56B4E9", "#D55E00", "#8C6D31",
                "#7F7F7F")
LR_CMAP = "viridis"
LR_CMAP_RANGE = (0.0, 0.88)  # viridis' last yellow is unreadable on white
MAX_LOSS_CURVES = 12
MAX_CURVE_POINTS = 400


def metric_bounds(name: str, values: Sequence[float] = ()) -> tuple[float | None, float | None]:
    """The range a metric can take (``lrsweep.analysis.metric_bounds``: accuracy in [0, 1],
    a loss >= 0, ...), an end that is infinite, or that the data cross (a "loss" that went
    negative), as None (unbounded).

    >>> metric_bounds("accuracy"), metric_bounds("loss", [0.3, -0.1]), metric_bounds("reward")
    ((0.0, 1.0), (None, None), (None, None))
    """
    lim = metric_range(name, values)
    if lim is None:
        return (None, None)
    seen = [float(v) for v in values if math.isfinite(v)]
    lo, hi = lim
    return (lo if math.isfinite(lo) and not (seen and min(seen) < lo) else None,
            hi if math.isfinite(hi) and not (seen and max(seen) > hi) else None)


def y_limits(values: Sequence[float], direction: str, *,
             bounds: tuple[float | None, float | None] = (None, None),
             also: Sequence[float] = (), max_outliers: int = 3,
             bottom_room: float = 0.12) -> tuple[tuple[float, float] | None, list[int]]:
    """y-limits that keep every value on the axes, but for at most a few far outliers on
    the worse side, and the indices of those outliers.

    A value is an outlier when it lies farther from all the others than they spread among
    themselves (the gap exceeds the span of the rest); at most ``max_outliers`` and a tenth
    of the values are left out. ``also`` (e.g. the fitted curve) is kept on the axes too;
    ``bottom_room`` (a fraction of the span) leaves the bottom strip free for the markers
    drawn there (band, diverged LRs).

    >>> y_limits([0.30, 0.31, 0.35, 0.33, 0.32, 0.34, 0.31, 0.30, 0.33, 0.32, 5.0], "min")[1]
    [10]
    """
    v = np.asarray(values, dtype=float)
    keep = np.flatnonzero(np.isfinite(v))
    if keep.size == 0:
        return None, []
    worse = -1.0 if direction == "max" else 1.0  # worse = smaller for max
    limit = min(int(max_outliers), keep.size // 10)
    out: list[int] = []
    while len(out) < limit and keep.size >= 3:
        order = keep[np.argsort(worse * v[keep])]
        cand, rest = order[-1], order[:-1]
        span = float(np.ptp(v[rest]))
        gap = abs(float(v[cand]) - float(v[order[-2]]))
        if span <= 0 or gap <= span:
            break
        out.append(int(cand))
        keep = rest
    shown = np.concatenate([v[keep], [a for a in also if math.isfinite(a)]])
    lo, hi = float(shown.min()), float(shown.max())
    span = hi - lo
    if span <= 0:
        span = 0.1 * abs(lo) if lo else 0.1
    pad = 0.06 * span
    y0, y1 = lo - pad - bottom_room * span, hi + pad
    b_lo, b_hi = bounds
    if b_lo is not None:  # a little past the bound, so that a marker on it shows whole
        y0 = max(y0, min(b_lo, lo) - 0.02 * span)
    if b_hi is not None:
        y1 = min(y1, max(b_hi, hi) + 0.02 * span)
    return (y0, y1), sorted(out)


def ema(values: Sequence[float], alpha: float | None = None) -> list[float]:
    """Exponential moving average, debiased at the start (as TensorBoard's smoothing);
    stops at the first non-finite value. ``alpha`` defaults to a window of about 1/8 of
    the curve (so that a curve of any length looks equally smooth).

    >>> [round(x, 3) for x in ema([1.0, 1.0, 1.0], 0.9)]
    [1.0, 1.0, 1.0]
    """
    vals = [float(x) for x in values]
    n = next((i for i, x in enumerate(vals) if not math.isfinite(x)), len(vals))
    if alpha is None:
        window = min(max(len(vals) / 8, 1.0), 300.0)
        alpha = 1 - 2 / (window + 1)
    out, s = [], 0.0
    for i in range(n):
        s = alpha * s + (1 - alpha) * vals[i]
        out.append(s / (1 - alpha ** (i + 1)))
    return out


def log_ticks(lo: float, hi: float) -> list[tuple[float, str]]:
    """Tick values and plain labels for a log axis from ``lo`` to ``hi`` (> 0): decades
    when the range is wide, 1-2-5 (or 1-1.5-2-3-5-7) steps when it is not. Labels read
    "0.2", "1", "5e-5": never "2x10^0".

    >>> [t for _, t in log_ticks(0.03, 3)]
    ['0.05', '0.1', '0.2', '0.5', '1', '2']
    """
    if not (lo > 0 and hi > lo):
        return []
    decades = math.log10(hi / lo)
    if decades > 8:
        steps, every = (1.0,), 2
    elif decades > 3.5:
        steps, every = (1.0,), 1
    elif decades > 1.2:
        steps, every = (1.0, 2.0, 5.0), 1
    else:
        steps, every = (1.0, 1.5, 2.0, 3.0, 5.0, 7.0), 1
    out = []
    for k in range(math.floor(math.log10(lo)) - 1, math.ceil(math.log10(hi)) + 1):
        if k % every:
            continue
        for m in steps:
            v = m * 10.0**k
            if lo * (1 - 1e-9) <= v <= hi * (1 + 1e-9):
                out.append((v, fmt_tick(v)))
    return out


def lr_ticks(lo: float, hi: float) -> list[tuple[float, str]]:
    """Ticks for an LR axis: as ``log_ticks``, labelled as LRs are ("1e-4", "3e-3")."""
    return [(v, fmt_lr(v)) for v, _ in log_ticks(lo, hi)]


def _spread(items: list[float], k: int, must: Sequence[float]) -> list[float]:
    """At most ``k`` of ``items`` (sorted LRs), spread evenly in log-LR (a search crowds its
    LRs near the optimum; the panel should still span the range), always holding
    ``must``."""
    if len(items) <= k:
        return items
    x = np.log10(items)
    half = (x[-1] - x[0]) / (2 * (k - 1))
    chosen = [v for v in must if v in items]
    for t in np.linspace(x[0], x[-1], k):
        if len(chosen) >= k:
            break
        if any(abs(math.log10(v) - t) <= half for v in chosen):
            continue  # a must-have already stands for this stretch of the range
        free = [i for i in range(len(items)) if items[i] not in chosen]
        j = min(free, key=lambda i: abs(x[i] - t))
        if abs(x[j] - t) <= half:
            chosen.append(items[j])
    return sorted(chosen)


def _sample(n: int) -> np.ndarray:
    return (np.arange(n) if n <= MAX_CURVE_POINTS
            else np.unique(np.linspace(0, n - 1, MAX_CURVE_POINTS).round().astype(int)))


def _loss_panel(result: Any, best_lr: float | None) -> LossPanel | None:
    groups = {lr: g for lr, g in result.by_lr().items() if any(t.curve for t in g)}
    if not groups:
        return None
    lrs = sorted(groups)
    diverged = [lr for lr in lrs if any(t.status is Status.DIVERGED for t in groups[lr])]
    must = ([best_lr] if best_lr in groups else []) + diverged[:1]
    shown = _spread(lrs, MAX_LOSS_CURVES, must)
    series = []
    for lr in shown:
        group = groups[lr]
        runs = [list(t.curve) for t in group if t.curve]
        n = min(len(c) for c in runs)
        mean = np.mean([c[:n] for c in runs], axis=0)
        smooth = ema(mean)
        status = ("diverged" if lr in diverged
                  else "failed" if all(t.status is Status.FAILED for t in group) else "ok")
        idx = _sample(len(smooth))
        raw = []
        for c in runs:
            finite = [x if math.isfinite(x) else math.nan for x in c]
            j = _sample(len(finite))
            raw.append((j.tolist(), [finite[i] for i in j]))
        end = None
        if status == "diverged" and len(smooth):
            last = max(len(c) for c in runs) - 1
            vals = [x for c in runs for x in c[-1:] if math.isfinite(x)]
            end = (last, max(vals) if vals else math.inf)
        series.append(LossSeries(lr, status, idx.tolist(), [smooth[i] for i in idx], raw, end,
                                 len(runs)))
    ok = [s for s in series if s.status == "ok"] or series
    ema_vals = [v for s in ok for v in s.ema if math.isfinite(v)]
    raw_ok = [v for s in ok for _, r in s.raw for v in r if math.isfinite(v)]
    starts = [s.ema[0] for s in series if s.ema]
    if not ema_vals:
        return LossPanel(series, None, "linear", [], (lrs[0], lrs[-1]), len(shown), len(lrs))
    # the smoothed curves set the bottom; raw noise only down to its 2nd percentile
    lo = min(min(ema_vals), float(np.quantile(raw_ok, 0.02)) if raw_ok else math.inf)
    hi = max(max(ema_vals), max(starts))
    log = lo > 0 and hi / lo > 8
    if log:
        ylim = (lo / 1.15, hi * 1.25)
        yticks = log_ticks(*ylim)
    else:
        span = (hi - lo) or abs(hi) or 1.0
        ylim = (lo - 0.05 * span, hi + 0.12 * span)
        yticks = []
    return LossPanel(series, ylim, "log" if log else "linear", yticks, (lrs[0], lrs[-1]),
                     len(shown), len(lrs))


def _headline(opt: Optimum | None, study: str | None) -> str:
    if opt is None:
        return study or ""
    if not opt.found:
        return f"{study + ': ' if study else ''}{opt.summary()}"
    low, high = getattr(opt, "low", None), getattr(opt, "high", None)
    lo_s = "open" if low is None else fmt_lr(low)
    hi_s = "open" if high is None else fmt_lr(high)
    one = getattr(opt, "basis", "one-seed" if opt.n_seeds < 2 else "seeds") == "one-seed"
    parts = [f"optimal lr {fmt_lr(opt.lr)}",
             f"interval {lo_s} – {hi_s} (this seed's curve only)" if one else
             f"{opt.level:.0%} interval {lo_s} – {hi_s} ({opt.n_seeds} seeds)"]
    if opt.band is not None:
        parts.append(f"band (within {opt.band_tol:.0%}) {fmt_lr(opt.band[0])} – "
                     f"{fmt_lr(opt.band[1])}")
    if opt.at_low_edge:
        parts.append("best at the lowest LR tried: the optimum may lie below")
    if opt.at_high_edge:
        parts.append("best at the highest LR tried: the optimum may lie above")
    if opt.diverged_above is not None:
        parts.append(f"diverged from {fmt_lr(opt.diverged_above)}")
    text = ";  ".join(parts)
    return f"{study}:  {text}" if study else text


def wrap_title(text: str, width_in: float, fontsize: float) -> str:
    """``text`` wrapped to a figure ``width_in`` inches wide at ``fontsize`` points."""
    chars = max(int(width_in * 72 / (0.55 * fontsize)), 20)
    return "\n".join(textwrap.wrap(text, chars)) if text else ""


def sweep_plot_data(result: Any, *, optimum: bool | Optimum = True,
                    rounds: dict[Any, int] | None = None,
                    round_labels: dict[int, str] | None = None) -> SweepPlotData:
    """What ``plot_sweep`` draws, as a ``SweepPlotData`` record (its fields say what each
    part is). ``rounds`` maps (lr, seed) or lr to the round that ran it
    (``trial_rounds``)."""
    rounds = rounds or {}
    points = [Point(t.lr, t.seed, t.metric, round_of_trial(rounds, t.lr, t.seed))
              for t in result.trials if t.ok]
    mean = [(lr, m) for lr in result.lrs if (m := result.mean_metric(lr)) is not None]
    diverged = sorted({t.lr for t in result.trials if t.status is Status.DIVERGED})
    failed = sorted({t.lr for t in result.trials if t.status is Status.FAILED})
    opt: Optimum | None
    if isinstance(optimum, Optimum):
        opt = optimum
    elif optimum and points:
        opt = result.optimum()
    else:
        opt = None
    values = [p.metric for p in points]
    bounds = metric_bounds(result.metric_name, values)
    fit = None
    if opt is not None and opt.fit is not None and opt.fit_range is not None:
        xs = np.logspace(math.log10(opt.fit_range[0]), math.log10(opt.fit_range[1]), 80)
        ys = opt.predict(xs)
        lo = -np.inf if bounds[0] is None else bounds[0]
        hi = np.inf if bounds[1] is None else bounds[1]
        fit = (xs.tolist(), np.clip(ys, lo, hi).tolist())
    ylim, out_idx = y_limits(values, result.direction, bounds=bounds,
                             also=fit[1] if fit else ())
    outliers = [points[i] for i in out_idx]
    curves = []
    for lr, group in result.by_lr().items():
        runs = [t.curve for t in group if t.curve]
        if not runs:
            continue
        n = min(len(c) for c in runs)
        avg = np.mean([c[:n] for c in runs], axis=0)
        status = ("diverged" if any(t.status is Status.DIVERGED for t in group)
                  else "failed" if all(t.status is Status.FAILED for t in group) else "ok")
        curves.append(LossCurve(lr, status, avg.tolist()))
    n_rounds = max(rounds.values()) if rounds else 1
    counts: dict[int, int] = {}
    for t in result.trials:
        k = round_of_trial(rounds, t.lr, t.seed)
        counts[k] = counts.get(k, 0) + 1
    labels = round_labels or {}
    round_info = [RoundStyle(k, ROUND_MARKERS[(k - 1) % len(ROUND_MARKERS)],
                             ROUND_COLORS[(k - 1) % len(ROUND_COLORS)],
                             f"round {k}" + (f" · {labels[k]}" if k in labels else ""),
                             counts.get(k, 0))
                  for k in range(1, n_rounds + 1)]
    all_lrs = [p.lr for p in points] + diverged + failed
    best = result.best()
    return SweepPlotData(
        points=points, mean=mean, diverged=diverged, failed=failed, optimum=opt, fit=fit,
        bounds=bounds, ylim=ylim, outliers=outliers, curves=curves,
        loss=_loss_panel(result, None if best is None else best.lr), rounds=round_info,
        n_rounds=n_rounds,
        lr_ticks=lr_ticks(min(all_lrs) / 1.5, max(all_lrs) * 1.5) if all_lrs else [],
        title=_headline(opt, getattr(result, "study", None)),
        metric_name=result.metric_name, direction=result.direction,
        n_seeds=len(result.seeds))


def trial_rounds(rounds: Sequence[Any]) -> dict[Any, int]:
    """(lr, seed) -> the round that first ran it, and lr -> the round that first tried the
    LR, from ``SearchRound`` objects or their dicts (a round may rerun an LR with a new
    seed: it owns those trials, not the LR)."""
    out: dict[Any, int] = {}
    for r in rounds:
        get = r.get if isinstance(r, dict) else lambda k, d=None, r=r: getattr(r, k, d)
        index, lrs, seeds = int(get("index")), get("lrs", ()), get("seeds", ()) or ()
        for lr in lrs:
            out.setdefault(float(lr), index)
            for s in seeds:
                out.setdefault((float(lr), int(s)), index)
    return out


def round_of_trial(rounds: dict[Any, int], lr: float, seed: int) -> int:
    return rounds.get((lr, seed), rounds.get(lr, 1))


def short_reason(reason: str) -> str:
    """A round's reason as a legend label: "coarse grid", "refining", "widening up",
    "one more seed"... (the full reason is in the report's table of rounds)."""
    reason = str(reason).replace(" (budget)", "")
    for key, short in (("widening down", "widening down"), ("widening up", "widening up"),
                       ("refining", "refining"), ("bracketing", "every seed near the best"),
                       ("one more seed", "one more seed"), ("going lower", "going lower"),
                       ("coarse grid", "coarse grid")):
        if key in reason:
            return short
    return reason if len(reason) <= 28 else reason[:27] + "…"


def rounds_plot_data(rounds: Sequence[Any]) -> list[dict[str, Any]]:
    """One row per search round: the range its LRs were drawn from, the LRs it added, and
    the optimum (estimate and interval) after it. Takes ``SearchRound`` objects or the
    dicts of ``SearchResult.to_dict()['rounds']``."""
    out = []
    for r in rounds:
        d = r if isinstance(r, dict) else {
            "index": r.index, "lrs": list(r.lrs), "lr_range": list(r.lr_range),
            "reason": r.reason, "n_trials": r.n_trials, "optimum": r.optimum.to_dict(),
            "seeds": list(getattr(r, "seeds", ())), "added": getattr(r, "added", None)}
        o = d.get("optimum") or {}
        low, high = o.get("low"), o.get("high")
        ratio = (high / low) if (low and high) else None
        k = int(d["index"])
        out.append({"index": k, "lrs": sorted(float(v) for v in d.get("lrs", ())),
                    "lr_range": tuple(float(v) for v in d.get("lr_range", ())),
                    "reason": str(d.get("reason", "")), "n_trials": d.get("n_trials"),
                    "seeds": [int(v) for v in d.get("seeds") or ()], "added": d.get("added"),
                    "basis": o.get("basis"),
                    "lr": o.get("lr"), "low": low, "high": high, "ratio": ratio,
                    "at_low_edge": bool(o.get("at_low_edge")),
                    "at_high_edge": bool(o.get("at_high_edge")),
                    "marker": ROUND_MARKERS[(k - 1) % len(ROUND_MARKERS)],
                    "color": ROUND_COLORS[(k - 1) % len(ROUND_COLORS)]})
    return out

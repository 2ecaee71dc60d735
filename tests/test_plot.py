"""Plots: the data computed for a figure (tested without matplotlib), and the rendering."""

from __future__ import annotations

import math
import sys

import numpy as np
import pytest

import lrsweep
from lrsweep.plot import plot_sweep, sweep_plot_data
from lrsweep.results.trial import Status, TrialResult


def make_result() -> lrsweep.SweepResult:
    trials = []
    for seed in (0, 1):
        for lr in np.logspace(-4, -1, 7):
            acc = 0.9 - 0.05 * (math.log10(lr) + 2.4) ** 2 + 0.002 * seed
            curve = tuple(2.0 * (1 - 0.1 * s) for s in range(5))
            trials.append(TrialResult(lr, seed, Status.OK, acc, curve, 5))
        trials.append(TrialResult(1.0, seed, Status.DIVERGED, None, (2.0, 50.0), 2))
    trials.append(TrialResult(3.0, 0, Status.FAILED, None, (), 0, error="boom"))
    return lrsweep.SweepResult(trials, "max", "accuracy")


def test_plot_data_holds_what_is_drawn():
    result = make_result()
    data = sweep_plot_data(result)
    assert len(data.points) == 14  # finished trials only
    assert data.diverged == [1.0] and data.failed == [3.0]
    assert [lr for lr, _ in data.mean] == result.lrs[:7]
    assert data.mean[0][1] == pytest.approx(result.mean_metric(result.lrs[0]))
    opt = data.optimum
    assert opt.lr == pytest.approx(10**-2.4, rel=0.01)
    xs, ys = data.fit
    assert opt.fit_range[0] <= min(xs) and max(xs) <= opt.fit_range[1] * (1 + 1e-9)
    # the fitted curve goes through the seed means (the curve is an exact quadratic)
    assert max(ys) == pytest.approx(0.901, abs=2e-3)
    curves = {c.lr: c for c in data.curves}
    assert curves[1.0].status == "diverged" and curves[1.0].loss == [2.0, 50.0]
    assert len(curves[result.lrs[0]].loss) == 5
    assert data.metric_name == "accuracy" and data.direction == "max"


def test_plot_data_rounds_and_no_optimum():
    result = make_result()
    rounds = {lr: (1 if i < 4 else 2) for i, lr in enumerate(result.lrs)}
    data = sweep_plot_data(result, optimum=False, rounds=rounds)
    assert data.optimum is None and data.fit is None
    assert {p.round for p in data.points} == {1, 2}
    assert data.n_rounds == 2


def test_zoom_keeps_the_top_of_the_curve_visible():
    trials = [TrialResult(lr, 0, Status.OK, 0.3 + 0.05 * (math.log10(lr) + 2) ** 2, (1.0,), 1)
              for lr in np.logspace(-3, -1, 21)]
    trials += [TrialResult(1e-6, 0, Status.OK, 5.0, (1.0,), 1)]  # far and much worse
    data = sweep_plot_data(lrsweep.SweepResult(trials, "min", "loss"))
    lo, hi = data.ylim
    assert lo < 0.3 < hi < 5.0


def test_render_writes_a_png_and_opens_no_window(tmp_path):
    pytest.importorskip("matplotlib")
    path = tmp_path / "sweep.png"
    fig = make_result().plot(path)
    assert path.stat().st_size > 10_000
    assert path.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    assert len(fig.axes) == 3  # metric, loss, and the loss panel's colour bar of the LRs
    assert fig.axes[0].get_xscale() == "log"
    assert "matplotlib.pyplot" not in sys.modules or not sys.modules["matplotlib.pyplot"].get_fignums()


def _search(max_rounds: int = 3):
    def objective(trial):
        for step in range(30):
            trial.report(step, 2.0 / (1 + step * trial.lr))
        return (math.log10(trial.lr) + 2.5) ** 2

    return lrsweep.search(objective, (1e-5, 1.0), direction="min", engine="sequential",
                          max_rounds=max_rounds)


def test_search_plot_tells_rounds_apart_by_marker_and_names_them(tmp_path):
    pytest.importorskip("matplotlib")
    found = _search()
    path = tmp_path / "search.png"
    fig = found.plot(path)
    assert path.exists() and len(found.rounds) > 1
    labels = fig.axes[0].get_legend_handles_labels()[1]
    assert "round 1 · coarse grid" in labels  # the reasons, shortened
    assert sum(lab.startswith("round ") for lab in labels) == len(found.rounds)
    # one scatter per round, each with its own marker shape
    scat = [c for c in fig.axes[0].collections if c.get_offsets().shape[0] and
            c.get_label().startswith("round ")]
    shapes = {tuple(np.round(c.get_paths()[0].vertices.ravel(), 3)) for c in scat}
    assert len(shapes) == len(found.rounds)


def test_missing_matplotlib_says_how_to_install(monkeypatch):
    monkeypatch.setitem(sys.modules, "matplotlib", None)
    monkeypatch.setitem(sys.modules, "matplotlib.figure", None)
    with pytest.raises(ImportError, match="pip install matplotlib"):
        plot_sweep(make_result())


def test_far_outliers_are_marked_at_the_edge():
    pytest.importorskip("matplotlib")
    # 20 points near the top and one far below (an LR that almost diverged)
    trials = [TrialResult(lr, 0, Status.OK, 0.95 - 0.05 * (math.log10(lr) + 2) ** 2, (1.0,), 1)
              for lr in np.logspace(-3, -1, 20)]
    trials.append(TrialResult(0.3, 0, Status.OK, 0.02, (1.0,), 1))
    result = lrsweep.SweepResult(trials, "max", "accuracy")
    data = sweep_plot_data(result)
    assert [p.lr for p in data.outliers] == [0.3]
    lo, hi = data.ylim
    assert lo > 0.02 and all(lo <= p.metric <= hi for p in data.points if p.lr != 0.3)
    labels = result.plot().axes[0].get_legend_handles_labels()[1]
    assert "1 far outlier(s) below the axis" in labels


# ------------------------------------------------------------------ the fixes of issue 16 ----
def crowded_search_result() -> lrsweep.SweepResult:
    """What a search leaves: a coarse grid over six decades and ~20 LRs crowded near the
    optimum, where the far points are much worse than the top."""
    lrs = list(np.logspace(-6, 0, 7)) + list(np.logspace(-2.8, -2.2, 21))
    trials = [TrialResult(lr, 0, Status.OK, 0.9 - 0.05 * (math.log10(lr) + 2.5) ** 2,
                          tuple(2.0 * 0.97**s for s in range(20)), 20) for lr in lrs]
    return lrsweep.SweepResult(trials, "max", "accuracy")


def test_y_range_keeps_every_ok_point_on_the_axes():
    data = sweep_plot_data(crowded_search_result())
    lo, hi = data.ylim
    assert data.outliers == []
    # the zoom before issue 16 cut the far points off to show the top
    assert all(lo <= p.metric <= hi for p in data.points)


def test_at_most_a_few_outliers_are_left_off():
    from lrsweep.plot.data import y_limits

    vals = [0.5 + 0.001 * i for i in range(40)] + [-10.0, -20.0, -30.0, -40.0, -50.0]
    ylim, out = y_limits(vals, "max")
    assert len(out) <= 3
    hidden = set(out)
    assert all(ylim[0] <= v <= ylim[1] for i, v in enumerate(vals) if i not in hidden)
    # the better side is never cut: a maximised metric loses only low points
    _, out_min = y_limits([0.5] * 30 + [0.51, 90.0], "max")
    assert out_min == []


def test_fitted_curve_is_clipped_to_the_metric_range():
    # accuracies near 1 whose quadratic fit peaks above 1
    lrs = np.logspace(-4, -1, 9)
    acc = [min(1.0, 1.02 - 0.08 * (math.log10(lr) + 2.5) ** 2) for lr in lrs]
    trials = [TrialResult(lr, 0, Status.OK, a, (1.0,), 1) for lr, a in zip(lrs, acc)]
    data = sweep_plot_data(lrsweep.SweepResult(trials, "max", "accuracy"))
    xs = data.fit[0]
    assert np.nanmax(data.optimum.predict(xs)) > 1.0  # the quadratic overshoots ...
    assert max(data.fit[1]) <= 1.0  # ... the drawn curve does not
    assert data.bounds == (0.0, 1.0) and data.ylim[1] <= 1.0 + 0.03


def test_loss_panel_is_smoothed_and_keeps_the_raw_curves():
    rng = np.random.default_rng(0)
    trials = []
    for lr in (1e-3, 1e-2, 1e-1):
        curve = tuple(2.0 * math.exp(-0.02 * s) + 0.3 * rng.random() for s in range(300))
        trials.append(TrialResult(lr, 0, Status.OK, 0.5, curve, 300))
    trials.append(TrialResult(1.0, 0, Status.DIVERGED, None, (2.0, 9.0, 80.0), 3))
    data = sweep_plot_data(lrsweep.SweepResult(trials, "max", "accuracy"))
    series = {s.lr: s for s in data.loss.series}
    s = series[1e-2]
    raw = np.array(s.raw[0][1])
    assert len(raw) == 300 and len(s.ema) == 300
    assert np.std(np.diff(s.ema)) < np.std(np.diff(raw)) / 5  # much smoother
    assert abs(np.mean(s.ema[-50:]) - np.mean(raw[-50:])) < 0.1  # and not biased
    d = series[1.0]
    assert d.status == "diverged" and d.end == (2, 80.0)  # crossed where it stopped
    assert data.loss.lr_range == (1e-3, 1.0)  # the colour scale spans every LR shown


def test_loss_panel_spreads_the_lrs_it_shows_over_the_range():
    result = crowded_search_result()
    loss = sweep_plot_data(result).loss
    shown = [s.lr for s in loss.series]
    assert loss.total == 28 and len(shown) <= 12
    assert min(shown) == min(result.lrs) and max(shown) == max(result.lrs)
    assert result.best().lr in shown


def test_log_ticks_read_as_plain_numbers():
    from lrsweep.plot.data import log_ticks, lr_ticks

    for lo, hi in ((0.03, 3.0), (1.2, 2.6), (1e-4, 10.0), (0.5, 0.9)):
        ticks = log_ticks(lo, hi)
        assert len(ticks) >= 2, (lo, hi)
        assert all(lo <= v <= hi for v, _ in ticks)
        assert all("x" not in t and "^" not in t and "times" not in t for _, t in ticks)
    assert [t for _, t in log_ticks(1.2, 2.6)] == ["1.5", "2"]
    assert [t for _, t in lr_ticks(1e-5, 1.0)] == ["1e-5", "1e-4", "1e-3", "1e-2", "1e-1", "1"]


def test_rendered_ticks_and_colour_bar(tmp_path):
    pytest.importorskip("matplotlib")
    fig = make_result().plot(tmp_path / "x.png")
    ax_loss, cbar = fig.axes[1], fig.axes[2]
    labels = [t.get_text() for t in ax_loss.get_yticklabels()] + [
        t.get_text() for t in fig.axes[0].get_xticklabels()]
    assert labels and not any("times" in t or "^" in t for t in labels)
    assert cbar.get_ylabel().startswith("learning rate")


def test_long_title_wraps():
    pytest.importorskip("matplotlib")
    from lrsweep.plot.data import wrap_title

    text = "a-study-name-that-is-long: " + "; ".join(f"part {i} of the summary" for i in range(12))
    wrapped = wrap_title(text, 13, 10.5)
    assert wrapped.count("\n") >= 1 and max(len(x) for x in wrapped.splitlines()) <= 170
    fig = make_result().plot(title=text)
    assert "\n" in fig._suptitle.get_text()


def test_a_round_that_reruns_lrs_with_a_new_seed_owns_those_trials():
    from lrsweep.plot.data import trial_rounds

    rounds = [{"index": 1, "lrs": [1e-3, 1e-2, 1e-1], "seeds": [0]},
              {"index": 2, "lrs": [1e-3, 1e-2], "seeds": [1]}]  # "one more seed"
    owner = trial_rounds(rounds)
    assert owner[(1e-3, 0)] == 1 and owner[(1e-3, 1)] == 2 and owner[1e-3] == 1
    trials = [TrialResult(lr, s, Status.OK, 0.5, (1.0,), 1)
              for lr, s in ((1e-3, 0), (1e-2, 0), (1e-1, 0), (1e-3, 1), (1e-2, 1))]
    data = sweep_plot_data(lrsweep.SweepResult(trials, "max", "accuracy"), optimum=False,
                           rounds=owner)
    by_round = {k: sorted((p.lr, p.seed) for p in data.points if p.round == k)
                for k in (1, 2)}
    assert by_round[2] == [(1e-3, 1), (1e-2, 1)]
    assert [r.n for r in data.rounds] == [3, 2]

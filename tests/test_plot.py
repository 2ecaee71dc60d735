"""Plots: the data computed for a figure (tested without matplotlib), and the rendering."""

from __future__ import annotations

import math
import sys

import numpy as np
import pytest

import lrsweep
from lrsweep.plot import plot_sweep, sweep_plot_data
from lrsweep.trial import Status, TrialResult


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
    assert len(data["points"]) == 14  # finished trials only
    assert data["diverged"] == [1.0] and data["failed"] == [3.0]
    assert [lr for lr, _ in data["mean"]] == result.lrs[:7]
    assert data["mean"][0][1] == pytest.approx(result.mean_metric(result.lrs[0]))
    opt = data["optimum"]
    assert opt.lr == pytest.approx(10**-2.4, rel=0.01)
    xs, ys = data["fit"]
    assert opt.fit_range[0] <= min(xs) and max(xs) <= opt.fit_range[1] * (1 + 1e-9)
    # the fitted curve goes through the seed means (the curve is an exact quadratic)
    assert max(ys) == pytest.approx(0.901, abs=2e-3)
    curves = {c["lr"]: c for c in data["curves"]}
    assert curves[1.0]["status"] == "diverged" and curves[1.0]["loss"] == [2.0, 50.0]
    assert len(curves[result.lrs[0]]["loss"]) == 5
    assert data["metric_name"] == "accuracy" and data["direction"] == "max"


def test_plot_data_rounds_and_no_optimum():
    result = make_result()
    rounds = {lr: (1 if i < 4 else 2) for i, lr in enumerate(result.lrs)}
    data = sweep_plot_data(result, optimum=False, rounds=rounds)
    assert data["optimum"] is None and data["fit"] is None
    assert {p["round"] for p in data["points"]} == {1, 2}
    assert data["n_rounds"] == 2


def test_zoom_keeps_the_top_of_the_curve_visible():
    trials = [TrialResult(lr, 0, Status.OK, 0.3 + 0.05 * (math.log10(lr) + 2) ** 2, (1.0,), 1)
              for lr in np.logspace(-3, -1, 21)]
    trials += [TrialResult(1e-6, 0, Status.OK, 5.0, (1.0,), 1)]  # far and much worse
    data = sweep_plot_data(lrsweep.SweepResult(trials, "min", "loss"))
    lo, hi = data["ylim"]
    assert lo < 0.3 < hi < 5.0


def test_render_writes_a_png_and_opens_no_window(tmp_path):
    pytest.importorskip("matplotlib")
    path = tmp_path / "sweep.png"
    fig = make_result().plot(path)
    assert path.stat().st_size > 10_000
    assert path.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    assert len(fig.axes) == 2
    assert fig.axes[0].get_xscale() == "log"
    assert "matplotlib.pyplot" not in sys.modules or not sys.modules["matplotlib.pyplot"].get_fignums()


def test_search_plot_colours_rounds(tmp_path):
    pytest.importorskip("matplotlib")

    def objective(trial):
        trial.report(0, 1.0)
        return (math.log10(trial.lr) + 2.5) ** 2

    found = lrsweep.search(objective, (1e-5, 1.0), direction="min", engine="sequential",
                           max_rounds=3)
    path = tmp_path / "search.png"
    fig = found.plot(path)
    assert path.exists() and len(fig.axes) == 2
    scat = fig.axes[0].collections
    # the trials' scatter carries one colour per round when there are several rounds
    colours = {tuple(np.round(c, 3)) for coll in scat for c in coll.get_facecolors()}
    assert len(found.rounds) > 1 and len(colours) >= len(found.rounds)


def test_missing_matplotlib_says_how_to_install(monkeypatch):
    monkeypatch.setitem(sys.modules, "matplotlib", None)
    monkeypatch.setitem(sys.modules, "matplotlib.figure", None)
    with pytest.raises(ImportError, match="pip install matplotlib"):
        plot_sweep(make_result())


def test_points_left_out_by_the_zoom_are_marked_at_the_edge():
    pytest.importorskip("matplotlib")
    trials = [TrialResult(lr, 0, Status.OK, 0.95 - 0.3 * (math.log10(lr) + 2) ** 2, (1.0,), 1)
              for lr in np.logspace(-6, -1, 11)]
    result = lrsweep.SweepResult(trials, "max", "accuracy")
    data = sweep_plot_data(result)
    assert data["ylim"] is not None
    hidden = [p for p in data["points"] if p["metric"] < data["ylim"][0]]
    assert hidden  # the zoom does leave points out ...
    fig = result.plot()
    labels = fig.axes[0].get_legend_handles_labels()[1]
    assert f"{len(hidden)} point(s) off the axis" in labels  # ... and says so

"""Fitted power laws: recovery of a known exponent from noisy optima, interval coverage,
several axes, the inputs fit_law accepts, and the plot data."""

from __future__ import annotations

import math

import numpy as np
import pytest

from lrsweep import ConfigError, SweepResult, TrialResult
from lrsweep.transfer import fit_law
from lrsweep.transfer._inputs import normal_quantile
from lrsweep.transfer.plot import law_plot_data

Z90 = normal_quantile(0.95)


def _noisy_optima(rng, scales, exponent=-0.8, c=0.5, sigma=0.15, level_z=Z90):
    """Optima of lr* = c x^exponent measured with log-normal noise and honest 90% intervals."""
    out = {}
    for x in scales:
        true = c * x**exponent
        lr = true * math.exp(rng.normal(0, sigma))
        out[x] = (lr, lr * math.exp(-level_z * sigma), lr * math.exp(level_z * sigma))
    return out


def test_exact_power_law_is_recovered():
    law = fit_law({x: 0.3 * x**-0.5 for x in (16, 32, 64, 128)}, x="width")
    assert law.exponent() == pytest.approx(-0.5, abs=1e-9)
    p = law.predict(1024)
    assert p.lr == pytest.approx(0.3 * 1024**-0.5, rel=1e-9)
    assert p.extrapolated and not law.predict(50).extrapolated


def test_known_exponent_from_noisy_optima():
    rng = np.random.default_rng(1)
    errors, inside = [], 0
    for _ in range(20):
        law = fit_law(_noisy_optima(rng, [32, 64, 128, 256, 512, 1024]), x="width",
                      n_boot=500)
        errors.append(abs(law.exponent() + 0.8))
        lo, hi = law.exponent_interval()
        inside += lo <= -0.8 <= hi
    assert np.median(errors) < 0.1
    assert inside >= 15


@pytest.mark.parametrize("n_points, with_intervals", [(3, True), (5, True), (5, False)])
def test_prediction_interval_coverage(n_points, with_intervals):
    # nominal 90%: predict 8x beyond the largest measured scale
    rng = np.random.default_rng(7 + n_points)
    scales = [32 * 2**i for i in range(n_points)]
    target = scales[-1] * 8
    truth = 0.5 * target**-0.8
    hits, trials, widths = 0, 120, []
    for _ in range(trials):
        data = _noisy_optima(rng, scales)
        if not with_intervals:
            data = {x: v[0] for x, v in data.items()}
        p = fit_law(data, x="width", n_boot=400, seed=int(rng.integers(1 << 30))).predict(target)
        hits += p.low <= truth <= p.high
        widths.append(math.log(p.high / p.low))
    coverage = hits / trials
    assert 0.8 <= coverage <= 0.99, coverage
    assert np.isfinite(widths).all()


def test_two_axes():
    data = {(w, b): 0.1 * w**-1.0 * b**0.5 for w in (64, 128, 256) for b in (16, 64)}
    law = fit_law(data, x=("width", "batch"))
    assert law.exponent("width") == pytest.approx(-1.0, abs=1e-9)
    assert law.exponent("batch") == pytest.approx(0.5, abs=1e-9)
    p = law.predict({"width": 1024, "batch": 256})
    assert p.lr == pytest.approx(0.1 / 1024 * 16, rel=1e-9)
    f, lo, hi = law.ratio("batch", 16, 256)
    assert f == pytest.approx(4.0) and lo <= f <= hi
    with pytest.raises(ConfigError, match="batch"):
        law.predict({"width": 1024})


def _sweep(best_lr, study=None):
    lrs = [best_lr / 4, best_lr / 2, best_lr, best_lr * 2, best_lr * 4]
    metric = {lr: 1 - (math.log2(lr / best_lr)) ** 2 / 10 for lr in lrs}
    trials = [TrialResult(lr, s, "ok", metric[lr] + 0.001 * s) for lr in lrs for s in (0, 1)]
    return SweepResult(trials, "max", "accuracy", study=study)


def test_inputs_sweeps_values_pairs_and_names():
    sweeps = [_sweep(1e-2), _sweep(5e-3), _sweep(2.5e-3)]
    by_values = fit_law(sweeps, x="width", values=[64, 128, 256])
    assert by_values.exponent() == pytest.approx(-1.0, abs=0.05)
    pairs = fit_law(list(zip([64, 128, 256], sweeps)), x="width")
    assert pairs.exponent() == pytest.approx(by_values.exponent())
    named = fit_law([_sweep(1e-2, "teacher-width64"), _sweep(5e-3, "teacher-width128"),
                     _sweep(2.5e-3, "teacher-width=256")], x="width")
    assert named.exponent() == pytest.approx(by_values.exponent())


def test_bad_inputs():
    with pytest.raises(ConfigError, match="at least 3"):
        fit_law({64: 1e-2, 128: 5e-3}, x="width")
    with pytest.raises(ConfigError, match="values"):
        fit_law([_sweep(1e-2), _sweep(5e-3), _sweep(2e-3)], x="width")
    with pytest.raises(ConfigError, match="one per result"):
        fit_law([_sweep(1e-2), _sweep(5e-3), _sweep(2e-3)], x="width", values=[1, 2])
    with pytest.raises(ConfigError, match="distinct"):
        fit_law([(64, 1e-2), (64, 5e-3), (64, 2e-3)], x="width")
    with pytest.raises(ConfigError, match="positive"):
        fit_law({64: 1e-2, 128: 5e-3, 256: 2e-3}).predict(-5)
    two = fit_law({1000: 1e-3, 4000: 5e-4}, x="steps", min_points=2)
    assert two.exponent() == pytest.approx(-0.5)


def test_plot_data_and_figure(tmp_path):
    law = fit_law({64: (1e-2, 7e-3, 1.4e-2), 128: (5e-3, 3.5e-3, 7e-3),
                   256: (2.6e-3, 1.8e-3, 3.6e-3)}, x="width")
    d = law_plot_data(law, target=2048)
    assert d["grid"].min() < 64 and d["grid"].max() > 2048
    assert np.all(d["band_low"] <= d["fit"]) and np.all(d["fit"] <= d["band_high"])
    # the band widens away from the data: extrapolation is less certain
    width = np.log(d["band_high"] / d["band_low"])
    assert width[-1] > 2 * width[np.argmin(np.abs(d["grid"] - 128))]
    assert d["prediction"].lr == pytest.approx(law.predict(2048).lr)
    pytest.importorskip("matplotlib")
    fig = law.plot(tmp_path / "law.png", target=2048)
    assert (tmp_path / "law.png").stat().st_size > 1000
    assert fig.axes[0].get_xscale() == "log" and fig.axes[0].get_yscale() == "log"

"""Fitted power laws: recovery of a known exponent from noisy optima, interval coverage,
several axes, the inputs fit_law accepts, and the plot data."""

from __future__ import annotations

import math

import numpy as np
import pytest

from lrsweep import ConfigError, SweepResult, TrialResult
from lrsweep.transfer import fit_law
from lrsweep.transfer._inputs import normal_quantile, t_quantile
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
        law = fit_law(_noisy_optima(rng, [32, 64, 128, 256, 512, 1024]), x="width")
        errors.append(abs(law.exponent() + 0.8))
        lo, hi = law.exponent_interval()
        inside += lo <= -0.8 <= hi
    assert np.median(errors) < 0.1
    assert inside >= 15


@pytest.mark.parametrize("n_points, with_intervals", [(3, True), (5, True), (5, False)])
def test_prediction_interval_coverage(n_points, with_intervals):
    # nominal 90% for the optimum a sweep would measure 8x beyond the largest scale
    rng = np.random.default_rng(7 + n_points)
    scales = [32 * 2**i for i in range(n_points)]
    target = scales[-1] * 8
    hits, trials, widths = 0, 200, []
    for _ in range(trials):
        data = _noisy_optima(rng, scales)
        if not with_intervals:
            data = {x: v[0] for x, v in data.items()}
        p = fit_law(data, x="width").predict(target)
        measured = 0.5 * target**-0.8 * math.exp(rng.normal(0, 0.15))
        hits += p.low <= measured <= p.high
        widths.append(math.log(p.high / p.low))
    coverage = hits / trials
    assert 0.85 <= coverage <= 0.99, coverage
    assert np.isfinite(widths).all()


class _OneSeed:
    """An optimum whose interval is one seed's curve only (the grid's resolution)."""

    basis = "one-seed"

    def __init__(self, lr, half_octaves):
        self.lr, self.level = lr, 0.9
        self.low, self.high = lr * 2**-half_octaves, lr * 2**half_octaves


def test_one_seed_optima_the_interval_is_their_scatter_not_their_grid_interval(caplog):
    # the optima scatter 0.2 octaves about the law (seeds move them sideways) but each
    # carries a one-seed interval of only +-0.05 octaves: leave-one-out intervals must hold
    # the left-out optimum ~90% of the time, as an interval built on them would not
    rng = np.random.default_rng(3)
    scales = [16 * 2**i for i in range(8)]
    hits = total = 0
    for _ in range(40):
        opt = {x: _OneSeed(0.3 * x**-0.6 * 2 ** rng.normal(0, 0.2), 0.05 * rng.uniform(0.5, 2))
               for x in scales}
        for x in scales:
            law = fit_law({k: v for k, v in opt.items() if k != x}, x="width")
            p = law.predict(x)
            hits += p.low <= opt[x].lr <= p.high
            total += 1
    assert law.mode == "scatter" and law.dof == 7 - 2
    assert 0.84 <= hits / total <= 0.97, hits / total
    caplog.clear()
    fit_law(opt, x="width")
    assert caplog.text.count("come from one seed") == 1  # once per call, not per optimum


def test_unknown_noise_without_intervals_is_plain_least_squares():
    rng = np.random.default_rng(5)
    xs = np.array([8.0, 16, 32, 64, 128])
    lrs = 0.1 * xs**-0.7 * np.exp(rng.normal(0, 0.2, xs.size))
    law = fit_law(dict(zip(xs.tolist(), lrs.tolist())), x="width")
    b, a = np.polyfit(np.log(xs), np.log(lrs), 1)
    assert law.exponent() == pytest.approx(b) and law.coef[0] == pytest.approx(a)
    resid = np.log(lrs) - (a + b * np.log(xs))
    assert law.scatter == pytest.approx(math.sqrt(np.sum(resid**2) / 3))
    # the t interval of ordinary least squares for a new observation
    x0 = math.log(32)
    lev = 1 / 5 + (x0 - np.log(xs).mean()) ** 2 / np.sum((np.log(xs) - np.log(xs).mean()) ** 2)
    half = t_quantile(0.95, 3) * law.scatter * math.sqrt(1 + lev)
    p = law.predict(32)
    assert math.log(p.high / p.lr) == pytest.approx(half, rel=1e-9)


def test_extrapolation_adds_model_error_and_a_prior_lets_two_sweeps_fit():
    data = {16: 1e-3, 32: 1.5e-3, 64: 1.9e-3, 128: 2.9e-3}
    law = fit_law(data, x="batch")
    inside, far = law.predict(64), law.predict(128 * 8)
    assert far.extrapolated and not inside.extrapolated
    w_far = math.log(far.high / far.low)
    # beyond the fitted range by its whole span (x8 = 3 octaves of a 3-octave span): the
    # scatter term doubles, on top of the line's own leverage
    row = np.array([1.0, math.log(1024)])
    line = float(row @ law.cov @ row)
    want = 2 * t_quantile(0.95, 2) * math.sqrt(line + 2 * law.scatter**2)
    assert w_far == pytest.approx(want, rel=1e-9)
    with pytest.raises(ConfigError, match="prior"):
        fit_law({16: 1e-3, 64: 2e-3}, x="batch", min_points=2)
    two = fit_law({16: 1e-3, 64: 2e-3}, x="batch", min_points=2, prior=(0.2, 4))
    assert two.exponent() == pytest.approx(0.5) and two.dof == 4
    assert two.scatter == pytest.approx(0.2)
    p = two.predict(32)
    assert p.low < p.lr < p.high
    with pytest.raises(ConfigError, match="prior"):
        fit_law(data, x="batch", prior=(-1, 2))


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


def test_the_scale_is_read_from_the_protocol_before_the_name():
    """One home for a sweep's scale (``lrsweep.transfer.scales``): the protocol first, the
    study name only where the protocol does not record it (studies made by the CLI)."""
    from lrsweep.transfer.scales import scale_in_name, scale_of

    s = _sweep(1e-2, "teacher-width64-0a1b2c3d")
    assert scale_of(s, "width") == (64.0,)
    s.protocol = {"width": 96}
    assert scale_of(s, "width") == (96.0,)
    assert scale_in_name("teacher-mlp-width64-epochs2-0a1b2c3d", "width") == (
        "teacher-mlp-width*-epochs2", 64.0)
    assert scale_in_name("teacher-mlp-width64-epochs2-0a1b2c3d", "epochs") == (
        "teacher-mlp-width64-epochs*", 2.0)
    assert scale_in_name("teacher-mlp-width64", "depth") is None
    assert scale_in_name("mlp-lr1e-05", "lr") == ("mlp-lr*", 1e-05)


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
    two = fit_law({1000: 1e-3, 4000: 5e-4}, x="steps", min_points=2, prior=(0.2, 4))
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

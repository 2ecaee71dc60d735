"""The optimum estimate: known answers, interval coverage, band, edges, divergence."""

from __future__ import annotations

import ast
import math
from pathlib import Path

import numpy as np
import pytest

import lrsweep
from lrsweep.analysis import Optimum, estimate_optimum, optimum_from_trials
from lrsweep.errors import ConfigError
from lrsweep.results.trial import Status, TrialResult


def well(d: np.ndarray, k1: float = 1.0, k2: float = 2.5) -> np.ndarray:
    """Smooth asymmetric well in d = log10(lr / lr_true): 0 with unit curvature at d = 0."""
    return (k2 * np.exp(-k1 * d) + k1 * np.exp(k2 * d) - k1 - k2) / (k1 * k2 * (k1 + k2))


def one_seed(lrs, values, direction="max"):
    return estimate_optimum(lrs, [0] * len(lrs), values, ["ok"] * len(lrs), direction)


def test_noise_free_symmetric_quadratic_is_exact():
    lrs = np.logspace(-5, -1, 9)
    acc = 0.9 - 0.05 * (np.log10(lrs) + 2.7) ** 2  # peak at 10**-2.7, between grid points
    opt = one_seed(lrs, acc)
    assert opt.lr == pytest.approx(10**-2.7, rel=1e-6)
    assert opt.metric == pytest.approx(0.9, abs=1e-9)
    assert opt.low <= opt.lr <= opt.high
    assert opt.method == "quadratic"
    assert not opt.at_low_edge and not opt.at_high_edge


def test_min_direction_mirrors_max():
    lrs = np.logspace(-5, -1, 9)
    loss = 0.3 + 0.05 * (np.log10(lrs) + 3.3) ** 2
    opt_min = one_seed(lrs, loss, "min")
    opt_max = one_seed(lrs, -loss, "max")
    assert opt_min.lr == pytest.approx(10**-3.3, rel=1e-6)
    assert opt_min.lr == pytest.approx(opt_max.lr)
    assert opt_min.metric == pytest.approx(0.3, abs=1e-9)
    assert opt_min.direction == "min"


def test_noise_free_asymmetric_curve_on_fine_grid():
    x_true = -2.37
    lrs = np.logspace(-3.5, -1.5, 41)
    loss = 0.5 + 0.2 * well(np.log10(lrs) - x_true)
    opt = one_seed(lrs, loss, "min")
    assert abs(math.log2(opt.lr / 10**x_true)) < 0.05
    assert opt.low <= 10**x_true <= opt.high


def test_fitted_curve_and_predict_match_the_data_near_the_top():
    lrs = np.logspace(-5, -1, 9)
    acc = 0.9 - 0.05 * (np.log10(lrs) + 2.7) ** 2
    opt = one_seed(lrs, acc)
    inside = lrs[(lrs >= opt.fit_range[0]) & (lrs <= opt.fit_range[1])]
    assert np.allclose(opt.predict(inside), 0.9 - 0.05 * (np.log10(inside) + 2.7) ** 2)
    assert np.isnan(opt.predict([1e-9])).all()


def test_band_holds_the_lrs_within_tolerance():
    lrs = np.logspace(-5, -1, 33)
    acc = 0.9 - 0.05 * (np.log10(lrs) + 3) ** 2
    opt = estimate_optimum(lrs, [0] * 33, acc, ["ok"] * 33, "max", band_tol=0.01)
    # analytic band: 0.05 d^2 <= 0.009  ->  |d| <= sqrt(0.18)
    half = math.sqrt(0.009 / 0.05)
    assert math.log10(opt.band[0]) == pytest.approx(-3 - half, abs=0.02)
    assert math.log10(opt.band[1]) == pytest.approx(-3 + half, abs=0.02)
    wider = estimate_optimum(lrs, [0] * 33, acc, ["ok"] * 33, "max", band_tol=0.05)
    assert wider.band[0] < opt.band[0] and wider.band[1] > opt.band[1]


def test_band_on_a_coarse_grid_follows_the_fitted_curve():
    # a grid coarser than the band: the chord between grid points lies under the peak, so
    # interpolating the data alone would give a band barely wider than one point
    lrs = np.logspace(-5, -1, 9)
    acc = 0.9 - 0.05 * (np.log10(lrs) + 2.9) ** 2
    opt = estimate_optimum(lrs, [0] * 9, acc, ["ok"] * 9, "max", band_tol=0.01)
    half = math.sqrt(0.009 / 0.05)
    assert math.log10(opt.band[0]) == pytest.approx(-2.9 - half, abs=0.02)
    assert math.log10(opt.band[1]) == pytest.approx(-2.9 + half, abs=0.02)


def test_best_at_low_edge_is_flagged_and_interval_reaches_the_range_end():
    lrs = np.logspace(-3, -1, 7)
    acc = 0.9 - 0.05 * (np.log10(lrs) + 4) ** 2  # true optimum below the range
    opt = one_seed(lrs, acc)
    assert opt.at_low_edge and not opt.at_high_edge
    assert opt.low is None and opt.open_low and opt.high is not None  # open at the low end
    assert math.isinf(opt.ratio) and opt.to_dict()["low"] is None
    assert "below" in opt.note and f"below {opt.high:.3g}, at the low edge" in opt.summary()


def test_best_at_high_edge_is_flagged_unless_a_diverged_lr_lies_above():
    lrs = list(np.logspace(-5, -3, 7))
    acc = list(0.9 - 0.05 * (np.log10(lrs) + 1) ** 2)
    opt = one_seed(lrs, acc)
    assert opt.at_high_edge and not opt.at_low_edge
    assert opt.high is None and f"above {opt.low:.3g}, at the high edge" in opt.summary()
    # the same points plus a diverged LR above: bounded, not an edge
    opt2 = estimate_optimum(lrs + [1e-2], [0] * 8, acc + [math.nan], ["ok"] * 7 + ["diverged"],
                            "max")
    assert not opt2.at_high_edge
    assert opt2.diverged_above == pytest.approx(1e-2)
    assert opt2.high is not None and opt2.high < 1e-2


def test_diverged_trials_are_never_ranked():
    lrs = [1e-4, 1e-3, 1e-2, 1e-1, 1.0]
    # the diverged LR carries a (stale) great metric: it must be ignored
    metrics = [0.5, 0.8, 0.85, 0.99, 0.2]
    statuses = ["ok", "ok", "ok", "diverged", "diverged"]
    opt = estimate_optimum(lrs, [0] * 5, metrics, statuses, "max")
    assert opt.best_lr == pytest.approx(1e-2)
    assert opt.lr < 1e-1
    assert opt.diverged_above == pytest.approx(1e-1)


def test_the_estimate_stays_below_an_lr_that_diverged():
    # the curve still rises at the last finished LR: the vertex would extrapolate past the
    # diverged LR, but an LR known to diverge is never the answer
    lrs = [1e-4, 1e-3, 1e-2, 1e-1]
    acc = [0.5, 0.7, 0.85, math.nan]
    opt = estimate_optimum(lrs, [0] * 4, acc, ["ok"] * 3 + ["diverged"], "max")
    assert opt.lr < 1e-1 and opt.high < 1e-1
    assert not opt.at_high_edge


def test_an_lr_where_one_seed_diverged_is_not_ranked():
    lrs = [1e-3, 1e-2, 1e-1] * 2
    seeds = [0, 0, 0, 1, 1, 1]
    metrics = [0.7, 0.8, 0.95, 0.7, 0.8, math.nan]
    statuses = ["ok", "ok", "ok", "ok", "ok", "diverged"]
    opt = estimate_optimum(lrs, seeds, metrics, statuses, "max")
    assert opt.best_lr == pytest.approx(1e-2)
    assert opt.diverged_above == pytest.approx(1e-1)


def test_failed_trials_are_ignored_and_nothing_finished_gives_no_estimate():
    opt = estimate_optimum([1e-3, 1e-2], [0, 0], [math.nan, math.nan], ["failed", "failed"],
                           "max")
    assert opt.lr is None and not opt.found
    assert "no trial finished" in opt.note
    opt = estimate_optimum([1e-3, 1e-2], [0, 0], [math.nan] * 2, ["diverged"] * 2, "min")
    assert opt.lr is None and opt.diverged_above == pytest.approx(1e-3)
    assert "lower" in opt.note


def test_one_seed_says_so():
    lrs = np.logspace(-5, -1, 9)
    acc = 0.9 - 0.05 * (np.log10(lrs) + 2.7) ** 2
    rng = np.random.default_rng(0)
    opt = one_seed(lrs, acc + rng.normal(0, 0.002, 9))
    assert opt.n_seeds == 1 and opt.basis == "one-seed"
    assert opt.low < opt.lr < opt.high
    text = opt.summary()
    assert "this seed's curve only" in text and "seed-to-seed spread unknown: use seeds=3" in text
    assert "90%" not in text and "use seeds=3" in opt.meaning


def synthetic(rng: np.random.Generator, n_seeds: int = 3):
    """A noisy asymmetric accuracy curve on a random grid; returns the arrays and the truth."""
    x_true = rng.uniform(-3.5, -2.5)
    k1, k2 = rng.uniform(0.8, 3.0, 2)
    lrs = np.logspace(-5, -0.5, 13) * 10 ** rng.uniform(0, 0.375)
    x = np.log10(lrs)
    clean = 0.95 - 0.3 * (1 - np.exp(-well(x - x_true, k1, k2)))
    decade = 0.3 * (1 - math.exp(-float(well(np.array(1.0), k1, k2))))
    rows = []
    for s in range(n_seeds):
        offset = rng.normal(0, 0.01)
        noisy = clean + offset + rng.normal(0, 0.03 * decade, lrs.size)
        rows += [(lr, s, m) for lr, m in zip(lrs, noisy)]
    lr_a, seed_a, m_a = (np.array(v) for v in zip(*rows))
    return lr_a, seed_a, m_a, 10**x_true


def test_noisy_interval_contains_the_truth_and_coverage_is_near_nominal():
    rng = np.random.default_rng(12345)
    hits, errs = 0, []
    n = 40
    for _ in range(n):
        lrs, seeds, metrics, truth = synthetic(rng)
        opt = estimate_optimum(lrs, seeds, metrics, ["ok"] * lrs.size, "max", n_boot=200)
        hits += opt.low <= truth <= opt.high
        errs.append(abs(math.log2(opt.lr / truth)))
    # at the nominal 90% level; 40 instances, so allow for sampling error
    assert hits / n >= 0.8
    # and the estimate beats the grid spacing (1.5 log2 units) by a wide margin
    assert np.median(errs) < 0.4


def test_more_seeds_narrow_the_interval():
    rng = np.random.default_rng(7)
    widths = {}
    for n_seeds in (2, 8):
        w = []
        for _ in range(10):
            lrs, seeds, metrics, _ = synthetic(rng, n_seeds)
            opt = estimate_optimum(lrs, seeds, metrics, ["ok"] * lrs.size, "max", n_boot=100)
            w.append(math.log2(opt.ratio))
        widths[n_seeds] = np.median(w)
    assert widths[8] < widths[2]


def test_from_trials_and_sweep_result_agree_with_the_array_api():
    lrs = np.logspace(-4, -1, 7)
    acc = 0.9 - 0.05 * (np.log10(lrs) + 2.2) ** 2
    trials = [TrialResult(lr, 0, Status.OK, m, (1.0, 0.5), 2) for lr, m in zip(lrs, acc)]
    trials.append(TrialResult(1.0, 0, Status.DIVERGED, None, (1.0, 9.0), 2))
    a = optimum_from_trials(trials, "max", metric_name="accuracy")
    b = lrsweep.SweepResult(trials, "max", "accuracy").optimum()
    c = estimate_optimum([t.lr for t in trials], [0] * 8, list(acc) + [math.nan],
                         ["ok"] * 7 + ["diverged"], "max", metric_name="accuracy")
    assert isinstance(b, Optimum)
    assert a == b == c
    assert b.lr == pytest.approx(10**-2.2, rel=1e-6)
    d = b.to_dict()
    assert d["lr"] == b.lr and d["band"] == list(b.band)
    assert d["basis"] == "one-seed" and d["metric_fitted"] and d["metric_name"] == "accuracy"
    assert {"level", "low", "high", "converged", "open_low", "open_high", "meaning"} <= set(d)
    assert "lr=" in str(b)


@pytest.mark.parametrize("kwargs, name", [
    ({"direction": "up"}, "direction"),
    ({"band_tol": 1.5}, "band_tol"),
    ({"level": 1.0}, "level"),
    ({"min_points": 2}, "min_points"),
])
def test_bad_arguments_name_themselves(kwargs, name):
    args = {"direction": "max", **kwargs}
    with pytest.raises(ConfigError, match=name):
        estimate_optimum([1e-3, 1e-2, 1e-1], [0, 0, 0], [0.1, 0.2, 0.1], ["ok"] * 3, **args)


def test_mismatched_arrays_are_refused():
    with pytest.raises(ConfigError, match="equal length"):
        estimate_optimum([1e-3, 1e-2], [0], [0.1, 0.2], ["ok", "ok"], "max")


def test_analysis_never_imports_torch():
    names = set()
    package = Path(lrsweep.analysis.__file__).parent
    nodes = [n for f in sorted(package.glob("*.py")) for n in ast.walk(ast.parse(f.read_text()))]
    assert len(list(package.glob("*.py"))) >= 5  # curve, fit, interval, band, optimum, ...
    for node in nodes:
        if isinstance(node, ast.Import):
            names |= {a.name.split(".")[0] for a in node.names}
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            names.add(node.module.split(".")[0])
    assert "torch" not in names


# ------------------------------------------- sideways jitter: what the interval covers ----
def test_one_seed_on_jitter_curves_is_labelled_and_misses_often():
    from jitter import JitterCurve

    rng = np.random.default_rng(5)
    hits, n = 0, 30
    for i in range(n):
        f = JitterCurve(i, rng, tau=0.1)
        xs = np.arange(f.x0 - 1.5, f.x0 + 1.2, 0.1)
        opt = estimate_optimum(*f.sweep_arrays(xs, [0]), f.direction)
        assert opt.basis == "one-seed" and "use seeds=3" in opt.summary()
        assert opt.seed_se is None and math.isinf(opt.with_seeds(5))
        hits += (opt.low or 0) <= 10**f.x_true <= (opt.high or math.inf)
    # one smooth seed gives a narrow interval around its own optimum, which the seed-mean
    # optimum often lies outside: that is why it is never called a 90% interval
    assert hits / n < 0.8


def test_several_seeds_cover_the_seed_mean_optimum_on_jitter_curves():
    from jitter import JitterCurve

    rng = np.random.default_rng(6)
    hits, errs, n = 0, [], 40
    for i in range(n):
        f = JitterCurve(i, rng)
        xs = np.arange(f.x0 - 1.5, f.x0 + 1.2, 0.125) + rng.uniform(0, 0.125)
        opt = estimate_optimum(*f.sweep_arrays(xs, range(3)), f.direction)
        assert opt.basis == "seeds" and opt.n_seeds == 3 and opt.seed_se is not None
        hits += (opt.low or 0) <= 10**f.x_true <= (opt.high or math.inf)
        errs.append(abs(math.log2(opt.lr) - f.x_true * math.log2(10)))
    assert hits / n >= 0.8  # nominal 90%, 40 instances
    assert np.median(errs) < 0.2


def test_several_seeds_cover_the_seed_mean_optimum_with_heavy_tailed_seed_shifts():
    from jitter import JitterCurve

    # one seed in five moves the optimum five times as far sideways as the rest (as seeds do
    # on noisy plateaus): the seed-mean optimum is pulled towards it, and the interval still
    # has to hold it
    rng = np.random.default_rng(6)
    hits, errs, n, with_far = 0, [], 40, 0
    for i in range(n):
        f = JitterCurve(i, rng, tau=float(rng.uniform(0.05, 0.12)), far=(0.2, 5.0))
        xs = np.arange(f.x0 - 1.5, f.x0 + 1.2, 0.125) + rng.uniform(0, 0.125)
        opt = estimate_optimum(*f.sweep_arrays(xs, range(5)), f.direction)
        assert opt.basis == "seeds" and opt.n_seeds == 5
        with_far += any(f.is_far(s) for s in range(5))
        hits += (opt.low or 0) <= 10**f.x_true <= (opt.high or math.inf)
        errs.append(abs(math.log2(opt.lr) - f.x_true * math.log2(10)))
    assert with_far >= n // 2  # the far seeds are there to be covered
    assert hits / n >= 0.85  # nominal 90%, 40 instances
    assert np.median(errs) < 0.2


def test_the_interval_always_holds_the_best_measured_lr_and_never_a_diverged_one():
    from jitter import JitterCurve

    rng = np.random.default_rng(8)
    for i in range(30):
        f = JitterCurve(i, rng, tau=0.15)
        step = float(rng.choice([0.1, 0.33, 0.5, 1.0]))
        xs = np.arange(f.x0 - 3, f.x0 + 2, step) + rng.uniform(0, step)
        n_seeds = int(rng.choice([1, 2, 3]))
        arrays = f.sweep_arrays(xs, range(n_seeds))
        opt = estimate_optimum(*arrays, f.direction)
        assert (opt.low or 0) <= opt.best_lr <= (opt.high or math.inf)
        assert (opt.low or 0) <= opt.lr <= (opt.high or math.inf)
        diverged = [lr for lr, st in zip(arrays[0], arrays[3]) if st == "diverged"]
        if diverged:
            assert opt.high is not None and opt.high < min(diverged)
            assert opt.diverged_above == min(d for d in diverged if d > opt.best_lr)


def test_a_fit_that_disagrees_with_the_data_keeps_the_best_point_inside():
    # a steep asymmetric loss on a coarse grid (10 LRs over five decades): the parabola's
    # vertex lands most of a cell away from the best measured LR; the interval still holds
    # the best point, and the truth
    lrs = np.logspace(-5, 0, 10)
    for x0 in (-1.8, -1.9):
        loss = 1.0 + 0.5 * well(np.log10(lrs) - x0, 0.8, 2.5)
        opt = estimate_optimum(lrs, [0] * 10, loss, ["ok"] * 10, "min", metric_name="loss")
        assert opt.low <= opt.best_lr <= opt.high
        assert opt.low <= 10**x0 <= opt.high
        assert opt.metric_fitted and abs(opt.metric - 1.0) < 0.03  # the curve's minimum is 1


def test_a_spurious_low_divergence_does_not_set_diverged_above():
    lrs = list(np.logspace(-5, -1, 9)) * 2
    seeds = [0] * 9 + [1] * 9
    acc = [0.9 - 0.05 * (math.log10(v) + 2.5) ** 2 for v in lrs]
    status = ["ok"] * 18
    status[9], acc[9] = "diverged", math.nan  # seed 1 at 1e-5: one NaN far below the optimum
    opt = estimate_optimum(lrs, seeds, acc, status, "max")
    assert opt.diverged_above is None and not opt.at_high_edge
    assert abs(math.log10(opt.lr) + 2.5) < 0.05 and opt.low > 1e-5


def test_the_fitted_metric_is_labelled_and_kept_in_range():
    lrs = np.logspace(-4, -1, 7)
    acc = np.clip(1.02 - 0.2 * (np.log10(lrs) + 2.6) ** 2, 0, 1)  # the parabola peaks above 1
    acc[3] = 1.0
    opt = estimate_optimum(lrs, [0] * 7, acc, ["ok"] * 7, "max", metric_name="accuracy")
    # a fitted accuracy above 1 cannot be: the measured value is reported, and said so
    assert not opt.metric_fitted and opt.metric == pytest.approx(opt.best_metric)
    assert opt.metric <= 1.0
    assert "outside its range" in opt.note and "fitted accuracy=" not in opt.summary()
    acc2 = 0.9 - 0.05 * (np.log10(lrs) + 2.65) ** 2  # a top inside the range: fitted
    opt = estimate_optimum(lrs, [0] * 7, acc2, ["ok"] * 7, "max", metric_name="accuracy")
    assert opt.metric_fitted and "fitted accuracy=" in opt.summary()
    loss = 0.05 * (np.log10(lrs) + 2.6) ** 2 - 0.004  # a fitted loss below zero
    opt = estimate_optimum(lrs, [0] * 7, loss, ["ok"] * 7, "min", metric_name="loss")
    assert 0.0 <= opt.metric and not opt.metric_fitted


def test_a_hugging_face_eval_loss_is_never_fitted_below_zero():
    # as a Trainer reports it (eval_loss), three seeds near zero loss: the parabola through
    # the seed means dips below zero, which no loss can; the measured value is reported
    rng = np.random.default_rng(3)
    lrs = np.logspace(-5, -3, 7)
    x = np.log10(lrs)
    rows = [(lr, s, max(0.02 + 0.4 * (xi + 4.1) ** 2 + rng.normal(0, 0.01) - 0.05, 1e-4))
            for s in range(3) for lr, xi in zip(lrs, x)]
    lr_a, seed_a, m_a = (list(v) for v in zip(*rows))
    opt = estimate_optimum(lr_a, seed_a, m_a, ["ok"] * len(lr_a), "min", metric_name="eval_loss")
    assert opt.metric >= 0.0
    for name, values, lim in (("eval_loss", [0.3], (0.0, math.inf)),
                              ("val_accuracy", [0.9], (0.0, 1.0)),
                              ("accuracy", [93.0], (0.0, 100.0)), ("reward", [1.0], None)):
        assert lrsweep.analysis.metric_bounds(name, values) == lim


def test_the_fitted_metric_is_never_better_than_the_best_measured_by_more_than_the_noise():
    from jitter import JitterCurve

    rng = np.random.default_rng(11)
    for i in range(20):
        f = JitterCurve(i, rng, tau=0.1)
        xs = np.arange(f.x0 - 1.5, f.x0 + 1.0, 0.33) + rng.uniform(0, 0.33)
        lrs, seeds, metrics, statuses = f.sweep_arrays(xs, range(3))
        opt = estimate_optimum(lrs, seeds, metrics, statuses, f.direction)
        if opt.metric_fitted:
            gain = (opt.metric - opt.best_metric) * (1 if f.direction == "max" else -1)
            assert gain <= 0.05 * abs(opt.best_metric) + 1e-12


def test_sweep_result_best_is_the_mean_over_seeds():
    # seed 1 is lucky at 1e-2, but 1e-3 is better on average
    rows = [(1e-3, 0, 0.80), (1e-3, 1, 0.82), (1e-2, 0, 0.70), (1e-2, 1, 0.90),
            (1e-1, 0, 0.50), (1e-1, 1, 0.55)]
    trials = [TrialResult(lr, s, Status.OK, m, (1.0,), 1) for lr, s, m in rows]
    res = lrsweep.SweepResult(trials, "max", "accuracy")
    best = res.best()
    assert best.lr == 1e-3 and best.metric == pytest.approx(0.81)
    assert best.seeds == (0, 1) and best.sd == pytest.approx(math.sqrt(2e-4))
    d = res.to_dict()
    assert d["best"]["metric"] == pytest.approx(0.81) and d["best"]["metric_is"] == "mean over seeds"
    assert d["optimum"]["best_lr"] == 1e-3 and d["optimum"]["basis"] == "seeds"


def test_more_seeds_would_shrink_a_seed_limited_interval():
    from jitter import JitterCurve

    f = JitterCurve(1, np.random.default_rng(1), tau=0.2)
    xs = np.arange(f.x0 - 1.5, f.x0 + 1.0, 0.1)
    opt = estimate_optimum(*f.sweep_arrays(xs, range(3)), f.direction)
    assert opt.basis == "seeds"
    # the projection is the jackknife's part and the grid's: at most the interval itself
    # (which may also hold rows outside the window that three seeds cannot tell apart)
    assert 1.0 < opt.with_seeds(3) <= opt.ratio
    assert opt.with_seeds(10) < opt.with_seeds(5) < opt.with_seeds(3)


def test_the_estimate_on_an_asymmetric_top_does_not_drift_with_the_grid_spacing():
    # a loss that rises exponentially above its optimum and linearly below, as LR curves do:
    # a window set by a count of rows is wider on a coarser grid and moves the vertex out
    x0 = -2.3

    def est(step: float, off: float) -> float:
        xs = np.arange(-4, -0.5, step) + off * step
        ys = 1 + np.exp(3 * (xs - x0)) - 3 * (xs - x0)
        o = estimate_optimum(10**xs, [0] * len(xs), ys, ["ok"] * len(xs), "min")
        return math.log2(o.lr / 10**x0)

    for off in (0.0, 0.37):
        fine, coarse = est(1 / 8, off), est(1 / 6, off)
        assert abs(fine) < 0.1 and abs(coarse - fine) < 0.04, (off, fine, coarse)


def test_best_measured_is_one_definition_for_the_result_and_the_optimum():
    """Issue 21/22: "best measured" is the mean over the seeds that all ran an LR, in
    ``SweepResult.best()`` and in the ``Optimum``'s summary alike (``lrsweep.results.best``), not
    the estimate's own top row (where a seed missing at an LR is filled in by the model)."""
    t = TrialResult
    trials = [t(lr, s, Status.OK, 0.9 - 0.1 * (math.log10(lr) + 2) ** 2 + 0.002 * s, (1.0,), 1)
              for lr in (1e-3, 3e-3, 1e-2, 3e-2, 1e-1) for s in range(3)]
    trials += [t(5e-3, 0, Status.OK, 0.999, (1.0,), 1), t(5e-3, 1, Status.OK, 0.998, (1.0,), 1)]
    res = lrsweep.SweepResult(trials, "max", "accuracy")
    best, opt = res.best(), res.optimum()
    assert best.lr == 1e-2 and best.seeds == (0, 1, 2) and best.n_lrs == 5
    assert opt.measured == best
    assert f"best measured lr={best.lr:.3g} (mean accuracy={best.metric:.4g})" in opt.summary()
    assert res.to_dict()["optimum"]["measured"] == best.to_dict() == res.to_dict()["best"]

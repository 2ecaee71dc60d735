"""Batch transfer: the default rule (noise-scale when B_noise is known, else sqrt / linear),
the messages (which rule, why, where it stops holding), each rule's own error in the
interval, bad inputs, and ``batch_law`` from the user's own sweeps."""

from __future__ import annotations

import math

import numpy as np
import pytest

from lrsweep import ConfigError, SweepResult, TrialResult
from lrsweep.transfer import batch_law, batch_rule, rule_error, transfer
from lrsweep.transfer.batch import BATCH_LAW_PRIOR, RULE_ERROR

Z90 = 1.6448536269514722


# -------------------------------------------------------------------- default rule ----
def test_default_without_b_noise_is_sqrt_for_adam_linear_for_sgd_and_says_unchecked():
    adam = batch_rule(64, 1024, optimizer="adamw")
    sgd = batch_rule(64, 1024, optimizer="sgd")
    assert (adam.rule, adam.factor) == ("sqrt", pytest.approx(4.0))
    assert (sgd.rule, sgd.factor) == ("linear", pytest.approx(16.0))
    for step in (adam, sgd):
        assert "default" in step.text and "unchecked" in step.text
        assert "estimate_noise_scale(task" in step.text and "b_noise=" in step.text


def test_default_with_b_noise_is_the_noise_scale_rule_and_saturates():
    # Adam: the square root of the SGD ratio (1 + Bn/B) / (1 + Bn/B')
    step = batch_rule(64, 1024, optimizer="adam", b_noise=256)
    assert step.rule == "noise_scale"
    assert step.factor == pytest.approx(math.sqrt((1 + 256 / 64) / (1 + 256 / 1024)))
    assert "the default when B_noise is known" in step.text
    assert "1024 is above B_noise=256" in step.text and "stops growing" in step.text
    sgd = batch_rule(64, 1024, optimizer="sgd", b_noise=256)
    assert sgd.factor == pytest.approx((1 + 256 / 64) / (1 + 256 / 1024))
    # far above B_noise the LR no longer grows; far below it is sqrt / linear
    assert batch_rule(1e5, 1e7, b_noise=100).factor == pytest.approx(1.0, abs=1e-3)
    assert batch_rule(2, 8, b_noise=1e8).factor == pytest.approx(2.0, rel=1e-6)
    below = batch_rule(16, 64, b_noise=4096)
    assert "below B_noise=4096" in below.text and "stops growing" not in below.text
    both = batch_rule(512, 2048, b_noise=256)
    assert "both batches are above B_noise=256" in both.text


def test_transfer_and_its_text_use_the_default():
    t = transfer((1e-3, 8e-4, 1.25e-3), {"batch": 64}, {"batch": 1024}, b_noise=256)
    assert t.rules[0].rule == "noise_scale"
    assert t.lr == pytest.approx(1e-3 * math.sqrt((1 + 4) / (1 + 0.25)))
    text = str(t)
    assert "noise-scale rule" in text and "above B_noise" in text and "own error" in text
    t = transfer(1e-3, {"batch": 64}, {"batch": 1024})
    assert "unchecked" in str(t) and "the rules' error only" in str(t)


def test_sqrt_or_linear_above_a_known_b_noise_say_they_overshoot():
    step = batch_rule(64, 1024, "sqrt", b_noise=256)
    assert step.factor == pytest.approx(4.0)
    assert "overshoots" in step.text and "noise-scale rule" in step.text
    inside = batch_rule(64, 128, "sqrt", b_noise=4096)
    assert "below B_noise=4096, where it holds" in inside.text
    assert "meant for SGD" in batch_rule(64, 128, "linear", optimizer="adam").text
    assert "meant for Adam" in batch_rule(64, 128, "sqrt", optimizer="sgd").text


# --------------------------------------------------------------------- rule error ----
@pytest.mark.parametrize("rule, b_noise", [("sqrt", None), ("linear", None),
                                           ("noise_scale", 300), ("surge", 300)])
def test_each_rule_carries_an_error_growing_with_the_batch_ratio(rule, b_noise):
    widths = []
    for k in (2, 4, 16, 1 / 8):
        step = batch_rule(64, 64 * k, rule, b_noise=b_noise, optimizer="sgd"
                          if rule == "linear" else "adam")
        half = math.log(step.high_factor / step.factor)
        assert math.log(step.factor / step.low_factor) == pytest.approx(half)
        fam = "sgd" if rule == "linear" else "adam"
        assert half == pytest.approx(Z90 * RULE_ERROR[(rule, fam)] * abs(math.log2(k))
                                     * math.log(2))
        widths.append(half / abs(math.log2(k)))
        assert "own error" in step.text
    assert np.allclose(widths, widths[0])  # linear in |log2 k|


def test_interval_combines_the_base_interval_and_the_rule_error():
    t = transfer((1e-3, 5e-4, 2e-3), {"batch": 32}, {"batch": 512}, optimizer="adam")
    half = Z90 * rule_error("sqrt", "adam", 32, 512) * math.log(2)
    base = math.log(2)
    assert math.log(t.high / t.lr) == pytest.approx(math.hypot(base, half))
    assert math.log(t.lr / t.low) == pytest.approx(math.hypot(base, half))
    # a wider change gets a wider interval
    t2 = transfer((1e-3, 5e-4, 2e-3), {"batch": 32}, {"batch": 64}, optimizer="adam")
    assert t2.high / t2.low < t.high / t.low
    # the level follows the optimum's
    step50 = batch_rule(32, 512, "sqrt", level=0.5)
    assert math.log(step50.high_factor / step50.factor) < half


def test_an_error_model_that_holds_its_coverage_on_rule_errors_of_that_size():
    # errors drawn with the calibrated sd: the 90% interval holds ~90% of them
    rng = np.random.default_rng(0)
    hits = 0
    for _ in range(2000):
        k = 2.0 ** rng.integers(1, 5)
        truth = 1e-3 * math.sqrt(k) * 2 ** rng.normal(0, rule_error("sqrt", "adam", 1, k))
        t = transfer(1e-3, {"batch": 16}, {"batch": 16 * k})
        hits += t.low <= truth <= t.high
    assert 0.87 <= hits / 2000 <= 0.93


# ---------------------------------------------------------------------- bad input ----
@pytest.mark.parametrize("kwargs, match", [
    (dict(rule="cubic"), "rules\\['batch'\\]"),
    (dict(rule="noise_scale"), "b_noise"),
    (dict(rule="surge"), "b_noise"),
    (dict(b_noise=-5), "b_noise"),
    (dict(b_noise=math.inf), "b_noise"),
    (dict(b_noise=True), "b_noise"),
    (dict(level=1.5), "level"),
    (dict(optimizer="my-opt"), "optimizer"),
])
def test_bad_batch_inputs_name_the_argument(kwargs, match):
    with pytest.raises(ConfigError, match=match):
        batch_rule(64, 128, **kwargs)


def test_bad_batch_sizes():
    with pytest.raises(ConfigError, match="batch"):
        batch_rule(0, 128)
    with pytest.raises(ConfigError, match="batch"):
        batch_rule(64, float("nan"))


# ---------------------------------------------------------------------- batch_law ----
def _sweep(best_lr: float, batch: int, seeds=(0, 1, 2), shift=0.0) -> SweepResult:
    lrs = [best_lr * 2 ** (i / 2) for i in range(-6, 7)]
    trials = [TrialResult(lr, s, "ok", (math.log2(lr / best_lr) - shift * (s - 1)) ** 2 + 1)
              for lr in lrs for s in seeds]
    res = SweepResult(trials, "min", "loss")
    res.protocol = {"train_data": {"batch_size": batch}}
    return res


def test_batch_law_from_two_sweeps_uses_the_prior_scatter():
    law = batch_law({64: (1e-3, 8e-4, 1.25e-3), 256: (2e-3, 1.6e-3, 2.5e-3)})
    assert law.exponent() == pytest.approx(0.5)
    # the optima's own noise is known, the extra scatter is the prior's: Welch-Satterthwaite
    assert BATCH_LAW_PRIOR[1] < law.dof < math.inf
    assert law.tau == pytest.approx(BATCH_LAW_PRIOR[0])
    bare = batch_law({64: 1e-3, 256: 2e-3})  # noise unknown: the prior's scatter and dof
    assert bare.dof == BATCH_LAW_PRIOR[1] and bare.scatter == pytest.approx(BATCH_LAW_PRIOR[0])
    p = law.predict(1024)
    assert p.extrapolated and p.low < 4e-3 < p.high
    assert "fitted on your sweeps at batch 64..256" in str(law)
    t = transfer((1e-3, 8e-4, 1.25e-3), {"batch": 64}, {"batch": 1024}, rules={"batch": law})
    assert t.lr == pytest.approx(4e-3) and t.rules[0].rule == "fitted law"
    assert "holds between them" in t.steps[0]


def test_batch_law_reads_recorded_batches_and_names_b_noise():
    sweeps = [_sweep(1e-3 * (b / 32) ** 0.7, b) for b in (32, 64, 128)]
    law = batch_law(sweeps, b_noise=100)
    assert law.exponent() == pytest.approx(0.7, abs=0.05)
    assert "your sweeps reach past B_noise=100" in law.note
    law = batch_law(sweeps, b_noise=1000)
    assert "above B_noise=1000 the LR stops growing" in law.note
    with pytest.raises(ConfigError, match="batch size"):
        batch_law([SweepResult(s.trials, "min", "loss") for s in sweeps])
    with pytest.raises(ConfigError, match="at least 2"):
        batch_law({64: 1e-3})
    with pytest.raises(ConfigError, match="one per result"):
        batch_law(sweeps, batches=[32, 64])

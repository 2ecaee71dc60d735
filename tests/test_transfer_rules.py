"""Scaling rules: arithmetic on known cases, the chain in ``transfer``, duck-typed optima,
the noise scale, and ``confirm`` on a task whose optimum is known."""

from __future__ import annotations

import math

import pytest
import torch

from lrsweep import ConfigError, SweepResult, Task, TrialResult
from lrsweep.transfer import (
    batch_rule,
    confirm,
    depth_rule,
    estimate_noise_scale,
    fit_law,
    optimizer_family,
    rule_error,
    transfer,
)
from lrsweep.transfer.noise import noise_scale_from_norms


# ------------------------------------------------------------------------- batch ----
def test_sqrt_rule_adam_64_to_1024_is_x4():
    assert batch_rule(64, 1024, "sqrt", optimizer="adam").factor == pytest.approx(4.0)


def test_linear_rule_sgd_64_to_1024_is_x16():
    assert batch_rule(64, 1024, "linear", optimizer="sgd").factor == pytest.approx(16.0)


def test_default_batch_rule_follows_the_optimizer():
    assert transfer(1e-3, {"batch": 64}, {"batch": 1024}, optimizer="adamw").lr == \
        pytest.approx(4e-3)
    assert transfer(0.1, {"batch": 64}, {"batch": 1024}, optimizer=torch.optim.SGD).lr == \
        pytest.approx(1.6)


def test_batch_decrease_is_the_inverse():
    up = batch_rule(32, 512, "sqrt").factor
    down = batch_rule(512, 32, "sqrt").factor
    assert up * down == pytest.approx(1.0)


def test_noise_scale_rule_matches_mccandlish_and_limits():
    # SGD: eps(B) = eps_max / (1 + Bn / B)
    f = batch_rule(100, 400, "noise_scale", optimizer="sgd", b_noise=100).factor
    assert f == pytest.approx((1 + 100 / 100) / (1 + 100 / 400))
    # far below B_noise it is the linear rule (SGD) or the sqrt rule (Adam)
    lin = batch_rule(1, 2, "noise_scale", optimizer="sgd", b_noise=1e7).factor
    sq = batch_rule(1, 4, "noise_scale", optimizer="adam", b_noise=1e7).factor
    assert lin == pytest.approx(2.0, rel=1e-5)
    assert sq == pytest.approx(2.0, rel=1e-5)
    # far above B_noise the optimum saturates
    assert batch_rule(1e6, 1e8, "noise_scale", optimizer="sgd", b_noise=10).factor == \
        pytest.approx(1.0, abs=1e-4)


def test_surge_rule_peaks_at_the_noise_scale():
    # from below B_noise up to it: the LR grows; from it upwards: the LR falls
    assert batch_rule(16, 256, "surge", b_noise=256).factor > 1
    assert batch_rule(256, 4096, "surge", b_noise=256).factor < 1


def test_noise_scale_rule_needs_b_noise():
    with pytest.raises(ConfigError, match="estimate_noise_scale"):
        batch_rule(64, 128, "noise_scale")


def test_malladi_adjusts_betas_and_eps():
    step = batch_rule(64, 128, "sqrt", adjust_betas=True, betas=(0.9, 0.999), eps=1e-8)
    b1, b2 = step.hyper["betas"]
    assert b1 == pytest.approx(0.8)        # 1 - 2 * 0.1
    assert b2 == pytest.approx(0.998)      # 1 - 2 * 0.001
    assert step.hyper["eps"] == pytest.approx(1e-8 / math.sqrt(2))
    # where 1 - k (1 - beta) leaves (0, 1): beta^k keeps the half-life instead
    big = batch_rule(64, 1024, "sqrt", adjust_betas=True)
    assert big.hyper["betas"][0] == pytest.approx(0.9**16)


# ------------------------------------------------------------------ width, depth ----
def test_mup_width_keeps_the_lr_and_sp_needs_a_law():
    t = transfer(3e-4, {"width": 256}, {"width": 4096}, parametrization="mup")
    assert t.lr == pytest.approx(3e-4)
    assert "mup_param_groups" in t.steps[0]
    with pytest.raises(ConfigError, match="fit_law"):
        transfer(3e-4, {"width": 256}, {"width": 4096}, parametrization="sp")


def test_depth_rules():
    """Depth-muP / CompleteP scale the hidden blocks' LR only: the global LR is unchanged
    and the blocks' factor is carried for depth_param_groups."""
    def block(rule, **kw):
        step = depth_rule(4, 16, rule, **kw)
        assert step.factor == 1.0
        return step.hyper["block_lr_mult"]

    assert block("depth-mup") == pytest.approx(0.5)       # (4)^-1/2
    assert block("completep") == pytest.approx(1.0)
    assert block("depth-mup", optimizer="sgd") == pytest.approx(1.0)
    assert block("completep", optimizer="sgd") == pytest.approx(4.0)
    assert "depth_param_groups" in depth_rule(4, 16).text


def test_horizon_needs_an_explicit_rule():
    with pytest.raises(ConfigError, match="fit_law"):
        transfer(1e-3, {"steps": 1000}, {"steps": 4000})
    t = transfer(1e-3, {"steps": 1000}, {"steps": 4000}, rules={"steps": "inverse-sqrt"})
    assert t.lr == pytest.approx(5e-4)
    t = transfer(1e-3, {"steps": 1000}, {"steps": 8000}, rules={"steps": -1 / 3})
    assert t.lr == pytest.approx(5e-4)


def test_chain_multiplies_and_explains_every_step():
    t = transfer((3e-4, 2e-4, 4.5e-4), {"batch": 64, "width": 256, "depth": 4},
                 {"batch": 1024, "width": 4096, "depth": 16})
    assert t.lr == pytest.approx(3e-4 * 4 * 1 * 1)  # width and depth: per-layer groups
    assert t.factor == pytest.approx(4.0)
    assert t.block_lr == pytest.approx(t.lr * 0.5)  # the hidden blocks at 16/4 depth
    assert len(t.steps) == 3 and [s.axis for s in t.rules] == ["batch", "width", "depth"]
    # the optimum's own interval, scaled, and the batch rule's own error in quadrature
    # (width and depth rules add none)
    half = 1.6448536 * rule_error("sqrt", "adam", 64, 1024) * math.log(2)
    down = math.hypot(math.log(3e-4 / 2e-4), half)
    up = math.hypot(math.log(4.5e-4 / 3e-4), half)
    assert t.low == pytest.approx(t.lr * math.exp(-down), rel=1e-6)
    assert t.high == pytest.approx(t.lr * math.exp(up), rel=1e-6)
    text = str(t)
    assert "Malladi" in text and "muP" in text and "Depth-muP" in text
    assert "hidden blocks: lr x 0.5 = 0.0006" in text


def test_axes_are_checked():
    with pytest.raises(ConfigError, match="same axes"):
        transfer(1e-3, {"batch": 64}, {"batch": 128, "width": 512})
    with pytest.raises(ConfigError, match="axes among"):
        transfer(1e-3, {"heads": 4}, {"heads": 8})
    with pytest.raises(ConfigError, match="positive"):
        transfer(1e-3, {"batch": 0}, {"batch": 128})
    with pytest.raises(ConfigError, match="optimizer"):
        optimizer_family("my-fancy-opt")
    unchanged = transfer(1e-3, {"batch": 64}, {"batch": 64})
    assert unchanged.lr == 1e-3 and "unchanged" in unchanged.steps[0]


def test_a_fitted_law_widens_the_interval():
    law = fit_law({64: (1e-2, 7e-3, 1.4e-2), 128: (5e-3, 3.5e-3, 7e-3),
                   256: (2.5e-3, 1.8e-3, 3.5e-3)}, x="width")
    t = transfer((1e-2, 7e-3, 1.4e-2), {"width": 64}, {"width": 1024}, rules={"width": law},
                 parametrization="sp")
    assert t.lr == pytest.approx(1e-2 * (1024 / 64) ** law.exponent())
    assert t.low < t.lr * 0.7 / 1.0 and t.high > t.lr * 1.4
    assert "fitted law" in t.steps[0]


def test_duck_typed_optima():
    class Opt:
        lr, low, high, level = 1e-3, 5e-4, 2e-3, 0.9

    assert transfer(Opt(), {"batch": 16}, {"batch": 64}).lr == pytest.approx(2e-3)

    trials = [TrialResult(lr, 0, "ok", m) for lr, m in
              [(1e-4, 0.5), (1e-3, 0.8), (1e-2, 0.6), (1e-1, 0.1)]]
    res = SweepResult(trials, "max", "accuracy")
    t = transfer(res, {"batch": 16}, {"batch": 64})
    assert 1e-4 < t.base_lr < 1e-2 and t.lr == pytest.approx(2 * t.base_lr)
    with pytest.raises(ConfigError, match="optimum"):
        transfer("fast", {"batch": 16}, {"batch": 64})


# -------------------------------------------------------------------- noise scale ----
def test_noise_scale_from_norms_known_answer():
    b, g2, tr = noise_scale_from_norms(1 + 500 / 8, 1 + 500 / 64, 8, 64)
    assert (b, g2, tr) == pytest.approx((500, 1, 500))


def _linear_task(noise: float, n: int = 4096, batch: int = 16) -> Task:
    g = torch.Generator().manual_seed(0)
    x = torch.randn(n, 8, generator=g)
    y = x @ torch.ones(8, 1) + noise * torch.randn(n, 1, generator=g)
    model = torch.nn.Linear(8, 1, bias=False)
    torch.nn.init.zeros_(model.weight)
    return Task(model=model, optimizer=torch.optim.SGD,
                train_data=(x, y), val_data=(x[:256], y[:256]), batch_size=batch,
                loss=torch.nn.MSELoss(), metric="loss", steps=10, device="cpu")


def test_estimate_noise_scale_on_least_squares():
    # at w = 0 the per-sample gradient is -2 x (x.w* + e): |G|^2 = 4|w*|^2 = 32 and
    # tr(Sigma) = 4 (8 (|w*|^2 + s^2) + |w*|^2) for Gaussian x, so B_noise is known
    for s in (0.5, 3.0):
        want = (8 * (8 + s * s) + 8) / 8
        got = estimate_noise_scale(_linear_task(s), small=8, big=64, steps=20)
        assert got.small == 8 and got.big == 64
        assert got.b_noise == pytest.approx(want, rel=0.35)
    low = estimate_noise_scale(_linear_task(0.5), small=8, big=64, steps=20).b_noise
    high = estimate_noise_scale(_linear_task(3.0), small=8, big=64, steps=20).b_noise
    assert high > 1.5 * low


def test_noise_scale_grows_as_training_converges():
    # near the least-squares solution |G|^2 -> 0 while the noise stays: B_noise grows
    task = _linear_task(1.0)
    at_init = estimate_noise_scale(task, small=8, big=64, steps=10).b_noise
    trained = estimate_noise_scale(task, small=8, big=64, steps=10, lr=0.1,
                                   train_steps=200).b_noise
    assert trained > 5 * at_init
    with pytest.raises(ConfigError, match="lr"):
        estimate_noise_scale(task, train_steps=10)


def test_estimate_noise_scale_arguments():
    task = _linear_task(1.0)
    with pytest.raises(ConfigError, match="multiple"):
        estimate_noise_scale(task, small=8, big=20)
    with pytest.raises(ConfigError, match="Task"):
        estimate_noise_scale(object())
    rng = torch.get_rng_state()
    estimate_noise_scale(task, steps=2)
    assert torch.equal(rng, torch.get_rng_state())


# ------------------------------------------------------------------------- confirm ----
def _objective(true_lr: float):
    def objective(trial):
        return (math.log(trial.lr / true_lr)) ** 2

    return objective


def test_confirm_accepts_a_good_prediction_and_rejects_a_bad_one():
    good = confirm(_objective(2e-3), (1.8e-3, 1e-3, 3.5e-3), points=5, direction="min")
    assert good.inside and good.within_2x and not good.at_edge
    assert len(good.lrs) == 5 and "CONFIRMED" in str(good)
    bad = confirm(_objective(2e-3), (2e-2, 1.5e-2, 3e-2), points=5, direction="min")
    assert not bad.inside and "NOT confirmed" in str(bad) or bad.at_edge
    assert bad.log2_error < -1.5


def test_confirm_needs_three_points():
    with pytest.raises(ConfigError, match="points"):
        confirm(_objective(1e-3), 1e-3, points=2, direction="min")

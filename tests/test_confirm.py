"""``confirm``: confirmed only when a resolved measurement lies inside a testable prediction;
and open-ended optima refused by ``transfer``, ``fit_law`` and ``confirm``."""

from __future__ import annotations

import math

import numpy as np
import pytest

from lrsweep import ConfigError
from lrsweep.analysis import estimate_optimum
from lrsweep.transfer import confirm, fit_law, transfer


def _objective(true_lr: float):
    def objective(trial):
        return (math.log(trial.lr / true_lr)) ** 2

    return objective


def test_a_tight_prediction_that_holds_is_confirmed():
    c = confirm(_objective(2e-3), (1.8e-3, 1.2e-3, 3e-3), points=5, direction="min")
    assert c.verdict == "confirmed" and c.confirmed and c.inside
    assert "CONFIRMED" in str(c) and "inside" in c.why
    assert c.measured_optimum.found and c.measured_optimum.low is not None


def test_a_wide_prediction_is_inconclusive_even_when_it_holds_the_optimum():
    # predicted 5.2e-3 in an interval x16 wide; the optimum (2e-3) is 2.6x off
    c = confirm(_objective(2e-3), (5.2e-3, 1.3e-3, 2.08e-2), points=5, direction="min")
    assert c.inside and c.verdict == "inconclusive" and not c.confirmed
    assert "x16" in c.why and "wide" in c.why
    assert c.log2_error == pytest.approx(math.log2(2e-3 / 5.2e-3), abs=0.1)
    assert "CONFIRMED" not in str(c)


def test_a_miss_outside_a_tight_prediction_is_not_confirmed():
    c = confirm(_objective(2e-3), (2e-2, 1.5e-2, 3e-2), points=5, direction="min")
    # the optimum (10x lower) falls off the grid's low edge, wholly under the prediction
    assert c.verdict == "not confirmed" and not c.confirmed and c.at_edge
    assert c.log2_error < -1.5 and "under the predicted interval" in c.why
    assert "NOT confirmed" in str(c)


def test_an_optimum_on_the_confirmation_grids_edge_is_inconclusive():
    # a loss that still falls at the grid's top: the measured interval is open above and
    # overlaps the prediction, so nothing can be concluded
    c = confirm(lambda t: -math.log(t.lr), (1e-3, 5e-4, 3e-3), points=5, direction="min")
    assert c.measured_optimum.open_high
    assert c.verdict == "inconclusive" and c.at_edge and "edge" in c.why


def _open_high():
    lrs = np.logspace(-5, -3, 7)
    acc = 0.9 - 0.05 * (np.log10(lrs) + 1) ** 2  # still rising at the top of the range
    opt = estimate_optimum(lrs, [0] * 7, acc, ["ok"] * 7, "max")
    assert opt.high is None and opt.at_high_edge
    return opt


def test_transfer_fit_law_and_confirm_refuse_an_open_interval():
    opt = _open_high()
    with pytest.raises(ConfigError, match="open at the high end"):
        transfer(opt, base={"batch": 64}, target={"batch": 256})
    closed = {16: (1e-2, 8e-3, 1.2e-2), 32: (7e-3, 5e-3, 9e-3)}
    with pytest.raises(ConfigError, match="widen the LR range"):
        fit_law({**closed, 64: opt}, x="width")
    with pytest.raises(ConfigError, match="open"):
        confirm(_objective(1e-3), opt, points=5, direction="max")

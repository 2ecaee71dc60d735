"""The shared quantiles: exact values, symmetry, and agreement with scipy where present."""

from __future__ import annotations

import math

import pytest

from lrsweep.stats import normal_quantile, t_cdf, t_over_z, t_quantile


def test_known_values():
    assert normal_quantile(0.975) == pytest.approx(1.959963985, abs=1e-8)
    assert t_quantile(0.95, 1) == pytest.approx(6.313751515, rel=1e-9)
    assert t_quantile(0.95, 2) == pytest.approx(2.919985580, rel=1e-9)
    assert t_quantile(0.95, 4) == pytest.approx(2.131846786, rel=1e-8)
    assert t_quantile(0.975, 10) == pytest.approx(2.228138852, rel=1e-8)
    assert t_quantile(0.95, math.inf) == pytest.approx(normal_quantile(0.95))
    assert t_over_z(0.95, 1e6) == pytest.approx(1.0, abs=1e-5)


@pytest.mark.parametrize("df", [1, 2, 3, 4.5, 9, 30, 200])
def test_quantile_inverts_the_distribution_function(df):
    for p in (0.01, 0.2, 0.5, 0.8, 0.95, 0.999):
        q = t_quantile(p, df)
        assert t_cdf(q, df) == pytest.approx(p, abs=1e-10)
        assert t_quantile(1 - p, df) == pytest.approx(-q, abs=1e-9)


def test_agrees_with_scipy():
    stats = pytest.importorskip("scipy.stats")
    for df in (1, 2, 3, 5, 7.5, 12, 60):
        for p in (0.6, 0.9, 0.95, 0.975, 0.995):
            assert t_quantile(p, df) == pytest.approx(stats.t.ppf(p, df), rel=1e-6)


def test_bad_probability_is_refused():
    with pytest.raises(ValueError, match="p="):
        t_quantile(1.0, 3)
    with pytest.raises(ValueError, match="p="):
        normal_quantile(0.0)

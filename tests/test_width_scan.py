"""The built-in muP demo (``python -m lrsweep.examples.width_scan``): across widths the
optimum of Adam drifts under SP and stays flat, within its interval, under muP.

The default suite runs the ``--quick`` setting (widths 64..256, 120 steps, 3 seeds); the
slow test runs the printed one (64..512)."""

from __future__ import annotations

import pytest
import torch

from lrsweep import ConfigError
from lrsweep.examples import width_scan as ws


def scans(setting: dict) -> tuple[ws.Scan, ws.Scan]:
    torch.set_num_threads(1)
    return tuple(ws.width_scan(p, setting["widths"], steps=setting["steps"],
                               seeds=setting["seeds"]) for p in ("sp", "mup"))


def check(sp: ws.Scan, mup: ws.Scan) -> None:
    w0 = min(sp.results)
    # at the base width muP is SP: the same trials, the same optimum
    assert [t.metric for t in sp.results[w0].trials] == \
        [t.metric for t in mup.results[w0].trials]
    # SP: the optimum falls with width, and the law's interval says so
    assert sp.exponent_interval[1] < 0 and not sp.flat and sp.drift < -1.0
    # muP: flat within the interval, and much less drift than SP
    assert mup.flat and abs(mup.drift) < 0.5 * abs(sp.drift)
    for w, o in mup.optima.items():  # each width's interval holds the base width's optimum
        assert o.low <= mup.optima[w0].lr <= o.high, (w, o)
    text = ws.report([sp, mup])
    assert "mup: lr* ~ width^" in text and "flat: the interval holds 0" in text
    assert "sp: lr* ~ width^" in text and "drifts: x" in text


def test_width_scan_quick_sp_drifts_mup_holds():
    check(*scans(ws.QUICK))


@pytest.mark.slow
def test_width_scan_as_printed():
    check(*scans(ws.FULL))


def test_width_scan_bad_input():
    with pytest.raises(ConfigError, match=r"^widths=\[64, 128\]: expected three or more"):
        ws.width_scan("mup", (64, 128))
    with pytest.raises(ConfigError, match=r"^parametrization='ntk'"):
        ws.width_scan("ntk", (64, 128, 256))

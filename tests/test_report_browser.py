"""The report in a real browser: headless Chromium renders it with the network cut off, the
rendered DOM holds the answer, and a screenshot is not blank.

Skipped when no Chromium is installed, unless ``LRSWEEP_REQUIRE_BROWSER=1`` (``.ci/run``
installs Debian's ``chromium`` and sets it, so CI runs this test rather than skipping it).
"""

from __future__ import annotations

import math
import os
import shutil
import subprocess
from pathlib import Path

import numpy as np
import pytest

import lrsweep
from lrsweep.plot.fmt import fmt_lr
from lrsweep.results.trial import Status, TrialResult

pytestmark = pytest.mark.browser
pytest.importorskip("matplotlib")

# without the background-networking flags Chromium reaches for the network at start-up; the
# resolver rule makes any host unreachable, so a page that needed one would render broken
FLAGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
         "--disable-background-networking", "--disable-component-update", "--disable-sync",
         "--disable-extensions", "--disable-default-apps", "--hide-scrollbars",
         "--host-resolver-rules=MAP * ~NOTFOUND"]


def chromium() -> str:
    for name in (os.environ.get("LRSWEEP_CHROMIUM"), "chromium", "chromium-browser",
                 "google-chrome"):
        if name and shutil.which(name):
            return shutil.which(name)  # type: ignore[return-value]
    if os.environ.get("LRSWEEP_REQUIRE_BROWSER") == "1":
        pytest.fail("LRSWEEP_REQUIRE_BROWSER=1 but no chromium on PATH (apt-get install "
                    "chromium)")
    pytest.skip("no chromium on PATH: apt-get install chromium (or set LRSWEEP_CHROMIUM)")


def run_browser(tmp_path: Path, *args: str) -> subprocess.CompletedProcess:
    profile = tmp_path / f"profile-{len(list(tmp_path.iterdir()))}"
    return subprocess.run([chromium(), *FLAGS, f"--user-data-dir={profile}", *args],
                          capture_output=True, text=True, timeout=120)


@pytest.fixture(scope="module")
def report(tmp_path_factory) -> tuple[Path, lrsweep.SweepResult]:
    trials = []
    for seed in (0, 1, 2):
        for lr in np.logspace(-5, -1, 9):
            acc = 0.92 - 0.04 * (math.log10(lr) + 2.5 + 0.1 * (seed - 1)) ** 2
            loss = tuple(2.3 * math.exp(-s * min(lr, 0.05) * 3) + 0.05 for s in range(60))
            trials.append(TrialResult(lr, seed, Status.OK, acc, loss, 60))
        trials.append(TrialResult(1.0, seed, Status.DIVERGED, None, (2.3, 40.0), 2))
    result = lrsweep.SweepResult(trials, "max", "accuracy", study="browser-check",
                                 protocol={"model": "MLP", "optimizer": "Adam", "steps": 60})
    path = tmp_path_factory.mktemp("report") / "report.html"
    result.report(path)
    return path, result


def test_rendered_dom_holds_the_answer(report, tmp_path):
    path, result = report
    out = run_browser(tmp_path, "--dump-dom", path.resolve().as_uri())
    assert out.returncode == 0, out.stderr[-2000:]
    dom = out.stdout
    opt = result.optimum()
    assert f"lr = {fmt_lr(opt.lr)}" in dom
    assert fmt_lr(opt.low) in dom and fmt_lr(opt.high) in dom
    assert "Over 3 seeds" in dom and "browser-check" in dom
    assert dom.count("<svg") >= 3  # metric, close-up, loss: parsed as SVG, not as text


def test_screenshot_is_not_blank(report, tmp_path):
    from matplotlib.image import imread

    path, _ = report
    shot = tmp_path / "shot.png"
    out = run_browser(tmp_path, f"--screenshot={shot}", "--window-size=1280,2400",
                      path.resolve().as_uri())
    assert out.returncode == 0 and shot.exists(), out.stderr[-2000:]
    img = imread(shot)[..., :3]
    assert img.shape[:2] == (2400, 1280)
    assert img.std() > 0.05  # not one flat colour
    grey = img.mean(axis=2)
    dark = grey < 0.5  # text, axes, the figures' lines
    assert dark.mean() > 0.01
    # ink in the top, middle and bottom thirds: the page laid out all the way down
    thirds = np.array_split(dark, 3, axis=0)
    assert all(t.mean() > 0.002 for t in thirds)
    # the figures drew colour (the fit's blue, the LR palette), not only black text
    r, b = img[..., 0], img[..., 2]
    assert ((b - r > 0.25) & (b > 0.5)).mean() > 0.0005

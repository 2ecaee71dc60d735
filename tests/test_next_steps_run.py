"""The report's next steps run as printed: every suggested command is taken from the report
of a run, a search and a width scan (muP), and executed in the folder the run was made in.
Each one must succeed and add to (or read) the same study, and the Python calls carry the
task, the store and the study."""

from __future__ import annotations

import html
import os
import re
import shlex
import subprocess
import sys
from pathlib import Path

import pytest

pytest.importorskip("matplotlib")

ROOT = Path(__file__).resolve().parents[1]
ENV = {**os.environ, "PYTHONPATH": str(ROOT / "src"), "OMP_NUM_THREADS": "1"}
SMALL = ["--steps", "4", "--quiet", "--engine", "sequential"]


def lrsweep(cwd: Path, *argv: str) -> subprocess.CompletedProcess:
    """``lrsweep ARGV`` as a user types it (the package from this checkout)."""
    proc = subprocess.run([sys.executable, "-m", "lrsweep", *argv], cwd=cwd, env=ENV,
                          capture_output=True, text=True, timeout=600)
    assert proc.returncode == 0, (argv, proc.stdout[-2000:], proc.stderr[-2000:])
    return proc


def steps(report: Path) -> list[tuple[str, str, str]]:
    """(text, CLI command, Python call) of each step under "What to do next"."""
    page = report.read_text()
    block = page[page.index('<ol class="next">'):]
    block = block[:block.index("</ol>")]
    out = []
    for li in re.findall(r"<li>(.*?)</li>", block, re.S):
        how = dict(re.findall(r"(CLI|Python) <code>(.*?)</code>", li))
        out.append((html.unescape(re.sub(r"<[^>]+>", "", li.split('<span class="how">')[0])),
                    html.unescape(how.get("CLI", "")), html.unescape(how.get("Python", ""))))
    return out


def study_of(folder: Path) -> str:
    (report,) = folder.glob("*/report.html")
    return report.parent.name


def run_each(cwd: Path, report: Path, study: str, must: list[str]) -> list[str]:
    """Execute each suggested command; return their stdout. ``must``: flags every one of
    them carries (the task's overrides)."""
    found = steps(report)
    assert found, "no next step"
    outs = []
    for _text, cli, api in found:
        if not cli:
            continue
        argv = shlex.split(cli)
        assert argv[0] == "lrsweep", cli
        for flag in must:
            assert flag in cli, (flag, cli)
        if argv[1] in ("run", "search"):
            assert f"--study {study}" in cli and "--task" in cli, cli
            assert f"study={study!r}" in api and "store=" in api, api
        outs.append(lrsweep(cwd, *argv[1:]).stdout)
    assert outs, f"no command among {found}"
    return outs


def test_a_runs_next_steps_run(tmp_path):
    lrsweep(tmp_path, "run", "--task", "teacher-mlp", "--num", "4", *SMALL, "--out", "out")
    study = study_of(tmp_path / "out")
    [(text, cli, api)] = [s for s in steps(tmp_path / "out" / "report.html") if s[1]]
    assert "--seeds 3" in cli and "seeds=3" in api  # one seed: run more, on the same grid
    [out] = run_each(tmp_path, tmp_path / "out" / "report.html", study, ["--steps 4"])
    assert f"study '{study}'" in out and "resumed: 4 of 12 trials reused" in out
    # the Python call runs as printed, into the same study: nothing left to train
    cwd = os.getcwd()
    os.chdir(tmp_path)
    try:
        imports, _, call = api.rpartition("; ")
        assert imports == "import lrsweep.examples"
        space: dict = {}
        exec(imports, space)  # noqa: S102 - the report's own call, as printed
        res = eval(call, space)  # noqa: S307
    finally:
        os.chdir(cwd)
    assert res.study == study and res.reused == 12


def test_a_searchs_next_steps_answer_its_stop(tmp_path):
    lrsweep(tmp_path, "search", "--task", "teacher-mlp", "--lr-min", "1e-4", "--lr-max", "1",
            "--points", "4", "--max-trials", "8", *SMALL, "--out", "out")
    study = study_of(tmp_path / "out")
    report = tmp_path / "out" / "report.html"
    page = report.read_text()
    assert "max_trials=8" in page
    cmds = [cli for _, cli, _ in steps(report) if cli]
    assert any("--max-trials 16" in c for c in cmds), cmds
    assert not any("--max-rounds" in c for c in cmds), cmds  # not what stopped it
    texts = " ".join(t for t, _, _ in steps(report))
    assert "1.41" in texts and "1.19" not in texts  # the search's tolerance, 2**0.5
    outs = run_each(tmp_path, report, study, ["--steps 4", "--points 4"])
    assert any("16 trials" in o or "max_trials=16" in o for o in outs), outs


def test_a_width_scans_next_steps_keep_the_parametrization(tmp_path):
    mup = ["--parametrization", "mup", "--base-width", "16"]
    for width in ("16", "32", "64"):
        lrsweep(tmp_path, "run", "--task", "teacher-mlp", "--width", width, *mup,
                "--num", "4", "--lr-min", "1e-4", "--lr-max", "1", *SMALL, "--out", "out")
    study = next(p.name for p in (tmp_path / "out").iterdir() if "width64" in p.name)
    report = tmp_path / "out" / study / "report.html"
    assert 'id="law"' in report.read_text()  # three scales: the law across them
    outs = run_each(tmp_path, report, study,
                    ["--width 64", "--parametrization mup", "--base-width 16"])
    assert all(f"study '{study}'" in o or "lr" in o for o in outs)

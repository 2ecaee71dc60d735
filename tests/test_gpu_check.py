"""``benchmarks/gpu_check.sh --dry-run``: the GPU check runs its steps on CPU at a tiny size,
so the script cannot rot while no GPU is at hand (issue 23)."""

from __future__ import annotations

import hashlib
import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
SCRIPT = ROOT / "benchmarks" / "gpu_check.sh"
REAL = ROOT / "benchmarks" / "RESULTS.md"

pytestmark = pytest.mark.skipif(shutil.which("bash") is None, reason="needs bash")


def digest(p: Path) -> str:
    return hashlib.sha256(p.read_bytes()).hexdigest() if p.exists() else ""


def test_dry_run_runs_every_step_and_writes_a_temporary_section():
    before = digest(REAL)
    env = {**os.environ, "PYTHONPATH": str(ROOT / "src"), "OMP_NUM_THREADS": "1"}
    out = subprocess.run(["bash", str(SCRIPT), "--dry-run", "--python", sys.executable],
                         cwd=ROOT, env=env, capture_output=True, text=True, timeout=300)
    assert out.returncode == 0, out.stderr[-4000:]
    assert digest(REAL) == before  # the real RESULTS.md only gets GPU figures
    written = re.search(r"section written to (\S+)", out.stdout + out.stderr)
    assert written, out.stdout + out.stderr
    section = Path(written.group(1)).read_text()
    assert Path(written.group(1)).resolve() != REAL.resolve()
    # dated, with the device, torch and CUDA lines and the commands
    assert re.search(r"## GPU check \(issue 23\), DRY RUN.*: \d{4}-\d\d-\d\d", section)
    assert "torch " in section and "CUDA n/a" in section and "Every step passed." in section
    for step in ("gpu tests", "speed", "search"):
        assert f"| {step} | `" in section, step
    # the tables: LR-only stacking against the seed loop, (lr, seed) stacking with 3 seeds
    assert "| mlp-256     | seed loop" in section
    assert "(lr, seed) stacking: 3 LRs x 3 seeds" in section
    assert "vectorized, (lr, seed)" in section and "vectorized, per seed" in section
    # a default search on two built-in tasks: default engine, sequential, one seed
    for task in ("teacher-mlp", "digits-mlp"):
        for run in ("default", "sequential", "one seed"):
            assert re.search(rf"^\| {task} \| {run} \| \w+ \| \d+ \|", section, re.M), \
                (task, run)
    assert "skipped" in section  # no CUDA: the gpu tests are collected and skip


def test_bad_arguments_exit_2_with_one_line():
    out = subprocess.run(["bash", str(SCRIPT), "--dryrun"], cwd=ROOT, capture_output=True,
                         text=True, timeout=60)
    assert out.returncode == 2
    assert out.stderr.strip().count("\n") == 0 and "--dry-run" in out.stderr

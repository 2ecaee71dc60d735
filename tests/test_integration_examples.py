"""The integration examples run as scripts (no download) and find an LR."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]


@pytest.mark.parametrize("script, needs", [("hf_trainer.py", ("transformers", "accelerate")),
                                           ("lightning_module.py", ("lightning",))])
def test_integration_example_runs(script, needs):
    for module in needs:
        pytest.importorskip(module)
    out = subprocess.run([sys.executable, str(ROOT / "examples" / script)], capture_output=True,
                         text=True, timeout=300)
    assert out.returncode == 0, out.stderr[-2000:]
    assert "best lr" in out.stdout

"""The integrations' frameworks are optional: imported only when used, with an install hint."""

from __future__ import annotations

import subprocess
import sys

import pytest

import lrsweep
from lrsweep.integrations import MissingDependency


def test_import_lrsweep_loads_no_framework():
    code = ("import sys, lrsweep, lrsweep.integrations.transformers, "
            "lrsweep.integrations.lightning, lrsweep.integrations.tensorboard\n"
            "print(sorted(m for m in ('transformers', 'lightning', 'tensorboard', 'accelerate')"
            " if m in sys.modules))")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                         timeout=120)
    assert out.returncode == 0, out.stderr
    assert out.stdout.strip() == "[]"


@pytest.mark.parametrize("module, extra, call", [
    ("transformers", "hf", lambda: __import__(
        "lrsweep.integrations.transformers", fromlist=["x"]).task_from_trainer(None, None, None)),
    ("lightning", "lightning", lambda: __import__(
        "lrsweep.integrations.lightning", fromlist=["x"]).task_from_lightning(None, max_steps=1)),
    ("tensorboard", "tensorboard", lambda: lrsweep.sweep(lambda t: 0.0, [1e-3], direction="min",
                                                          tensorboard="unused")),
])
def test_missing_framework_names_the_extra(monkeypatch, module, extra, call):
    monkeypatch.setitem(sys.modules, module, None)  # import fails as if not installed
    with pytest.raises(MissingDependency, match=rf'pip install "lrsweep\[{extra}\]"') as e:
        call()
    assert isinstance(e.value, lrsweep.LRSweepError)

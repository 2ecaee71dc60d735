"""Built-in tasks build with their overrides and train; the example scripts run."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

import lrsweep
from lrsweep.examples import TASKS, default_lr_range, get_task

ROOT = Path(__file__).resolve().parents[1]


@pytest.mark.parametrize("name", sorted(TASKS))
def test_builtin_task_overrides_and_trains(name):
    task = get_task(name, width=16, depth=1, batch_size=16, steps=3)
    model = task.initial_model()
    assert model.width == 16 and model.depth == 1 and task.steps == 3
    r = lrsweep.sweep(task, [1e-3], engine="sequential")
    assert r.trials[0].ok and len(r.trials[0].curve) == 3
    lo, hi = default_lr_range(name)
    assert 0 < lo < hi


def test_unknown_task_names_the_choices():
    with pytest.raises(lrsweep.ConfigError, match="digits-mlp"):
        get_task("mnist")


def test_digits_mlp_reaches_good_accuracy():
    task = get_task("digits-mlp")
    r = lrsweep.sweep(task, [3e-3, 1e-2], engine="sequential")
    assert r.best().metric > 0.9


@pytest.mark.parametrize("script", ["dict_batch_model.py", "custom_loop.py"])
def test_example_scripts_run(script):
    out = subprocess.run([sys.executable, str(ROOT / "examples" / script)], capture_output=True,
                         text=True, timeout=120)
    assert out.returncode == 0, out.stderr
    assert "best lr" in out.stdout

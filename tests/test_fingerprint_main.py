"""Code in the user's own script is fingerprinted (issue 22, item 1).

The test modules' own functions live in importable modules, so the rest of the fingerprint
tests never see ``__main__``. Here real scripts run in a subprocess, twice, into one store:
the second run changes one thing (a closure value, a default, a global, a loss attribute,
the model factory's code). With the study named, the store must refuse the second run; with
the default name it must land in a new study. An unchanged rerun must resume: every trial
reused, none trained. The same holds for code run by ``python -c`` and read from standard
input (an interactive session; a notebook's cells are ``__main__`` the same way).
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

from lrsweep.fingerprint import is_library

ROOT = Path(__file__).resolve().parents[1]

# {knob} is replaced by each case; {study} by None or a name. The script prints one JSON line.
TASK_SCRIPT = '''
import json, sys
import torch
from torch import nn
import lrsweep

torch.set_num_threads(1)
g = torch.Generator().manual_seed(0)
X = torch.randn(96, 6, generator=g)
Y = (X[:, 0] > 0).long()
OFFSET = {offset}


class ScaledLoss(nn.Module):
    def __init__(self, factor):
        super().__init__()
        self.factor = factor

    def forward(self, out, y):
        return self.factor * nn.functional.cross_entropy(out, y)


def scaled_loss(factor):
    def loss(out, y):
        return factor * nn.functional.cross_entropy(out, y)
    return loss


def make_model(width={width}):
    torch.manual_seed(0)
    return nn.Sequential(nn.Linear(6, width), nn.{act}(), nn.Linear(width, 2))


def shifted(out, y):
    return nn.functional.cross_entropy(out + OFFSET, y)


task = lrsweep.Task(make_model, torch.optim.SGD, train_data=(X, Y), val_data=(X, Y),
                    batch_size=32, loss={loss}, metric="loss", steps=3)
out = {{}}
for key, study in (("named", "mine"), ("default", None)):
    try:
        res = lrsweep.sweep(task, lrs=[0.01, 0.1], store=sys.argv[1], study=study,
                            progress=False)
    except Exception as e:  # the refusal is the expected outcome of some cases
        out[key] = {{"error": type(e).__name__, "message": str(e)}}
    else:
        out[key] = {{"study": res.study, "reused": res.reused, "n": len(res.trials)}}
print(json.dumps(out))
'''

TASK_BASE = {"offset": "0.0", "width": "8", "act": "ReLU", "loss": "scaled_loss(1.0)"}
TASK_CASES = {  # one thing changed from TASK_BASE; the expected key in the store's diff
    "closure value": ({"loss": "scaled_loss(10.0)"}, "closure.factor"),
    "default": ({"width": "16"}, "architecture"),  # the model built by the factory
    "global": ({"offset": "1.0", "loss": "shifted"}, "globals.OFFSET"),
    "loss attribute": ({"loss": "ScaledLoss(10.0)"}, "factor"),
    "model factory code": ({"act": "Tanh"}, "architecture"),
}

OBJECTIVE_SCRIPT = '''
import json, sys
import lrsweep

calls = lrsweep.fingerprint.exclude([])


def make_objective(width):
    def objective(trial):
        calls.append(trial.lr)
        return (trial.lr - 0.01 * width) ** 2
    return objective


res = lrsweep.sweep(make_objective({width}), lrs=[0.01, 0.1, 1.0], direction="min",
                    store=sys.argv[1], progress=False)
print(json.dumps({{"study": res.study, "reused": res.reused, "n": len(res.trials),
                  "calls": len(calls)}}))
'''


def _env() -> dict[str, str]:
    return {**os.environ, "PYTHONPATH": str(ROOT / "src"), "OMP_NUM_THREADS": "1"}


def _last_json(out: str, err: str, rc: int) -> dict:
    assert rc == 0, err
    return json.loads(out.strip().splitlines()[-1])


def run_file(tmp_path: Path, text: str, store: Path) -> dict:
    script = tmp_path / "train.py"
    script.write_text(textwrap.dedent(text))
    p = subprocess.run([sys.executable, str(script), str(store)], capture_output=True,
                       text=True, env=_env(), timeout=180)
    return _last_json(p.stdout, p.stderr, p.returncode)


def task_script(**knobs: str) -> str:
    return TASK_SCRIPT.format(**{**TASK_BASE, **knobs})


def test_a_change_in_the_users_script_refuses_the_study_or_makes_a_new_one(tmp_path):
    """Each run sweeps into the study named "mine", then into the default-named study."""
    store = tmp_path / "s.db"
    first = run_file(tmp_path, task_script(), store)
    assert first["named"] == {"study": "mine", "reused": 0, "n": 2}
    assert first["default"]["reused"] == 0
    again = run_file(tmp_path, task_script(), store)  # unchanged: both resumed
    assert again["named"] == {"study": "mine", "reused": 2, "n": 2}
    assert again["default"] == {**first["default"], "reused": 2}
    names = {first["default"]["study"]}
    for case, (change, key) in TASK_CASES.items():
        out = run_file(tmp_path, task_script(**change), store)
        assert out["named"]["error"] == "StoreError", (case, out)
        assert key in out["named"]["message"], case
        assert out["default"]["reused"] == 0, case  # nothing taken from another protocol
        names.add(out["default"]["study"])
    assert len(names) == 1 + len(TASK_CASES)  # each change: a study of its own


def test_an_objective_factory_in_the_script_is_fingerprinted(tmp_path):
    """The measured case: make_objective(64) then make_objective(512) reused 7 of 7."""
    store = tmp_path / "s.db"
    small = run_file(tmp_path, OBJECTIVE_SCRIPT.format(width=64), store)
    assert small["calls"] == 3 and small["reused"] == 0
    big = run_file(tmp_path, OBJECTIVE_SCRIPT.format(width=512), store)
    assert big["calls"] == 3 and big["reused"] == 0 and big["study"] != small["study"]
    again = run_file(tmp_path, OBJECTIVE_SCRIPT.format(width=512), store)
    assert again == {**big, "reused": 3, "calls": 0}


@pytest.mark.parametrize("how", ["-c", "stdin"])
def test_code_run_with_dash_c_or_from_stdin_is_fingerprinted(tmp_path, how):
    store = tmp_path / "s.db"

    def run(width: int) -> dict:
        code = OBJECTIVE_SCRIPT.format(width=width).replace("sys.argv[1]", repr(str(store)))
        args, stdin = ([sys.executable, "-c", code], None) if how == "-c" \
            else ([sys.executable, "-"], code)
        p = subprocess.run(args, input=stdin, capture_output=True, text=True, env=_env(),
                           timeout=180)
        return _last_json(p.stdout, p.stderr, p.returncode)

    a, b = run(64), run(512)
    assert b["reused"] == 0 and b["study"] != a["study"]
    assert run(512)["reused"] == 3


def test_only_installed_libraries_are_named():
    import torch

    def user_fn():
        return 1

    main_fn = type(user_fn)(user_fn.__code__, {"__name__": "__main__"}, "f")
    exec_fn = type(user_fn)(user_fn.__code__, {}, "g")  # exec() without __name__
    assert main_fn.__module__ == "__main__" and exec_fn.__module__ is None
    assert not is_library(main_fn) and not is_library(exec_fn) and not is_library(user_fn)
    assert is_library(torch.nn.Linear) and is_library(json.dumps) and is_library(os.path.join)
    assert is_library(pytest.fixture)  # an installed third-party package

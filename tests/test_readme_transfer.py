"""The README's transfer example ("From small sweep to big run") ends in a confirmation that
holds: the muP optimum found at width 64 is confirmed at the target width.

The slow test runs the block as printed (width 512: ~1-2 min of CPU); the fast one runs the
same code at a smaller target (width 256) and a shorter budget."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
import torch

ROOT = Path(__file__).resolve().parents[1]


def readme_block() -> str:
    text = (ROOT / "README.md").read_text(encoding="utf-8")
    section = text[text.index("## From small sweep to big run"):]
    m = re.search(r"```python\n(.*?)```", section, re.S)
    assert m, "the transfer section lost its Python example"
    return m.group(1)


def run(code: str, capsys) -> tuple[dict, str]:
    torch.set_num_threads(1)
    scope: dict = {"__name__": "readme"}
    exec(compile(code, "README.md", "exec"), scope)  # noqa: S102 - the README's own code
    return scope, capsys.readouterr().out


def smaller(code: str) -> str:
    out = code.replace("512", "256").replace("steps=200", "steps=120")
    out = out.replace("for w in (64, 128, 256)", "for w in (64, 96, 128)")
    assert out.count("256") >= 3 and "steps=120" in out, "the README example changed shape"
    return out


def check_outcome(scope: dict, out: str, target: int) -> None:
    check, moved = scope["check"], scope["moved"]
    assert check.confirmed, str(check)
    assert "CONFIRMED" in out and "muP" in str(moved)
    # muP carries the LR unchanged, and the measured optimum at the target lies inside the
    # interval the base width gave
    assert moved.lr == pytest.approx(scope["found"].lr)
    assert moved.low <= check.measured.lr <= moved.high
    assert scope["target"].protocol()["model_config"]  # the target was a real wider model
    assert f"width {64} -> {target}" in str(moved)


def test_readme_transfer_example_confirms_fast(capsys):
    scope, out = run(smaller(readme_block()), capsys)
    check_outcome(scope, out, 256)


@pytest.mark.slow
def test_readme_transfer_example_confirms_as_printed(capsys):
    scope, out = run(readme_block(), capsys)
    check_outcome(scope, out, 512)

"""``lrsweep transfer`` and ``lrsweep fit``."""

from __future__ import annotations

import math
import re

import pytest

from lrsweep import sweep
from lrsweep.cli import main


def _lr_out(text: str) -> float:
    found = re.findall(r"^=> lr (\S+)", text, re.M)
    assert len(found) == 1, text  # the result is printed once
    return float(found[0])


def test_transfer_chain(capsys):
    rc = main(["transfer", "--lr", "3e-4", "--optimizer", "adam", "--batch", "64:1024",
               "--width", "256:4096", "--depth", "4:16", "--parametrization", "mup"])
    out = capsys.readouterr().out
    assert rc == 0
    assert _lr_out(out) == pytest.approx(3e-4 * 4)  # width, depth: per-layer multipliers
    block = float(re.search(r"^   hidden blocks: lr x 0.5 = (\S+) ", out, re.M).group(1))
    assert block == pytest.approx(3e-4 * 4 * 0.5)
    assert out.count("   hidden blocks: lr x") == 1 and "lr = " not in out
    assert "square-root" in out and "muP" in out and "Depth-muP" in out
    assert "depth_param_groups" in out
    assert main(["transfer", "--lr", "1e-3", "--batch", "64:256"]) == 0
    assert "hidden blocks" not in capsys.readouterr().out  # only for a depth change


def test_transfer_sgd_linear_and_options(capsys):
    assert main(["transfer", "--lr", "0.1", "--optimizer", "sgd", "--batch", "64:1024"]) == 0
    assert _lr_out(capsys.readouterr().out) == pytest.approx(1.6)
    assert main(["transfer", "--lr", "1e-3", "--batch", "32:128", "--adjust-betas",
                 "--low", "5e-4", "--high", "2e-3"]) == 0
    out = capsys.readouterr().out
    assert "betas" in out
    low, high = (float(v) for v in re.search(r"=> lr \S+ +\[(\S+), (\S+)\]", out).groups())
    assert low < 1e-3 and high > 4e-3  # the base interval, widened by the rule's own error
    assert main(["transfer", "--lr", "1e-3", "--width", "64:512", "--parametrization", "sp",
                 "--width-exponent", "-1"]) == 0
    assert _lr_out(capsys.readouterr().out) == pytest.approx(1.25e-4)
    assert main(["transfer", "--lr", "1e-3", "--batch", "16:256", "--batch-rule",
                 "noise_scale", "--b-noise", "1e9"]) == 0
    assert _lr_out(capsys.readouterr().out) == pytest.approx(4e-3, rel=1e-4)


@pytest.mark.parametrize("argv, message", [
    (["transfer", "--lr", "1e-3", "--batch", "64x128"], "BASE:TARGET"),
    (["transfer", "--lr", "1e-3"], "at least one"),
    (["transfer", "--batch", "64:128"], "--lr"),
    (["transfer", "--lr", "1e-3", "--width", "64:512", "--parametrization", "sp"],
     "--width-exponent"),
    (["transfer", "--lr", "1e-3", "--steps", "1000:4000"], "fit_law"),
])
def test_transfer_errors_exit_2(argv, message, capsys):
    assert main(argv) == 2
    assert message in capsys.readouterr().err


def _objective(best: float):
    def objective(trial):
        return math.log(trial.lr / best) ** 2 + 0.01 * trial.seed

    return objective


@pytest.fixture
def store(tmp_path):
    path = tmp_path / "runs.db"
    grid = [1e-4 * 2**i for i in range(10)]
    for width, best in ((64, 1.6e-2), (128, 8e-3), (256, 4e-3)):
        sweep(_objective(best), grid, seeds=(0, 1), direction="min", store=path,
              study=f"mlp-width{width}", engine="sequential")
    return path


def test_fit_reads_scales_from_study_names(store, tmp_path, capsys):
    plot = tmp_path / "law.png"
    argv = ["fit", str(store), "--studies", "mlp-width64,mlp-width128,mlp-width256",
            "--x", "width", "--target", "1024"]
    pytest.importorskip("matplotlib")
    assert main(argv + ["--plot", str(plot)]) == 0
    out = capsys.readouterr().out
    b = float(re.search(r"exponent of width: (\S+)", out).group(1))
    assert b == pytest.approx(-1.0, abs=0.15)
    pred = float(re.search(r"prediction: lr (\S+)", out).group(1))
    assert pred == pytest.approx(1e-3, rel=0.4)
    assert plot.stat().st_size > 1000


def test_fit_with_values_and_transfer_from_store(store, capsys):
    assert main(["fit", str(store), "--studies", "mlp-width64,mlp-width128,mlp-width256",
                 "--values", "1,2,4"]) == 0
    assert "exponent of width" in capsys.readouterr().out
    assert main(["fit", str(store), "--studies", "mlp-width64,mlp-width128",
                 "--values", "1,2,4"]) == 2
    assert "one per study" in capsys.readouterr().err
    assert main(["fit", str(store) + ".missing", "--studies", "a,b,c"]) == 2
    assert main(["transfer", "--store", str(store), "--study", "mlp-width64",
                 "--batch", "16:64"]) == 0
    assert _lr_out(capsys.readouterr().out) == pytest.approx(2 * 1.6e-2, rel=0.3)


def test_scale_flags_give_examples_of_their_own_scale(capsys):
    """Issue 21: ``--depth``'s example is a depth (12:48), not a batch change."""
    with pytest.raises(SystemExit):
        main(["transfer", "--help"])
    text = " ".join(capsys.readouterr().out.split())
    assert "number of layers / blocks, e.g. 12:48" in text
    assert "batch size, e.g. 64:1024" in text
    assert main(["transfer", "--lr", "1e-3", "--depth", "12"]) == 2
    assert "Write e.g. --depth 12:48" in capsys.readouterr().err


@pytest.mark.parametrize("doc", ["README.md", "docs/zh-CN/README.md"])
def test_the_documented_transfer_and_fit_lines_parse(doc):
    """The ``lrsweep transfer`` / ``lrsweep fit`` lines of the README and its Chinese
    translation are valid command lines of the current CLI."""
    import shlex
    from pathlib import Path

    from lrsweep.cli import build_parser

    text = (Path(__file__).parent.parent / doc).read_text(encoding="utf-8")
    lines = [ln.split("#")[0] for ln in text.splitlines()
             if ln.startswith(("lrsweep transfer ", "lrsweep fit "))]
    assert lines
    parser = build_parser()
    for line in lines:
        args = parser.parse_args(shlex.split(line)[1:])
        assert args.func, line

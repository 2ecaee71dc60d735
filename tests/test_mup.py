"""muP param groups on small models: classification, multipliers for Adam and SGD, the
readout and attention scaling, the Task integration, and the coordinate check (the update of
the output is width-independent under muP, and grows with width under SP)."""

from __future__ import annotations

import pytest
import torch
from coordcheck import output_change
from torch import nn

from lrsweep import ConfigError, sweep
from lrsweep.examples import get_task
from lrsweep.transfer import (
    MuReadout,
    attention_scale,
    mup_optimizer,
    mup_param_groups,
    mup_readout_,
)


class Net(nn.Module):
    def __init__(self, width: int, d_in: int = 12, d_out: int = 5, base_width: int | None = None):
        super().__init__()
        self.inp = nn.Linear(d_in, width)
        self.hid = nn.Linear(width, width)
        self.norm = nn.LayerNorm(width)
        self.head = nn.Linear(width, d_out)
        self.mult = 1.0 if base_width is None else base_width / width

    def forward(self, x):
        return self.head(self.norm(torch.relu(self.hid(torch.relu(self.inp(x)))))) * self.mult


def _by_name(groups):
    return {e.name: e for e in groups.entries}


def test_adam_multipliers():
    g = mup_param_groups(Net(256), Net(64), lr=1e-3, weight_decay=0.1)
    e = _by_name(g)
    assert e["hid.weight"].kind == "hidden" and e["hid.weight"].lr_mult == pytest.approx(0.25)
    assert e["hid.weight"].wd_mult == pytest.approx(4.0)
    assert e["inp.weight"].kind == "vector" and e["inp.weight"].lr_mult == 1.0
    assert e["head.weight"].kind == "readout" and e["head.weight"].lr_mult == 1.0
    assert e["head.bias"].kind == "fixed"
    assert e["norm.weight"].lr_mult == 1.0
    assert g.readouts == ["head"] and g.readout_mult == pytest.approx(0.25)
    # every parameter in exactly one group, with lr = lr x mult
    ids = [id(p) for grp in g for p in grp["params"]]
    assert len(ids) == len(set(ids)) == 8
    for grp in g:
        assert grp["lr"] == pytest.approx(1e-3 * grp["lr_mult"])
    opt = torch.optim.AdamW(g, lr=1e-3)
    assert sorted({round(x["lr"], 9) for x in opt.param_groups}) == [0.00025, 0.001]
    assert any("input of head" in s for s in g.instructions)


def test_sgd_multipliers():
    e = _by_name(mup_param_groups(Net(256), Net(64), lr=0.1, optimizer=torch.optim.SGD))
    assert e["inp.weight"].lr_mult == pytest.approx(4.0)    # fan_out x4
    assert e["inp.bias"].lr_mult == pytest.approx(4.0)
    assert e["hid.weight"].lr_mult == pytest.approx(1.0)    # fan_out / fan_in
    assert e["head.weight"].lr_mult == pytest.approx(4.0)   # fan_in x4 (with readout / 4)
    assert e["head.bias"].lr_mult == 1.0


def test_at_the_base_width_everything_is_x1():
    g = mup_param_groups(Net(64), Net(64), lr=1e-3)
    assert len(g) == 1 and g.groups[0]["lr"] == 1e-3
    assert {e.kind for e in g.entries} == {"fixed"}


def test_base_width_heuristic_matches_base_model():
    a = _by_name(mup_param_groups(Net(256), Net(64), lr=1e-3))
    b = _by_name(mup_param_groups(Net(256), base_width=64, width=256, lr=1e-3))
    assert {k: v.lr_mult for k, v in a.items()} == {k: v.lr_mult for k, v in b.items()}
    shapes = {n: tuple(p.shape) for n, p in Net(64).named_parameters()}
    c = _by_name(mup_param_groups(Net(256), shapes, lr=1e-3))
    assert {k: v.kind for k, v in a.items()} == {k: v.kind for k, v in c.items()}


def test_embedding_is_a_vector_not_a_readout():
    def lm(w):
        return nn.Sequential(nn.Embedding(100, w), nn.Linear(w, w), nn.Linear(w, 100))

    e = _by_name(mup_param_groups(lm(128), lm(32), lr=1e-3))
    assert e["0.weight"].kind == "vector"
    assert e["2.weight"].kind == "readout"
    assert e["1.weight"].lr_mult == pytest.approx(0.25)


def test_errors():
    with pytest.raises(ConfigError, match="base_model"):
        mup_param_groups(Net(64), lr=1e-3)
    with pytest.raises(ConfigError, match="same parameters"):
        mup_param_groups(Net(64), nn.Linear(3, 3), lr=1e-3)
    with pytest.raises(ConfigError, match="lr"):
        mup_param_groups(Net(64), Net(32), lr=0)


def test_readout_and_attention_helpers():
    torch.manual_seed(0)
    model = nn.Sequential(nn.Linear(4, 8), nn.ReLU(), nn.Linear(8, 3))
    x = torch.randn(5, 4)
    before = model(x)
    new = mup_readout_(model, "2", output_mult=0.25)
    assert isinstance(new, MuReadout) and model[2] is new
    # the readout's input is scaled, its bias is not (as microsoft/mup's MuReadout)
    torch.testing.assert_close(model(x), (before - new.bias) * 0.25 + new.bias)
    assert not torch.allclose(model(x), before * 0.25)
    zero = MuReadout(8, 3, output_mult=0.5, zero_init=True)
    assert torch.count_nonzero(zero.weight) == 0
    with pytest.raises(ConfigError, match="nn.Linear"):
        mup_readout_(model, "1", 0.5)
    assert attention_scale(16, 16) == pytest.approx(0.25)        # 1/sqrt(16) at the base
    assert attention_scale(64, 16) == pytest.approx(4 / 64)      # 1/d scaling beyond it


def _output_update(width: int, mup: bool, lr: float = 3e-3) -> float:
    """Mean |change of the logits| after 3 Adam steps on a fixed batch."""
    torch.manual_seed(0)
    model = Net(width, d_in=16, d_out=10, base_width=64 if mup else None)
    base = Net(64, d_in=16, d_out=10)
    params = mup_param_groups(model, base, lr=lr) if mup else model.parameters()
    return output_change(model, params, lr)


def test_coordinate_check_mup_holds_sp_grows():
    # base width 64; compare 256 with 2048 (8x wider), away from the smallest widths
    sp = _output_update(2048, False) / _output_update(256, False)
    mu = _output_update(2048, True) / _output_update(256, True)
    assert sp > 3          # SP: the same LR moves an 8x wider model's output far more
    assert 0.5 < mu < 1.5  # muP: about as much (it converges as width grows)


def test_mup_task_equals_sp_at_base_width_and_runs_wider():
    sp = get_task("teacher-mlp", width=32, steps=15)
    mu = get_task("teacher-mlp", width=32, steps=15, parametrization="mup", base_width=32)
    a = sweep(sp, [1e-3, 1e-2], engine="sequential")
    b = sweep(mu, [1e-3, 1e-2], engine="sequential")
    assert [t.curve for t in a.trials] == [t.curve for t in b.trials]
    wide = get_task("teacher-mlp", width=128, steps=15, parametrization="mup", base_width=32)
    assert sorted(g["lr_scale"] for g in wide.protocol()["param_groups"]) == [0.25, 1.0]
    assert wide.initial_model().readout_mult == pytest.approx(0.25)
    r = sweep(wide, [1e-3], engine="sequential")
    assert r.trials[0].ok
    with pytest.raises(ConfigError, match="parametrization"):
        get_task("teacher-mlp", parametrization="ntk")


def test_mup_optimizer_checks_the_parameters():
    make = mup_optimizer(torch.optim.Adam, Net(128), base_model=Net(32))
    opt = make(list(Net(128).parameters()), lr=1e-3)
    assert sorted({g["lr"] for g in opt.param_groups}) == [0.00025, 0.001]
    with pytest.raises(ConfigError, match="params"):
        make(list(nn.Linear(3, 3).parameters()), lr=1e-3)


def test_tiny_gpt_mup_is_sp_at_the_base_width():
    from lrsweep.examples.models import TinyGPT

    idx = torch.randint(0, 256, (2, 16), generator=torch.Generator().manual_seed(0))
    torch.manual_seed(0)
    sp = TinyGPT(256, 32, 1, 4, 16)
    torch.manual_seed(0)
    mu = TinyGPT(256, 32, 1, 4, 16, base_width=32)
    assert torch.equal(sp(idx), mu(idx))
    wide = TinyGPT(256, 128, 1, 4, 16, base_width=32)
    assert wide.readout_mult == pytest.approx(0.25)
    assert wide.blocks[0].attn_scale == pytest.approx(8**0.5 / 32)   # sqrt(d_base) / d_head
    e = {x.name: x for x in mup_param_groups(wide, TinyGPT(256, 32, 1, 4, 16), lr=1e-3).entries}
    assert e["tok.weight"].kind == "vector" and e["readout.weight"].kind == "readout"
    assert e["blocks.0.fc_out.weight"].lr_mult == pytest.approx(0.25)  # fan_in 4w: x 1/4


# ------------------------------------------------ dimensions the shortcut cannot tell ----
def _gpt(width, vocab=50304, context=16):
    from lrsweep.examples.models import TinyGPT

    with torch.device("meta"):  # shapes only: a 50304-token vocabulary costs nothing
        return TinyGPT(vocab, width, 2, 4, context)


def test_nanogpt_vocabulary_is_not_a_hidden_dimension():
    """50304 = 393 x 128: the old shortcut took nanoGPT's vocabulary for a width multiple
    and gave the embedding and the readout the hidden-matrix LR (x 0.25). From a base model
    the vocabulary is fixed, the embedding a vector and the readout a readout."""
    e = _by_name(mup_param_groups(_gpt(128), _gpt(32), lr=1e-3))
    assert (e["tok.weight"].kind, e["tok.weight"].lr_mult) == ("vector", 1.0)
    assert (e["readout.weight"].kind, e["readout.weight"].lr_mult) == ("readout", 1.0)
    assert e["readout.bias"].kind == "fixed"
    assert e["blocks.0.qkv.weight"].lr_mult == pytest.approx(0.25)
    assert e["blocks.0.fc_out.weight"].lr_mult == pytest.approx(0.25)


def test_shortcut_refuses_what_the_shapes_cannot_tell():
    # a fused qkv (3 x width) and an MLP (4 x width) might grow or not: ask for base_model=
    with pytest.raises(ConfigError, match="base_model=") as e:
        mup_param_groups(_gpt(128), base_width=32, width=128, lr=1e-3)
    assert "blocks.0.qkv.weight dim 0 (384 = 3 x width 128)" in str(e.value)
    assert "tok.weight" not in str(e.value)  # the vocabulary is not what is ambiguous

    def lm(w, vocab=50304, classes=None):  # embedding, hidden layers of the width, readout
        with torch.device("meta"):
            return nn.Sequential(nn.Embedding(vocab, w), nn.Linear(w, w), nn.ReLU(),
                                 nn.Linear(w, classes or vocab))

    # a vocabulary of 393 x width: an embedding's rows, and the readout onto them, are fixed
    by_shortcut = _by_name(mup_param_groups(lm(128), base_width=32, width=128, lr=1e-3))
    by_model = _by_name(mup_param_groups(lm(128), lm(32), lr=1e-3))
    assert {k: (v.kind, v.lr_mult) for k, v in by_shortcut.items()} == \
        {k: (v.kind, v.lr_mult) for k, v in by_model.items()}
    assert by_shortcut["0.weight"].kind == "vector" and by_shortcut["3.weight"].kind == "readout"
    # 512 classes at width 128 (4 x width), or a vocabulary that small: cannot be told apart
    for model, what in ((lm(128, vocab=1000, classes=512), "3.weight dim 0 (512 = 4 x width"),
                        (lm(128, vocab=512), "also the size of an embedding table")):
        with pytest.raises(ConfigError, match="base_model=") as e:
            mup_param_groups(model, base_width=32, width=128, lr=1e-3)
        assert what in str(e.value)
    # at the base width nothing grows: nothing to tell
    assert {x.kind for x in mup_param_groups(_gpt(32), base_width=32, width=32,
                                             lr=1e-3).entries} == {"fixed"}


def test_mup_optimizer_shortcut_refuses_too():
    with pytest.raises(ConfigError, match="base_model="):
        mup_optimizer(torch.optim.AdamW, lambda: _gpt(128), base_width=32, width=128)

"""Depth-muP and CompleteP param groups (issue 12 item 7): the hidden blocks' LR is scaled,
embeddings, readout and the final norm are not; the multipliers combine with muP's width
ones; and the coordinate check: with the branch multiplier and these groups, the change of
the output after a few Adam steps barely moves with depth, while it grows under SP."""

from __future__ import annotations

import pytest
import torch
from coordcheck import output_change
from torch import nn

from lrsweep import ConfigError, Task, sweep
from lrsweep.transfer import (
    branch_multiplier,
    depth_optimizer,
    depth_param_groups,
    mup_param_groups,
    transfer,
)


class Res(nn.Module):
    """Pre-norm residual MLP: ``depth`` blocks, each branch multiplied by ``mult``."""

    def __init__(self, depth, mult=1.0, width=64, d_in=16, d_out=10):
        super().__init__()
        self.inp = nn.Linear(d_in, width)
        self.blocks = nn.ModuleList(
            nn.Sequential(nn.LayerNorm(width), nn.Linear(width, width), nn.ReLU(),
                          nn.Linear(width, width)) for _ in range(depth))
        self.ln_f = nn.LayerNorm(width)
        self.head = nn.Linear(width, d_out)
        self.mult = mult

    def forward(self, x):
        x = self.inp(x)
        for b in self.blocks:
            x = x + self.mult * b(x)
        return self.head(self.ln_f(x))


def by_name(groups):
    return {e.name: e for e in groups.entries}


@pytest.mark.parametrize("rule,optimizer,block", [
    ("depth-mup", "adam", 0.5), ("completep", "adam", 1.0),
    ("depth-mup", "sgd", 1.0), ("completep", "sgd", 4.0),
])
def test_blocks_scaled_embeddings_readout_final_norm_not(rule, optimizer, block):
    g = depth_param_groups(Res(16), base_depth=4, rule=rule, optimizer=optimizer, lr=1e-3,
                           weight_decay=0.1)
    e = by_name(g)
    assert g.blocks == "blocks" and g.depth == 16 and g.block_lr_mult == pytest.approx(block)
    for name, entry in e.items():
        inside = name.startswith("blocks.")
        assert entry.kind == ("block" if inside else "outside"), name
        assert entry.lr_mult == pytest.approx(block if inside else 1.0), name
    # a block's norm and biases follow the block; the final norm does not
    assert e["blocks.3.0.weight"].kind == "block" and e["blocks.3.1.bias"].kind == "block"
    assert e["ln_f.weight"].lr_mult == 1.0 and e["head.weight"].lr_mult == 1.0
    ids = [id(p) for grp in g for p in grp["params"]]
    assert len(ids) == len(set(ids)) == len(e)
    for grp in g:
        assert grp["lr"] == pytest.approx(1e-3 * grp["lr_mult"])
        assert grp["weight_decay"] == pytest.approx(0.1)
    assert g.branch_mult == pytest.approx(branch_multiplier(16, 4, rule))
    assert any("residual branch" in s for s in g.instructions)
    torch.optim.AdamW(g, lr=1e-3)  # any torch optimizer takes the groups


def test_transformer_blocks_are_found_and_eps_follows_completep():
    from lrsweep.examples.models import TinyGPT

    gpt = TinyGPT(256, 32, 8, 4, 16)
    g = depth_param_groups(gpt, base_depth=2, rule="completep", lr=1e-3, eps=1e-8)
    e = by_name(g)
    assert g.blocks == "blocks"
    assert {e[n].kind for n in ("tok.weight", "pos.weight", "ln_f.weight",
                                "readout.weight")} == {"outside"}
    assert e["blocks.7.ln1.weight"].kind == "block"
    assert all(grp["eps"] == pytest.approx(1e-8 / 4) for grp in g)  # (8/2)^-1
    mup = depth_param_groups(gpt, base_depth=2, lr=1e-3, eps=1e-8)
    assert all(grp["eps"] == pytest.approx(1e-8 / 2) for grp in mup)  # (8/2)^-1/2


def test_width_and_depth_multipliers_combine():
    wide, base = Res(8, width=256), Res(8, width=64)
    width = mup_param_groups(wide, base, lr=1e-3, weight_decay=0.1)
    both = by_name(depth_param_groups(wide, base_depth=2, lr=1e-3, mup=width))
    w = by_name(width)
    assert both["blocks.0.1.weight"].lr_mult == pytest.approx(0.25 * 0.5)  # hidden x block
    assert both["blocks.0.1.weight"].wd_mult == pytest.approx(4.0)  # muP's weight decay
    assert both["blocks.0.0.weight"].lr_mult == pytest.approx(0.5)  # a norm in a block
    assert both["inp.weight"].lr_mult == w["inp.weight"].lr_mult == 1.0
    assert both["head.weight"].lr_mult == pytest.approx(w["head.weight"].lr_mult)


def test_blocks_must_be_found_or_named():
    flat = nn.Sequential(nn.Linear(4, 8), nn.ReLU(), nn.Linear(8, 2))
    with pytest.raises(ConfigError, match="blocks="):
        depth_param_groups(flat, base_depth=2, lr=1e-3)

    class Two(nn.Module):
        def __init__(self):
            super().__init__()
            self.enc = nn.ModuleList(nn.Sequential(nn.Linear(4, 4)) for _ in range(3))
            self.dec = nn.ModuleList(nn.Sequential(nn.Linear(4, 4)) for _ in range(3))

    with pytest.raises(ConfigError, match="candidates"):
        depth_param_groups(Two(), base_depth=1, lr=1e-3)
    g = depth_param_groups(Two(), base_depth=1, lr=1e-3, blocks="dec")
    assert {e.name.split(".")[0] for e in g.entries if e.kind == "block"} == {"dec"}
    with pytest.raises(ConfigError, match="depth"):
        depth_param_groups(Res(4), base_depth=2, depth=6, lr=1e-3, blocks="blocks")
    with pytest.raises(ConfigError, match="rule"):
        depth_param_groups(Res(4), base_depth=2, lr=1e-3, rule="ntk")


def _output_update(depth, depth_mup, lr=1e-3, base=4, seed=0):
    """Mean |change of the logits| after 3 Adam steps on a fixed batch."""
    torch.manual_seed(seed)
    model = Res(depth, branch_multiplier(depth, base) if depth_mup else 1.0)
    params = (depth_param_groups(model, base_depth=base, lr=lr) if depth_mup
              else model.parameters())
    return output_change(model, params, lr)


def test_coordinate_check_depth_mup_holds_sp_grows():
    # base depth 4, compared with 16x deeper; seeds 0-3 measured: SP 2.1-3.2x, Depth-muP
    # 1.0-1.4x (python benchmarks would say so too; this is the property, not a timing)
    sp = _output_update(64, False) / _output_update(4, False)
    mu = _output_update(64, True) / _output_update(4, True)
    assert sp > 2.5
    assert 0.7 < mu < 1.6


def test_depth_optimizer_in_a_task_and_transfer_points_to_it():
    x = torch.randn(128, 16, generator=torch.Generator().manual_seed(0))
    y = (x[:, 0] > 0).long()
    opt = depth_optimizer(torch.optim.AdamW, lambda: Res(8, branch_multiplier(8, 2)),
                          base_depth=2, weight_decay=0.01)
    task = Task(lambda: Res(8, branch_multiplier(8, 2)), opt, (x, y), (x[:32], y[:32]),
                batch_size=32, steps=4, device="cpu")
    assert sorted({g["lr_scale"] for g in task.protocol()["param_groups"]}) == [0.5, 1.0]
    assert all(t.ok for t in sweep(task, [1e-3, 1e-2], engine="sequential").trials)
    t = transfer(1e-3, {"depth": 2}, {"depth": 8})
    assert t.lr == pytest.approx(1e-3) and t.block_lr == pytest.approx(5e-4)
    assert "depth_param_groups" in str(t)


def test_depth_optimizer_is_a_depth_optimizer_not_a_mup_one():
    """Issue 22: ``depth_optimizer`` returns a ``DepthOptimizer``; it and ``MuOptimizer``
    share ``ScaledOptimizer``, and a mismatch names the function that built it."""
    from lrsweep.transfer import DepthOptimizer, MuOptimizer, ScaledOptimizer

    opt = depth_optimizer(torch.optim.AdamW, Res(8, branch_multiplier(8, 2)), base_depth=2)
    assert isinstance(opt, DepthOptimizer) and isinstance(opt, ScaledOptimizer)
    assert not isinstance(opt, MuOptimizer)
    assert repr(opt).startswith("DepthOptimizer(AdamW, lr_mults=[0.5, 1.0]")
    with pytest.raises(ConfigError, match="depth_optimizer"):
        opt(Res(4, 1.0).parameters(), 1e-3)

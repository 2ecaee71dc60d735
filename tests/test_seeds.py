"""``seeds=`` means one thing everywhere: an integer is a count (seeds 0..n-1), a sequence
names the seeds; in ``sweep``, ``search`` and the CLI's ``--seeds`` alike."""

from __future__ import annotations

import pytest

import lrsweep
from lrsweep.cli.common import parse_seeds


def objective(trial):
    return (trial.lr - 0.01) ** 2 + 1e-4 * trial.seed


def test_an_integer_is_a_count_in_sweep():
    res = lrsweep.sweep(objective, [1e-3, 1e-2], seeds=3, direction="min")
    assert res.seeds == [0, 1, 2] and len(res.trials) == 6
    assert lrsweep.sweep(objective, [1e-3], seeds=1, direction="min").seeds == [0]
    assert lrsweep.sweep(objective, [1e-3], seeds=(3,), direction="min").seeds == [3]
    assert lrsweep.sweep(objective, [1e-3], seeds=[0, 5], direction="min").seeds == [0, 5]


def test_sweep_search_and_cli_agree():
    found = lrsweep.search(objective, (1e-4, 1.0), seeds=3, max_seeds=3, direction="min",
                           max_rounds=3, engine="sequential")
    swept = lrsweep.sweep(objective, [1e-3], seeds=3, direction="min")
    assert set(found.result.seeds) == set(swept.seeds) == set(parse_seeds("3")) == {0, 1, 2}
    assert parse_seeds("0,5") == [0, 5]


def test_the_one_seed_advice_means_three_seeds():
    res = lrsweep.sweep(objective, lrsweep.log_grid(1e-4, 1.0, 7), direction="min")
    opt = res.optimum()
    assert opt.basis == "one-seed" and "seeds=3" in opt.interval_text()
    again = lrsweep.sweep(objective, lrsweep.log_grid(1e-4, 1.0, 7), seeds=3,
                          direction="min")  # what the advice says, taken literally
    assert again.seeds == [0, 1, 2] and again.optimum().basis == "seeds"


@pytest.mark.parametrize("bad", [0, -2, "3", (), (1.5,), (-1,), True])
def test_bad_seeds_name_the_argument(bad):
    with pytest.raises(lrsweep.ConfigError, match=r"^seeds=.*count >= 1|^seeds=.*sequence"):
        lrsweep.sweep(objective, [1e-3], seeds=bad, direction="min")


@pytest.mark.parametrize("bad", ["0", "-1", "a", "1,-2", ","])
def test_bad_seeds_flag(bad):
    with pytest.raises(lrsweep.ConfigError, match=r"^--seeds="):
        parse_seeds(bad)

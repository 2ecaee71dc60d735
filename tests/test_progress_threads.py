"""Progress bars (by optimizer step, auto-hidden off a terminal) and the CPU thread policy
(set for the sweep, restored after it)."""

from __future__ import annotations

import pytest
import torch
from conftest import small_mlp

import lrsweep
from lrsweep.train import threads as lt


def task(blobs, steps=6):
    (xt, yt), (xv, yv) = blobs
    return lrsweep.Task(small_mlp(), torch.optim.SGD, (xt, yt), (xv, yv), batch_size=32,
                        steps=steps, device="cpu")


class Bar:
    """Stands in for tqdm: records every update and whether it was enabled."""

    made: list[Bar] = []

    def __init__(self, total, disable=False, **kw):
        self.total, self.n, self.disable, self.updates = total, 0, disable, []
        self.kw = kw
        Bar.made.append(self)

    def update(self, k=1):
        self.n += k
        self.updates.append(k)

    def set_postfix_str(self, *a, **k):
        pass

    def close(self):
        self.closed = True


@pytest.fixture
def bars(monkeypatch):
    import tqdm.auto

    Bar.made = []
    monkeypatch.setattr(tqdm.auto, "tqdm", Bar)
    return Bar.made


@pytest.mark.parametrize("engine, per_step", [("sequential", 1), ("vectorized", 3)])
def test_bar_advances_by_optimizer_step(blobs, bars, engine, per_step):
    seen_before_first_result = []
    lrsweep.sweep(task(blobs), [0.01, 0.1, 1.0], engine=engine, progress=True,
                  on_result=lambda r: seen_before_first_result.append(bars[0].n))
    (bar,) = bars
    assert bar.total == 3 * 6 and bar.n == bar.total and bar.closed
    assert bar.kw["unit"] == "step" and bar.disable is False
    # steps were counted while the trials trained, not only when they finished
    assert seen_before_first_result[0] >= 5 * per_step
    assert per_step in bar.updates


def test_bar_is_auto_by_default_and_off_when_asked(blobs, bars):
    lrsweep.sweep(task(blobs, steps=2), [0.1], engine="sequential")
    assert bars[-1].disable is None  # tqdm hides it where stderr is not a terminal
    lrsweep.sweep(task(blobs, steps=2), [0.2], engine="sequential", progress=False)
    assert len(bars) == 1
    lrsweep.search(lambda trial: (trial.lr - 0.01) ** 2, (1e-4, 1.0), direction="min",
                   max_rounds=1, engine="sequential")
    assert bars[-1].disable is None and bars[-1].kw["unit"] == "trial"


def test_no_bar_output_off_a_terminal(blobs, capsys):
    lrsweep.sweep(task(blobs, steps=2), [0.1, 1.0], engine="sequential")
    assert capsys.readouterr().err == ""


def test_lr_finder_passes_progress(blobs, bars):
    (xt, yt), (xv, yv) = blobs
    loader = torch.utils.data.DataLoader(torch.utils.data.TensorDataset(xt, yt), batch_size=64)
    val = torch.utils.data.DataLoader(torch.utils.data.TensorDataset(xv, yv), batch_size=64)
    lrsweep.lr_finder(small_mlp(), torch.optim.SGD, loader, val, num=2, progress=True,
                      engine="sequential")
    assert bars[-1].disable is False and bars[-1].n == bars[-1].total == 2 * 3


# ----------------------------------------------------------------------- threads ----
@pytest.fixture
def two_threads():
    old = torch.get_num_threads()
    torch.set_num_threads(2)
    yield 2
    torch.set_num_threads(old)


def test_threads_set_for_the_sweep_and_restored(blobs, two_threads):
    seen = []
    res = lrsweep.sweep(task(blobs, steps=2), [0.01, 0.1], engine="sequential", threads=1,
                        on_result=lambda r: seen.append(torch.get_num_threads()))
    assert seen == [1, 1] and res.threads == 1
    assert torch.get_num_threads() == 2


def test_threads_restored_when_the_sweep_raises(blobs, two_threads):
    def boom(r):
        raise RuntimeError("stop")

    with pytest.raises(RuntimeError, match="stop"):
        lrsweep.sweep(task(blobs, steps=2), [0.01], engine="sequential", threads=1,
                      on_result=boom)
    assert torch.get_num_threads() == 2


@pytest.mark.parametrize("busy, want", [(0.0, 2), (0.3, 2), (1.0, 1), (1.9, 1)])
def test_auto_uses_the_idle_cores_never_more_than_torch(blobs, two_threads, monkeypatch,
                                                         busy, want):
    monkeypatch.setattr(lt.os, "cpu_count", lambda: 2)
    monkeypatch.setattr(lt, "busy_cores", lambda: busy)
    seen = []
    lrsweep.sweep(task(blobs, steps=2), [0.1], engine="sequential",
                  on_result=lambda r: seen.append(torch.get_num_threads()))
    assert seen == [want] and torch.get_num_threads() == 2


def test_auto_leaves_objectives_and_none_alone(blobs, two_threads, monkeypatch):
    monkeypatch.setattr(lt, "busy_cores", lambda: 64.0)
    seen = []
    lrsweep.sweep(lambda trial: seen.append(torch.get_num_threads()) or 0.0, [0.1],
                  direction="min")
    lrsweep.sweep(task(blobs, steps=2), [0.1], engine="sequential", threads=None,
                  on_result=lambda r: seen.append(torch.get_num_threads()))
    assert seen == [2, 2]


def test_busy_cores_reads_the_machine():
    busy = lt.busy_cores(sample=0.05)
    assert busy is None or 0.0 <= busy <= (lt.os.cpu_count() or 1) + 1e-9


@pytest.mark.parametrize("bad", [0, -1, 1.5, "two", True])
def test_bad_threads_is_named(blobs, bad):
    with pytest.raises(lrsweep.ConfigError, match="^threads="):
        lrsweep.sweep(task(blobs, steps=2), [0.1], threads=bad)


def test_auto_follows_a_load_that_arrives_during_the_sweep(blobs, two_threads, monkeypatch):
    monkeypatch.setattr(lt.os, "cpu_count", lambda: 2)
    monkeypatch.setattr(lt, "busy_cores", lambda: 0.0)  # idle at the start: torch's 2
    monkeypatch.setattr(lt, "RECHECK_SECONDS", 0.0)
    monkeypatch.setattr(lt, "_own_seconds", lambda: 0.0)  # this process: no CPU time
    ticks = iter(range(1, 100))

    def cpu_times():  # (busy, total) jiffies: after the first look, one core fully busy
        k = next(ticks)
        return (0.0, 0.0) if k == 1 else (100.0 * (k - 1), 200.0 * (k - 1))

    monkeypatch.setattr(lt, "_cpu_times", cpu_times)
    seen = []
    res = lrsweep.sweep(task(blobs, steps=2), [0.01, 0.1, 1.0], engine="sequential",
                        on_result=lambda r: seen.append(torch.get_num_threads()))
    assert seen == [1, 1, 1]  # rechecked after the first trial, before on_result
    assert res.threads == [1, 2] and torch.get_num_threads() == 2

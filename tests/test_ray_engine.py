"""The Ray engine on a local Ray instance (num_cpus=2), started once for this module."""

from __future__ import annotations

import importlib.util
import math
import os
import sys

import pytest
import torch
from torch import nn

import lrsweep
from lrsweep.engines import get_engine
from lrsweep.errors import ConfigError, EngineUnavailable
from lrsweep.results.trial import Status, TrialSpec

pytestmark = pytest.mark.ray

HAS_RAY = importlib.util.find_spec("ray") is not None
needs_ray = pytest.mark.skipif(not HAS_RAY, reason='Ray is not installed: pip install "lrsweep[ray]"')


@pytest.fixture(scope="module")
def ray_local():
    import ray

    if ray.is_initialized():  # pragma: no cover - another module's session
        ray.shutdown()
    with pytest.MonkeyPatch.context() as mp:
        mp.delenv("RAY_ADDRESS", raising=False)  # a local instance, not a cluster
        ray.init(num_cpus=2, include_dashboard=False, log_to_driver=False)
        try:
            yield ray
        finally:
            ray.shutdown()


def small_task(**kw):
    torch.manual_seed(0)
    x = torch.randn(192, 8)
    y = (x[:, 0] - x[:, 1] > 0).long()
    kw.setdefault("optimizer", lambda p, lr: torch.optim.SGD(p, lr=lr, momentum=0.9))
    return lrsweep.Task(model=lambda: nn.Sequential(nn.Linear(8, 16), nn.ReLU(), nn.Linear(16, 2)),
                        train_data=(x[:128], y[:128]), val_data=(x[128:], y[128:]),
                        batch_size=32, steps=12, warmup_steps=3, device="cpu", **kw)


def by_key(result):
    return {r.key: r for r in result.trials}


def assert_same_trials(a, b):
    ta, tb = by_key(a), by_key(b)
    assert sorted(ta) == sorted(tb)
    for key, ra in ta.items():
        rb = tb[key]
        assert ra.status == rb.status, key
        assert ra.steps == rb.steps, key
        assert len(ra.curve) == len(rb.curve)
        for p, q in zip(ra.curve, rb.curve):
            assert math.isclose(p, q, rel_tol=1e-5, abs_tol=1e-6) or (
                not math.isfinite(p) and not math.isfinite(q)), key
        if ra.metric is None:
            assert rb.metric is None
        else:
            assert rb.metric == pytest.approx(ra.metric, rel=1e-5, abs=1e-6), key


def objective_factory(tmp_path, kill_lr=None, *, always=False, poison=None):
    """An objective that logs every run to a file per LR, and kills its worker process
    (os._exit) at ``kill_lr``: the first time only, or while ``poison`` exists."""
    driver = os.getpid()

    def objective(trial):
        with open(tmp_path / f"runs-{trial.lr:g}", "a") as f:
            f.write("x")
        if trial.lr == kill_lr and os.getpid() != driver:
            marker = tmp_path / "killed-once"
            if always or (poison is not None and poison.exists()) or (
                    poison is None and not marker.exists()):
                marker.touch()
                os._exit(1)
        value = 0.0
        for step in range(5):
            value = (math.log10(trial.lr) + 2) ** 2 + 1.0 / (step + 1) + 0.01 * trial.seed
            trial.report(step, value)
        return value

    return objective


def runs(tmp_path, lr):
    p = tmp_path / f"runs-{lr:g}"
    return len(p.read_text()) if p.exists() else 0


# --------------------------------------------------------------------- without Ray ----
def test_missing_ray_gives_install_hint(monkeypatch):
    monkeypatch.setitem(sys.modules, "ray", None)  # makes `import ray` fail
    with pytest.raises(EngineUnavailable, match=r"lrsweep\[ray\]"):
        get_engine("ray")
    with pytest.raises(EngineUnavailable, match=r"pip install"):
        lrsweep.sweep(small_task(), [1e-2], engine="ray")


def test_groups_by_seed_then_strided_chunks():
    from lrsweep.engines.ray import make_groups

    specs = [TrialSpec(lr, s) for s in (0, 1) for lr in (1e-4, 1e-3, 1e-2, 1e-1, 1.0)]
    groups = make_groups(specs, slots=4)
    assert len(groups) == 4
    assert all(len({t.seed for t in g}) == 1 for g in groups)
    key = lambda t: (t.seed, t.lr)  # noqa: E731
    assert sorted((t for g in groups for t in g), key=key) == sorted(specs, key=key)
    assert [t.lr for t in groups[0]] == [1e-4, 1e-2, 1.0]  # strided: LRs spread over groups
    sized = make_groups(specs, slots=1, group_size=2)
    assert [len(g) for g in sized] == [2, 2, 1, 2, 2, 1]
    assert make_groups(specs[:2], slots=8) == [[specs[0]], [specs[1]]]


@needs_ray
@pytest.mark.parametrize("kw, arg", [({"group_size": 0}, "group_size"),
                                     ({"max_retries": -1}, "max_retries"),
                                     ({"num_cpus_per_group": -1}, "num_cpus_per_group"),
                                     ({"local_engine": "ray"}, "local_engine"),
                                     ({"address": "a:1", "ray_address": "b:2"}, "ray_address"),
                                     ({"task_ref": "no_colon_here"}, "task_ref"),
                                     ({"task_ref": "lrsweep.examples:nope"}, "task_ref")])
def test_bad_options_name_the_argument(kw, arg):
    with pytest.raises(ConfigError, match=arg):
        get_engine("ray", **kw)


# ------------------------------------------------------------------------ with Ray ----
@needs_ray
def test_engine_starts_a_local_instance_and_shuts_down_only_that(tmp_path, monkeypatch):
    import ray

    from lrsweep.engines import ray as ray_engine

    if ray.is_initialized():  # pragma: no cover - another module's session
        pytest.skip("a Ray session is already running in this process")
    monkeypatch.delenv("RAY_ADDRESS", raising=False)
    objective = objective_factory(tmp_path)
    res = lrsweep.sweep(objective, [1e-2, 1e-1], direction="min", engine="ray",
                        init_kwargs={"num_cpus": 2})
    assert all(r.status is Status.OK and r.engine == "ray" for r in res.trials)
    assert ray.is_initialized()  # kept for the next sweep of this process
    assert ray.cluster_resources()["CPU"] == 2
    ray_engine.shutdown()
    assert not ray.is_initialized()


@needs_ray
def test_matches_sequential_and_ships_task_once(ray_local, monkeypatch):
    task = small_task()
    lrs = [1e-2, 1e-1, 1.0, 200.0]  # the last one diverges
    seq = lrsweep.sweep(task, lrs, seeds=(0, 1), engine="sequential")
    puts = []
    real_put = ray_local.put
    monkeypatch.setattr(ray_local, "put", lambda v, **k: puts.append(v) or real_put(v, **k))
    seen = []
    res = lrsweep.sweep(task, lrs, seeds=(0, 1), engine="ray", group_size=2,
                        local_engine="sequential", on_result=seen.append)
    assert res.engine == "ray" and len(seen) == 8
    assert_same_trials(seq, res)
    assert {r.status for r in res.trials} == {Status.OK, Status.DIVERGED}
    assert all(r.engine == "ray" and r.extra["local_engine"] == "sequential"
               for r in res.trials)
    assert len(puts) == 1 and puts[0] is task  # 4 groups, one copy of the task
    assert res.best().lr == seq.best().lr


@needs_ray
def test_groups_run_the_vectorized_engine_on_workers(ray_local):
    pytest.importorskip("lrsweep.engines.vectorized", reason="vectorized engine not written yet")
    task = small_task(optimizer=torch.optim.SGD)
    lrs = [1e-2, 1.0, 200.0]
    vec = lrsweep.sweep(task, lrs, seeds=(0, 1), engine="vectorized")
    res = lrsweep.sweep(task, lrs, seeds=(0, 1), engine="ray", local_engine="vectorized")
    assert_same_trials(vec, res)
    assert_same_trials(lrsweep.sweep(task, lrs, seeds=(0, 1), engine="sequential"), res)
    assert all(r.extra["local_engine"] == "vectorized" for r in res.trials)


@needs_ray
def test_objective_function_runs_on_workers(ray_local, tmp_path):
    objective = objective_factory(tmp_path)
    lrs = [1e-3, 1e-2, 1e-1]
    seq = lrsweep.sweep(objective, lrs, seeds=(0, 1), direction="min", engine="sequential")
    res = lrsweep.sweep(objective, lrs, seeds=(0, 1), direction="min", engine="ray")
    assert_same_trials(seq, res)
    assert res.best().lr == 1e-2
    from lrsweep.engines.ray import shutdown

    shutdown()  # the engine did not start this Ray session: it is left alone
    assert ray_local.is_initialized()


@needs_ray
def test_killed_worker_is_retried_and_sweep_completes(ray_local, tmp_path):
    lrs = [1e-3, 1e-2, 1e-1, 1.0]
    objective = objective_factory(tmp_path, kill_lr=1e-1)
    res = lrsweep.sweep(objective, lrs, direction="min", engine="ray", group_size=2,
                        max_retries=2)
    assert (tmp_path / "killed-once").exists()
    assert all(r.status is Status.OK for r in res.trials) and len(res.trials) == 4
    got = by_key(res)
    assert got[(1e-1, 0)].extra["attempt"] == 1  # finished on the retry
    assert runs(tmp_path, 1e-1) == 2
    # the group [1e-3, 1e-1]: 1e-3 finished before the crash and was not run again
    assert runs(tmp_path, 1e-3) == 1 and got[(1e-3, 0)].extra["attempt"] == 0
    (tmp_path / "seq").mkdir()
    seq = lrsweep.sweep(objective_factory(tmp_path / "seq"), lrs, direction="min",
                        engine="sequential")
    assert_same_trials(seq, res)


@needs_ray
def test_group_that_keeps_failing_fails_its_trials_only(ray_local, tmp_path):
    lrs = [1e-3, 1e-2, 1e-1, 1.0]  # groups (strided): [1e-3, 1e-1] and [1e-2, 1.0]
    objective = objective_factory(tmp_path, kill_lr=1e-3, always=True)
    res = lrsweep.sweep(objective, lrs, direction="min", engine="ray", group_size=2,
                        max_retries=1)
    got = by_key(res)
    assert runs(tmp_path, 1e-3) == 2  # first try + one retry
    for lr in (1e-3, 1e-1):
        assert got[(lr, 0)].status is Status.FAILED
        assert "failed 2 times" in got[(lr, 0)].error
        assert "WorkerCrashedError" in got[(lr, 0)].error
    assert runs(tmp_path, 1e-1) == 0  # never reached: its group died before it
    assert got[(1e-2, 0)].status is Status.OK and got[(1.0, 0)].status is Status.OK
    assert res.best().lr == 1e-2


@needs_ray
def test_task_from_import_path_is_rebuilt_on_workers(ray_local, monkeypatch):
    from lrsweep.engines.ray import load_task

    kw = dict(name="teacher-mlp", width=16, n_train=256, steps=8, device="cpu")
    task = load_task("lrsweep.examples:get_task", **kw)
    lrs = [1e-3, 1e-2]
    seq = lrsweep.sweep(task, lrs, engine="sequential")
    puts = []
    monkeypatch.setattr(ray_local, "put", lambda v, **k: puts.append(v))
    res = lrsweep.sweep(task, lrs, engine="ray")
    assert puts == []  # nothing shipped: each worker built the task itself
    assert_same_trials(seq, res)

    # a driver task that differs from what the workers build is refused, not mixed in
    task.divergence_factor = 5.0
    bad = lrsweep.sweep(task, lrs, engine="ray")
    assert all(r.status is Status.FAILED for r in bad.trials)
    assert "divergence_factor" in bad.trials[0].error


@needs_ray
def test_group_that_raises_on_the_worker_is_retried_then_failed(ray_local):
    # the import path builds nothing valid on the workers: every attempt of the group raises
    res = lrsweep.sweep(small_task(), [1e-2, 1e-1], engine="ray", max_retries=1,
                        task_ref="lrsweep.examples:get_task", task_kwargs={"name": "nope"})
    assert all(r.status is Status.FAILED for r in res.trials)
    assert all("failed 2 times" in r.error and "nope" in r.error for r in res.trials)


@needs_ray
def test_resources_no_node_can_hold_are_refused(ray_local):
    with pytest.raises(ConfigError, match="num_cpus_per_group"):
        lrsweep.sweep(small_task(), [1e-2], engine="ray", num_cpus_per_group=64)


@needs_ray
def test_unpicklable_task_is_refused_naming_the_culprit(ray_local):
    import threading

    lock = threading.Lock()

    def loss(outputs, targets, _lock=lock):
        return nn.functional.cross_entropy(outputs, targets)

    with pytest.raises(ConfigError, match=r"'loss'.*lock.*load_task"):
        lrsweep.sweep(small_task(loss=loss), [1e-2], engine="ray")


@needs_ray
def test_resume_through_the_store(ray_local, tmp_path):
    pytest.importorskip("lrsweep.store", reason="lrsweep.store (issue: SQLite store) not written yet")
    poison = tmp_path / "poison"
    poison.touch()
    lrs = [1e-3, 1e-2, 1e-1]
    objective = objective_factory(tmp_path, kill_lr=1e-1, poison=poison)
    db = tmp_path / "study.db"
    first = lrsweep.sweep(objective, lrs, direction="min", engine="ray", store=str(db),
                          group_size=1, max_retries=0)
    assert by_key(first)[(1e-1, 0)].status is Status.FAILED
    assert sum(r.status is Status.OK for r in first.trials) == 2
    poison.unlink()
    second = lrsweep.sweep(objective, lrs, direction="min", engine="ray", store=str(db),
                           group_size=1, max_retries=0)
    assert all(r.status is Status.OK for r in second.trials)
    assert [runs(tmp_path, lr) for lr in lrs] == [1, 1, 2]  # only the failed trial reran
    seq = lrsweep.sweep(objective, lrs, direction="min", engine="sequential")
    assert_same_trials(seq, second)

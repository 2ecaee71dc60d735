"""The fingerprint sees every change that changes a trial's result (DESIGN contract 5).

One table: each row changes one thing of a base task; the fingerprint must change and a store
must refuse the changed task under the study of the base, naming the field. Then rows that
change nothing: the fingerprint must stay.
"""

from __future__ import annotations

import functools
import os
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest
import torch
from torch import nn
from torch.utils.data import DataLoader, Dataset, TensorDataset

import lrsweep
from lrsweep import fingerprint as fp
from lrsweep.errors import StoreError
from lrsweep.store import open_study
from lrsweep.task.objective import ObjectiveTask

ROOT = Path(__file__).resolve().parents[1]
N = 256  # rows of the in-memory data: row 200 is far past the 64 rows hashed before


def data(n: int = N, seed: int = 0) -> tuple[torch.Tensor, torch.Tensor]:
    g = torch.Generator().manual_seed(seed)
    x = torch.randn(n, 8, generator=g)
    return x, (x[:, 0] + x[:, 1] > 0).long()


def net() -> nn.Module:
    return nn.Sequential(nn.Linear(8, 16), nn.ReLU(), nn.Linear(16, 2))


X, Y = data()
SCALE = 1.0  # a global read by forward_global


def helper(logits: torch.Tensor) -> torch.Tensor:
    return logits * SCALE


def forward_global(model, batch):
    x, y = batch
    return nn.functional.cross_entropy(helper(model(x)), y), model(x)


def make_forward(temperature: float):
    def forward(model, batch):
        x, y = batch
        out = model(x) / temperature
        return nn.functional.cross_entropy(out, y), out

    return forward


def forward_default(model, batch, temperature=1.0):
    x, y = batch
    out = model(x) / temperature
    return nn.functional.cross_entropy(out, y), out


def forward_kwdefault(model, batch, *, temperature=1.0):
    x, y = batch
    out = model(x) / temperature
    return nn.functional.cross_entropy(out, y), out


def two_groups(wd_head: float = 0.0, head_lr: float = 1.0, split: int = 2):
    """AdamW with the first ``split`` parameter tensors in one group, the rest in another."""

    def build(params, lr):
        params = list(params)
        return torch.optim.AdamW([{"params": params[:split], "weight_decay": 0.01},
                                  {"params": params[split:], "weight_decay": wd_head,
                                   "lr": lr * head_lr}], lr=lr)

    return build


def adamw_scaled_wd(params, lr):
    return torch.optim.AdamW(params, lr=lr, weight_decay=1e-4 * (lr / 1e-3))  # = 1e-4 at 1e-3


def adamw_fixed_wd(params, lr):
    return torch.optim.AdamW(params, lr=lr, weight_decay=1e-4)


class Scaled(nn.Module):
    """A field that the architecture's repr does not show."""

    def __init__(self, scale: float = 1.0) -> None:
        super().__init__()
        torch.manual_seed(0)
        self.body = net()
        self.scale = scale

    def forward(self, x):
        return self.body(x) * self.scale


class FileRows(Dataset):
    """Rows read from a file on each access: only samples of it can be hashed."""

    def __init__(self, path: Path) -> None:
        self.path = str(path)
        self.n = len(torch.load(path))

    def __len__(self) -> int:
        return self.n

    def __getitem__(self, i):
        row = torch.load(self.path)[i]
        return row[:8], (row[0] > 0).long()


def file_rows(tmp: Path, change: int | None = None, n: int = 1000) -> FileRows:
    rows = torch.randn(n, 9, generator=torch.Generator().manual_seed(0))
    if change is not None:
        rows[change, 3] += 1.0
    path = tmp / "rows.pt"  # one path: only the content differs
    torch.save(rows, path)
    return FileRows(path)


def make_task(**kw) -> lrsweep.Task:
    args = dict(model=net, optimizer=torch.optim.AdamW, train_data=(X, Y), val_data=(X, Y),
                batch_size=32, steps=8, device="cpu")
    args.update(kw)
    return lrsweep.Task(**args)


def with_row(t: torch.Tensor, row: int) -> torch.Tensor:
    t = t.clone()
    t[row, 0] += 1e-3
    return t


def loader(ds, **kw) -> DataLoader:
    return DataLoader(ds, **{"batch_size": 32, **kw})


def make_objective(width: int):
    def objective(trial):
        return -abs(trial.lr * width - 1.0)

    return objective


def objective_lr(trial):
    return trial.lr


def objective_seed(trial):  # the same bytecode as objective_lr; only a name differs
    return trial.seed


BASE = make_task  # every row below is compared with make_task() unless it gives a base


# (id, base builder, changed builder, a field the refusal must name)
ROWS = [
    ("loss label_smoothing", None, lambda tmp: make_task(loss=nn.CrossEntropyLoss(label_smoothing=0.3)),
     "loss.fields.label_smoothing"),
    ("loss weight given", None,
     lambda tmp: make_task(loss=nn.CrossEntropyLoss(weight=torch.tensor([1.0, 3.0]))),
     "loss.buffers.weight"),
    ("loss weight values",
     lambda tmp: make_task(loss=nn.CrossEntropyLoss(weight=torch.tensor([1.0, 3.0]))),
     lambda tmp: make_task(loss=nn.CrossEntropyLoss(weight=torch.tensor([1.0, 2.0]))),
     "loss.buffers.weight.sha"),
    ("loss reduction", None, lambda tmp: make_task(loss=nn.CrossEntropyLoss(reduction="sum")),
     "loss.fields.reduction"),
    ("loss ignore_index", None, lambda tmp: make_task(loss=nn.CrossEntropyLoss(ignore_index=1)),
     "loss.fields.ignore_index"),
    ("per-group weight_decay", lambda tmp: make_task(optimizer=two_groups(0.0)),
     lambda tmp: make_task(optimizer=two_groups(0.1)), "param_groups.1.weight_decay"),
    ("per-group lr ratio", lambda tmp: make_task(optimizer=two_groups()),
     lambda tmp: make_task(optimizer=two_groups(head_lr=0.5)), "param_groups.1.lr_scale"),
    ("which params in which group", lambda tmp: make_task(optimizer=two_groups()),
     lambda tmp: make_task(optimizer=two_groups(split=3)), "param_groups.0.params"),
    ("optimizer betas", None,
     lambda tmp: make_task(optimizer=functools.partial(torch.optim.AdamW, betas=(0.9, 0.95))),
     "param_groups.0.betas"),
    ("optimizer code, same value at the reference LR",
     lambda tmp: make_task(optimizer=adamw_fixed_wd),
     lambda tmp: make_task(optimizer=adamw_scaled_wd), "optimizer_callable"),
    ("train row 200 (after the first 64)", None,
     lambda tmp: make_task(train_data=(with_row(X, 200), Y)), "train_data.tensors.0.sha"),
    ("val row 250", None, lambda tmp: make_task(val_data=(with_row(X, 250), Y)),
     "val_data.tensors.0.sha"),
    ("DataLoader: a sample deep in a file-backed dataset",
     lambda tmp: make_task(train_data=loader(file_rows(tmp))),
     lambda tmp: make_task(train_data=loader(file_rows(tmp, change=fp.spread(1000)[-5]))),
     "train_data.samples_sha"),
    ("DataLoader over a TensorDataset: row 900 of 1000",
     lambda tmp: make_task(train_data=loader(TensorDataset(*data(1000)))),
     lambda tmp: make_task(train_data=loader(TensorDataset(with_row(data(1000)[0], 900),
                                                           data(1000)[1]))),
     "train_data.dataset"),
    ("DataLoader batch size", lambda tmp: make_task(train_data=loader(TensorDataset(X, Y))),
     lambda tmp: make_task(train_data=loader(TensorDataset(X, Y), batch_size=16)),
     "train_data.batch_size"),
    ("DataLoader drop_last", lambda tmp: make_task(train_data=loader(TensorDataset(*data(250)))),
     lambda tmp: make_task(train_data=loader(TensorDataset(*data(250)), drop_last=True)),
     "train_data.drop_last"),
    ("DataLoader sampler kind", lambda tmp: make_task(train_data=loader(TensorDataset(X, Y))),
     lambda tmp: make_task(train_data=loader(TensorDataset(X, Y), shuffle=True)),
     "train_data.sampler"),
    ("DataLoader length", lambda tmp: make_task(train_data=loader(file_rows(tmp))),
     lambda tmp: make_task(train_data=loader(file_rows(tmp, n=1001))), "train_data.len"),
    ("data_version", lambda tmp: make_task(data_version="2024-06-01"),
     lambda tmp: make_task(data_version="2024-07-01"), "data_version"),
    ("closure cell value in forward=", lambda tmp: make_task(forward=make_forward(1.0)),
     lambda tmp: make_task(forward=make_forward(2.0)), "forward.closure.temperature"),
    ("default argument", lambda tmp: make_task(forward=forward_default),
     lambda tmp: make_task(forward=_with_defaults(forward_default, (2.0,))),
     "forward.defaults"),
    ("keyword default", lambda tmp: make_task(forward=forward_kwdefault),
     lambda tmp: make_task(forward=_with_kwdefaults(forward_kwdefault, {"temperature": 2.0})),
     "forward.kwdefaults.temperature"),
    ("global value read by a global function", lambda tmp: make_task(forward=forward_global),
     lambda tmp: _with_global("SCALE", 2.0, lambda: make_task(forward=forward_global)),
     "forward.globals.helper.globals.SCALE"),
    ("global function's code", lambda tmp: make_task(forward=forward_global),
     lambda tmp: _with_global("helper", lambda logits: logits * 2,
                              lambda: make_task(forward=forward_global)),
     "forward.globals.helper"),
    ("forward= code", lambda tmp: make_task(forward=make_forward(1.0)),
     lambda tmp: make_task(forward=lambda m, b: (nn.functional.cross_entropy(m(b[0]), b[1]),
                                                 m(b[0]))), "forward"),
    ("metric= code",
     lambda tmp: make_task(metric=lambda out, y: (out.argmax(-1) == y).float().mean(),
                           direction="max"),
     lambda tmp: make_task(metric=lambda out, y: (out.argmax(-1) != y).float().mean(),
                           direction="max"), "metric_fn.code_sha"),
    ("evaluate= code",
     lambda tmp: make_task(evaluate=lambda m, v: float(m(v[0]).mean()), direction="max"),
     lambda tmp: make_task(evaluate=lambda m, v: float(m(v[0]).std()), direction="max"),
     "evaluate.code_sha"),
    ("loss function code",
     lambda tmp: make_task(loss=lambda out, y: nn.functional.cross_entropy(out, y)),
     lambda tmp: make_task(loss=lambda out, y: nn.functional.nll_loss(out, y)),
     "loss.code_sha"),
    ("a model field the repr hides", lambda tmp: make_task(model=Scaled(1.0)),
     lambda tmp: make_task(model=Scaled(0.5)), "model_config.config_sha"),
    ("a forward hook on the model", None,
     lambda tmp: make_task(model=_hooked(net())), "model_config.config_sha"),
    ("initial weights", None, lambda tmp: make_task(model=lambda: _reseeded(1)), "weights_sha256"),
    ("steps", None, lambda tmp: make_task(steps=9), "steps"),
    ("warmup", None, lambda tmp: make_task(warmup_steps=2), "warmup_steps"),
    ("schedule", None, lambda tmp: make_task(schedule="cosine"), "schedule"),
    ("clip_grad_norm", None, lambda tmp: make_task(clip_grad_norm=1.0), "clip_grad_norm"),
    ("objective factory width 64 -> 512",
     lambda tmp: ObjectiveTask(make_objective(64), "max"),
     lambda tmp: ObjectiveTask(make_objective(512), "max"), "objective_code.closure.width"),
    ("objective reads another attribute (only co_names differ)",
     lambda tmp: ObjectiveTask(objective_lr, "max"),
     lambda tmp: ObjectiveTask(_named(objective_seed, "objective_lr"), "max"),
     "objective_code.code_sha"),
    ("objective direction", lambda tmp: ObjectiveTask(objective_lr, "max"),
     lambda tmp: ObjectiveTask(objective_lr, "min"), "direction"),
]


def _with_defaults(fn, defaults):
    import types

    new = types.FunctionType(fn.__code__, fn.__globals__, fn.__name__, defaults, fn.__closure__)
    new.__qualname__ = fn.__qualname__
    return new


def _named(fn, name):
    new = _with_defaults(fn, fn.__defaults__)
    new.__name__ = new.__qualname__ = name
    return new


def _with_kwdefaults(fn, kwdefaults):
    new = _with_defaults(fn, fn.__defaults__)
    new.__kwdefaults__ = kwdefaults
    return new


def _with_global(name, value, build):
    """Set a global of this module (put back by the test) and build the task; the protocol
    reads globals when it is computed, as the trial does when it runs."""
    _CHANGED_GLOBALS.setdefault(name, globals()[name])
    globals()[name] = value
    return build()


_CHANGED_GLOBALS: dict = {}


def _hooked(m: nn.Module) -> nn.Module:
    m[0].register_forward_hook(lambda mod, inp, out: out * 0.5)
    return m


def _reseeded(seed: int) -> nn.Module:
    torch.manual_seed(seed)
    return net()


@pytest.mark.parametrize("row", ROWS, ids=[r[0] for r in ROWS])
def test_a_change_changes_the_fingerprint_and_the_store_refuses(row, tmp_path):
    _, base_fn, changed_fn, field = row
    build_base = base_fn or (lambda tmp: make_task())
    p_base = fp.protocol_of(build_base(tmp_path))
    db = tmp_path / "s.db"
    open_study(db, build_base(tmp_path), "s").store.close()
    try:
        changed = changed_fn(tmp_path)
        p_changed = fp.protocol_of(changed)
        assert fp.fingerprint(p_base) != fp.fingerprint(p_changed)
        diff = [path for path, _, _ in fp.diff_values(p_base, p_changed)]
        assert any(k.startswith(field) or field.startswith(k + ".") for k in diff), diff
        with pytest.raises(StoreError, match="holds another protocol") as e:
            open_study(db, changed, "s")
        assert field.split(".")[0] in str(e.value)
    finally:
        globals().update(_CHANGED_GLOBALS)
        _CHANGED_GLOBALS.clear()
    # ...and the base, rebuilt, still opens its study
    assert open_study(db, build_base(tmp_path), "s").fingerprint == fp.fingerprint(p_base)


assert len(ROWS) >= 20


SAME = [
    ("the task built again", lambda: make_task(), lambda: make_task()),
    ("copies of the data tensors", lambda: make_task(),
     lambda: make_task(train_data=(X.clone(), Y.clone()), val_data=(X.clone(), Y.clone()))),
    ("a module instead of its factory", lambda: make_task(model=_reseeded(0)),
     lambda: make_task(model=lambda: _reseeded(0))),
    ("a new loss module with the same settings",
     lambda: make_task(loss=nn.CrossEntropyLoss(weight=torch.tensor([1.0, 3.0]))),
     lambda: make_task(loss=nn.CrossEntropyLoss(weight=torch.tensor([1.0, 3.0])))),
    ("the closure factory called again", lambda: make_task(forward=make_forward(2.0)),
     lambda: make_task(forward=make_forward(2.0))),
    ("a DataLoader rebuilt", lambda: make_task(train_data=loader(TensorDataset(X, Y), shuffle=True)),
     lambda: make_task(train_data=loader(TensorDataset(X, Y), shuffle=True))),
    ("the objective factory called again", lambda: ObjectiveTask(make_objective(64), "max"),
     lambda: ObjectiveTask(make_objective(64), "max")),
    ("param groups built again", lambda: make_task(optimizer=two_groups(0.1)),
     lambda: make_task(optimizer=two_groups(0.1))),
]


@pytest.mark.parametrize("row", SAME, ids=[r[0] for r in SAME])
def test_changing_nothing_keeps_the_fingerprint(row):
    _, a, b = row
    assert fp.fingerprint(fp.protocol_of(a())) == fp.fingerprint(fp.protocol_of(b()))


def test_a_sweep_leaves_the_fingerprint_as_it_was(tmp_path):
    task = make_task(train_data=loader(TensorDataset(X, Y), shuffle=True))
    before = fp.fingerprint(fp.protocol_of(task))
    lrsweep.sweep(task, [1e-3, 1e-2], engine="sequential", store=tmp_path / "s.db", study="s")
    assert fp.fingerprint(fp.protocol_of(task)) == before
    assert lrsweep.sweep(task, [1e-3, 1e-2], store=tmp_path / "s.db", study="s").reused == 2


def test_in_place_change_of_the_data_is_seen_despite_the_cache():
    x = X.clone()
    task = make_task(train_data=(x, Y))
    before = fp.fingerprint(fp.protocol_of(task))
    assert fp.fingerprint(fp.protocol_of(task)) == before  # cached, same answer
    x[201, 3] += 1.0  # the task trains on this very tensor (CPU): its version counter moves
    assert fp.fingerprint(fp.protocol_of(task)) != before


def test_unsampled_file_rows_need_data_version(tmp_path):
    """What the fingerprint cannot see, said plainly: a row of a file-backed dataset between
    the 64 samples. data_version= is the way to say it changed."""
    unsampled = next(i for i in range(1000) if i not in set(fp.spread(1000)))
    a = fp.fingerprint(fp.protocol_of(make_task(train_data=loader(file_rows(tmp_path)))))
    changed = loader(file_rows(tmp_path, change=unsampled))
    assert fp.fingerprint(fp.protocol_of(make_task(train_data=changed))) == a
    assert fp.fingerprint(fp.protocol_of(make_task(train_data=changed, data_version=2))) != a


def test_random_augmentation_does_not_unsettle_the_fingerprint(tmp_path):
    class Noisy(Dataset):
        def __len__(self):
            return 300

        def __getitem__(self, i):
            return X[i % N] + 0.1 * torch.randn(8), Y[i % N]

    a = fp.protocol_of(make_task(train_data=loader(Noisy())))
    b = fp.protocol_of(make_task(train_data=loader(Noisy())))
    assert fp.fingerprint(a) == fp.fingerprint(b)


def test_state_the_code_reads_can_be_excluded(tmp_path):
    calls = fp.exclude([])

    def objective(trial):
        calls.append(trial.lr)
        return trial.lr

    db = tmp_path / "o.db"
    lrsweep.sweep(objective, [0.1, 0.2], direction="max", store=db, study="o")
    assert calls == [0.1, 0.2]
    assert lrsweep.sweep(objective, [0.1, 0.2], direction="max", store=db, study="o").reused == 2

    seen: list[float] = []  # not excluded: every appended LR is a new protocol

    def counting(trial):
        seen.append(trial.lr)
        return trial.lr

    lrsweep.sweep(counting, [0.1], direction="max", store=db, study="c")
    with pytest.raises(StoreError, match=r"closure\.seen.*lrsweep\.fingerprint\.exclude"):
        lrsweep.sweep(counting, [0.1], direction="max", store=db, study="c")


def test_an_old_format_study_is_refused_with_its_reason(tmp_path):
    db = tmp_path / "old.db"
    study = open_study(db, make_task(), "s")
    old = {k: v for k, v in study.protocol.items() if k != "fingerprint_format"}
    with study.store._write() as conn:  # what an lrsweep before format 2 wrote
        conn.execute("UPDATE studies SET fingerprint = ?, description = ? WHERE name = 's'",
                     (fp.fingerprint(old), fp.canonical_json(old)))
    with pytest.raises(StoreError, match="format 1.*not reused.*study='s-v2'"):
        open_study(db, make_task(), "s")


def test_fields_are_short_and_cover_the_protocol():
    proto = fp.protocol_of(make_task(loss=nn.CrossEntropyLoss(label_smoothing=0.3),
                                     optimizer=two_groups(0.1)))
    f = fp.fields(proto)
    assert f["loss.fields.label_smoothing"] == "0.3"
    assert f["param_groups.1.weight_decay"] == "0.1"
    assert f["steps"] == "8" and f["optimizer"] == "AdamW"
    assert len(f["weights_sha256"]) == 12
    assert all(len(v) <= 48 and "\n" not in v for v in f.values())


STABLE = textwrap.dedent("""
    import functools, sys
    import torch
    from torch import nn
    from torch.utils.data import DataLoader, TensorDataset
    import lrsweep
    from lrsweep import fingerprint as fp

    LIMIT = {"a", "b", "c"}  # a set: its order follows the per-process hash seed

    def helper(out):
        return out.clamp(-50, 50) if "a" in LIMIT else out

    def make_forward(t):
        def forward(model, batch):
            x, y = batch
            out = helper(model(x)) / t
            return nn.functional.cross_entropy(out, y, label_smoothing=0.1), out
        return forward

    def groups(params, lr):
        params = list(params)
        return torch.optim.AdamW([{"params": params[:2], "weight_decay": 0.1},
                                  {"params": params[2:], "lr": lr * 0.5}], lr=lr)

    def make_objective(width):
        def objective(trial):
            return -abs(trial.lr * width - 1.0) + len([c for c in LIMIT])
        return objective

    g = torch.Generator().manual_seed(0)
    x = torch.randn(300, 8, generator=g)
    y = (x[:, 0] > 0).long()
    loader = DataLoader(TensorDataset(x, y), batch_size=32, shuffle=True)
    task = lrsweep.Task(model=lambda: nn.Sequential(nn.Linear(8, 16), nn.Tanh(), nn.Linear(16, 2)),
                        optimizer=groups, train_data=loader, val_data=(x, y), batch_size=64,
                        forward=make_forward(2.0), metric="loss", steps=4, device="cpu",
                        data_version="v1")
    other = lrsweep.Task(model=lambda: nn.Sequential(nn.Linear(8, 16), nn.Tanh(), nn.Linear(16, 2)),
                         optimizer=functools.partial(torch.optim.SGD, momentum=0.9),
                         train_data=(x, y), val_data=(x, y), batch_size=32, steps=4,
                         loss=nn.CrossEntropyLoss(weight=torch.tensor([1.0, 2.0])), device="cpu")
    from lrsweep.task.objective import ObjectiveTask
    for t in (task, other, ObjectiveTask(make_objective(64), "max")):
        print(fp.fingerprint(fp.protocol_of(t)))
""")


def test_fingerprints_are_the_same_in_two_processes(tmp_path):
    script = tmp_path / "fp.py"
    script.write_text(STABLE)
    procs = [subprocess.Popen([sys.executable, str(script)], stdout=subprocess.PIPE,
                              stderr=subprocess.PIPE, text=True,
                              env={**os.environ, "PYTHONPATH": str(ROOT / "src"),
                                   "OMP_NUM_THREADS": "1", "PYTHONHASHSEED": hash_seed})
             for hash_seed in ("1", "2")]  # set and dict orders differ between the two
    outs = []
    for proc in procs:
        out, err = proc.communicate(timeout=180)
        assert proc.returncode == 0, err
        outs.append(out.split())
    assert len(outs[0]) == 3 and len(set(outs[0])) == 3
    assert outs[0] == outs[1]


def test_hashing_all_the_data_is_cached_per_tensor(monkeypatch):
    from lrsweep.fingerprint import hashing

    passes = []
    real = hashing._hash_tensor
    monkeypatch.setattr(hashing, "_hash_tensor", lambda t: passes.append(t.numel()) or real(t))
    x = torch.randn(100_000, 8)
    task = make_task(train_data=(x, Y[:1].expand(100_000).clone()), val_data=(X, Y))
    first = fp.protocol_of(task)
    n = len(passes)
    assert 800_000 in passes  # every row of x was hashed, once
    for _ in range(3):
        assert fp.protocol_of(task) == first
    assert len(passes) == n  # later protocols reuse the digests
    x[-1, -1] += 1  # in place: the version counter moves, that tensor is hashed again
    assert fp.protocol_of(task) != first and passes[n:] == [800_000]


def test_datasets_without_index_access_are_described_by_their_first_batch():
    from torch.utils.data import IterableDataset

    class Stream(IterableDataset):
        def __init__(self, shift: float) -> None:
            self.shift = shift

        def __iter__(self):
            for i in range(96):
                yield X[i] + self.shift, Y[i]

        def __len__(self) -> int:  # (a Task needs the length of its training data)
            return 96

    class Keyed(Dataset):  # items by string key, picked by its own sampler
        def __init__(self) -> None:
            self.rows = {f"k{i}": (X[i], Y[i]) for i in range(N)}

        def __len__(self) -> int:
            return N

        def __getitem__(self, key):
            return self.rows[key]

    a = fp.protocol_of(make_task(train_data=DataLoader(Stream(0.0), batch_size=32), steps=2))
    b = fp.protocol_of(make_task(train_data=DataLoader(Stream(1e-3), batch_size=32), steps=2))
    assert "first_batch" in a["train_data"] and fp.fingerprint(a) != fp.fingerprint(b)
    keyed = DataLoader(Keyed(), batch_size=32, sampler=[f"k{i}" for i in range(N)])
    p = fp.protocol_of(make_task(train_data=keyed))
    assert p["train_data"]["samples_error"] == "KeyError" and "first_batch" in p["train_data"]


DEPTH = 3


def even(n):  # mutually recursive globals: the description must end (cycle guard)
    return n == 0 or odd(n - 1)


def odd(n):
    return n != 0 and even(n - 1) and DEPTH > 0


def test_recursive_globals_end_and_are_still_seen():
    def forward(model, batch):
        x, y = batch
        out = model(x) * (1.0 if even(4) else 2.0)
        return nn.functional.cross_entropy(out, y), out

    a = fp.protocol_of(make_task(forward=forward))
    assert "<recursive" in fp.canonical_json(a["forward"])
    b = fp.protocol_of(_with_global("DEPTH", 4, lambda: make_task(forward=forward)))
    globals().update(_CHANGED_GLOBALS)
    _CHANGED_GLOBALS.clear()
    assert "forward.globals.even.globals.odd.globals.DEPTH" in [
        path for path, _, _ in fp.diff_values(a, b)]

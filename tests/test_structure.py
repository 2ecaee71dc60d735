"""Structure (issue 12 item 8): data goes one way through the modules (no module imports one
above it), the divergence rule lives in one place, every task kind runs its own trial, and
the noise-scale measurement trains through the trial loop instead of a copy of it."""

from __future__ import annotations

import ast
import math
from pathlib import Path

import pytest
import torch

import lrsweep
from lrsweep.engines.sequential import SequentialEngine
from lrsweep.engines.vectorized import unsupported_reason
from lrsweep.results.trial import Status, TrialResult, TrialSpec
from lrsweep.train.divergence import DivergenceMasks, DivergenceMonitor

SRC = Path(lrsweep.__file__).parent
# what lies above the engines in the flow task -> engine -> store -> analysis -> report
ABOVE_ENGINES = ("sweep", "search", "store", "results.sweep_result", "results.search_result",
                 "results.best", "analysis", "lr_finder", "cli", "transfer", "plot", "report",
                 "integrations", "examples")
# the task kinds and what they are built from sit below the engines
TASK_LEVEL = ("task", "train", "plan.grid", "results.trial", "errors")


def lrsweep_imports(path: Path) -> set[str]:
    """Every lrsweep module ``path`` imports (top-level or inside a function), dotted from
    the package root, e.g. ``engines.base``."""
    module = path.relative_to(SRC).with_suffix("").parts
    package = list(module[:-1]) if module[-1] != "__init__" else list(module[:-1])
    found = set()
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.ImportFrom):
            if node.level:
                base = package[:len(package) - (node.level - 1)]
                parts = base + (node.module.split(".") if node.module else [])
                names = [".".join(parts)] if node.module else \
                    [".".join(parts + [a.name]) for a in node.names]
            elif node.module and node.module.split(".")[0] == "lrsweep":
                names = [".".join(node.module.split(".")[1:])]
            else:
                continue
            found.update(n for n in names if n)
        elif isinstance(node, ast.Import):
            found.update(".".join(a.name.split(".")[1:]) for a in node.names
                         if a.name.split(".")[0] == "lrsweep")
    return found


def top(name: str) -> str:
    return name.split(".")[0]


@pytest.mark.parametrize("importer,forbidden", [
    ("engines", ABOVE_ENGINES),
    *[(m, ABOVE_ENGINES + ("engines",)) for m in TASK_LEVEL],
    ("transfer.noise", ("engines",)),
])
def test_no_module_imports_upward(importer, forbidden):
    files = ([SRC / (importer.replace(".", "/") + ".py")]
             if (SRC / (importer.replace(".", "/") + ".py")).exists()
             else sorted((SRC / importer).rglob("*.py")))
    assert files, importer
    for f in files:
        bad = sorted(n for n in lrsweep_imports(f) if top(n) in forbidden
                     or n in forbidden)
        assert not bad, f"{f.relative_to(SRC)} imports {bad}"


def test_engines_know_no_task_kind():
    for f in sorted((SRC / "engines").rglob("*.py")):
        names = {n.id for n in ast.walk(ast.parse(f.read_text())) if isinstance(n, ast.Name)}
        names |= {a.name for n in ast.walk(ast.parse(f.read_text()))
                  if isinstance(n, ast.ImportFrom) for a in n.names}
        assert not names & {"ObjectiveTask", "Task"}, f.name


def test_the_import_scanner_sees_lazy_and_relative_imports():
    # the scanner itself: it would catch what it is meant to forbid
    assert "sweep" in lrsweep_imports(SRC / "lr_finder.py")
    assert "engines.base" in lrsweep_imports(SRC / "sweep.py")
    assert "train.loop" in lrsweep_imports(SRC / "transfer" / "noise.py")  # inside a function


@pytest.mark.parametrize("losses", [
    [1.0, 10.0, 10.0, 10.0, 10.0, 10.0, 10.0, 10.0, 10.0],  # a smoothed rise trips it
    [2.0, 3.0, 1.0, 0.5, 9.0, 0.1],                          # a single spike does not
    [1.0, 0.9, float("nan"), 0.8],                           # non-finite stops at once
    [float("inf")],                                          # also at the first step
    [-1.0, 5.0, 50.0, 500.0],                                # no factor rule below zero
    [0.0, 1.0, 2.0],
])
def test_tensor_form_is_the_monitor(losses):
    """The vectorized engine's masks and the sequential monitor stop a trial at the same
    step: run each sequence alone through the monitor and all at once through the masks
    (padded with finite values after the monitor stops)."""
    def stop_step(seq):
        m = DivergenceMonitor(4.0)
        return next((i for i, v in enumerate(seq) if m.update(v)), None)

    seqs = [losses, [1.0] * len(losses), [v * 3 for v in losses]]
    masks = DivergenceMasks(len(seqs), 4.0, "cpu")
    stopped = [None] * len(seqs)
    for k in range(len(losses)):
        was = masks.active.clone()
        masks.update(torch.tensor([s[k] for s in seqs], dtype=torch.float64),
                     torch.tensor(k == 0))
        for i in range(len(seqs)):
            if was[i] and not masks.active[i]:
                stopped[i] = k
    assert stopped == [stop_step(s) for s in seqs]


def test_every_task_kind_runs_its_own_trial():
    """The engines call ``task.run_trial``; a task kind says itself whether its trials can be
    stacked. No engine needs to know which kinds exist."""
    class Kind:
        unstackable_reason = "this kind trains on a remote service"
        direction = "min"

        def run_trial(self, spec, engine):
            return TrialResult(spec.lr, spec.seed, Status.OK, math.log(spec.lr) ** 2,
                               engine=engine)

    out = []
    SequentialEngine().run(Kind(), [TrialSpec(0.1, 0), TrialSpec(1.0, 2)], out.append)
    assert [(r.lr, r.seed, r.metric) for r in out] == [(0.1, 0, math.log(0.1) ** 2),
                                                       (1.0, 2, 0.0)]
    assert unsupported_reason(Kind()) == "this kind trains on a remote service"
    res = lrsweep.sweep(lambda t: t.lr, [1e-3, 1e-2], direction="max", engine="auto")
    assert [t.engine for t in res.trials] == ["sequential", "sequential"]


def test_noise_scale_trains_through_the_trial_loop(monkeypatch):
    """``estimate_noise_scale(lr=, train_steps=)`` trains with the task's own loop
    (``lrsweep.train.loop.train``), all ``train_steps`` steps of it, also beyond the task's
    budget (its copy of the loop once stopped at ``task.steps``)."""
    import lrsweep.train.loop as training
    from lrsweep.transfer import estimate_noise_scale

    calls = []
    real = training.train

    def spy(task, model, opt, seed, **kw):
        curve = []
        kw["curve"] = curve
        out = real(task, model, opt, seed, **kw)
        calls.append((len(curve), kw.get("horizon")))
        return out

    monkeypatch.setattr(training, "train", spy)
    g = torch.Generator().manual_seed(0)
    x = torch.randn(512, 4, generator=g)
    y = x.sum(1, keepdim=True)
    task = lrsweep.Task(torch.nn.Linear(4, 1), torch.optim.SGD, (x, y), (x[:64], y[:64]),
                        batch_size=16, loss=torch.nn.MSELoss(), metric="loss", steps=10,
                        device="cpu")
    estimate_noise_scale(task, small=8, big=32, steps=2, lr=0.05, train_steps=25)
    assert calls == [(25, 25)]


def test_both_task_kinds_have_what_engines_use():
    from lrsweep.engines.base import TaskKind
    from lrsweep.task.objective import ObjectiveTask

    wanted = {n for n in vars(TaskKind) if not n.startswith("_")} | set(
        TaskKind.__annotations__)
    assert wanted == {"direction", "unstackable_reason", "run_trial", "protocol"}
    x = torch.randn(32, 4)
    kinds = [lrsweep.Task(torch.nn.Linear(4, 2), torch.optim.SGD, (x, (x[:, 0] > 0).long()),
                          (x, (x[:, 0] > 0).long()), batch_size=8, steps=1, device="cpu"),
             ObjectiveTask(lambda t: t.lr, "max")]
    for kind in kinds:
        assert all(hasattr(kind, n) for n in wanted), type(kind).__name__
        r = kind.run_trial(TrialSpec(0.1, 0), "sequential")
        assert r.status is Status.OK and r.engine == "sequential"
    assert kinds[0].unstackable_reason is None and "own loop" in kinds[1].unstackable_reason


# ------------------------------------------------------------- the layout (issue 22) ----
def _module_name(path: Path) -> str:
    parts = path.relative_to(SRC).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def _import_graph() -> dict[str, set[str]]:
    """Module -> the lrsweep modules it imports (top level or in a function), each resolved
    to the module or package that exists (``from .x import name`` -> ``x``)."""
    files = {_module_name(p): p for p in SRC.rglob("*.py")}

    def resolve(name: str) -> str | None:
        while name not in files:
            if "." not in name:
                return "" if name == "" else None
            name = name.rpartition(".")[0]
        return name

    graph = {}
    for mod, path in files.items():
        found = {resolve(n) for n in lrsweep_imports(path)}
        graph[mod] = {n for n in found if n is not None and n != mod}
    return graph


def _cycles(graph: dict[str, set[str]]) -> list[list[str]]:
    """Strongly connected components of more than one module (Tarjan), sorted."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on: set[str] = set()
    out = []

    def visit(v: str) -> None:
        index[v] = low[v] = len(index)
        stack.append(v)
        on.add(v)
        for w in graph.get(v, ()):
            if w not in index:
                visit(w)
                low[v] = min(low[v], low[w])
            elif w in on:
                low[v] = min(low[v], index[w])
        if low[v] == index[v]:
            comp = []
            while True:
                w = stack.pop()
                on.discard(w)
                comp.append(w)
                if w == v:
                    break
            if len(comp) > 1:
                out.append(sorted(comp))

    for v in sorted(graph):
        if v not in index:
            visit(v)
    return sorted(out)


def test_the_cycle_finder_finds_cycles():
    assert _cycles({"a": {"b"}, "b": {"c"}, "c": {"a"}, "d": {"a"}}) == [["a", "b", "c"]]
    assert _cycles({"a": {"b"}, "b": set()}) == []


def test_no_import_cycle_anywhere():
    """Function-level imports count: one that only defers a cycle is still a cycle."""
    assert _cycles(_import_graph()) == []


def test_nothing_in_the_package_imports_its_root():
    """``lrsweep/__init__`` loads names lazily; a module importing it would tie itself to
    every module the root names. The version lives in ``_version``."""
    graph = _import_graph()
    assert sorted(m for m, deps in graph.items() if "" in deps) == []


@pytest.mark.parametrize("importer,forbidden", [
    ("report", ("cli", "integrations", "examples")),
    ("transfer", ("report", "cli", "integrations", "examples", "search")),
    ("plot", ("report", "cli", "transfer", "search", "sweep")),
    ("analysis", ("sweep", "search", "report", "cli", "transfer", "plot", "integrations",
                  "store", "engines")),
    ("results", ("sweep", "search", "report", "cli", "transfer", "integrations", "store")),
    ("store", ("sweep", "search", "report", "cli", "transfer", "integrations")),
    ("train", ("engines", "store", "results.sweep_result", "sweep", "search", "integrations")),
    ("plan", ("engines", "store", "sweep", "search", "report", "cli", "integrations")),
    ("sweep", ("search", "report", "cli", "transfer", "integrations", "examples")),
    ("search", ("report", "cli", "transfer", "integrations", "examples")),
])
def test_the_back_half_imports_downward_only(importer, forbidden):
    graph = _import_graph()
    mods = [m for m in graph if m == importer or m.startswith(importer + ".")]
    assert mods, importer
    for m in mods:
        bad = sorted(n for n in graph[m] if top(n) in forbidden
                     and (m, top(n)) not in CONVENIENCE)
        assert not bad, f"{m} imports {bad}"


# A result's ``plot()`` and ``report()`` hand the result to the renderers (as pandas'
# ``DataFrame.plot`` does); the renderers take any result by its attributes and import no
# result class, so the arrow has no way back (no cycle: test_no_import_cycle_anywhere).
CONVENIENCE = {("results.sweep_result", "report"), ("results.search_result", "report")}


def test_the_convenience_methods_are_the_only_way_up_from_the_results():
    for m, up in CONVENIENCE:
        path = SRC / (m.replace(".", "/") + ".py")
        uses = [node.name for node in ast.walk(ast.parse(path.read_text()))
                if isinstance(node, ast.FunctionDef)
                and any(isinstance(n, ast.ImportFrom) and n.module
                        and n.module.lstrip(".").split(".")[0] == up for n in ast.walk(node))]
        assert uses and set(uses) <= {"plot", "report"}, (m, uses)


def test_modules_and_classes_stay_small():
    long_modules, long_classes = [], []
    for path in sorted(SRC.rglob("*.py")):
        text = path.read_text()
        if len(text.splitlines()) > 400:
            long_modules.append((_module_name(path), len(text.splitlines())))
        for node in ast.walk(ast.parse(text)):
            if isinstance(node, ast.ClassDef) and node.end_lineno - node.lineno + 1 > 250:
                long_classes.append((_module_name(path), node.name))
    assert long_modules == [] and long_classes == []


def test_no_merge_conflict_markers_in_the_tree():
    root = SRC.parents[1]
    bad = []
    for path in root.rglob("*"):
        if (not path.is_file() or path.suffix not in {".py", ".md", ".toml", ".txt", ".sh",
                                                       ".cfg", ".json", ".yml", ".yaml"}
                or any(p.startswith(".") or p in {"node_modules", "build"}
                       for p in path.relative_to(root).parts)):
            continue
        for i, line in enumerate(path.read_text(errors="replace").splitlines(), 1):
            if line.startswith(("<<<<<<< ", ">>>>>>> ")) or line == "=======":
                bad.append(f"{path.relative_to(root)}:{i}")
    assert bad == []

"""``import lrsweep`` and the read-only commands load no torch (PEP 562 in the package root
and in ``lrsweep.transfer``), so ``lrsweep studies``/``show``/``export``/``report`` start fast."""

from __future__ import annotations

import math
import subprocess
import sys

import pytest

import lrsweep

PROBE = ("import atexit, sys\n"
         "atexit.register(lambda: print('TORCH' if 'torch' in sys.modules else 'NO-TORCH'))\n"
         "from lrsweep.cli import main\n"
         "sys.exit(main(sys.argv[1:]))\n")


def probe(*argv: str) -> str:
    out = subprocess.run([sys.executable, "-c", PROBE, *argv], capture_output=True,
                         text=True, timeout=120)
    assert out.returncode == 0, out.stderr
    return out.stdout


def test_import_lrsweep_loads_no_torch():
    code = ("import sys, lrsweep\n"
            "print(sorted(m for m in ('torch', 'numpy') if m in sys.modules), "
            "lrsweep.__version__)")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                         timeout=120)
    assert out.returncode == 0, out.stderr
    assert out.stdout.split() == ["[]", lrsweep.__version__]


@pytest.fixture(scope="module")
def store(tmp_path_factory):
    path = tmp_path_factory.mktemp("lazy") / "s.db"
    lrsweep.sweep(lambda t: (math.log10(t.lr) + 2.0) ** 2, lrsweep.log_grid(1e-4, 1.0, 7),
                  direction="min", store=str(path), study="bowl", progress=False)
    return path


@pytest.mark.parametrize("argv", [
    ("--help",),
    ("--version",),
    ("studies", "{store}"),
    ("show", "{store}"),
    ("export", "{store}", "--format", "csv"),
])
def test_read_only_commands_load_no_torch(store, argv):
    out = probe(*(a.format(store=store) for a in argv))
    assert out.rstrip().endswith("NO-TORCH"), out
    expected = {"--help": "usage: lrsweep", "--version": f"lrsweep {lrsweep.__version__}",
                "studies": "bowl", "show": "best", "export": "lr,"}[argv[0]]
    assert expected in out, out


def test_report_loads_no_torch(store, tmp_path):
    pytest.importorskip("matplotlib")
    html = tmp_path / "r.html"
    out = probe("report", str(store), "-o", str(html))
    assert out.rstrip().endswith("NO-TORCH"), out
    assert html.stat().st_size > 1000


def test_lazy_names_are_the_eager_ones():
    # each public name resolves to its defining module's object, including the three
    # functions named like their module, also once that module has been imported
    import lrsweep.lr_finder
    import lrsweep.search
    import lrsweep.sweep  # noqa: F401
    from lrsweep.search import search
    from lrsweep.sweep import sweep

    assert lrsweep.search is search and lrsweep.sweep is sweep and callable(lrsweep.lr_finder)
    for name in lrsweep.__all__:
        assert getattr(lrsweep, name) is not None
    assert set(lrsweep.__all__) <= set(dir(lrsweep))
    with pytest.raises(AttributeError, match="no attribute 'nope'"):
        lrsweep.nope  # noqa: B018
    import lrsweep.transfer as tr

    for name in tr.__all__:
        assert getattr(tr, name) is not None


def test_all_lists_every_lazy_name():
    import lrsweep.transfer as tr

    assert set(lrsweep.__all__) == set(lrsweep._LAZY) | {"__version__"}
    assert set(tr.__all__) == set(tr._LAZY)


def test_subpackages_are_reached_as_attributes_without_importing_torch_first():
    """``lrsweep.fingerprint.exclude`` is the documented escape hatch in a user's script."""
    code = ("import sys, lrsweep; import types; "
            "assert isinstance(lrsweep.fingerprint, types.ModuleType); "
            "assert lrsweep.fingerprint.exclude([]) == []; "
            "assert lrsweep.transfer.__name__ == 'lrsweep.transfer'")
    import subprocess
    import sys as _sys
    p = subprocess.run([_sys.executable, "-c", code], capture_output=True, text=True)
    assert p.returncode == 0, p.stderr

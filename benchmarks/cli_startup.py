"""How long the read-only commands take to start, and whether they import torch.

Each command runs in a fresh interpreter (``python -c 'from lrsweep.cli import main' ...``)
``--repeats`` times; the table gives the median wall time and whether torch (or numpy,
matplotlib) was loaded by the time it exited. The store they read is made first by a tiny
``lrsweep run`` (teacher-mlp, 3 LRs, 5 steps). With ``--baseline REV`` the same commands
also run on the ``src/`` of git revision REV (exported into a temporary folder), and the
ratio column is this tree's time over REV's.

    python benchmarks/cli_startup.py [--repeats 5] [--baseline REV]
"""

from __future__ import annotations

import argparse
import os
import platform
import statistics
import subprocess
import sys
import tarfile
import tempfile
import time
from io import BytesIO
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
RUNNER = ("import atexit, sys\n"
          "def _mods():\n"
          "    m = [n for n in ('torch', 'numpy', 'matplotlib') if n in sys.modules]\n"
          "    sys.stderr.write('\\nLOADED=' + ','.join(m) + '\\n')\n"
          "atexit.register(_mods)\n"
          "from lrsweep.cli import main\n"
          "sys.exit(main(sys.argv[1:]))\n")


def commands(out: Path, scratch: Path) -> list[tuple[str, list[str] | None]]:
    store = str(out / "lrsweep.db")
    return [
        ("import lrsweep", None),
        ("--version", ["--version"]),
        ("studies STORE", ["studies", store]),
        ("show STORE", ["show", store]),
        ("export STORE", ["export", store, "-o", str(scratch / "e.json"), "--force"]),
        ("report OUT", ["report", str(out), "-o", str(scratch / "r.html"), "--force"]),
    ]


def run_once(src: Path, argv: list[str] | None) -> tuple[float, str]:
    env = dict(os.environ, PYTHONPATH=str(src), OMP_NUM_THREADS="1")
    if argv is None:
        cmd = [sys.executable, "-c", "import atexit, sys\n" + RUNNER.split("from lrsweep")[0]
               + "import lrsweep\n"]
    else:
        cmd = [sys.executable, "-c", RUNNER, *argv]
    t0 = time.perf_counter()
    p = subprocess.run(cmd, env=env, capture_output=True, text=True)
    dt = time.perf_counter() - t0
    if p.returncode != 0:
        raise SystemExit(f"{argv}: exit {p.returncode}\n{p.stderr}")
    loaded = p.stderr.rsplit("LOADED=", 1)[-1].strip()
    return dt, loaded or "-"


def measure(src: Path, cmds: list[tuple[str, list[str] | None]],
            repeats: int) -> dict[str, tuple[float, str]]:
    out = {}
    for name, argv in cmds:
        runs = [run_once(src, argv) for _ in range(repeats)]
        out[name] = (statistics.median(t for t, _ in runs), runs[-1][1])
    return out


def export_rev(rev: str, dest: Path) -> Path:
    data = subprocess.run(["git", "-C", str(ROOT), "archive", rev, "src"],
                          capture_output=True, check=True).stdout
    with tarfile.open(fileobj=BytesIO(data)) as tar:
        tar.extractall(dest, filter="data")
    return dest / "src"


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--repeats", type=int, default=5)
    ap.add_argument("--baseline", default=None, metavar="REV",
                    help="also time the src/ of this git revision; print the ratio")
    args = ap.parse_args()
    print(f"# {platform.node()}: {os.cpu_count()} CPUs, python {platform.python_version()}, "
          f"load {os.getloadavg()[0]:.1f}, median of {args.repeats}")
    with tempfile.TemporaryDirectory() as tmp:
        tmp_path = Path(tmp)
        out, scratch = tmp_path / "out", tmp_path / "scratch"
        scratch.mkdir()
        src = ROOT / "src"
        made = subprocess.run(
            [sys.executable, "-c", RUNNER, "run", "--task", "teacher-mlp", "--steps", "5",
             "--num", "3", "--quiet", "--threads", "1", "--out", str(out)],
            env=dict(os.environ, PYTHONPATH=str(src)), capture_output=True, text=True)
        if made.returncode != 0:
            raise SystemExit(f"the store could not be made:\n{made.stderr}")
        cmds = commands(out, scratch)
        now = measure(src, cmds, args.repeats)
        before = (measure(export_rev(args.baseline, tmp_path / "base"), cmds, args.repeats)
                  if args.baseline else None)
    head = f"{'command':<16}"
    if before:
        head += f"{args.baseline[:10]:>12}  {'loaded':<24}"
    head += f"{'this tree':>10}  {'loaded':<24}" + ("   ratio" if before else "")
    print(head)
    for name, _ in cmds:
        line = f"{name:<16}"
        if before:
            line += f"{before[name][0]:>11.2f}s  {before[name][1]:<24}"
        line += f"{now[name][0]:>9.2f}s  {now[name][1]:<24}"
        if before:
            line += f"{now[name][0] / before[name][0]:>8.2f}"
        print(line)


if __name__ == "__main__":
    main()

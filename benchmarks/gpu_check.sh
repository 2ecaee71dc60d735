#!/usr/bin/env bash
# The one command to run when a GPU is at hand (issue 23). From the repository root:
#
#   bash benchmarks/gpu_check.sh             # on a CUDA machine: about 6-8 minutes
#   bash benchmarks/gpu_check.sh --dry-run   # the same steps on CPU at a tiny size (~1 min)
#
# Steps, each timed:
#   1. every test marked `gpu` (pytest -m gpu);
#   2. benchmarks/speed.py --device cuda --seeds 3: the 10-LR table against the seed
#      document's loop (LR-only stacking) and the (lr, seed) stacking table with 3 seeds;
#   3. a default `lrsweep.search` (3 seeds) on two built-in tasks, timed with the default
#      engine (vectorized on a GPU), the sequential engine, and with one seed
#      (benchmarks/speed.py --search).
# It appends one dated section (device, torch, CUDA, commands, tables) to
# benchmarks/RESULTS.md, or to --results PATH. A dry run writes to a temporary file unless
# --results is given, so the real RESULTS.md only ever gets GPU figures.
# Exit status: 0 when every step passed, 1 when one failed (the section says which), 2 for
# bad arguments or no GPU without --dry-run.
set -u

usage() {
    sed -n '2,17p' "$0" | sed 's/^# \{0,1\}//'
    echo "options: --dry-run  --results PATH  --python PYTHON  -h/--help"
}

DRY=0
RESULTS=""
PY="${PYTHON:-python}"
while [ $# -gt 0 ]; do
    case "$1" in
        --dry-run) DRY=1 ;;
        --results)
            [ $# -ge 2 ] || { echo "gpu_check.sh: error: --results needs a file path" >&2; exit 2; }
            RESULTS="$2"; shift ;;
        --python)
            [ $# -ge 2 ] || { echo "gpu_check.sh: error: --python needs an interpreter" >&2; exit 2; }
            PY="$2"; shift ;;
        -h|--help) usage; exit 0 ;;
        *) echo "gpu_check.sh: error: unknown argument '$1'; use --dry-run, --results PATH or --help" >&2
           exit 2 ;;
    esac
    shift
done

ROOT="$(cd "$(dirname "$0")/.." && pwd)"
cd "$ROOT" || exit 2
export PYTHONPATH="$ROOT/src${PYTHONPATH:+:$PYTHONPATH}"
WORK="$(mktemp -d "${TMPDIR:-/tmp}/gpu_check.XXXXXX")"

if [ "$DRY" = 1 ]; then
    DEVICE=cpu
    export OMP_NUM_THREADS=1
    SPEED_ARGS=(--device cpu --samples 256 --val-samples 256 --cases mlp-256 --repeats 1
                --seeds 3 --lrs 3 --threads 1)
    SEARCH_TASKS=teacher-mlp,digits-mlp
    SEARCH_ARGS=(--device cpu --steps 2 --max-trials 6 --threads 1)
    [ -n "$RESULTS" ] || RESULTS="$WORK/RESULTS.md"
else
    if ! "$PY" -c "import torch, sys; sys.exit(0 if torch.cuda.is_available() else 1)"; then
        echo "gpu_check.sh: error: no CUDA device here; run with --dry-run to check the steps on CPU" >&2
        exit 2
    fi
    DEVICE=cuda
    SPEED_ARGS=(--device cuda --cases mlp-256,mlp-1024,cnn --repeats 1 --seeds 3)
    SEARCH_TASKS=teacher-mlp,stdlib-gpt
    SEARCH_ARGS=(--device cuda)
    [ -n "$RESULTS" ] || RESULTS="$ROOT/benchmarks/RESULTS.md"
fi

FAILED=()
STEPS_MD="$WORK/steps.md"
: > "$STEPS_MD"

now() { "$PY" -c "import time; print(f'{time.time():.3f}')"; }

# step NAME LOG CMD...: run CMD (at most 300 s), its output to LOG, a row in the steps table
step() {
    local name="$1" log="$2"; shift 2
    local t0 t1 rc
    echo "gpu_check: $name: $*" >&2
    t0="$(now)"
    timeout 300 "$@" > "$log" 2>&1
    rc=$?
    t1="$(now)"
    [ "$rc" = 0 ] || FAILED+=("$name (exit $rc)")
    printf '| %s | `%s` | %s | %s |\n' "$name" "$*" "$rc" \
        "$("$PY" -c "print(f'{$t1 - $t0:.1f}')")" >> "$STEPS_MD"
    echo "$t0 $t1" > "$log.time"
    return 0
}

# 1. the gpu-marked tests (skipped, not failed, without CUDA: the dry run checks they collect),
#    from the test files that have any
mapfile -t GPU_FILES < <(grep -l "pytest.mark.gpu" tests/test_*.py)
step "gpu tests" "$WORK/pytest.log" "$PY" -m pytest -q -m gpu -p no:cacheprovider \
    "${GPU_FILES[@]}"

# 2. speed: LR-only stacking against the seed loop, then (lr, seed) stacking with 3 seeds
step "speed" "$WORK/speed.log" "$PY" benchmarks/speed.py "${SPEED_ARGS[@]}"

# 3. a default search (3 seeds) on two built-in tasks: default engine, sequential, one seed
step "search" "$WORK/search.log" "$PY" benchmarks/speed.py --search "$SEARCH_TASKS" \
    "${SEARCH_ARGS[@]}"

# ------------------------------------------------------------------------ the section ----
"$PY" - "$WORK" "$RESULTS" "$DRY" "$DEVICE" "${FAILED[@]+"${FAILED[@]}"}" <<'EOF'
import datetime
import platform
import sys
from pathlib import Path

import torch

work, results, dry, device, failed = Path(sys.argv[1]), Path(sys.argv[2]), sys.argv[3] == "1", \
    sys.argv[4], sys.argv[5:]
cuda = torch.cuda.is_available() and device == "cuda"
name = torch.cuda.get_device_name() if cuda else (platform.processor() or platform.machine())
today = datetime.datetime.now(datetime.timezone.utc).strftime("%Y-%m-%d %H:%M UTC")


def tail(path: Path, n: int) -> str:
    text = path.read_text(errors="replace").strip().splitlines() if path.exists() else []
    return "\n".join(text[-n:])


def tables(path: Path) -> str:
    """The tables of a benchmark's output; its '# ...' lines as captions."""
    lines = path.read_text(errors="replace").splitlines() if path.exists() else []
    keep = []
    for ln in lines:
        if ln.startswith("|"):
            keep.append(ln)
        elif ln.startswith("#"):
            keep += ["", ln.lstrip("# ").strip() + ":", ""]
    return "\n".join(keep).strip() if keep else "```\n" + tail(path, 20) + "\n```"


title = ("GPU check (issue 23), DRY RUN on CPU at a tiny size: not a measurement" if dry
         else "GPU check (issue 23)")
out = [f"\n## {title}: {today}\n",
       f"Device: {name} ({device}); torch {torch.__version__}; CUDA "
       f"{torch.version.cuda if cuda else 'n/a'}; Python {platform.python_version()}.",
       f"Command: `bash benchmarks/gpu_check.sh{' --dry-run' if dry else ''}`. "
       + ("Every step passed." if not failed else "FAILED: " + "; ".join(failed) + "."),
       "", "| step | command | exit | seconds |", "|---|---|---|---|",
       (work / "steps.md").read_text().rstrip(), "",
       "gpu-marked tests: " + (tail(work / "pytest.log", 1) or "(no output)"), "",
       "Speed (`benchmarks/speed.py`):", "", tables(work / "speed.log"), "",
       "Default search (`benchmarks/speed.py --search`):", "", tables(work / "search.log"),
       ""]
results.parent.mkdir(parents=True, exist_ok=True)
with results.open("a") as f:
    f.write("\n".join(out) + "\n")
print(f"gpu_check: section written to {results}")
EOF
rc=$?
[ "$rc" = 0 ] || { echo "gpu_check.sh: error: could not write the section to $RESULTS" >&2; exit 1; }
if [ ${#FAILED[@]} -gt 0 ]; then
    echo "gpu_check: FAILED: ${FAILED[*]} (logs in $WORK)" >&2
    exit 1
fi
echo "gpu_check: every step passed (logs in $WORK)" >&2
exit 0

#!/usr/bin/env bash
# Issue 17's GPU figures in one go, on a machine with a CUDA GPU and torch but no diffusers and no internet:
# installs the carried wheels (bench/wheels/, made here by bench/prepare_wheels.sh), then runs every stage of
# bench/gpu.py within BUDGET_S seconds (under 8 minutes in all) and leaves the records under $OUT:
#   gpu-bench.jsonl  one JSON record a line, written as each is measured (a timeout keeps what finished)
#   gpu-bench.log    the bench's stderr: progress, and the goals table at the end
#   env.txt          nvidia-smi, the versions, the wheels' install
#
# On the device tool:  run(command="bash bench/device_check.sh", carry=["bench/wheels"], timeout_s=540)
# Anywhere, no GPU:    DRY_RUN=1 bench/device_check.sh   (or --dry-run): the same stages, tiny models, on the CPU
#
# PYTHON picks the interpreter (default python3); OUT the folder (default ./bench-out).
set -uo pipefail
cd "$(dirname "$0")/.."
PY=${PYTHON:-python3}
OUT_DIR=${OUT:-$PWD/bench-out}
BUDGET_S=${BUDGET_S:-400}
mkdir -p "$OUT_DIR"
export PYTHONUNBUFFERED=1
started=$(date +%s)
dry=${DRY_RUN:-0}
[ "${1:-}" = "--dry-run" ] && dry=1

if [ "$dry" = 1 ]; then
  "$PY" bench/gpu.py --dry-run --out "$OUT_DIR/gpu-bench.jsonl" 2> >(tee "$OUT_DIR/gpu-bench.log" >&2)
  code=$?
  echo "device_check: dry run done in $(( $(date +%s) - started )) s (exit $code)" >&2
  exit $code
fi

{
  nvidia-smi || true
  echo "python: $("$PY" -V 2>&1)"
  if ! "$PY" -c "import diffusers" 2>/dev/null || [ -f bench/wheels/requirements.txt ]; then
    if [ ! -f bench/wheels/requirements.txt ]; then
      echo "no bench/wheels/: run bench/prepare_wheels.sh where there is internet, and carry bench/wheels"
    elif ! "$PY" -m pip install --quiet --no-index --no-cache-dir --find-links bench/wheels \
        -r bench/wheels/requirements.txt; then
      # pip would not fit them into this environment: put them beside it instead, as they are
      echo "pip could not install into the environment; installing the wheels alone under /tmp/reelbot-site"
      "$PY" -m pip install --quiet --no-index --no-deps --no-cache-dir --target /tmp/reelbot-site bench/wheels/*.whl
      export PYTHONPATH=/tmp/reelbot-site${PYTHONPATH:+:$PYTHONPATH}
    fi
  fi
  "$PY" -c "import torch, diffusers, transformers, accelerate; print('torch', torch.__version__, 'cuda', torch.version.cuda,
'diffusers', diffusers.__version__, 'transformers', transformers.__version__, 'accelerate', accelerate.__version__)"
  echo "cc: $(command -v cc gcc | head -1)"
} > "$OUT_DIR/env.txt" 2>&1
cat "$OUT_DIR/env.txt" >&2
if [ -d /tmp/reelbot-site ]; then export PYTHONPATH=/tmp/reelbot-site${PYTHONPATH:+:$PYTHONPATH}; fi
if ! "$PY" -c "import diffusers" 2>/dev/null; then
  echo "device_check: diffusers cannot be imported here (see $OUT_DIR/env.txt)" >&2
  exit 3
fi

# The bench keeps to BUDGET_S itself (each stage its share, stopped at it); the timeout is the safety net.
left=$(( BUDGET_S - ($(date +%s) - started) ))
timeout -s KILL $(( left + 60 )) "$PY" bench/gpu.py --device cuda:0 --runs "${RUNS:-1}" --compile --no-50-steps \
  --budget-s "$left" --out "$OUT_DIR/gpu-bench.jsonl" 2> >(tee "$OUT_DIR/gpu-bench.log" >&2)
code=$?
echo "device_check: done in $(( $(date +%s) - started )) s (exit $code); records in $OUT_DIR/gpu-bench.jsonl" >&2
exit $code

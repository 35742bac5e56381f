#!/usr/bin/env bash
# Fills bench/wheels/ (ignored by git) with what bench/device_check.sh installs on a GPU machine that has torch
# but no diffusers and no internet (the device tool's machines): diffusers and transformers at the versions this
# checkout's environment runs, so the GPU runs the code the tests ran, plus the small packages they need that such
# a machine may lack (pip there keeps whatever it already has that fits). Never torch: the machine has its own
# CUDA build. Wheels for CPython 3.12 on x86-64 Linux (TARGET_PY to change it).
#
#   bench/prepare_wheels.sh [PYTHON]      PYTHON: the environment whose versions to take (default .venv/bin/python)
#
# Then on the device: carry "bench/wheels" and run `bash bench/device_check.sh` (README, "Benchmarks").
set -euo pipefail
cd "$(dirname "$0")/.."
PY=${1:-${PYTHON:-}}
if [ -z "$PY" ]; then
  if [ -x .venv/bin/python ]; then PY=.venv/bin/python; else PY=python3; fi
fi
DEST=bench/wheels
TARGET_PY=${TARGET_PY:-3.12}
LIMIT_MIB=40  # the device tool carries 64 MiB in all, the working tree included

version() { "$PY" -c "import importlib.metadata as m, sys; print(m.version(sys.argv[1]))" "$1"; }
pins=()
for name in diffusers transformers; do pins+=("$name==$(version "$name")"); done
deps=()  # maybe missing there, or too old for these versions; a machine that has them keeps its own
for name in importlib_metadata zipp regex tokenizers; do deps+=("$name==$(version "$name")"); done

mkdir -p "$DEST"
rm -f "$DEST"/*.whl
"$PY" -m pip download --quiet --no-deps --only-binary=:all: --python-version "$TARGET_PY" --implementation cp \
  --platform manylinux_2_28_x86_64 --platform manylinux_2_17_x86_64 --platform manylinux2014_x86_64 \
  -d "$DEST" "${pins[@]}" "${deps[@]}"
printf '%s\n' "${pins[@]}" > "$DEST/requirements.txt"

size=$(du -sm "$DEST" | cut -f1)
ls -l "$DEST"
echo "bench/wheels: ${size} MiB (${pins[*]})"
if [ "$size" -gt "$LIMIT_MIB" ]; then
  echo "bench/wheels is over ${LIMIT_MIB} MiB: the device tool would not carry it with the working tree" >&2
  exit 1
fi

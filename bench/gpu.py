"""Local video generation speed and memory: diffusers' documented recipe vs. the engine's own path, with the
compile cost, the chosen plan and smaller cards. One JSON record a line, each written as soon as it is measured.

    python bench/gpu.py [--family svd-xt|zeroscope|all] [--runs N] [--device cuda:0|cpu] [--tiny]
                        [--out FILE] [--budget-s S] [--stages main,compile-warm,card-12,card-8] [--compile]
    python bench/gpu.py --dry-run        # every stage on the CPU with the tiny models (a couple of minutes)
    bench/device_check.sh                # all of it on a GPU machine with no internet (see that script)

On a CUDA machine (the default when torch sees a GPU and ``--tiny`` is not given) it builds the FULL-SIZE
SVD-XT 1.1 and zeroscope_v2_576w pipelines from their published configs (``bench/gpu_models.py``) with
random fp16 weights made on the GPU: the same shapes, so the same FLOPs and memory traffic as the real models,
with nothing downloaded. SVD-XT: 25 frames at 1024x576, 25 steps, one input image. zeroscope: 24 frames at
576x320, 40 steps (the registry default), plus one 50-step run per variant unless ``--no-50-steps``.

The measuring runs in stage processes (``bench/gpu_stages.py``), one after the other, each under a time limit
taken from ``--budget-s``; their records are passed on the moment they are printed, to stdout and to
``--out`` (appended, flushed and synced), so a stage stopped at its limit keeps what it finished:

* ``main``: per family, ``compile-cold`` (the backend's warm-up on a fresh TORCHINDUCTOR_CACHE_DIR; an engine
  without one has its first job timed instead), ``reelbot`` (the engine's path, ``DiffusersBackend._generate``
  on a warm lane: first job, then ``--runs`` timed jobs), ``plain`` (fp16, ``enable_model_cpu_offload``,
  SVD's ``decode_chunk_size=8``, no compile: one warm-up, then ``--runs`` timed runs) and ``plan-vs-plain``
  (the plan the engine chose vs plain's, the speedup, peak VRAM, and reelbot's frames against the eager call
  for the same seed: PSNR, bit-identical).
* ``compile-warm``: the warm-up again in a new process on the same cache folder.
* ``card-12``, ``card-8``: a 12 GB and an 8 GB card emulated on the GPU (each its own process: the
  allocator may use the card's size less 1 GiB for the CUDA context and a desktop): a user's default job, whether
  its first try ran without an out-of-memory rung, and the frames it made.

Times are medians in seconds, ``torch.cuda.synchronize``d; peak VRAM is ``torch.cuda.max_memory_allocated``
over the timed runs (reset before them); ``denoise_s``/``decode_s`` cut each run where the VAE decode starts.
Last, one ``summary`` record per family sets the figures next to issue 17's goals (``bench/gpu_goals.py``),
also printed as a table on stderr.

Without a GPU (or with ``--tiny``) the same stages run on the tiny random-weight models of
``engine.local.tiny`` at 32x32, 4 frames, 2 steps, and every record says ``"tiny": true``: those timings only
show that the harness works; they say nothing about GPU speed.
"""

from __future__ import annotations

import argparse
import json
import os
import queue
import shutil
import signal
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Callable
from pathlib import Path
from typing import IO, Any

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from bench.gpu_goals import summarize, table  # noqa: E402
from bench.gpu_models import FAMILIES  # noqa: E402
from bench.gpu_stages import STAGE_RECORDS  # noqa: E402  (torch and diffusers only inside the stage processes)

RECORDS = STAGE_RECORDS  # stage process -> the records it writes per family
STAGES = tuple(RECORDS)
# On a GPU: the most each stage may take and the least worth starting it with, in seconds. Each stage gets
# its cap, less what the stages after it need at least, within what is left of --budget-s.
GPU_CAP_S = {"main": 300.0, "compile-warm": 90.0, "card-12": 75.0, "card-8": 60.0}
GPU_MIN_S = {"main": 60.0, "compile-warm": 30.0, "card-12": 30.0, "card-8": 30.0}
GPU_BUDGET_S = 420.0
CPU_BUDGET_S = 900.0
TINY_NOTICE = (
    "NOTE: these are CPU timings of tiny random-weight models, not GPU figures. They only show that the "
    "benchmark runs; run `python bench/gpu.py` on a machine with a CUDA GPU for real numbers."
)
TINY_GPU_NOTICE = (
    "NOTE: these are timings of tiny random-weight models, not real figures; drop --tiny for the full-size models."
)


class DeviceError(Exception):
    """The device asked for is not there; the message says why and what to do."""


def _pick_device(requested: str | None, tiny: bool) -> tuple[str, bool]:
    """(device, tiny). Raises DeviceError with plain words if CUDA is asked for and not there."""
    import torch

    if requested is None:
        if torch.cuda.is_available() and not tiny:
            return "cuda:0", False
        return "cpu", True
    if requested == "cpu":
        return "cpu", True  # full-size video models on a CPU would take hours: always the tiny ones
    if requested.startswith("cuda"):
        device = requested if ":" in requested else "cuda:0"
        if not torch.cuda.is_available():
            why = ("this torch is a CPU-only build" if torch.version.cuda is None
                   else "torch sees no CUDA device (driver, CUDA_VISIBLE_DEVICES?)")
            raise DeviceError(f"--device {requested} was asked for, but {why}. "
                             "Run on a machine with an NVIDIA GPU, or use --device cpu / --tiny.")
        index = int(device.split(":")[1])
        if index >= torch.cuda.device_count():
            raise DeviceError(f"--device {requested}: only {torch.cuda.device_count()} "
                             "CUDA device(s) here.")
        return device, tiny
    raise DeviceError(f"unknown --device {requested!r}; use cuda, cuda:N or cpu.")



class Output:
    """Where records go: stdout, and ``--out`` (appended, flushed and synced, so a kill loses nothing)."""

    def __init__(self, path: Path | None) -> None:
        self.file: IO[str] | None = None
        if path is not None:
            path.parent.mkdir(parents=True, exist_ok=True)
            self.file = path.open("a", encoding="utf-8")

    def write(self, record: dict[str, Any]) -> None:
        line = json.dumps(record)
        print(line, flush=True)
        if self.file is not None:
            self.file.write(line + "\n")
            self.file.flush()
            os.fsync(self.file.fileno())

    def close(self) -> None:
        if self.file is not None:
            self.file.close()


def run_stage(cmd: list[str], *, env: dict[str, str] | None, timeout_s: float,
              emit: Callable[[dict[str, Any]], None]) -> tuple[list[dict[str, Any]], str | None]:
    """Run one stage process, passing each JSON line it prints to ``emit`` as it comes (other lines go to
    stderr). Stopped, with its whole process group, at ``timeout_s``. Returns the records and what went
    wrong (None when it exited 0 in time)."""
    proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=None, text=True, env=env, start_new_session=True)
    lines: queue.Queue[str | None] = queue.Queue()

    def read() -> None:
        assert proc.stdout is not None
        for line in proc.stdout:
            lines.put(line)
        lines.put(None)

    reader = threading.Thread(target=read, daemon=True)
    reader.start()
    records: list[dict[str, Any]] = []
    error = None
    deadline = time.monotonic() + timeout_s

    def take(line: str) -> None:
        try:
            record = json.loads(line)
        except ValueError:
            record = None
        if isinstance(record, dict) and "stage" in record:
            records.append(record)
            emit(record)
        elif line.strip():
            print(line.rstrip(), file=sys.stderr, flush=True)

    while True:
        left = deadline - time.monotonic()
        if left <= 0:
            error = f"timed out after {timeout_s:.0f} s (the stage's share of --budget-s)"
            _kill_group(proc)
            break
        try:
            line = lines.get(timeout=min(left, 1.0))
        except queue.Empty:
            continue
        if line is None:
            break
        take(line)
    reader.join(timeout=10)
    while True:  # what it printed before it was stopped
        try:
            line = lines.get_nowait()
        except queue.Empty:
            break
        if line is not None:
            take(line)
    code = proc.wait()
    if proc.stdout is not None:
        proc.stdout.close()
    if error is None and code != 0:
        error = f"exited with status {code}"
    return records, error


def _kill_group(proc: subprocess.Popen[str]) -> None:
    try:
        os.killpg(proc.pid, signal.SIGKILL)  # the stage process and its compile workers, all started here
    except (ProcessLookupError, PermissionError):
        proc.kill()


def _stage_limits(stage: str, later: list[str], left: float, on_gpu: bool) -> tuple[float, float]:
    """(least worth starting with, time limit) for ``stage`` with ``left`` seconds of the budget."""
    if not on_gpu:
        return 5.0, left
    reserve = sum(GPU_MIN_S[s] for s in later)
    return GPU_MIN_S[stage], max(GPU_MIN_S[stage], min(GPU_CAP_S[stage], left - reserve))


def orchestrate(args: argparse.Namespace, device: str, tiny: bool) -> int:
    out = Output(Path(args.out) if args.out else None)
    on_gpu = device.startswith("cuda")
    budget = args.budget_s or (GPU_BUDGET_S if on_gpu and not tiny else CPU_BUDGET_S)
    deadline = time.monotonic() + budget
    families = FAMILIES if args.family == "all" else (args.family,)
    stages = [s for s in STAGES if s in args.stages.split(",")]
    cache = Path(args.cache_dir) if args.cache_dir else Path(tempfile.mkdtemp(prefix="reelbot-gpu-bench-cache-"))
    cache.mkdir(parents=True, exist_ok=True)
    env = dict(os.environ, PYTHONUNBUFFERED="1", TORCHINDUCTOR_CACHE_DIR=str(cache / "inductor"),
               TRITON_CACHE_DIR=str(cache / "triton"))
    common = ["--device", device, "--runs", str(args.runs), "--family", args.family, "--cache-dir", str(cache)]
    common += ["--tiny"] if tiny else []
    common += ["--no-50-steps"] if args.no_50_steps else []
    common += {True: ["--compile"], False: ["--no-compile"], None: []}[args.compile]
    got: dict[str, dict[str, dict[str, Any]]] = {family: {} for family in families}
    failed = False

    def emit(record: dict[str, Any]) -> None:
        got.setdefault(record["family"], {})[record["stage"]] = record
        out.write(record)

    try:
        for i, stage in enumerate(stages):
            least, limit = _stage_limits(stage, stages[i + 1:], deadline - time.monotonic(), on_gpu and not tiny)
            if deadline - time.monotonic() < least:
                error: str | None = f"skipped: less than {least:.0f} s of --budget-s ({budget:.0f} s) was left"
            else:
                print(f"bench/gpu.py: stage {stage} (at most {limit:.0f} s)", file=sys.stderr, flush=True)
                cmd = [sys.executable, str(Path(__file__).resolve()), "--stage", stage, *common]
                _, error = run_stage(cmd, env=env, timeout_s=limit, emit=emit)
            if error:
                failed = True
                print(f"bench/gpu.py: stage {stage}: {error}", file=sys.stderr, flush=True)
            for family in families:  # what the stage did not write says why
                for name in RECORDS[stage]:
                    if name not in got[family]:
                        emit({"stage": name, "family": family, "tiny": tiny, "error": error or "not written"})
        summaries = []
        for family in families:
            records = got[family]
            gpu_name = next((r["gpu_name"] for r in records.values() if r.get("gpu_name")), None)
            summaries.append(summarize(family, records, tiny=tiny, gpu_name=gpu_name))
            out.write(summaries[-1])
            failed |= any("error" in r for r in records.values())
        print(table(summaries), file=sys.stderr, flush=True)
    finally:
        out.close()
        if not args.cache_dir:
            shutil.rmtree(cache, ignore_errors=True)
    return 1 if failed else 0


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--family", choices=[*FAMILIES, "all"], default="all")
    parser.add_argument("--runs", type=int, default=3, help="timed runs per variant, after the warm-up")
    parser.add_argument("--device", default=None, help="cuda, cuda:N or cpu (default: cuda:0 if there is one)")
    parser.add_argument("--tiny", action="store_true", help="tiny random models (on CPU unless --device cuda)")
    parser.add_argument("--dry-run", action="store_true",
                        help="every stage on the CPU with the tiny models, one timed run each")
    parser.add_argument("--no-50-steps", action="store_true", help="skip zeroscope's extra 50-step runs")
    parser.add_argument("--compile", action="store_true", default=None,
                        help="the backend compiles the denoiser (LOCAL_COMPILE=true); default: the backend's own")
    parser.add_argument("--no-compile", dest="compile", action="store_false", help="the backend compiles nothing")
    parser.add_argument("--out", default=None, help="also append every record to this file (JSON lines)")
    parser.add_argument("--budget-s", type=float, default=None,
                        help=f"seconds for all stages (default {GPU_BUDGET_S:.0f} on a GPU, {CPU_BUDGET_S:.0f} on a CPU)")
    parser.add_argument("--stages", default=",".join(STAGES), help=f"which of {','.join(STAGES)}")
    parser.add_argument("--cache-dir", default=None,
                        help="the compile caches' folder, kept (default: a fresh temporary one, removed)")
    parser.add_argument("--stage", choices=STAGES, help=argparse.SUPPRESS)  # inside a stage process
    args = parser.parse_args(argv)
    if args.runs < 1:
        parser.error("--runs must be at least 1")
    if unknown := set(args.stages.split(",")) - set(STAGES):
        parser.error(f"unknown stage(s) {', '.join(sorted(unknown))}; use {', '.join(STAGES)}")
    if args.dry_run:
        if args.device not in (None, "cpu"):
            parser.error("--dry-run runs on the CPU")
        args.device, args.tiny, args.runs, args.no_50_steps = "cpu", True, 1, True

    if args.stage:
        return _stage_process(args)
    try:
        device, tiny = ("cpu", True) if args.device == "cpu" else _pick_device(args.device, args.tiny)
    except DeviceError as exc:
        print(f"bench/gpu.py: {exc}", file=sys.stderr)
        return 2
    if tiny:
        print(TINY_NOTICE if device == "cpu" else TINY_GPU_NOTICE, file=sys.stderr, flush=True)
    return orchestrate(args, device, tiny)


def _stage_process(args: argparse.Namespace) -> int:
    from bench.gpu_stages import Bench, run_stage

    families = FAMILIES if args.family == "all" else (args.family,)
    bench = Bench(device=args.device, tiny=args.tiny, runs=args.runs, compile_flag=args.compile,
                  cache_dir=Path(args.cache_dir), extra_50=not args.tiny and not args.no_50_steps)
    return run_stage(args.stage, families, bench)


if __name__ == "__main__":
    sys.exit(main())

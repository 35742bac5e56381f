"""Local video generation speed: diffusers' documented recipe vs. the engine's own path. One JSON line per family.

    python bench/gpu.py [--family svd-xt|zeroscope|all] [--runs N] [--device cuda:0|cpu] [--tiny]

On a CUDA machine (the default when torch sees a GPU and ``--tiny`` is not given) it builds the FULL-SIZE
SVD-XT 1.1 and zeroscope_v2_576w pipelines from their published configs (in ``bench/gpu_models.py``) with
random fp16 weights made on the GPU: the same shapes, so the same FLOPs and memory traffic as the real models,
with nothing downloaded. Each family is then run two ways in this process, both warm (one untimed warm-up run,
then ``--runs`` timed runs with ``torch.cuda.synchronize`` around each):

* ``plain``: what diffusers' docs tell users to do: an fp16 pipeline with ``enable_model_cpu_offload()``
  (SVD with ``decode_chunk_size=8``), no compile.
* ``reelbot``: the engine's path: the pipeline sits warm on a ``GpuLane`` and ``DiffusersBackend._generate``
  runs the job exactly as the engine's runner would, so whatever speed settings the backend applies (memory
  plan, compile, ...) are what is measured.

SVD-XT: 25 frames at 1024x576, 25 steps, one input image. zeroscope: 24 frames at 576x320, 40 steps (the
registry default), plus one extra 50-step run per variant (``plain_s_50_steps`` / ``reelbot_s_50_steps``).

``plain_s`` / ``reelbot_s`` are the median of the timed runs in seconds; ``speedup`` = plain / reelbot; peak
VRAM is ``torch.cuda.max_memory_allocated`` over the timed runs of each variant (reset before them).

Without a GPU (or with ``--tiny``) the same two variants run on the tiny random-weight models of
``engine.local.tiny`` at 64x64, 8 frames, 4 steps (``plain`` = a plain pipeline call, no offload) and the
line says ``"tiny": true``. Those timings only show that the harness works; they say nothing about GPU speed.
"""

from __future__ import annotations

import argparse
import contextlib
import gc
import inspect
import json
import statistics
import sys
import tempfile
import threading
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from bench.gpu_models import FAMILIES, build_full, param_count  # noqa: E402
from engine.backends.base import RunContext  # noqa: E402
from engine.backends.diffusers import DiffusersBackend  # noqa: E402
from engine.images import fit_image  # noqa: E402
from engine.lanes import GpuLane  # noqa: E402
from engine.local.registry import BUILTIN, ModelSpec  # noqa: E402
from engine.types import JobKind, JobSpec, Options  # noqa: E402

PROMPT = "a cat playing the piano in the rain, cinematic, high quality, detailed"
SEED = 42
TINY = {"width": 64, "height": 64, "frames": 8, "steps": 4}
TINY_NOTICE = (
    "NOTE: these are CPU timings of tiny random-weight models, not GPU figures. They only show that the "
    "benchmark runs; run `python bench/gpu.py` on a machine with a CUDA GPU for real numbers."
)
TINY_GPU_NOTICE = (
    "NOTE: these are timings of tiny random-weight models, not real figures; drop --tiny for the full-size models."
)

class Sizes:
    def __init__(self, spec: ModelSpec, tiny: bool) -> None:
        if tiny:
            self.width, self.height, self.frames, self.steps = (
                TINY["width"], TINY["height"], TINY["frames"], TINY["steps"])
        else:
            self.width, self.height = spec.size(portrait=False)
            self.frames, self.steps = spec.frames, spec.steps


def _kind(spec: ModelSpec) -> JobKind:
    return JobKind.IMAGE_TO_VIDEO if JobKind.IMAGE_TO_VIDEO in spec.kinds else JobKind.TEXT_TO_VIDEO


def _sync(device: str) -> None:
    if device.startswith("cuda"):
        import torch

        torch.cuda.synchronize(device)


def _free(device: str) -> None:
    gc.collect()
    if device.startswith("cuda"):
        import torch

        torch.cuda.synchronize(device)
        torch.cuda.empty_cache()


def _measure(fn: Callable[[], Any], runs: int, device: str, *, warmup: bool = True) -> dict[str, Any]:
    """One untimed warm-up call (unless the pipeline is already warm), then ``runs`` timed calls; peak VRAM
    over the timed ones."""
    import torch

    on_gpu = device.startswith("cuda")
    warmup_s = None
    if warmup:
        _sync(device)
        t0 = time.perf_counter()
        fn()
        _sync(device)
        warmup_s = time.perf_counter() - t0
    if on_gpu:
        torch.cuda.reset_peak_memory_stats(device)
    times = []
    for _ in range(runs):
        _sync(device)
        t0 = time.perf_counter()
        fn()
        _sync(device)
        times.append(time.perf_counter() - t0)
    peak = torch.cuda.max_memory_allocated(device) / 2**30 if on_gpu else None
    return {"warmup_s": warmup_s, "times": times, "peak_gib": peak}


def _plain_call(pipe: Any, spec: ModelSpec, sizes: Sizes, steps: int, image: Any) -> Callable[[], Any]:
    """The call diffusers' docs show (defaults written out): SVD ``pipe(image, decode_chunk_size=8, ...)``,
    zeroscope ``pipe(prompt, num_inference_steps=40, height=320, width=576, num_frames=24)``."""
    import torch

    call = inspect.signature(pipe.__call__).parameters
    kwargs: dict[str, Any] = {
        "height": sizes.height, "width": sizes.width, "num_frames": sizes.frames, "num_inference_steps": steps,
        "output_type": "np",
    }
    if "image" in call:
        kwargs["image"] = image
        kwargs.update({"decode_chunk_size": 8, "fps": spec.fps, "motion_bucket_id": 127,
                       "noise_aug_strength": 0.02, "min_guidance_scale": 1.0, "max_guidance_scale": 3.0})
    else:
        kwargs["prompt"] = PROMPT
        if spec.guidance is not None:
            kwargs["guidance_scale"] = spec.guidance

    def run() -> Any:
        with torch.inference_mode():
            frames = pipe(generator=torch.Generator("cpu").manual_seed(SEED), **kwargs).frames[0]
        if len(frames) != sizes.frames:
            raise AssertionError(f"plain run made {len(frames)} frames, not {sizes.frames}")
        return frames

    return run


def _reelbot_call(
    pipe: Any, spec: ModelSpec, sizes: Sizes, steps: int, device: str, image_path: Path | None, workdir: Path,
    backend_kwargs: dict[str, Any], notes: list[str],
) -> tuple[Callable[[], Any], GpuLane]:
    """The engine's path: a warm pipeline on a lane, ``DiffusersBackend._generate`` with a runner-style
    RunContext."""
    kind = _kind(spec)
    index = int(device.split(":")[1]) if ":" in device else 0
    lane = GpuLane(index, device=device)
    backend = DiffusersBackend({spec.name: spec}, default_models={kind: spec.name}, **backend_kwargs)
    lane.put_warm(spec.name, pipe)
    options = Options(model=spec.name, width=sizes.width, height=sizes.height, frames=sizes.frames,
                      steps=steps, fps=spec.fps, seed=SEED)
    job = JobSpec(id=f"bench-{spec.name}", kind=kind, prompt=PROMPT, options=options,
                  image_path=image_path if kind is JobKind.IMAGE_TO_VIDEO else None, seed=SEED)

    def run() -> Any:
        ctx = RunContext(job=job, workdir=workdir, cancel=threading.Event(),
                         progress_fn=lambda *_: None, lane=lane)
        output = backend._generate(ctx)
        notes.extend(n for n in ctx.notes if n not in notes)
        if output.frames is None or len(output.frames) != sizes.frames:
            raise AssertionError(f"reelbot run made {len(output.frames or ())} frames, not {sizes.frames}")
        return output

    return run, lane


def _image(path: Path, width: int, height: int) -> Any:
    """A deterministic photo-like input for SVD: a gradient with some noise, fitted like the engine does."""
    import numpy as np
    from PIL import Image

    rng = np.random.default_rng(SEED)
    y, x = np.mgrid[0:600, 0:900]
    rgb = np.stack([x / 900 * 255, y / 600 * 255, (x + y) / 1500 * 255], axis=-1)
    rgb = np.clip(rgb + rng.normal(0, 12, rgb.shape), 0, 255).astype(np.uint8)
    Image.fromarray(rgb).save(path)
    with Image.open(path) as picture:
        return fit_image(picture.convert("RGB"), width, height)


@contextlib.contextmanager
def _default_matmul_flags(device: str) -> Iterator[None]:
    """Run with PyTorch's default TF32 settings and put back whatever was set before: the engine may turn
    TF32 on for its own runs, and that must not leak into the ``plain`` numbers of the next family."""
    if not device.startswith("cuda"):
        yield
        return
    import torch

    saved = (torch.backends.cuda.matmul.allow_tf32, torch.backends.cudnn.allow_tf32)
    torch.backends.cuda.matmul.allow_tf32, torch.backends.cudnn.allow_tf32 = False, True
    try:
        yield
    finally:
        torch.backends.cuda.matmul.allow_tf32, torch.backends.cudnn.allow_tf32 = saved


def bench_family(family: str, *, device: str, tiny: bool, runs: int, extra_50: bool,
                 backend_kwargs: dict[str, Any]) -> tuple[dict[str, Any], bool]:
    """Both variants for one family; returns the JSON record and whether both ran."""
    import torch

    spec = BUILTIN[family]
    sizes = Sizes(spec, tiny)
    on_gpu = device.startswith("cuda")
    record: dict[str, Any] = {
        "family": family, "device": device,
        "gpu_name": torch.cuda.get_device_name(device) if on_gpu else None,
        "plain_s": None, "reelbot_s": None, "speedup": None,
        "plain_peak_vram_gib": None, "reelbot_peak_vram_gib": None,
        "frames": sizes.frames, "size": f"{sizes.width}x{sizes.height}", "steps": sizes.steps, "tiny": tiny,
        "runs": runs,
    }
    ok = True

    def build() -> Any:
        t0 = time.perf_counter()
        if tiny:
            from engine.local.tiny import build_tiny

            pipe = build_tiny(family, seed=0)
            pipe.set_progress_bar_config(disable=True)
            pipe = pipe.to(device)
        else:
            pipe = build_full(family, device, torch.float16, seed=0)
        _sync(device)
        record.setdefault("build_s", round(time.perf_counter() - t0, 2))
        record.setdefault("params_m", {
            name: round(param_count(part) / 1e6, 1)
            for name in ("unet", "vae", "image_encoder", "text_encoder")
            if (part := getattr(pipe, name, None)) is not None})
        return pipe

    with tempfile.TemporaryDirectory(prefix="reelbot-gpu-bench-") as tmp:
        image_path = Path(tmp) / "input.png"
        image = _image(image_path, sizes.width, sizes.height)
        step_counts = [sizes.steps] + ([50] if extra_50 and sizes.steps != 50 else [])

        # --- plain: diffusers' documented recipe ---
        pipe = None
        try:
            with _default_matmul_flags(device):
                pipe = build()
                if on_gpu and not tiny:
                    pipe.enable_model_cpu_offload(device=device)
                for steps in step_counts:
                    main = steps == sizes.steps  # the extra 50-step run comes after, already warm
                    result = _measure(_plain_call(pipe, spec, sizes, steps, image),
                                      runs if main else 1, device, warmup=main)
                    _store(record, "plain", steps, sizes.steps, result)
        except Exception as exc:
            ok = False
            record["plain_error"] = f"{type(exc).__name__}: {exc}"
        finally:
            if pipe is not None and hasattr(pipe, "remove_all_hooks"):
                pipe.remove_all_hooks()
            del pipe
            _free(device)

        # --- reelbot: the engine's backend on a warm lane ---
        pipe = lane = None
        notes: list[str] = []
        try:
            pipe = build()
            for steps in step_counts:
                run, lane = _reelbot_call(pipe, spec, sizes, steps, device, image_path, Path(tmp) / "work",
                                          backend_kwargs, notes)
                main = steps == sizes.steps
                result = _measure(run, runs if main else 1, device, warmup=main)
                _store(record, "reelbot", steps, sizes.steps, result)
                lane.warm.clear()
                lane.close()
                lane = None
        except Exception as exc:
            ok = False
            record["reelbot_error"] = f"{type(exc).__name__}: {exc}"
        finally:
            if lane is not None:
                lane.warm.clear()
                lane.close()
            record["reelbot_notes"] = notes
            del pipe, lane
            _free(device)
            if on_gpu:
                with contextlib.suppress(Exception):
                    torch._dynamo.reset()  # compiled graphs keep references to the freed modules

    if record["plain_s"] and record["reelbot_s"]:
        record["speedup"] = round(record["plain_s"] / record["reelbot_s"], 2)
    return record, ok


def _store(record: dict[str, Any], variant: str, steps: int, main_steps: int, result: dict[str, Any]) -> None:
    median = round(statistics.median(result["times"]), 3)
    if steps != main_steps:
        record[f"{variant}_s_{steps}_steps"] = median
        return
    record[f"{variant}_s"] = median
    record[f"{variant}_runs_s"] = [round(t, 3) for t in result["times"]]
    record[f"{variant}_warmup_s"] = round(result["warmup_s"], 2)  # includes any compile time
    peak = result["peak_gib"]
    record[f"{variant}_peak_vram_gib"] = round(peak, 2) if peak is not None else None


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


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--family", choices=[*FAMILIES, "all"], default="all")
    parser.add_argument("--runs", type=int, default=3, help="timed runs per variant, after one warm-up")
    parser.add_argument("--device", default=None, help="cuda, cuda:N or cpu (default: cuda:0 if there is one)")
    parser.add_argument("--tiny", action="store_true", help="tiny random models (on CPU unless --device cuda)")
    parser.add_argument("--no-50-steps", action="store_true", help="skip zeroscope's extra 50-step runs")
    parser.add_argument("--compile", action="store_true",
                        help="let the backend torch.compile the denoiser (LOCAL_COMPILE=true)")
    args = parser.parse_args(argv)
    if args.runs < 1:
        parser.error("--runs must be at least 1")

    try:
        device, tiny = _pick_device(args.device, args.tiny)
    except DeviceError as exc:
        print(f"bench/gpu.py: {exc}", file=sys.stderr)
        return 2
    if tiny:
        print(TINY_NOTICE if device == "cpu" else TINY_GPU_NOTICE, file=sys.stderr, flush=True)
    backend_kwargs: dict[str, Any] = {"compile_denoiser": args.compile}

    families = FAMILIES if args.family == "all" else (args.family,)
    all_ok = True
    for family in families:
        record, ok = bench_family(family, device=device, tiny=tiny, runs=args.runs,
                                  extra_50=family == "zeroscope" and not tiny and not args.no_50_steps,
                                  backend_kwargs=backend_kwargs)
        all_ok &= ok
        print(json.dumps(record), flush=True)
        if not ok:
            for variant in ("plain", "reelbot"):
                if f"{variant}_error" in record:
                    print(f"bench/gpu.py: {family} {variant} failed: {record[f'{variant}_error']}",
                          file=sys.stderr)
    return 0 if all_ok else 1


if __name__ == "__main__":
    sys.exit(main())

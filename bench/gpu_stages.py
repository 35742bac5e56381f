"""What one stage process of ``bench/gpu.py`` measures. Each function prints its JSON records as it goes
(one line each, flushed), so whatever finished is kept when the process is stopped at its time limit.

Processes (``bench/gpu.py`` starts each, with the compile caches under one fresh folder):

* ``main``: per family, the engine's path first (``reelbot``: the backend's ``warm_up`` when it has one, timed
  as the cold compile cost, ``compile-cold``; then the first job and the timed warm jobs), then diffusers'
  documented recipe (``plain``), then the comparison (``plan-vs-plain``: the plan reelbot chose, the speedup,
  peak VRAM, and the frames against the eager call for the same seed).
* ``compile-warm``: a new process on the same cache folder: the warm-cache compile cost.
* ``card-12`` / ``card-8``: a 12 GB or 8 GB card emulated on the large GPU
  (``torch.cuda.set_per_process_memory_fraction``, and the backend's VRAM probe says the card's size): a user's
  default job, whether its first try ran without an out-of-memory rung, and the frames it made.

The models are built by the bench, not downloaded: ``load_pipeline`` in the backend's module is replaced for
the process by the bench's builder, so the backend loads the model through its own path (its VRAM budget,
its plan, its warm-up), and the build time is kept out of every figure.
"""

from __future__ import annotations

import contextlib
import dataclasses
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

from bench.gpu_models import build_full, param_count
from engine.backends.base import Output, RunContext
from engine.backends.diffusers import DiffusersBackend
from engine.images import fit_image
from engine.lanes import GpuLane
from engine.local.fit import Vram
from engine.local.pipelines import MemoryPlan
from engine.local.registry import BUILTIN, ModelSpec
from engine.types import JobKind, JobSpec, Options
from engine.words import Text

PROMPT = "a cat playing the piano in the rain, cinematic, high quality, detailed"
SEED = 42
# The tiny models' job: a size a loaded CPU makes in a second or two.
TINY = {"width": 32, "height": 32, "frames": 4, "steps": 2}
# The records each process writes per family, in order.
STAGE_RECORDS: dict[str, tuple[str, ...]] = {
    "main": ("compile-cold", "reelbot", "plain", "plan-vs-plain"),
    "compile-warm": ("compile-warm",),
    "card-12": ("card-12",),
    "card-8": ("card-8",),
}
CARDS = {"card-12": 12.0, "card-8": 8.0}
# What a real card of that size leaves to one process: the CUDA context (~0.5 GiB) and a desktop (~0.5 GiB).
CARD_HEADROOM_GIB = 1.0


EMITTED: set[tuple[str, str]] = set()  # (record, family) this process wrote


def emit(record: dict[str, Any]) -> None:
    EMITTED.add((record["stage"], record["family"]))
    print(json.dumps(record), flush=True)


class Sizes:
    def __init__(self, spec: ModelSpec, tiny: bool) -> None:
        if tiny:
            self.width, self.height = TINY["width"], TINY["height"]
            self.frames, self.steps = TINY["frames"], TINY["steps"]
        else:
            self.width, self.height = spec.size(portrait=False)
            self.frames, self.steps = spec.frames, spec.steps


class Bench:
    """What every stage of one process shares: the device, the size and how the backend is set up."""

    def __init__(self, *, device: str, tiny: bool, runs: int, compile_flag: bool | None, cache_dir: Path,
                 extra_50: bool) -> None:
        import torch

        self.device = device
        self.tiny = tiny
        self.runs = runs
        self.compile_flag = compile_flag
        self.cache_dir = cache_dir
        self.extra_50 = extra_50
        self.on_gpu = device.startswith("cuda")
        self.gpu_name = torch.cuda.get_device_name(device) if self.on_gpu else None
        if not self.on_gpu:
            # One thread: tiny models gain nothing from more, and on a busy machine the idle ones spin (a
            # tiny run took 5 s of CPU with two threads, 0.4 s with one).
            torch.set_num_threads(1)

    def head(self, stage: str, family: str, sizes: Sizes) -> dict[str, Any]:
        return {"stage": stage, "family": family, "device": self.device, "gpu_name": self.gpu_name,
                "tiny": self.tiny, "size": f"{sizes.width}x{sizes.height}", "frames": sizes.frames,
                "steps": sizes.steps}

    # --- building ---

    def build(self, family: str) -> Any:
        import torch

        if self.tiny:
            from engine.local.tiny import build_tiny

            pipe = build_tiny(family, seed=0)
            pipe.set_progress_bar_config(disable=True)
            return pipe.to(self.device)
        return build_full(family, self.device, torch.float16, seed=0)

    def sync(self) -> None:
        if self.on_gpu:
            import torch

            torch.cuda.synchronize(self.device)

    def free(self) -> None:
        gc.collect()
        if self.on_gpu:
            import torch

            torch.cuda.synchronize(self.device)
            torch.cuda.empty_cache()

    def reset_peak(self) -> None:
        if self.on_gpu:
            import torch

            torch.cuda.reset_peak_memory_stats(self.device)

    def peak_gib(self) -> float | None:
        if not self.on_gpu:
            return None
        import torch

        return round(torch.cuda.max_memory_allocated(self.device) / 2**30, 2)


class Split:
    """The denoise/decode split of one run: the pipeline's ``vae.decode`` is wrapped (synchronised) so the run
    is cut where the decode starts. ``denoise_s`` is everything before it (the conditioning encoders, well
    under a second, and the denoising loop); ``decode_s`` the VAE decode calls together."""

    def __init__(self, bench: Bench) -> None:
        self.bench = bench
        self.started = 0.0
        self.decode_started: float | None = None
        self.decode_s = 0.0

    def install(self, pipe: Any) -> None:
        vae = getattr(pipe, "vae", None)
        if vae is None:
            return
        inner = vae.decode

        def decode(*args: Any, **kwargs: Any) -> Any:
            self.bench.sync()
            t0 = time.perf_counter()
            if self.decode_started is None:
                self.decode_started = t0
            try:
                return inner(*args, **kwargs)
            finally:
                self.bench.sync()
                self.decode_s += time.perf_counter() - t0

        vae.decode = decode

    def timed(self, fn: Callable[[], Any]) -> tuple[float, Any, dict[str, float | None]]:
        self.bench.sync()
        self.decode_started, self.decode_s = None, 0.0
        self.started = time.perf_counter()
        result = fn()
        self.bench.sync()
        seconds = time.perf_counter() - self.started
        denoise = None if self.decode_started is None else round(self.decode_started - self.started, 3)
        return seconds, result, {"denoise_s": denoise, "decode_s": round(self.decode_s, 3)}


class Loader:
    """Stands in for the backend's ``load_pipeline`` for this process: the backend loads the model through its
    own path (VRAM budget, plan, warm-up) and gets the bench's random-weight pipeline. ``build_s`` adds up the
    build time, which every figure leaves out."""

    def __init__(self, bench: Bench, family: str, split: Split) -> None:
        self.bench, self.family, self.split = bench, family, split
        self.build_s = 0.0
        self.params_m: dict[str, float] = {}

    def __call__(self, *_args: Any, **_kwargs: Any) -> Any:
        t0 = time.perf_counter()
        pipe = self.bench.build(self.family)
        self.bench.sync()
        self.build_s += time.perf_counter() - t0
        self.split.install(pipe)
        self.params_m = {name: round(param_count(part) / 1e6, 1)
                         for name in ("unet", "transformer", "vae", "image_encoder", "text_encoder")
                         if (part := getattr(pipe, name, None)) is not None}
        return pipe

    @contextlib.contextmanager
    def patched(self) -> Iterator[bool]:
        """Whether the backend's module could be patched (else the caller puts the pipeline on the lane). The
        loader is replaced where the backend calls it and where it is defined, whichever the engine uses."""
        import engine.backends.diffusers as backend_module
        import engine.local.pipelines as pipelines_module

        modules = [m for m in (backend_module, pipelines_module) if hasattr(m, "load_pipeline")]
        originals = [getattr(m, "load_pipeline") for m in modules]  # noqa: B009
        for module in modules:
            setattr(module, "load_pipeline", self)  # noqa: B010
        try:
            yield hasattr(backend_module, "load_pipeline")
        finally:
            for module, original in zip(modules, originals, strict=True):
                setattr(module, "load_pipeline", original)  # noqa: B010


def _kind(spec: ModelSpec) -> JobKind:
    return JobKind.IMAGE_TO_VIDEO if JobKind.IMAGE_TO_VIDEO in spec.kinds else JobKind.TEXT_TO_VIDEO


def _notes(notes: list[Any]) -> list[str]:
    return [str(Text.from_json(note)) for note in notes]


def _plan(plan: MemoryPlan | None) -> dict[str, Any] | None:
    if plan is None:
        return None
    return {"frames": plan.frames, "decode_chunk_size": plan.decode_chunk_size, "offload": plan.offload}


class Reelbot:
    """The engine's path: a ``DiffusersBackend`` and a ``GpuLane``, jobs run by ``_generate`` with a runner-style
    context, exactly as the engine's runner does (on the caller's thread)."""

    def __init__(self, bench: Bench, spec: ModelSpec, loader: Loader, workdir: Path, image_path: Path,
                 vram: Callable[[GpuLane], Vram | None] | None = None) -> None:
        self.bench, self.spec, self.loader, self.workdir, self.image_path = bench, spec, loader, workdir, image_path
        self.tries: list[MemoryPlan] = []  # each denoising try (the whole run where a pipeline is not split)
        self.decodes = 0  # each VAE decode, a retried one included (the planner's decode-only retry)
        self.peak: float | None = None  # from the backend's "measured peak" notes, GiB

        def fault(_spec: ModelSpec, plan: MemoryPlan, stage: str = "run") -> None:
            if stage == "decode":
                self.decodes += 1
            else:
                self.tries.append(plan)

        params = inspect.signature(DiffusersBackend.__init__).parameters
        kwargs: dict[str, Any] = {"fault": fault}
        if bench.compile_flag is not None:
            kwargs["compile_denoiser"] = bench.compile_flag
        if "compile_cache_dir" in params:
            kwargs["compile_cache_dir"] = bench.cache_dir
        if vram is not None:
            kwargs["vram"] = vram
        self.backend = DiffusersBackend({spec.name: spec}, default_models={_kind(spec): spec.name}, **kwargs)
        index = int(bench.device.split(":")[1]) if ":" in bench.device else 0
        self.lane = GpuLane(index, device=bench.device, label=bench.gpu_name or bench.device)

    def job(self, options: Options) -> JobSpec:
        kind = _kind(self.spec)
        return JobSpec(id=f"bench-{self.spec.name}", kind=kind, prompt=PROMPT, options=options,
                       image_path=self.image_path if kind is JobKind.IMAGE_TO_VIDEO else None, seed=SEED)

    def run(self, job: JobSpec) -> tuple[Output, list[str]]:
        self.tries.clear()
        self.decodes = 0
        ctx = RunContext(job=job, workdir=self.workdir, cancel=threading.Event(),
                         progress_fn=lambda *_: None, lane=self.lane)
        output = self.backend._generate(ctx)
        notes = _notes(ctx.notes)
        self.peak = max([self.peak or 0.0, *_stage_peaks(notes)]) or self.peak
        return output, notes

    def peak_gib(self) -> float | None:
        """The most the engine's jobs held since the last look: the backend resets CUDA's peak counter at each
        stage (its "measured peak" note says each), so the allocator's counter alone would give the decode's."""
        peak, self.peak = self.peak, None
        measured = self.bench.peak_gib()
        return None if peak is None and measured is None else round(max(peak or 0.0, measured or 0.0), 2)

    def warm_up(self) -> tuple[str, float | None, list[str]]:
        """(method, seconds, notes): the backend's ``warm_up`` timed, without the model's build, where it has
        one and compiles on this lane; ("none", ...) where the engine compiles nothing here, ("first job", ...)
        where the engine has no warm-up (the caller then times the first job as the compile cost)."""
        warm_up = getattr(self.backend, "warm_up", None)
        if warm_up is None:
            return "first job", None, []
        models = getattr(self.backend, "warm_up_models", None)
        applies = self.spec.name in models(self.lane) if models is not None else self.bench.on_gpu
        if not applies:
            return "none", None, ["the engine compiles nothing on this lane"]
        built = self.loader.build_s
        self.bench.sync()
        t0 = time.perf_counter()
        notes = warm_up(self.lane, self.spec.name)
        self.bench.sync()
        return "warm_up", round(time.perf_counter() - t0 - (self.loader.build_s - built), 2), [str(n) for n in notes]

    def close(self) -> None:
        self.lane.warm.clear()
        self.lane.close()


@contextlib.contextmanager
def _default_matmul_flags(bench: Bench) -> Iterator[None]:
    """Run with PyTorch's default TF32 settings and put back whatever was set before: the engine turns TF32 on
    for its own runs, and that must not leak into the ``plain`` numbers."""
    if not bench.on_gpu:
        yield
        return
    import torch

    saved = (torch.backends.cuda.matmul.allow_tf32, torch.backends.cudnn.allow_tf32)
    torch.backends.cuda.matmul.allow_tf32, torch.backends.cudnn.allow_tf32 = False, True
    try:
        yield
    finally:
        torch.backends.cuda.matmul.allow_tf32, torch.backends.cudnn.allow_tf32 = saved


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


def _plain_call(pipe: Any, spec: ModelSpec, sizes: Sizes, steps: int, image: Any,
                decode_chunk_size: int | None) -> Callable[[], Any]:
    """The call diffusers' docs show (defaults written out): SVD ``pipe(image, decode_chunk_size=8, ...)``,
    zeroscope ``pipe(prompt, num_inference_steps=40, height=320, width=576, num_frames=24)``."""
    import numpy as np
    import torch

    call = inspect.signature(pipe.__call__).parameters
    kwargs: dict[str, Any] = {
        "height": sizes.height, "width": sizes.width, "num_frames": sizes.frames, "num_inference_steps": steps,
        "output_type": "np",
    }
    if "image" in call:
        kwargs["image"] = image
        kwargs.update({"fps": spec.fps, "motion_bucket_id": 127, "noise_aug_strength": 0.02,
                       "min_guidance_scale": 1.0, "max_guidance_scale": 3.0})
    else:
        kwargs["prompt"] = PROMPT
        if spec.guidance is not None:
            kwargs["guidance_scale"] = spec.guidance
    if decode_chunk_size is not None and "decode_chunk_size" in call:
        kwargs["decode_chunk_size"] = decode_chunk_size

    def run() -> Any:
        with torch.inference_mode():
            frames = pipe(generator=torch.Generator("cpu").manual_seed(SEED), **kwargs).frames[0]
        if len(frames) != sizes.frames:
            raise AssertionError(f"plain run made {len(frames)} frames, not {sizes.frames}")
        return np.asarray(frames, dtype=np.float32)

    return run


def compare_frames(ours: Any, eager: Any) -> dict[str, Any]:
    """PSNR in dB of ``ours`` against ``eager`` (frames in [0, 1]); None with ``bit_identical`` when equal."""
    import numpy as np

    a, b = np.asarray(ours, dtype=np.float32), np.asarray(eager, dtype=np.float32)
    if a.shape != b.shape:
        return {"psnr_db": None, "bit_identical": False, "why": f"shapes differ: {a.shape} vs {b.shape}"}
    if np.array_equal(a, b):
        return {"psnr_db": None, "bit_identical": True}
    mse = float(np.mean((a.astype(np.float64) - b.astype(np.float64)) ** 2))
    return {"psnr_db": round(10 * np.log10(1.0 / mse), 2), "bit_identical": False}


# --------------------------------------------------------------------------------------------------------------
# Stages
# --------------------------------------------------------------------------------------------------------------


def stage_main(bench: Bench, family: str, tmp: Path) -> None:
    """compile-cold, reelbot, plain and plan-vs-plain for one family."""
    import numpy as np

    spec = BUILTIN[family]
    sizes = Sizes(spec, bench.tiny)
    image_path = tmp / "input.png"
    image = _image(image_path, sizes.width, sizes.height)
    extra_steps = 50 if bench.extra_50 and family == "zeroscope" and sizes.steps != 50 else None

    # --- reelbot: the engine's path, warm-up first (the compile cost, paid at worker start) ---
    split = Split(bench)
    loader = Loader(bench, family, split)
    engine = Reelbot(bench, spec, loader, tmp / "work", image_path)
    options = Options(model=spec.name, width=sizes.width, height=sizes.height, frames=sizes.frames,
                      steps=sizes.steps, fps=spec.fps, seed=SEED)
    job = engine.job(options)
    compile_rec = bench.head("compile-cold", family, sizes) | {"cache": "cold: a fresh TORCHINDUCTOR_CACHE_DIR"}
    reelbot = bench.head("reelbot", family, sizes) | {"runs": bench.runs}
    ours: Any = None
    plan: MemoryPlan | None = None
    try:
        with loader.patched() as patched:
            if not patched:
                engine.lane.put_warm(spec.name, loader())
            method, compile_s, warm_notes = engine.warm_up()
            compile_rec |= {"method": method, "compile_s": compile_s, "warm_up_notes": warm_notes}
            if method != "first job":
                emit(compile_rec)
            built = loader.build_s
            first_s, _, first_split = split.timed(lambda: engine.run(job))
            first_s -= loader.build_s - built  # the model was built inside the first job (no warm-up)
            plan = engine.tries[0] if engine.tries else None
            bench.reset_peak()
            engine.peak = None
            times, splits = [], []
            notes: list[str] = []
            for _ in range(bench.runs):
                seconds, (output, notes), run_split = split.timed(lambda: engine.run(job))
                times.append(seconds)
                splits.append(run_split)
            ours = output.frames
            median = statistics.median(times)
            reelbot |= {
                "reelbot_s": round(median, 3), "runs_s": [round(t, 3) for t in times],
                "first_job_s": round(first_s, 3), "peak_vram_gib": engine.peak_gib(),
                "denoise_s": _median(splits, "denoise_s"), "decode_s": _median(splits, "decode_s"),
                "first_job_split": first_split, "plan": _plan(plan), "tries": len(engine.tries),
                "frames_made": len(output.frames or ()), "notes": notes, "build_s": round(loader.build_s, 2),
                "params_m": loader.params_m,
            }
            if method == "first job":
                compile_rec["compile_s"] = round(max(0.0, first_s - median), 2)
                compile_rec["first_job_s"] = round(first_s, 3)
                emit(compile_rec)
            if extra_steps:
                slow = engine.job(dataclasses.replace(options, steps=extra_steps))
                seconds, _, _ = split.timed(lambda: engine.run(slow))
                reelbot[f"reelbot_s_{extra_steps}_steps"] = round(seconds, 3)
    except Exception as exc:
        reelbot["error"] = f"{type(exc).__name__}: {exc}"
        if "compile_s" not in compile_rec:
            compile_rec["error"] = reelbot["error"]
            emit(compile_rec)
    finally:
        engine.close()
        _reset_compiled(bench)
        bench.free()
    emit(reelbot)

    # --- plain: diffusers' documented recipe ---
    plain = bench.head("plain", family, sizes) | {"runs": bench.runs}
    eager: Any = None
    reference = ""
    plain_chunk = 8 if spec.pipeline == "StableVideoDiffusionPipeline" else None
    pipe = None
    try:
        with _default_matmul_flags(bench):
            split = Split(bench)
            pipe = bench.build(family)
            split.install(pipe)
            offload = bench.on_gpu and not bench.tiny
            if offload:
                pipe.enable_model_cpu_offload(device=bench.device)
            run = _plain_call(pipe, spec, sizes, sizes.steps, image, plain_chunk)
            warmup_s, _, _ = split.timed(run)
            bench.reset_peak()
            times, splits = [], []
            frames = None
            for _ in range(bench.runs):
                seconds, frames, run_split = split.timed(run)
                times.append(seconds)
                splits.append(run_split)
            plain |= {
                "plain_s": round(statistics.median(times), 3), "runs_s": [round(t, 3) for t in times],
                "warmup_s": round(warmup_s, 3), "peak_vram_gib": bench.peak_gib(),
                "denoise_s": _median(splits, "denoise_s"), "decode_s": _median(splits, "decode_s"),
                "plan": {"frames": sizes.frames, "decode_chunk_size": plain_chunk, "offload": offload},
            }
            if extra_steps:
                seconds, _, _ = split.timed(_plain_call(pipe, spec, sizes, extra_steps, image, plain_chunk))
                plain[f"plain_s_{extra_steps}_steps"] = round(seconds, 3)
            # The eager reference for the frames: the same call with reelbot's decode chunk (SVD's temporal
            # decoder mixes the frames of a chunk, so another chunk size is another video).
            chunk = plan.decode_chunk_size if plan is not None else plain_chunk
            if ours is not None and plan is not None and plan.frames == sizes.frames:
                eager = frames if chunk == plain_chunk else _plain_call(pipe, spec, sizes, sizes.steps, image,
                                                                        chunk)()
                reference = (f"diffusers' call, eager, seed {SEED}, decode_chunk_size {chunk}"
                             if chunk is not None else f"diffusers' call, eager, seed {SEED}")
    except Exception as exc:
        plain["error"] = f"{type(exc).__name__}: {exc}"
    finally:
        if pipe is not None and hasattr(pipe, "remove_all_hooks"):
            pipe.remove_all_hooks()
        del pipe
        bench.free()
    emit(plain)

    # --- the chosen plan vs plain ---
    versus = bench.head("plan-vs-plain", family, sizes) | {
        "plain_s": plain.get("plain_s"), "reelbot_s": reelbot.get("reelbot_s"), "speedup": None,
        "plain_plan": plain.get("plan"), "reelbot_plan": reelbot.get("plan"),
        "plain_peak_vram_gib": plain.get("peak_vram_gib"), "reelbot_peak_vram_gib": reelbot.get("peak_vram_gib"),
        "eager_reference": reference or None,
    }
    if versus["plain_s"] and versus["reelbot_s"]:
        versus["speedup"] = round(versus["plain_s"] / versus["reelbot_s"], 2)
    if ours is not None and eager is not None:
        versus |= compare_frames(np.asarray(ours), eager)
    else:
        versus |= {"psnr_db": None, "bit_identical": None,
                   "why": "no frames to compare (a variant failed, or reelbot made fewer frames)"}
    emit(versus)


def stage_compile_warm(bench: Bench, family: str, tmp: Path) -> None:
    """The compile cost again, in a new process on the cache folder the ``main`` process filled."""
    spec = BUILTIN[family]
    sizes = Sizes(spec, bench.tiny)
    image_path = tmp / "input.png"
    _image(image_path, sizes.width, sizes.height)
    split = Split(bench)
    loader = Loader(bench, family, split)
    engine = Reelbot(bench, spec, loader, tmp / "work", image_path)
    job = engine.job(Options(model=spec.name, width=sizes.width, height=sizes.height, frames=sizes.frames,
                             steps=sizes.steps, fps=spec.fps, seed=SEED))
    record = bench.head("compile-warm", family, sizes) | {
        "cache": "warm: the same TORCHINDUCTOR_CACHE_DIR, a new process"}
    try:
        with loader.patched() as patched:
            if not patched:
                engine.lane.put_warm(spec.name, loader())
            method, compile_s, notes = engine.warm_up()
            built = loader.build_s
            first_s, _, _ = split.timed(lambda: engine.run(job))
            first_s -= loader.build_s - built
            record |= {"method": method, "compile_s": compile_s, "warm_up_notes": notes,
                       "first_job_s": round(first_s, 3)}
            if method == "first job":
                second_s, _, _ = split.timed(lambda: engine.run(job))
                record["compile_s"] = round(max(0.0, first_s - second_s), 2)
    except Exception as exc:
        record["error"] = f"{type(exc).__name__}: {exc}"
    finally:
        engine.close()
        _reset_compiled(bench)
        bench.free()
    emit(record)


def stage_card(bench: Bench, family: str, tmp: Path, stage: str) -> None:
    """A user's default job for the model on an emulated smaller card: the process may allocate only what such
    a card leaves free (set_per_process_memory_fraction), and the backend's VRAM probe says so."""
    import torch

    card_gib = CARDS[stage]
    limit_gib = card_gib - CARD_HEADROOM_GIB
    spec = BUILTIN[family]
    sizes = Sizes(spec, bench.tiny)
    record = bench.head(stage, family, sizes) | {"card_gib": card_gib, "limit_gib": limit_gib}
    if bench.on_gpu:
        total = torch.cuda.get_device_properties(bench.device).total_memory
        torch.cuda.set_per_process_memory_fraction(limit_gib * 2**30 / total, bench.device)
        record["emulated_by"] = f"torch.cuda.set_per_process_memory_fraction({limit_gib * 2**30 / total:.4f})"
    else:
        record["emulated_by"] = "the backend's VRAM probe only (no CUDA here: nothing is enforced)"

    def probe(lane: GpuLane) -> Vram:
        used = torch.cuda.memory_reserved(bench.device) / 2**30 if bench.on_gpu else 0.0
        return Vram(free_gib=max(0.0, limit_gib - used), total_gib=card_gib)

    image_path = tmp / "input.png"
    _image(image_path, sizes.width, sizes.height)
    split = Split(bench)
    loader = Loader(bench, family, split)
    engine = Reelbot(bench, spec, loader, tmp / "work", image_path, vram=probe)
    # A user's job as it comes: the model's frames and size (the tiny models' size on a CPU), no frame count
    # asked for, so the planner may make the model's shorter clip when nothing else fits.
    options = (Options(model=spec.name, width=sizes.width, height=sizes.height, steps=sizes.steps, seed=SEED)
               if bench.tiny else Options(model=spec.name, seed=SEED))
    frames_asked = spec.frames
    record |= {"frames": frames_asked, "steps": options.steps or spec.steps,
               "warm_up": "not run: this stage measures memory; the compile stages measure warm-up"}
    try:
        with loader.patched() as patched:
            if not patched:
                engine.lane.put_warm(spec.name, loader())
            built = loader.build_s
            bench.reset_peak()
            seconds, (output, notes), run_split = split.timed(lambda: engine.run(engine.job(options)))
            oom = [n for n in notes if "out of gpu memory" in n.lower()]
            record |= {
                "ok": True, "run_s": round(seconds - (loader.build_s - built), 3), **run_split,
                "peak_vram_gib": engine.peak_gib(), "frames_asked": frames_asked,
                "frames_made": len(output.frames or ()), "tries": len(engine.tries),
                "first_try_ok": len(engine.tries) <= 1 and engine.decodes <= 1 and not oom,
                "plan": _plan(engine.tries[0] if engine.tries else None),
                "final_plan": _plan(engine.tries[-1] if engine.tries else None), "notes": notes,
            }
    except Exception as exc:
        record |= {"ok": False, "first_try_ok": False, "frames_made": 0, "tries": len(engine.tries),
                   "plan": _plan(engine.tries[0] if engine.tries else None),
                   "error": f"{type(exc).__name__}: {exc}", "peak_vram_gib": bench.peak_gib()}
    finally:
        engine.close()
        bench.free()
    emit(record)


def _median(splits: list[dict[str, float | None]], key: str) -> float | None:
    values = [s[key] for s in splits if s.get(key) is not None]
    return round(statistics.median(v for v in values if v is not None), 3) if values else None


def _reset_compiled(bench: Bench) -> None:
    """Compiled graphs keep references to the freed modules."""
    if bench.on_gpu:
        import torch

        with contextlib.suppress(Exception):
            torch._dynamo.reset()


def run_stage(stage: str, families: tuple[str, ...], bench: Bench) -> int:
    """Every family's records for ``stage``; a family that fails says so in its records and the next one runs."""
    failed = 0
    for family in families:
        with tempfile.TemporaryDirectory(prefix=f"reelbot-gpu-bench-{family}-") as scratch:
            tmp = Path(scratch)
            try:
                if stage == "main":
                    stage_main(bench, family, tmp)
                elif stage == "compile-warm":
                    stage_compile_warm(bench, family, tmp)
                else:
                    stage_card(bench, family, tmp, stage)
            except Exception as exc:  # a record the stage did not get to write says why
                failed += 1
                print(f"bench/gpu.py: {stage} {family}: {type(exc).__name__}: {exc}", file=sys.stderr, flush=True)
                for name in STAGE_RECORDS[stage]:
                    if (name, family) not in EMITTED:
                        emit({"stage": name, "family": family, "error": f"{type(exc).__name__}: {exc}"})
    return 1 if failed else 0


def _stage_peaks(notes: list[str]) -> list[float]:
    """The GiB of each stage in the backend's note "measured peak: denoise 9.81 GiB, decode 4.02 GiB"."""
    found = []
    for note in notes:
        if note.startswith("measured peak: "):
            found += [float(part.split()[-2]) for part in note.removeprefix("measured peak: ").split(", ")]
    return found

"""The local backend: real diffusers pipelines, one job at a time per GPU lane, models kept warm.

Each lane keeps the pipelines it loaded (least recently used evicted first when free VRAM runs short), so
back-to-back jobs for the same model never reload it; the scheduler's model affinity depends on that.

Each job's memory plan is the planner's (engine/local/planner.py): the fastest one expected to fit the lane's
free VRAM. A job runs in two stages, the denoise and then the decode of its kept latents, so that a decode that
runs out of memory is retried alone; what ran out, and what worked, teaches the planner.
"""

from __future__ import annotations

import contextlib
import gc
import re
import tempfile
import threading
import time
from collections.abc import Callable, Iterator, Mapping
from functools import partial
from pathlib import Path
from typing import Any, Protocol

from engine.backends.base import Cancelled, Output, RunContext
from engine.errors import BackendError, InvalidInput, ModelUnavailable, OutOfMemory
from engine.lanes import GpuLane
from engine.local.compiled import Compiler, WarmUpContext
from engine.local.decode import Latents, can_split
from engine.local.download import DiskFree, NotEnoughDisk, disk_free
from engine.local.fit import Vram, VramProbe, cuda_vram, footprint_for
from engine.local.pipelines import (
    MemoryPlan,
    Stage,
    apply_plan,
    decode,
    denoise,
    first_plan,
    load_pipeline,
    optimize,
    run_pipeline,
)
from engine.local.planner import STATE_FILE, Choice, Planner
from engine.local.registry import ModelSpec, resolve
from engine.translate.languages import ENGLISH
from engine.types import Estimate, JobKind, JobSpec, Options
from engine.words import N_, Text


class FaultHook(Protocol):
    """Tests and benchmarks may raise a simulated out-of-memory here, before each stage of each try, to walk
    the ladder: ``stage`` is "denoise" before the denoise, "decode" before the decode of the kept latents
    (again at each decode retry), "run" before a one-call run of a pipeline whose decode is not split."""

    def __call__(self, spec: ModelSpec, plan: MemoryPlan, stage: Stage) -> None: ...

UNLOADABLE_FOR_S = 3600.0


class DiffusersBackend:
    local = True

    def __init__(
        self,
        registry: Mapping[str, ModelSpec],
        *,
        default_models: Mapping[JobKind, str],
        name: str = "local",
        token: str | None = None,
        cache_dir: Path | None = None,
        offline: bool = False,
        compile_denoiser: bool = True,
        fault: FaultHook | None = None,
        vram: VramProbe = cuda_vram,
        state_dir: Path | None = None,
        compile_backend: str | Callable[..., Any] = "inductor",
        compile_cache_dir: Path | None = None,
        compile_on_cpu: bool = False,
        disk_free: DiskFree = disk_free,
    ) -> None:
        self.name = name
        self.registry = dict(registry)
        self.default_models = dict(default_models)
        self.token = token
        self.cache_dir = cache_dir
        self.offline = offline
        self.compile_denoiser = compile_denoiser
        self.fault = fault
        self.vram = vram  # the lane's free VRAM; tests give a fake card
        # what the memory planner learns is kept in state_dir (the data folder), else beside the model cache
        folder = state_dir or cache_dir
        self.planner = Planner(folder / STATE_FILE if folder is not None else None)
        self.disk_free = disk_free  # free bytes where weights are downloaded; tests give a small disk
        self.seconds: dict[str, float] = {}  # measured run time per model, for estimates and ETAs
        self._specs: dict[str, ModelSpec | None] = {}  # resolved once: folder models are read from disk
        self._unloadable: dict[str, tuple[float, ModelUnavailable]] = {}
        self._told: set[tuple[str, str, str]] = set()  # (lane, model, change): users hear of it once
        # torch.compile of the denoisers, at warm-up only (engine/local/compiled.py); CUDA lanes only unless
        # a test asks (``compile_on_cpu``, with a ``compile_backend`` that needs no C compiler).
        self.compiler = Compiler(enabled=compile_denoiser, backend=compile_backend, cache_dir=compile_cache_dir,
                                 on_cpu=compile_on_cpu)

    def kinds(self) -> frozenset[JobKind]:
        return frozenset(kind for spec in self.registry.values() for kind in spec.kinds)

    def unavailable_reason(self) -> Text | None:
        try:
            import diffusers  # noqa: F401
            import torch  # noqa: F401
        except ImportError:
            return N_("torch and diffusers are not installed (pip install 'reelbot[local]')")
        return None

    def model_names(self) -> frozenset[str]:
        return frozenset(self.registry)

    def spec_for(self, kind: JobKind, options: Options) -> ModelSpec | None:
        found = self._lookup(kind, options)
        return found if isinstance(found, ModelSpec) and kind in found.kinds else None

    def model_for(self, kind: JobKind, options: Options) -> str | None:
        found = self._lookup(kind, options)
        if isinstance(found, ModelUnavailable):  # planned all the same: the job ends saying what is wrong
            return options.model or self.default_models.get(kind)
        return found.name if found is not None and kind in found.kinds else None

    def prompt_languages(self, kind: JobKind, options: Options) -> frozenset[str]:
        spec = self.spec_for(kind, options)
        if spec is not None and not spec.uses_prompt:
            return frozenset()  # it reads no words at all
        return spec.prompt_languages if spec is not None else ENGLISH

    def _lookup(self, kind: JobKind, options: Options) -> ModelSpec | ModelUnavailable | None:
        """The job's model: its spec, why its folder cannot be used, or None when it is not a local model."""
        name = options.model or self.default_models.get(kind)
        if not name:
            return None
        if name not in self._specs:  # every submit asks, on the event loop: read a folder only once
            try:
                self._specs[name] = resolve(name, self.registry)
            except ModelUnavailable as exc:  # not kept: it is read again next time, in case it was fixed
                exc.backend = self.name
                return exc
            except InvalidInput:
                self._specs[name] = None
        return self._specs[name]

    def estimate(self, kind: JobKind, options: Options) -> Estimate:
        spec = self.spec_for(kind, options)
        if spec is None:
            return Estimate(cost_usd=0.0, seconds=60.0)
        seconds = self.seconds.get(spec.name, spec.seconds_estimate)
        if options.steps or options.quality:  # the time goes with the steps (measured at its default steps)
            seconds *= spec.steps_for(options) / max(1, spec.steps)
        return Estimate(cost_usd=0.0, seconds=seconds)

    async def run(self, ctx: RunContext) -> Output:
        assert ctx.lane is not None, "the local backend runs on a GPU lane"
        return await ctx.lane.call(self._generate, ctx, cancel=ctx.cancel)

    async def aclose(self) -> None:
        return None

    # --- warm-up: compiled at worker start, before the lane takes jobs ---

    def warm_up_models(self, lane: GpuLane) -> list[str]:
        """What ``lane`` compiles at start: the models it serves among the default ones, or those it was
        given (a worker's ``--models``); none where nothing is compiled (a CPU lane, LOCAL_COMPILE=false)."""
        if not self.compiler.applies(lane.device):
            return []
        if lane.models is not None:
            return sorted(lane.models & set(self.registry)) or sorted(lane.models)
        return list(dict.fromkeys(self.default_models.values()))

    def warm_up(self, lane: GpuLane, model: str, cancel: threading.Event | None = None) -> list[str]:
        """Load ``model`` onto ``lane`` if needed and compile the buckets of its default shapes (landscape
        and portrait, default frames; each kind it makes), through the very path a job takes, so a job of
        those shapes runs compiled graphs and never waits for a compile. Blocking: run it on the lane's
        thread. ``cancel`` stops it at the next denoising step (shutdown). Returns notes for the operator,
        e.g. "compiled svd-xt 1024x576x25 in 41.2 s (cache: warm)"; never raises for a model that cannot be
        warmed (it says why)."""
        cancel = cancel or threading.Event()
        notes: list[str] = []
        try:
            spec = resolve(model, self.registry)
        except (BackendError, InvalidInput) as exc:  # not downloaded, gated, not a model: its jobs say why
            return [f"warm-up of {model} skipped: {exc}"]
        seconds, told = dict(self.seconds), set(self._told)  # a warm-up is not a job: no estimate, no telling
        with self.compiler.lock, tempfile.TemporaryDirectory(prefix="reelbot-warm-") as scratch:
            compiling = self.compiler.applies(lane.device)
            if compiling:
                self.compiler.clear_cache_record()
            cache = "warm" if compiling and self.compiler.load_cache(spec.name, lane.device) else "cold"
            picture = Path(scratch) / "picture.png"
            _grey_picture(picture, spec)
            for kind in sorted(spec.kinds):
                # the model's own frame, and the tall one --portrait (--ar 9:16) asks for (engine/controls.py)
                shapes = {spec.frame(Options()): None, spec.frame(Options(aspect="9:16")): "9:16"}
                for aspect in dict.fromkeys(shapes.values()):
                    if cancel.is_set():
                        notes.append(f"warm-up of {spec.name} stopped")
                        return notes
                    options = Options(model=model, aspect=aspect, steps=2)
                    job = JobSpec(f"warm-up-{spec.name}", kind, "a warm-up run", options,
                                  picture if kind is JobKind.IMAGE_TO_VIDEO else None, 0)
                    ctx = WarmUpContext(job, Path(scratch), cancel, lambda *_: None, lane=lane)
                    started = time.monotonic()
                    try:
                        self._generate(ctx)
                    except Cancelled:
                        notes += [str(n) for n in ctx.notes]
                        notes.append(f"warm-up of {spec.name} stopped")
                        return notes
                    except Exception as exc:  # the model cannot run here: its jobs will say why
                        notes += [str(n) for n in ctx.notes]
                        notes.append(f"warm-up of {spec.name} failed: {type(exc).__name__}: {exc}")
                        return notes
                    finally:
                        self.seconds, self._told = seconds, told
                    notes += [str(n) for n in ctx.notes]
                    pipe = lane.get_warm(spec.name)
                    done = self.compiler.compiled_buckets(pipe) if pipe is not None else frozenset()
                    width, height = spec.frame(options)
                    shape = next((b for b in done if b.kind is kind and (b.width, b.height) == (width, height)), None)
                    if shape is not None:
                        notes.append(f"compiled {shape} in {time.monotonic() - started:.1f} s (cache: {cache})")
                    elif compiling:
                        notes.append(f"{spec.name} {width}x{height} not compiled (CPU offload, or compiling "
                                     "failed): its jobs run uncompiled")
            if compiling:
                try:
                    self.compiler.save_cache(spec.name, lane.device)
                except Exception as exc:  # a full disk slows the next start; it breaks nothing
                    notes.append(f"compile cache of {spec.name} not saved: {type(exc).__name__}: {exc}")
        return notes

    # --- on the lane's thread ---

    def _generate(self, ctx: RunContext) -> Output:
        lane = ctx.lane
        assert lane is not None
        job = ctx.job
        found = self._lookup(job.kind, job.options)
        if isinstance(found, ModelUnavailable):
            raise found
        spec = self.spec_for(job.kind, job.options)
        if spec is None:
            raise ModelUnavailable(N_("No local model animates pictures.") if job.kind is JobKind.IMAGE_TO_VIDEO
                                   else N_("No local model makes videos from text."), backend=self.name)
        started = time.monotonic()
        pipe, tight = self._pipeline(lane, spec, job.kind, ctx)
        wanted = spec.valid_frames(job.options.frames or spec.frames)
        if wanted != (job.options.frames or spec.frames):
            ctx.note(N_("{model} makes only {step}k+1 frames (a multiple of {step}, plus one), so {frames} instead "
                        "of {asked}", model=spec.name, step=spec.frame_step, frames=wanted, asked=job.options.frames))
        start = first_plan(spec, pipe, wanted, offload=tight)
        budget = self._budget(lane, pipe)
        choice = self._planned(lane, spec, ctx, start, budget)
        plan = start if choice is None else choice.plan
        if tight and choice is None:
            ctx.note("model CPU offload on from the start: not enough free VRAM")
        apply_plan(pipe, plan, lane.device)  # before optimize: a plan back on the GPU is one that may be compiled
        for tuned in optimize(pipe, lane.device):
            ctx.note(tuned)
        split = can_split(pipe)
        kept: Latents | None = None  # the denoise's latents, once it ran: a failed decode is retried from them
        peaks: dict[str, float] = {}
        while True:
            stage: Stage = "decode" if kept is not None else "denoise" if split else "run"
            error: BaseException | None = None
            try:
                apply_plan(pipe, plan, lane.device)
                if kept is None:
                    self._fault(spec, plan, stage)
                    offloaded = plan.offload or getattr(pipe, "_reelbot_offloaded", False)
                    with _peak(lane.device, pipe, peaks, stage):
                        if not split:  # compiled where the lane's warm-up compiled this size (engine/local/compiled.py)
                            frames = self.compiler.run(pipe, spec, ctx, plan.frames, offloaded=offloaded,
                                                       go=partial(run_pipeline, pipe, spec, ctx, plan))
                            break
                        kept = self.compiler.run(pipe, spec, ctx, plan.frames, offloaded=offloaded,
                                                 go=partial(denoise, pipe, spec, ctx, plan))
                    stage = "decode"
                self._fault(spec, plan, "decode")
                with _peak(lane.device, pipe, peaks, "decode"):
                    frames = decode(pipe, kept, plan)
                break
            except Exception as exc:
                if not _is_oom(exc):
                    raise
                exc.__traceback__ = None  # its frames hold the failed try's tensors
                error = exc
            # Out of the except block, nothing holds the failed try's tensors any more: now they can be freed.
            _free_cuda()
            budget = self._ran_out(lane, pipe, spec, ctx, start, plan, stage, budget, error, peaks.pop(stage, None))
            step = plan.next(spec, job.options.allow_fewer_frames, stage)
            if step is None and stage == "decode":  # the decode alone cannot fit: a new, shorter denoise
                kept = None
                step = plan.next(spec, job.options.allow_fewer_frames, "denoise")
            if step is None:
                said = (N_("{model} ran out of GPU memory on {gpu} even with offload and fewer frames.",
                           model=spec.name, gpu=lane.label) if job.options.allow_fewer_frames else
                        N_("{model} ran out of GPU memory on {gpu} even with offload.", model=spec.name,
                           gpu=lane.label))
                raise OutOfMemory(said, backend=self.name) from error
            plan, change = step
            if stage == "decode":  # the denoise's measured peak was on the plan before this rung
                peaks.pop("denoise", None)
            # What changes the video, or how long it takes, is the user's to know; the rest is the operator's.
            ctx.note(N_("out of GPU memory: {change}", change=change) if isinstance(change, Text)
                     else f"out of GPU memory: {change}")
        del kept
        if peaks and lane.device.startswith("cuda"):
            ctx.note("measured peak: " + ", ".join(f"{stage} {gib:.2f} GiB" for stage, gib in peaks.items()))
        if budget is not None and (footprint := footprint_for(spec)) is not None:
            width, height = _size(spec, job.options)
            self.planner.worked(_gpu(lane, budget), spec, footprint, start, width, height, plan, budget.free_gib,
                                peaks if lane.device.startswith("cuda") else None)
        elapsed = time.monotonic() - started
        usual = elapsed * spec.steps / max(1, spec.steps_for(job.options))  # as if run at its default steps
        self.seconds[spec.name] = usual if spec.name not in self.seconds else (
            0.7 * self.seconds[spec.name] + 0.3 * usual)
        return Output(fps=job.options.fps or spec.fps, frames=list(frames), gpu_seconds=elapsed,
                      model=spec.name)

    def _fault(self, spec: ModelSpec, plan: MemoryPlan, stage: Stage) -> None:
        if self.fault is not None:
            self.fault(spec, plan, stage)

    def _budget(self, lane: GpuLane, pipe: Any) -> Vram | None:
        """The VRAM this job may use: what is free on the card, plus what this pipeline already holds there and
        what the allocator keeps cached (neither is free to others, both are this job's). None: unknown card."""
        vram = self.vram(lane)
        if vram is None:
            return None
        return Vram(vram.free_gib + _held_gib(pipe, lane.device), vram.total_gib, vram.name)

    def _planned(self, lane: GpuLane, spec: ModelSpec, ctx: RunContext, start: MemoryPlan,
                 budget: Vram | None) -> Choice | None:
        """The planner's choice for this job (engine/local/planner.py); None when the card or the model's
        footprint is unknown, and the job starts on ``start``. The operator's notes say the plan and why; what
        the user would notice (a slower run, fewer frames) they are told the first time on this lane, in their
        language."""
        footprint = footprint_for(spec)
        if budget is None or footprint is None:
            return None
        opts = ctx.job.options
        width, height = _size(spec, opts)
        choice = self.planner.choose(_gpu(lane, budget), spec, footprint, start, budget.free_gib, width, height,
                                     default_frames=opts.frames is None)
        ctx.note(choice.note(_gpu(lane, budget), budget.total_gib))
        fitted = choice.plan
        if fitted.frames != start.frames or (fitted.offload and not start.offload):
            gb = round(budget.total_gib)
            told = (N_("On this {gb} GB GPU, {model} makes {after} frames instead of {before} and keeps part of "
                       "the model in main memory, so that the video fits; it takes longer", gb=gb,
                       model=spec.name, after=fitted.frames, before=start.frames)
                    if fitted.frames != start.frames else
                    N_("On this {gb} GB GPU, {model} keeps part of the model in main memory, so that the video "
                       "fits; it takes longer", gb=gb, model=spec.name))
            if (key := (lane.name, spec.name, str(told))) not in self._told:
                self._told.add(key)
                ctx.note(told)
        return choice

    def _ran_out(self, lane: GpuLane, pipe: Any, spec: ModelSpec, ctx: RunContext, start: MemoryPlan, plan: MemoryPlan,
                 stage: Stage, budget: Vram | None, error: BaseException | None, peak: float | None
                 ) -> Vram | None:
        """Teach the planner that ``plan`` ran out in ``stage``, with the free VRAM measured now that the failed
        try is freed (a shortage another process caused is recorded as what it was) and, on CUDA, the peak it
        reached plus what it asked for. Returns the VRAM the job has from now on."""
        footprint = footprint_for(spec)
        if budget is None or footprint is None:
            return budget
        now = self.vram(lane)
        free = budget.free_gib if now is None else min(budget.free_gib,
                                                       now.free_gib + _held_gib(pipe, lane.device))
        if peak is not None and error is not None and (asked := _asked_gib(str(error))) is not None:
            peak += asked
        width, height = _size(spec, ctx.job.options)
        self.planner.ran_out(_gpu(lane, budget), spec, footprint, start, width, height, plan, stage, free, peak)
        ctx.note(f"memory planner learned: {describe_plan(plan)} ran out in the {stage} with {free:.1f} GiB free"
                 + (f" (peak {peak:.1f} GiB)" if peak is not None else ""))
        return Vram(free, budget.total_gib, budget.name)

    def _pipeline(self, lane: GpuLane, spec: ModelSpec, kind: JobKind, ctx: RunContext) -> tuple[Any, bool]:
        """The lane's warm pipeline for this model, loading it (and evicting others) if needed.

        Returns the pipeline and whether VRAM is short enough that it should start with CPU offload."""
        warm = lane.get_warm(spec.name)
        if warm is not None:
            return _for_kind(warm, spec, kind), False
        broken = self._unloadable.get(spec.name)
        if broken and time.monotonic() < broken[0]:
            raise broken[1]
        while lane.warm and self._free_gib(lane) < spec.vram_gib:
            lane.evict_oldest()
            _free_cuda()
        try:  # the user sees the download (bytes) and then the load, before the first step
            pipe = load_pipeline(spec, lane.device, token=self.token, cache_dir=self.cache_dir,
                                 offline=self.offline, on_download=lambda done, total: ctx.loading(
                                     "download", done, total), on_load=lambda: ctx.loading("load"),
                                 free=self.disk_free)
        except NotEnoughDisk:
            raise  # not kept: the next job finds out afresh, once the admin has made room
        except ModelUnavailable as exc:
            self._unloadable[spec.name] = (time.monotonic() + UNLOADABLE_FOR_S, exc)
            raise
        lane.put_warm(spec.name, pipe)
        ctx.note(f"loaded {spec.name} on {lane.name}")
        return _for_kind(pipe, spec, kind), self._free_gib(lane) < 1.0

    def _free_gib(self, lane: GpuLane) -> float:
        """Free memory on the lane's GPU; a CPU lane never counts as short."""
        vram = self.vram(lane)
        return float("inf") if vram is None else vram.free_gib


def _grey_picture(path: Path, spec: ModelSpec) -> None:
    from PIL import Image

    Image.new("RGB", spec.size(False), (128, 128, 128)).save(path)


def _for_kind(pipe: Any, spec: ModelSpec, kind: JobKind) -> Any:
    """LTX animates images with a sibling pipeline class that shares the loaded weights."""
    if kind is JobKind.IMAGE_TO_VIDEO and spec.image_pipeline:
        import diffusers

        return getattr(diffusers, spec.image_pipeline).from_pipe(pipe)
    return pipe


def _is_oom(exc: BaseException) -> bool:
    try:
        import torch
    except ImportError:
        return False
    return isinstance(exc, torch.OutOfMemoryError) or "out of memory" in str(exc).lower() and isinstance(
        exc, RuntimeError)


def _size(spec: ModelSpec, opts: Options) -> tuple[int, int]:
    """The job's frame: what it asked for, else ``--ar`` on the model's grid (engine/controls.py)."""
    return spec.frame(opts)


def _gpu(lane: GpuLane, vram: Vram) -> str:
    """The card's name, which the planner learns under (the same model on the same card behaves the same)."""
    return vram.name or lane.label


def describe_plan(plan: MemoryPlan) -> str:
    from engine.local.planner import describe

    return describe(plan)


def _asked_gib(message: str) -> float | None:
    """What a CUDA out-of-memory says it tried to allocate ("Tried to allocate 2.00 GiB"), in GiB."""
    found = re.search(r"Tried to allocate ([\d.]+) (GiB|MiB|KiB)", message)
    if found is None:
        return None
    return float(found[1]) / {"GiB": 1, "MiB": 1024, "KiB": 1024**2}[found[2]]


def _held_gib(pipe: Any, device: str) -> float:
    """On CUDA, what this pipeline's weights take on ``device`` plus the allocator's cached, unused memory."""
    if pipe is None or not device.startswith("cuda"):
        return 0.0
    import torch

    where = torch.device(device)
    cached = torch.cuda.memory_reserved(where) - torch.cuda.memory_allocated(where)
    return (cached + _weights_bytes(pipe, where)) / 2**30


def _weights_bytes(pipe: Any, where: Any) -> int:
    import torch

    total = 0
    for component in getattr(pipe, "components", {}).values():
        if isinstance(component, torch.nn.Module):
            for tensor in (*component.parameters(), *component.buffers()):
                if tensor.device == where:
                    total += tensor.numel() * tensor.element_size()
    return total


@contextlib.contextmanager
def _peak(device: str, pipe: Any, peaks: dict[str, float], stage: str) -> Iterator[None]:
    """On CUDA, record the stage's peak in GiB as this job's own: the most allocated during it, less what other
    pipelines on the card hold. Recorded whether the stage finishes or runs out."""
    if not device.startswith("cuda"):
        yield
        return
    import torch

    where = torch.device(device)
    others = torch.cuda.memory_allocated(where) - _weights_bytes(pipe, where)
    torch.cuda.reset_peak_memory_stats(where)
    try:
        yield
    finally:
        peaks[stage] = (torch.cuda.max_memory_allocated(where) - others) / 2**30


def _free_cuda() -> None:
    gc.collect()
    try:
        import torch

        if torch.cuda.is_available():
            torch.cuda.empty_cache()
    except ImportError:
        pass


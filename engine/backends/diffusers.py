"""The local backend: real diffusers pipelines, one job at a time per GPU lane, models kept warm.

Each lane keeps the pipelines it loaded (least recently used evicted first when free VRAM runs short), so
back-to-back jobs for the same model never reload it; the scheduler's model affinity depends on that.
"""

from __future__ import annotations

import gc
import time
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any

from engine.backends.base import Output, RunContext
from engine.errors import InvalidInput, ModelUnavailable, OutOfMemory
from engine.lanes import GpuLane
from engine.local.download import DiskFree, NotEnoughDisk, disk_free
from engine.local.fit import Vram, VramProbe, cuda_vram, fit_plan, footprint_for
from engine.local.pipelines import (
    MemoryPlan,
    apply_plan,
    first_plan,
    load_pipeline,
    optimize,
    run_pipeline,
)
from engine.local.registry import ModelSpec, resolve
from engine.translate.languages import ENGLISH
from engine.types import Estimate, JobKind, Options
from engine.words import N_, Text

# Tests and benchmarks may raise a simulated out-of-memory here, before each try, to walk the ladder.
FaultHook = Callable[[ModelSpec, MemoryPlan], None]
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
        compile_denoiser: bool = False,
        fault: FaultHook | None = None,
        vram: VramProbe = cuda_vram,
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
        self.disk_free = disk_free  # free bytes where weights are downloaded; tests give a small disk
        self.seconds: dict[str, float] = {}  # measured run time per model, for estimates and ETAs
        self._specs: dict[str, ModelSpec | None] = {}  # resolved once: folder models are read from disk
        self._unloadable: dict[str, tuple[float, ModelUnavailable]] = {}
        # (lane, model) -> the VRAM the model had when it was loaded there, which its plans are fitted to
        self._budgets: dict[tuple[str, str], Vram] = {}
        self._told: set[tuple[str, str, str]] = set()  # (lane, model, change): users hear of it once

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
        seconds = self.seconds.get(spec.name, spec.seconds_estimate) if spec else 60.0
        return Estimate(cost_usd=0.0, seconds=seconds)

    async def run(self, ctx: RunContext) -> Output:
        assert ctx.lane is not None, "the local backend runs on a GPU lane"
        return await ctx.lane.call(self._generate, ctx, cancel=ctx.cancel)

    async def aclose(self) -> None:
        return None

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
        plan = self._fitted(lane, spec, ctx, first_plan(spec, pipe, wanted, offload=tight))
        if tight:
            ctx.note("model CPU offload on from the start: not enough free VRAM")
        for tuned in optimize(pipe, lane.device, compile_denoiser=self.compile_denoiser and not plan.offload):
            ctx.note(tuned)
        while True:
            try:
                apply_plan(pipe, plan, lane.device)
                if self.fault is not None:
                    self.fault(spec, plan)
                frames = run_pipeline(pipe, spec, ctx, plan)
                break
            except Exception as exc:
                if not _is_oom(exc):
                    raise
                _free_cuda()
                step = plan.next(spec, job.options.allow_fewer_frames)
                if step is None:
                    said = (N_("{model} ran out of GPU memory on {gpu} even with offload and fewer frames.",
                               model=spec.name, gpu=lane.label) if job.options.allow_fewer_frames else
                            N_("{model} ran out of GPU memory on {gpu} even with offload.", model=spec.name,
                               gpu=lane.label))
                    raise OutOfMemory(said, backend=self.name) from exc
                plan, change = step
                # What changes the video, or how long it takes, is the user's to know; the rest is the operator's.
                ctx.note(N_("out of GPU memory: {change}", change=change) if isinstance(change, Text)
                         else f"out of GPU memory: {change}")
        elapsed = time.monotonic() - started
        self.seconds[spec.name] = elapsed if spec.name not in self.seconds else (
            0.7 * self.seconds[spec.name] + 0.3 * elapsed)
        return Output(fps=job.options.fps or spec.fps, frames=list(frames), gpu_seconds=elapsed,
                      model=spec.name)

    def _fitted(self, lane: GpuLane, spec: ModelSpec, ctx: RunContext, plan: MemoryPlan) -> MemoryPlan:
        """The ladder's first rung expected to fit the VRAM the model had when loaded (engine/local/fit.py);
        ``plan`` as it is when the card or the model's footprint is unknown. What the user would notice
        (a slower run, fewer frames) they are told the first time on this lane, in their language."""
        vram = self._budgets.get((lane.name, spec.name))
        footprint = footprint_for(spec)
        if vram is None or footprint is None:
            return plan
        opts = ctx.job.options
        width, height = (opts.width, opts.height) if opts.width and opts.height else spec.size(opts.portrait)
        fitted = fit_plan(plan, spec, footprint, vram.free_gib, width, height, default_frames=opts.frames is None)
        if fitted == plan:
            return plan
        ctx.note(f"planned for {vram.free_gib:.1f} GiB free of {vram.total_gib:.1f} GiB: decode_chunk_size "
                 f"{fitted.decode_chunk_size}, offload {'on' if fitted.offload else 'off'}, {fitted.frames} frames")
        if fitted.frames != plan.frames or (fitted.offload and not plan.offload):
            gb = round(vram.total_gib)
            told = (N_("On this {gb} GB GPU, {model} makes {after} frames instead of {before} and keeps part of "
                       "the model in main memory, so that the video fits; it takes longer", gb=gb,
                       model=spec.name, after=fitted.frames, before=plan.frames)
                    if fitted.frames != plan.frames else
                    N_("On this {gb} GB GPU, {model} keeps part of the model in main memory, so that the video "
                       "fits; it takes longer", gb=gb, model=spec.name))
            if (key := (lane.name, spec.name, str(told))) not in self._told:
                self._told.add(key)
                ctx.note(told)
        return fitted

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
        if (before := self.vram(lane)) is not None:
            self._budgets[(lane.name, spec.name)] = before
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


def _free_cuda() -> None:
    gc.collect()
    try:
        import torch

        if torch.cuda.is_available():
            torch.cuda.empty_cache()
    except ImportError:
        pass


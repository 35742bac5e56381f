"""A simulated backend: the engine's stand-in for a GPU (or a provider) in tests, benchmarks and demos.

It takes as long as it is told, loads models as slowly as it is told, fails and runs out of memory on a
schedule, reports progress every step and honours cancel, bills like a cloud provider when told to
(``billed_usd``, from the moment a run starts), and renders a small real video (a moving
gradient) so the whole path to an mp4 is exercised. ``LOCAL_BACKEND=simulated`` puts it on every GPU lane.
"""

from __future__ import annotations

import asyncio
import threading
import time
from collections.abc import Callable
from pathlib import Path

import numpy as np

from engine.backends.base import Cancelled, Output, RunContext
from engine.controls import not_used, sized
from engine.errors import OutOfMemory, TransientError
from engine.local.registry import BUILTIN
from engine.previews import halfway, jpeg
from engine.translate.languages import ENGLISH
from engine.types import Estimate, JobKind, JobSpec, Options
from engine.words import N_

FailureRule = Callable[[int, JobSpec], BaseException | None]


class SimulatedBackend:
    def __init__(
        self,
        name: str = "local",
        *,
        local: bool = True,
        seconds: float = 2.0,
        load_seconds: float = 0.0,
        steps: int = 10,
        render: bool = True,
        kinds: frozenset[JobKind] = frozenset(JobKind),
        models: frozenset[str] | None = None,
        default_models: dict[JobKind, str] | None = None,
        usd_per_run: float = 0.0,
        billed_usd: float | None = None,
        fail_every: int = 0,
        oom_every: int = 0,
        failure: FailureRule | None = None,
        scratch: Path | None = None,
        prompt_languages: frozenset[str] | None = None,
    ) -> None:
        self.name = name
        self.local = local
        self.seconds = seconds
        self.load_seconds = load_seconds
        self.steps = steps
        self.render = render
        self._kinds = kinds
        self.models = models
        self.default_models = default_models or {
            JobKind.TEXT_TO_VIDEO: "zeroscope",
            JobKind.IMAGE_TO_VIDEO: "svd-xt",
        }
        self.usd_per_run = usd_per_run  # the estimate: what admission reserves
        # What a provider bills once a run has started (RunContext.billed_usd), finished or not; None: the
        # run bills nothing until it succeeds, at the estimate.
        self.billed_usd = billed_usd
        self.fail_every = fail_every
        self.oom_every = oom_every
        self.failure = failure
        self.scratch = scratch
        self._languages = prompt_languages  # None: those of the built-in model it stands in for
        self.prompts: list[str] = []  # the prompt of every run, as it reached the backend
        self.runs = 0
        self.loads = 0
        self._count_lock = threading.Lock()
        self._blank: Path | None = None

    def kinds(self) -> frozenset[JobKind]:
        return self._kinds

    def unavailable_reason(self) -> str | None:
        return None

    def model_for(self, kind: JobKind, options: Options) -> str | None:
        model = options.model or self.default_models.get(kind)
        if self.models is not None and model not in self.models:
            return None
        spec = BUILTIN.get(model or "")
        if self.models is None and spec is not None and kind not in spec.kinds:
            return None  # standing in for the built-in models, it makes what each of them makes
        return model

    def prompt_languages(self, kind: JobKind, options: Options) -> frozenset[str]:
        """``prompt_languages`` if it was given; else what the built-in model it stands in for reads."""
        if self._languages is not None:
            return self._languages
        spec = BUILTIN.get(self.model_for(kind, options) or "")
        if spec is not None and not spec.uses_prompt:
            return frozenset()  # it stands in for a model that reads no words
        return spec.prompt_languages if spec is not None else ENGLISH

    def model_names(self) -> frozenset[str]:
        if self.models is not None:
            return self.models
        return frozenset(BUILTIN) | frozenset(self.default_models.values())  # it stands in for any of them

    def estimate(self, kind: JobKind, options: Options) -> Estimate:
        return Estimate(cost_usd=self.usd_per_run, seconds=self.seconds + self.load_seconds)

    async def run(self, ctx: RunContext) -> Output:
        if self.local:
            assert ctx.lane is not None, "a local backend runs on a GPU lane"
            return await ctx.lane.call(self._work, ctx, cancel=ctx.cancel)
        try:
            return await asyncio.to_thread(self._work, ctx)
        except asyncio.CancelledError:
            ctx.cancel.set()  # the thread stops at its next step
            raise

    def _work(self, ctx: RunContext) -> Output:
        with self._count_lock:
            self.runs += 1
            run_no = self.runs
        job = ctx.job
        self.prompts.append(job.prompt)
        model = self.model_for(job.kind, job.options) or "simulated"
        started = time.monotonic()
        if ctx.lane is not None and ctx.lane.get_warm(model) is None:
            self.loads += 1
            _sleep(self.load_seconds, ctx)
            ctx.lane.put_warm(model, object())
        spec = BUILTIN.get(model)
        if job.options.motion is not None and spec is not None and "motion_bucket_id" not in spec.options:
            ctx.note(not_used("--motion", model))  # as the model it stands in for would (no motion knob)
        if self.billed_usd is not None:
            ctx.billed_usd = self.billed_usd  # the remote work has started: it is billed, whatever happens next
        failure = self.failure(run_no, job) if self.failure else None
        if failure is None and self.oom_every and run_no % self.oom_every == 0:
            failure = OutOfMemory(N_("CUDA out of memory (simulated)."), backend=self.name)
        if failure is None and self.fail_every and run_no % self.fail_every == 0:
            failure = TransientError(N_("Simulated failure."), backend=self.name)
        for step in range(1, self.steps + 1):
            _sleep(self.seconds / self.steps, ctx)
            if failure is not None and step > self.steps // 2:
                raise failure
            preview = None
            if job.options.preview and halfway(step, self.steps):  # one picture, as a pipeline's latents give
                frames = _frames(job)
                preview = jpeg(frames[len(frames) // 2])
            ctx.progress(step, self.steps, preview)
        fps = job.options.fps or 7
        gpu_seconds = time.monotonic() - started if self.local else 0.0
        if not self.render:
            return Output(fps=fps, video_path=self._blank_video(), shared_file=True,
                          gpu_seconds=gpu_seconds, model=model, cost_usd=self.billed_usd)
        return Output(fps=fps, frames=_frames(job), gpu_seconds=gpu_seconds, model=model, cost_usd=self.billed_usd)

    def _blank_video(self) -> Path:
        """One tiny mp4 made once and shared by every run, for benchmarks that must not measure encoding."""
        if self._blank is None:
            from engine.video import encode_frames

            folder = self.scratch or Path(".")
            folder.mkdir(parents=True, exist_ok=True)
            path = folder / f"simulated-{self.name}.mp4"
            encode_frames([np.zeros((16, 16, 3), np.uint8)] * 2, 2, path)
            self._blank = path
        return self._blank

    async def aclose(self) -> None:
        return None


def _sleep(seconds: float, ctx: RunContext) -> None:
    """Sleep, but wake at once on cancel: the same contract as a pipeline's per-step interrupt check."""
    if seconds > 0:
        ctx.cancel.wait(seconds)
    if ctx.cancel.is_set():
        raise Cancelled()


def _frames(job: JobSpec) -> list[np.ndarray]:
    opts = job.options
    if bool(opts.width) != bool(opts.height):
        width, height = opts.width or 256, opts.height or 144
    else:  # the size asked for, else --ar on a small frame (engine/controls.py), as a model would
        width, height = sized(256, 144, 8, opts)
    count = opts.frames or 14
    rng = np.random.default_rng(job.seed)
    base = rng.integers(0, 255, size=3)
    xs = np.linspace(0, 255, width, dtype=np.float32)[None, :]
    ys = np.linspace(0, 255, height, dtype=np.float32)[:, None]
    frames = []
    for i in range(count):
        shift = i * 255.0 / max(count, 1)
        r = (xs + shift + base[0]) % 256 + ys * 0
        g = (ys + shift + base[1]) % 256 + xs * 0
        b = np.full((height, width), (base[2] + 4 * i) % 256, np.float32)
        frames.append(np.stack([r, g, b], axis=-1).astype(np.uint8))
    return frames

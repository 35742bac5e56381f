"""Compiled denoisers: compiled when a lane warms up, never inside a job, with the frames of the eager path.

Tiny random-weight pipelines on a CPU lane. torch.compile runs for real (TorchDynamo captures the graphs,
guards them per shape, and counts them: compiles are counted with its own counters) with the "eager" backend,
which runs the captured graphs as they are: TorchInductor on a 2-core CPU takes minutes for even a tiny UNet
(the GPU bench measures it, and the PSNR of its frames), and "aot_eager" twice as long as "eager". The model
is the tiny Wan, whose repeated blocks diffusers compiles regionally.
"""

from __future__ import annotations

import asyncio
import re
import threading
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from torch._dynamo.utils import counters

from bot.i18n import ENGLISH as EN
from bot.i18n import Words
from bot.render import status_text
from engine.backends.base import RunContext
from engine.backends.diffusers import DiffusersBackend
from engine.backends.simulated import SimulatedBackend
from engine.lanes import GpuLane
from engine.local.pipelines import MemoryPlan
from engine.local.registry import BUILTIN, ModelSpec
from engine.local.tiny import make_tiny
from engine.types import (
    OPERATOR_PLATFORM,
    JobKind,
    JobSpec,
    JobState,
    Options,
    Origin,
    SubmitRequest,
    UserRef,
)
from tests.conftest import make_settings, open_app

T2V = JobKind.TEXT_TO_VIDEO
pytestmark = pytest.mark.timeout(300)  # a compile on a busy 2-core CPU: up to a minute or two


@dataclass
class Warmed:
    backend: DiffusersBackend
    model: str
    pipe: Any
    notes: list[str]
    eager: DiffusersBackend  # the same model, never compiled


@pytest.fixture(scope="module")
def tiny(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    folder = tmp_path_factory.mktemp("tiny")
    return {name: make_tiny(name, folder / name) for name in ("wan", "zeroscope")}


@pytest.fixture(scope="module")
def warmed(tiny: dict[str, Path], tmp_path_factory: pytest.TempPathFactory) -> Iterator[Warmed]:
    """One compile for the module: the tiny Wan warmed up on a CPU lane (its default shape, 64x64x17)."""
    model = str(tiny["wan"])
    backend = DiffusersBackend(BUILTIN, default_models={}, compile_on_cpu=True, compile_backend="eager",
                               compile_cache_dir=tmp_path_factory.mktemp("compile-cache"))
    lane = GpuLane(0, device="cpu")
    notes = backend.warm_up(lane, model)
    eager = DiffusersBackend(BUILTIN, default_models={}, compile_denoiser=False)
    yield Warmed(backend, model, lane.warm[model], notes, eager)
    lane.close()


def graphs() -> int:
    return counters["stats"]["unique_graphs"]


def lane_with(warmed: Warmed) -> GpuLane:
    lane = GpuLane(0, device="cpu")
    lane.put_warm(warmed.model, warmed.pipe)
    return lane


async def generate(backend: DiffusersBackend, lane: GpuLane, model: str, tmp: Path, **options: Any) -> Any:
    opts = Options(**{"model": model, "width": 64, "height": 64, "steps": 2, **options})
    ctx = RunContext(JobSpec("j1", T2V, "a cat surfing", opts, None, 7), tmp, threading.Event(),
                     lambda *_: None, lane=lane)
    output = await backend.run(ctx)
    return np.asarray(output.frames, dtype=np.float64), [str(n) for n in ctx.notes]


def psnr(a: np.ndarray, b: np.ndarray) -> float:
    mse = float(np.mean((a - b) ** 2))
    return float("inf") if mse == 0 else 10 * np.log10(1.0 / mse)


async def test_warm_up_compiles_the_default_shape_and_its_jobs_match_the_eager_frames(warmed, tmp_path):
    said = "\n".join(warmed.notes)
    assert "WanTransformer3DModel: 2 repeated blocks compiled" in said
    assert re.search(rf"compiled {re.escape(warmed.model)} 64x64x17 in \d+\.\d s \(cache: cold\)", said), said

    lane = lane_with(warmed)
    try:
        before = graphs()
        compiled, notes = await generate(warmed.backend, lane, warmed.model, tmp_path)
        assert graphs() == before  # the job ran the warm-up's graphs: nothing compiled inside it
        assert not [n for n in notes if "compiled size" in n]
    finally:
        lane.close()
    eager_lane = GpuLane(1, device="cpu")
    try:
        eager, _ = await generate(warmed.eager, eager_lane, warmed.model, tmp_path)
    finally:
        eager_lane.close()
    assert compiled.shape == eager.shape == (17, 64, 64, 3)
    assert psnr(compiled, eager) >= 40.0
    assert np.array_equal(compiled, eager)  # the "eager" backend runs the very same kernels: bit-identical


async def test_a_job_of_another_size_runs_uncompiled_without_compiling(warmed, tmp_path):
    lane = lane_with(warmed)
    try:
        before = graphs()
        frames, notes = await generate(warmed.backend, lane, warmed.model, tmp_path, frames=9)
        assert graphs() == before
        assert f"{warmed.model} 64x64x9 is not a compiled size: it runs uncompiled" in notes
        assert frames.shape == (9, 64, 64, 3)
        # ...and the compiled size still runs compiled afterwards, still without compiling.
        _, notes = await generate(warmed.backend, lane, warmed.model, tmp_path)
        assert graphs() == before and not [n for n in notes if "compiled size" in n]
    finally:
        lane.close()


async def test_a_compile_that_fails_leaves_the_model_running_uncompiled(tiny, warmed, tmp_path):
    def no_compiler(graph: Any, inputs: Any) -> Any:
        raise RuntimeError("Failed to find C compiler. Please specify via CC environment variable.")

    model = str(tiny["wan"])
    backend = DiffusersBackend(BUILTIN, default_models={}, compile_on_cpu=True, compile_backend=no_compiler)
    lane = GpuLane(0, device="cpu")
    try:
        notes = await lane.call(backend.warm_up, lane, model, cancel=threading.Event())
        [failed] = [n for n in notes if n.startswith(f"compiling {model} failed (BackendCompilerFailed")]
        assert "RuntimeError: Failed to find C compiler" in failed and failed.endswith("; it runs uncompiled")
        assert not [n for n in notes if n.startswith("compiled ")]
        assert f"{model} 64x64 not compiled (CPU offload, or compiling failed): its jobs run uncompiled" in notes
        for _ in range(2):  # every later job works, uncompiled, with the frames of the eager path
            frames, job_notes = await generate(backend, lane, model, tmp_path)
            assert not [n for n in job_notes if "compil" in n]
            eager_lane = GpuLane(1, device="cpu")
            try:
                eager, _ = await generate(warmed.eager, eager_lane, model, tmp_path)
            finally:
                eager_lane.close()
            assert np.array_equal(frames, eager)
    finally:
        lane.close()


# --- the lane's warm-up at start, through the whole engine ------------------------------------------------


class HeldWarmUp(DiffusersBackend):
    """The real backend, whose warm-up waits for the test to let it go (an Event, no sleeps)."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.order: list[str] = []
        self.started, self.release = threading.Event(), threading.Event()

    def warm_up(self, lane: GpuLane, model: str, cancel: threading.Event | None = None) -> list[str]:
        self.order.append(f"warm-up {Path(model).name} on {lane.name}")
        self.started.set()
        self.release.wait(120)  # paced: the test lets it go
        self.order.append("warm-up done")
        return ["compiled (held)"]


def held_backend(model: Path) -> HeldWarmUp:
    def job_starts(spec: ModelSpec, plan: MemoryPlan, stage: str) -> None:
        if stage != "decode":  # a job's run begins (its decode is the same job)
            backend.order.append("job")

    backend = HeldWarmUp(BUILTIN, default_models={T2V: str(model)}, compile_on_cpu=True, compile_backend="eager",
                         fault=job_starts)
    return backend


def submit(model: Path) -> SubmitRequest:
    opts = Options(model=str(model), width=64, height=64, steps=2, fps=6, frames=4)
    return SubmitRequest(UserRef(OPERATOR_PLATFORM, "u1"), "a cat surfing", Origin(OPERATOR_PLATFORM), opts)


async def test_a_lane_warms_up_before_its_first_job_says_so_in_status_and_keeps_the_job_local(
    app_factory, tiny
):
    backend = held_backend(tiny["zeroscope"])
    cloud = SimulatedBackend("runway", local=False, seconds=0.01, steps=1, usd_per_run=0.25)
    app = await app_factory(
        backends={"local": backend, "runway": cloud}, lanes=[GpuLane(0, device="cpu")],
        settings={"chain_text_to_video": ["local", "runway"], "local_max_wait_s": 0.0},
    )
    try:
        await asyncio.to_thread(backend.started.wait, 60)
        job = await app.service.submit(submit(tiny["zeroscope"]))
        report = await app.service.report()
        warming = f"gpu0 (cpu): warming up {tiny['zeroscope']} (compiling; jobs wait for it), 1 waiting"
        assert warming in status_text(EN, report)
        assert "준비 중 (컴파일하고 있어요" in status_text(Words("ko"), report)
        assert (await app.service.get(job.id)).state is JobState.QUEUED  # waiting for the GPU, not the cloud
    finally:
        backend.release.set()
    done = await app.service.wait(job.id)
    assert done.state is JobState.SUCCEEDED and done.backend == "local"
    assert backend.order == ["warm-up zeroscope on gpu0", "warm-up done", "job"]
    assert "warming up" not in status_text(EN, await app.service.report())


async def test_stopping_during_the_warm_up_does_not_hang_or_break_the_gpu(tmp_path, tiny):
    backend = held_backend(tiny["zeroscope"])
    lane = GpuLane(0, device="cpu")
    app = await open_app(make_settings(tmp_path), backends={"local": backend}, lanes=[lane])
    try:
        await asyncio.to_thread(backend.started.wait, 60)
        await asyncio.wait_for(app.close(), 60)  # returns while the warm-up is still held
        assert lane.broken is None and backend.order == ["warm-up zeroscope on gpu0"]
    finally:
        backend.release.set()


async def test_a_cancelled_job_that_stops_late_never_marks_the_gpu_broken(app_factory, tiny):
    entered, release = threading.Event(), threading.Event()
    held: list[str] = []

    def hold_first(spec: ModelSpec, plan: MemoryPlan, stage: str) -> None:
        if not held:  # the first job is stuck (a long load or decode) past the lane's grace period
            held.append(spec.name)
            entered.set()
            release.wait(120)  # paced: the test lets it go

    backend = DiffusersBackend(BUILTIN, default_models={}, fault=hold_first)
    lane = GpuLane(0, device="cpu", cancel_grace_s=0.01)
    app = await app_factory(backends={"local": backend}, lanes=[lane], settings={"chain_text_to_video": ["local"]})
    try:
        first = await app.service.submit(submit(tiny["zeroscope"]))
        await asyncio.to_thread(entered.wait, 60)
        cancelled = await app.service.cancel(UserRef(OPERATOR_PLATFORM, "u1"), first.id)
        assert cancelled.state is JobState.CANCELLED
        second = await app.service.submit(submit(tiny["zeroscope"]))
        assert "BROKEN" not in status_text(EN, await app.service.report())
        assert (await app.service.get(second.id)).state is JobState.QUEUED  # until the first has stopped
    finally:
        release.set()
    done = await app.service.wait(second.id)
    assert done.state is JobState.SUCCEEDED and lane.broken is None

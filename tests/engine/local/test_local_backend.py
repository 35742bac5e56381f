"""The local diffusers backend through the whole engine, on tiny random-weight models and a CPU lane.

Every family is loaded by the same ``from_pretrained`` path real weights take, run to an mp4, and checked
for frame count, size and fps; then seeds, progress, cancel, warm models and the out-of-memory ladder.
"""

from __future__ import annotations

import asyncio
import io
from pathlib import Path
from typing import Any

import av
import numpy as np
import pytest
import torch
from PIL import Image

from bot.i18n import ENGLISH as EN
from bot.render import changes_told
from engine.backends.diffusers import DiffusersBackend
from engine.backends.simulated import SimulatedBackend
from engine.events import Event, Progress
from engine.lanes import GpuLane
from engine.local.pipelines import MemoryPlan, apply_plan, load_pipeline, optimize
from engine.local.registry import BUILTIN, ModelSpec, resolve
from engine.local.tiny import make_all
from engine.types import (
    OPERATOR_PLATFORM,
    JobKind,
    JobState,
    Options,
    Origin,
    Outcome,
    SubmitRequest,
    UserRef,
)
from engine.video import probe

T2V, I2V = JobKind.TEXT_TO_VIDEO, JobKind.IMAGE_TO_VIDEO
CASES = [  # (family, kind, frames asked, frames made)
    ("svd-xt", I2V, 6, 6),
    ("svd", I2V, 4, 4),
    ("zeroscope", T2V, 6, 6),
    ("animatediff", T2V, 6, 6),
    ("wan", T2V, 8, 5),  # Wan makes 4k+1 frames
    ("ltx-video", T2V, 9, 9),
    ("ltx-video", I2V, 9, 9),
]


@pytest.fixture(scope="module")
def tiny(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    return make_all(tmp_path_factory.mktemp("tiny"))


def photo() -> bytes:
    buf = io.BytesIO()
    Image.new("RGB", (320, 200), (220, 120, 40)).save(buf, format="PNG")
    return buf.getvalue()


def request(model: Path, kind: JobKind, user: str = "u1", **options: Any) -> SubmitRequest:
    opts = Options(**{"model": str(model), "width": 64, "height": 64, "steps": 2, "fps": 6, **options})
    image = photo() if kind is I2V else None
    # Folders are named by path: only the operator at the terminal may do that (chat users pick listed names).
    # A picture goes alone (words with SVD would add a note that they were not used: tests/engine/test_captions.py).
    prompt = "" if kind is I2V else "a cat surfing"
    return SubmitRequest(UserRef(OPERATOR_PLATFORM, user), prompt, Origin(OPERATOR_PLATFORM), opts, image)


async def local_app(app_factory: Any, *, fault: Any = None, extra: dict[str, Any] | None = None) -> Any:
    backend = DiffusersBackend(BUILTIN, default_models={T2V: "zeroscope", I2V: "svd-xt"}, fault=fault)
    return await app_factory(
        backends={"local": backend, **(extra or {})},
        settings={"chain_text_to_video": ["local", *(extra or {})],
                  "chain_image_to_video": ["local", *(extra or {})]},
        lanes=[GpuLane(0, device="cpu")],
    )


def decoded(path: Path) -> np.ndarray:
    with av.open(str(path)) as container:
        return np.stack([f.to_ndarray(format="rgb24") for f in container.decode(video=0)])


@pytest.mark.parametrize(("family", "kind", "asked", "made"), CASES, ids=[f"{c[0]}-{c[1]}" for c in CASES])
async def test_every_family_makes_an_mp4_with_the_frames_size_and_fps_asked(
    app_factory, tiny, family, kind, asked, made
):
    app = await local_app(app_factory)
    done = await app.service.wait((await app.service.submit(request(tiny[family], kind, frames=asked))).id)
    assert done.state is JobState.SUCCEEDED, done.error_message
    info = probe(done.result_path)
    assert (info.frames, info.width, info.height, info.fps) == (made, 64, 64, 6)
    assert done.attempts[0].gpu_seconds > 0 and done.kind is kind
    if made != asked:
        assert any("4k+1 frames" in str(note) for note in done.attempts[0].notes)


async def test_the_same_seed_gives_the_same_video_and_another_seed_does_not(app_factory, tiny):
    app = await local_app(app_factory)
    videos = []
    for seed in (7, 7, 8):
        job = await app.service.submit(request(tiny["zeroscope"], T2V, frames=4, seed=seed))
        videos.append(decoded((await app.service.wait(job.id)).result_path))
    assert np.array_equal(videos[0], videos[1]) and not np.array_equal(videos[0], videos[2])


async def test_progress_comes_every_step_and_cancel_stops_the_pipeline_mid_run(app_factory, tiny):
    app = await local_app(app_factory)
    steps: list[int] = []
    third = asyncio.Event()

    async def watch(event: Event) -> None:
        if isinstance(event, Progress):
            steps.append(event.step)
            if event.step == 3:
                third.set()

    app.service.subscribe(watch)
    job = await app.service.submit(request(tiny["animatediff"], T2V, frames=16, steps=100))
    await asyncio.wait_for(third.wait(), 60)
    done = await app.service.cancel(UserRef(OPERATOR_PLATFORM, "u1"), job.id)
    assert done.state is JobState.CANCELLED and [a.outcome for a in done.attempts] == [Outcome.CANCELLED]
    await app.service.events.drain()
    assert steps[:3] == [1, 2, 3] and max(steps) < 100
    follow_up = await app.service.wait((await app.service.submit(request(tiny["zeroscope"], T2V, frames=4))).id)
    assert follow_up.state is JobState.SUCCEEDED  # the lane is free again


async def test_out_of_memory_in_the_denoise_goes_to_offload_and_says_what_changed(app_factory, tiny):
    tries: list[tuple[str, int | None, bool]] = []

    def short_of_memory(spec: ModelSpec, plan: MemoryPlan, stage: str) -> None:
        tries.append((stage, plan.decode_chunk_size, plan.offload))
        if not plan.offload:
            raise torch.OutOfMemoryError("CUDA out of memory. Tried to allocate 2.00 GiB")

    app = await local_app(app_factory, fault=short_of_memory)
    done = await app.service.wait((await app.service.submit(request(tiny["svd-xt"], I2V, frames=6))).id)
    assert done.state is JobState.SUCCEEDED
    # smaller decode chunks would not help a denoise: straight to offload, then the decode of its latents
    assert tries == [("denoise", 8, False), ("denoise", 8, True), ("decode", 8, True)]
    notes = [str(n) for n in done.attempts[0].notes if str(n).startswith("out of GPU memory")]
    assert notes == ["out of GPU memory: it was made more slowly, with part of the model kept in main memory"]
    told = changes_told(EN, done)  # the user hears of the slower run
    assert told == ["Note: GPU memory was short, so it was made more slowly, with part of the model kept in main "
                    "memory."]


async def test_out_of_memory_in_the_decode_decodes_the_kept_latents_again_and_the_video_is_the_same(
    app_factory, tiny
):
    armed, tries = False, []

    def decode_short(spec: ModelSpec, plan: MemoryPlan, stage: str) -> None:
        if armed:
            tries.append((stage, plan.decode_chunk_size, plan.offload))
            if stage == "decode" and not plan.offload:
                raise torch.OutOfMemoryError("CUDA out of memory. Tried to allocate 2.00 GiB")

    app = await local_app(app_factory, fault=decode_short)
    steps: list[int] = []

    async def watch(event: Event) -> None:
        if isinstance(event, Progress) and armed:
            steps.append(event.step)

    app.service.subscribe(watch)
    plain = await app.service.wait((await app.service.submit(request(tiny["svd-xt"], I2V, frames=6, seed=5))).id)
    armed = True
    done = await app.service.wait((await app.service.submit(request(tiny["svd-xt"], I2V, frames=6, seed=5))).id)
    await app.service.events.drain()
    assert done.state is JobState.SUCCEEDED
    assert tries == [("denoise", 8, False), ("decode", 8, False), ("decode", 8, True)]
    assert steps == [1, 2]  # the two denoising steps ran once: the retry decoded the latents it kept
    assert np.array_equal(decoded(done.result_path), decoded(plain.result_path))
    notes = [str(n) for n in done.attempts[0].notes if str(n).startswith("out of GPU memory")]
    assert notes == ["out of GPU memory: the decode ran alone on the GPU, the rest moved to main memory"]
    assert changes_told(EN, done) == []  # nothing the user would notice


async def test_out_of_memory_at_the_bottom_of_the_ladder_hands_the_job_on(app_factory, tiny):
    def always(spec: ModelSpec, plan: MemoryPlan, stage: str) -> None:
        raise torch.OutOfMemoryError("CUDA out of memory.")

    cloud = SimulatedBackend("runway", local=False, seconds=0.01, steps=1, usd_per_run=0.25)
    app = await local_app(app_factory, fault=always, extra={"runway": cloud})
    done = await app.service.wait((await app.service.submit(request(tiny["svd-xt"], I2V, frames=25))).id)
    assert done.state is JobState.SUCCEEDED and done.backend == "runway"
    local = done.attempts[0]
    assert local.error_code == "out_of_memory" and "even with offload and fewer frames" in local.error_message
    assert "out of GPU memory: the video has 15 frames instead of 25" in [str(note) for note in local.notes]


async def test_a_warm_model_is_not_loaded_again(app_factory, tiny):
    app = await local_app(app_factory)
    notes = []
    for _ in range(2):
        done = await app.service.wait((await app.service.submit(request(tiny["wan"], T2V, frames=5))).id)
        notes.append([n for n in done.attempts[0].notes if n.startswith("loaded")])
    assert notes == [[f"loaded {tiny['wan']} on gpu0"], []]
    assert str(tiny["wan"]) in app.lanes[0].warm_models


def test_cuda_speed_settings_are_applied_once_and_never_compile(tiny):
    def load(name: str) -> Any:
        return load_pipeline(resolve(str(tiny[name]), BUILTIN), "cpu", token=None, cache_dir=None, offline=True)

    tf32 = (torch.backends.cuda.matmul.allow_tf32, torch.backends.cudnn.allow_tf32)
    try:
        animatediff, zeroscope, svd = load("animatediff"), load("zeroscope"), load("svd-xt")
        # Called as for a CUDA lane. Compiling is the lane's warm-up's (tests/engine/local/test_compiled.py).
        assert optimize(animatediff, "cuda:0") == ["unet channels-last", "vae channels-last"]
        conv = next(m for m in animatediff.unet.modules() if isinstance(m, torch.nn.Conv2d))
        assert conv.weight.is_contiguous(memory_format=torch.channels_last)
        assert animatediff.unet._compiled_call_impl is None
        assert optimize(animatediff, "cuda:0") == []  # once per pipeline
        # 3-D convolutions have no channels-last: zeroscope's and SVD's UNets are left as they are.
        assert optimize(zeroscope, "cuda:0") == ["vae channels-last"]
        assert optimize(svd, "cuda:0") == []
        assert optimize(load("ltx-video"), "cpu") == []  # CPU lanes: untouched
    finally:
        torch.backends.cuda.matmul.allow_tf32, torch.backends.cudnn.allow_tf32 = tf32


def test_a_pipeline_an_earlier_job_offloaded_goes_back_whole_for_a_plan_that_fits(tiny):
    from accelerate import cpu_offload_with_hook

    pipe = load_pipeline(resolve(str(tiny["zeroscope"]), BUILTIN), "cpu", token=None, cache_dir=None, offline=True)
    apply_plan(pipe, MemoryPlan(4, None, offload=True), "cpu")
    assert pipe.vae.use_slicing and pipe.vae.use_tiling
    # what enable_model_cpu_offload leaves on a CUDA lane: an accelerate hook on each model
    pipe._all_hooks = [cpu_offload_with_hook(pipe.unet, execution_device="cpu")[1]]
    pipe._reelbot_offloaded = True
    apply_plan(pipe, MemoryPlan(4, None), "cpu")
    assert not hasattr(pipe.unet, "_hf_hook") and pipe._all_hooks == [] and not pipe._reelbot_offloaded
    assert not pipe.vae.use_slicing and not pipe.vae.use_tiling

"""Consumer cards and large ones: the memory planner picks the fastest plan expected to fit the lane's free VRAM
before the first try, so a 12 GB card makes SVD-XT's 25 frames at 1024x576 without an out-of-memory first, an
8 GB card makes SVD's 14, a 24 GB card decodes 16 frames at a time and a 141 GB one all of them at once; the user
hears of a change they would notice once, in their language. An out-of-memory teaches the planner, and what it
learned survives a restart without pinning the slow plan.

The card is a fake (``vram=``) on a CPU lane, and the tiny SVD-XT stands in for the real one under the
registry's name, with the registry's defaults: 25 frames (at 64x64, so that it runs on a CPU). The fault hook
plays the card: it runs out of memory on any rung the card could not hold.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import replace
from pathlib import Path
from typing import Any

import pytest
import torch
from PIL import Image

from bot.i18n import ENGLISH as EN
from bot.i18n import words
from bot.render import changes_told
from engine.backends.diffusers import DiffusersBackend
from engine.lanes import GpuLane
from engine.local.fit import FOOTPRINTS, Footprint, Vram, footprint_for
from engine.local.pipelines import MemoryPlan
from engine.local.planner import STATE_FILE, Planner, plan_for
from engine.local.registry import BUILTIN, ModelSpec, resolve
from engine.local.tiny import make_tiny
from engine.types import OPERATOR_PLATFORM, JobKind, JobState, Options, Origin, SubmitRequest, UserRef
from engine.video import probe

I2V = JobKind.IMAGE_TO_VIDEO
CARD_24GB, CARD_12GB, CARD_8GB = Vram(23.0, 23.6), Vram(11.0, 11.6), Vram(7.2, 7.6)  # free beside a desktop


@pytest.fixture(scope="module")
def tiny(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    root = tmp_path_factory.mktemp("tiny")
    return {name: make_tiny(name, root / name) for name in ("svd-xt", "ltx-video")}


def photo(tmp: Path) -> bytes:
    path = tmp / "photo.png"
    Image.new("RGB", (320, 200), (220, 120, 40)).save(path)
    return path.read_bytes()


class Card:
    """A GPU with ``vram`` that holds only the plans ``holds`` says (in the denoise; ``decode_holds`` in the
    decode); each denoise's plan is recorded, and each decode's."""

    def __init__(self, vram: Vram, holds: Callable[[MemoryPlan], bool],
                 decode_holds: Callable[[MemoryPlan], bool] = lambda plan: True) -> None:
        self.vram = vram
        self.holds = holds
        self.decode_holds = decode_holds
        self.tries: list[MemoryPlan] = []
        self.decodes: list[MemoryPlan] = []

    def __call__(self, spec: ModelSpec, plan: MemoryPlan, stage: str) -> None:
        (self.decodes if stage == "decode" else self.tries).append(plan)
        if not (self.decode_holds if stage == "decode" else self.holds)(plan):
            raise torch.OutOfMemoryError("CUDA out of memory. Tried to allocate 2.00 GiB")


async def svd_xt_app(app_factory: Any, tiny: dict[str, Path], card: Card, state: Path | None = None) -> Any:
    registry = {**BUILTIN, "svd-xt": replace(BUILTIN["svd-xt"], source=str(tiny["svd-xt"]), variant=None)}
    backend = DiffusersBackend(registry, default_models={I2V: "svd-xt"}, fault=card, vram=lambda lane: card.vram,
                               state_dir=state)
    return await app_factory(backends={"local": backend}, settings={"chain_image_to_video": ["local"]},
                             lanes=[GpuLane(0, device="cpu")])


async def animate(app: Any, tmp: Path, user: str = "u1", **options: Any) -> Any:
    opts = Options(**{"model": "svd-xt", "width": 64, "height": 64, "steps": 1, "fps": 7, **options})
    request = SubmitRequest(UserRef(OPERATOR_PLATFORM, user), "", Origin(OPERATOR_PLATFORM), opts, photo(tmp))
    done = await app.service.wait((await app.service.submit(request)).id)
    assert done.state is JobState.SUCCEEDED, done.error_message
    return done


def out_of_memory_notes(job: Any) -> list[str]:
    return [str(note) for attempt in job.attempts for note in attempt.notes if "out of GPU memory" in str(note)]


async def test_on_a_24_gb_card_svd_xt_decodes_16_frames_at_a_time_and_nobody_is_told_anything(
    app_factory, tiny, tmp_path
):
    card = Card(CARD_24GB, lambda plan: True)
    done = await animate(await svd_xt_app(app_factory, tiny, card), tmp_path)
    assert probe(done.result_path).frames == 25
    assert [(p.decode_chunk_size, p.offload, p.frames) for p in card.tries] == [(16, False, 25)]
    assert changes_told(EN, done) == [] and out_of_memory_notes(done) == []
    assert "memory plan on cpu: 25 frames, decode 16 frames at a time, offload off; predicted peak 19.1 GiB, " \
           "23.0 of 23.6 GiB free: the fastest plan predicted to fit" in done.attempts[0].notes


async def test_on_a_141_gb_card_every_frame_is_decoded_at_once(app_factory, tiny, tmp_path):
    card = Card(Vram(139.0, 139.8, "NVIDIA H200"), lambda plan: True)
    done = await animate(await svd_xt_app(app_factory, tiny, card), tmp_path)
    assert [(p.decode_chunk_size, p.offload, p.frames) for p in card.tries] == [(25, False, 25)]
    assert probe(done.result_path).frames == 25 and changes_told(EN, done) == []


async def test_on_a_12_gb_card_svd_xt_keeps_25_frames_starts_with_offload_and_says_so_once(
    app_factory, tiny, tmp_path
):
    card = Card(CARD_12GB, lambda plan: plan.offload)
    app = await svd_xt_app(app_factory, tiny, card)
    first = await animate(app, tmp_path)
    assert probe(first.result_path).frames == 25
    assert [(p.decode_chunk_size, p.offload, p.frames) for p in card.tries] == [(8, True, 25)]  # one try
    assert out_of_memory_notes(first) == []
    assert changes_told(EN, first) == [
        "Note: On this 12 GB GPU, svd-xt keeps part of the model in main memory, so that the video fits; it "
        "takes longer."]
    assert changes_told(words("ko"), first) == [
        "참고: 이 12GB GPU에서는 영상이 메모리에 들어가도록 svd-xt 모델의 일부를 메인 메모리에 둬요. 그래서 "
        "시간이 더 걸려요."]

    later = await animate(app, tmp_path, user="u2")  # another user, the same card and model: not told again
    assert probe(later.result_path).frames == 25 and card.tries[1:] == card.tries[:1]
    assert changes_told(EN, later) == [] and out_of_memory_notes(later) == []


async def test_on_an_8_gb_card_svd_xt_makes_14_frames_and_says_why(app_factory, tiny, tmp_path):
    card = Card(CARD_8GB, lambda plan: plan.offload and plan.frames <= 14)
    app = await svd_xt_app(app_factory, tiny, card)
    done = await animate(app, tmp_path)
    assert probe(done.result_path).frames == 14
    assert [(p.decode_chunk_size, p.offload, p.frames) for p in card.tries] == [(4, True, 14)]
    assert out_of_memory_notes(done) == []
    assert changes_told(EN, done) == [
        "Note: On this 8 GB GPU, svd-xt makes 14 frames instead of 25 and keeps part of the model in main "
        "memory, so that the video fits; it takes longer."]
    assert changes_told(words("ko"), done) == [
        "참고: 이 8GB GPU에서는 영상이 메모리에 들어가도록 svd-xt 모델이 프레임을 25개 대신 14개 만들고, 모델의 "
        "일부를 메인 메모리에 둬요. 그래서 시간이 더 걸려요."]


def test_the_table_covers_every_registered_model_at_its_default_shape():
    for name, spec in BUILTIN.items():
        footprint = FOOTPRINTS[name]
        assert (footprint.frames, footprint.width, footprint.height) == (spec.frames, spec.width, spec.height), name


def plan_on(name: str, free_gib: float, *, default_frames: bool = True) -> MemoryPlan:
    choice = plan_for(BUILTIN[name], free_gib, default_frames=default_frames)
    assert choice is not None
    return choice.plan


def test_the_plan_by_card_size():
    assert plan_on("svd-xt", 139.0) == MemoryPlan(25, 25)  # H200: every frame decoded at once
    assert plan_on("svd-xt", 23.0) == MemoryPlan(25, 16)  # RTX 4090 / 3090: all on the GPU, 16 at a time
    assert plan_on("svd-xt", 15.0) == MemoryPlan(25, 8)  # 16 GB: still all on the GPU
    assert plan_on("svd-xt", 11.0) == MemoryPlan(25, 8, offload=True)  # RTX 5070 / 4070 / 3060 12 GB
    assert plan_on("svd-xt", 7.2) == MemoryPlan(14, 4, offload=True, fewer_frames=True)  # 8 GB
    assert plan_on("svd-xt", 7.2, default_frames=False) == MemoryPlan(25, 8, offload=True)  # asked: kept
    assert plan_on("zeroscope", 7.2) == MemoryPlan(24, None)  # zeroscope fits an 8 GB card as it is
    assert plan_on("wan", 11.0) == MemoryPlan(81, None, offload=True)
    assert plan_on("wan", 23.0) == MemoryPlan(81, None)
    big = plan_for(BUILTIN["svd-xt"], 139.0, 1280, 720, 25)
    assert big is not None and big.plan == MemoryPlan(25, 25) and big.predicted_gib > 27.2  # bigger: more


def test_an_out_of_memory_corrects_the_prediction_instead_of_pinning_the_slow_plan():
    spec, footprint, planner = BUILTIN["svd-xt"], FOOTPRINTS["svd-xt"], Planner()
    start = MemoryPlan(25, 8)

    def choose(free: float) -> MemoryPlan:
        return planner.choose("RTX 5070", spec, footprint, start, free, 1024, 576, default_frames=False).plan

    offloaded = MemoryPlan(25, 8, offload=True)
    assert choose(11.0) == offloaded  # predicted 10.4 GiB
    planner.ran_out("RTX 5070", spec, footprint, start, 1024, 576, offloaded, "denoise", 11.0)
    assert choose(11.0) != offloaded  # the denoise needs more than 11 GiB: not tried again with 11
    assert choose(11.5) == offloaded  # the corrected prediction (11.25 GiB) fits 11.5: back to it
    assert choose(23.0) == MemoryPlan(25, 16)  # and a card with room runs the fast plan
    planner.worked("RTX 5070", spec, footprint, start, 1024, 576, offloaded, 10.5)  # it fitted after all
    assert choose(10.5) == offloaded
    assert planner.choose("RTX 3060", spec, footprint, start, 11.0, 1024, 576, default_frames=False).plan == \
        offloaded  # learned per GPU


def test_a_folder_model_takes_the_footprint_of_the_model_whose_defaults_it_took(tiny):
    assert footprint_for(resolve(str(tiny["svd-xt"]), BUILTIN)) is FOOTPRINTS["svd-xt"]
    assert footprint_for(resolve(str(tiny["ltx-video"]), BUILTIN)) is FOOTPRINTS["ltx-video"]
    assert footprint_for(replace(BUILTIN["svd"], name="mine", pipeline="SomethingElse")) is None
    # a smaller picture is planned as the reference one; a bigger one needs more
    fp: Footprint = FOOTPRINTS["svd-xt"]
    assert fp.peak_gib(MemoryPlan(25, 8), 64, 64) == fp.peak_gib(MemoryPlan(25, 8), 1024, 576)
    assert fp.peak_gib(MemoryPlan(25, 8), 1280, 720) > fp.peak_gib(MemoryPlan(25, 8), 1024, 576)


async def test_a_passing_shortage_in_the_decode_is_learned_without_pinning_the_slow_plan_and_survives_a_restart(
    app_factory, tiny, tmp_path
):
    h200, busy = Vram(139.0, 139.8, "NVIDIA H200"), Vram(9.0, 139.8, "NVIDIA H200")
    state = tmp_path / "data"

    squeeze = [True]

    def squeezed(plan: MemoryPlan) -> bool:  # another process takes all but 9 GiB during the first decode
        if squeeze and not plan.offload:
            squeeze.pop()
            card.vram = busy
            return False
        return True

    card = Card(h200, lambda plan: True, squeezed)
    app = await svd_xt_app(app_factory, tiny, card, state)
    first = await animate(app, tmp_path)
    assert [(p.decode_chunk_size, p.offload) for p in card.tries] == [(25, False)]  # one denoise
    assert [(p.decode_chunk_size, p.offload) for p in card.decodes] == [(25, False), (25, True)]
    assert probe(first.result_path).frames == 25 and changes_told(EN, first) == []
    assert any("ran out in the decode with 9.0 GiB free" in str(note) for note in first.attempts[0].notes)

    card.vram, card.tries, card.decodes = h200, [], []  # the other process is gone: the fast plan again
    await animate(app, tmp_path, user="u2")
    assert [(p.decode_chunk_size, p.offload) for p in card.tries + card.decodes] == [(25, False), (25, False)]

    learned = (state / STATE_FILE).read_text()
    assert "NVIDIA H200|svd-xt|64x64x25" in learned
    card.vram, card.tries, card.decodes = busy, [], []  # after a restart, on the busy card
    again = await animate(await svd_xt_app(app_factory, tiny, card, state), tmp_path, user="u3")
    # the plan that worked with 9 GiB, at once (the formula alone would have made 14 frames)
    assert [(p.decode_chunk_size, p.offload, p.frames) for p in card.tries] == [(25, True, 25)]
    assert out_of_memory_notes(again) == [] and probe(again.result_path).frames == 25
    assert any("it worked on this GPU with 9.0 GiB free" in str(note) for note in again.attempts[0].notes)

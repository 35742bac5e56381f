"""The preview picture half-way, from a real diffusers pipeline's latents (tiny random-weight SVD and
zeroscope on a CPU lane): one small JPEG with the progress when the place has /preview on, none otherwise."""

from __future__ import annotations

import io
from pathlib import Path
from typing import Any

import pytest
from PIL import Image

from engine.backends.diffusers import DiffusersBackend
from engine.events import Event, Progress
from engine.lanes import GpuLane
from engine.local.registry import BUILTIN
from engine.local.tiny import make_tiny
from engine.types import OPERATOR_PLATFORM, JobKind, JobState, Options, Origin, SubmitRequest, UserRef

T2V, I2V = JobKind.TEXT_TO_VIDEO, JobKind.IMAGE_TO_VIDEO
HERE = Origin(OPERATOR_PLATFORM, chat_id="terminal")


def photo() -> bytes:
    buf = io.BytesIO()
    Image.new("RGB", (320, 200), (220, 120, 40)).save(buf, format="PNG")
    return buf.getvalue()


async def run(app_factory: Any, tmp_path: Path, family: str, kind: JobKind, *, preview: bool) -> list[Progress]:
    model = make_tiny(family, tmp_path / family)
    backend = DiffusersBackend(BUILTIN, default_models={T2V: "zeroscope", I2V: "svd-xt"})
    app = await app_factory(backends={"local": backend}, lanes=[GpuLane(0, device="cpu")],
                            settings={"chain_text_to_video": ["local"], "chain_image_to_video": ["local"]})
    operator = UserRef(OPERATOR_PLATFORM, "me")
    if preview:
        await app.service.set_preview(operator, HERE, True)
    seen: list[Progress] = []

    async def watch(event: Event) -> None:
        if isinstance(event, Progress):
            seen.append(event)

    app.service.subscribe(watch)
    options = Options(model=str(model), width=64, height=64, steps=4, frames=4, fps=6)
    view = await app.service.submit(SubmitRequest(operator, "a cat surfing", HERE, options,
                                                  photo() if kind is I2V else None))
    done = await app.service.wait(view.id)
    await app.service.events.drain()
    assert done.state is JobState.SUCCEEDED, done.error_message
    return seen


@pytest.mark.parametrize(("family", "kind"), [("svd", I2V), ("zeroscope", T2V)])
async def test_preview_on_sends_one_picture_half_way(app_factory, tmp_path: Path, family: str,
                                                     kind: JobKind) -> None:
    seen = await run(app_factory, tmp_path, family, kind, preview=True)
    pictures = [(p.step, p.total, p.preview) for p in seen if p.preview]
    assert [(step, total) for step, total, _ in pictures] == [(2, 4)]
    with Image.open(io.BytesIO(pictures[0][2])) as picture:
        assert picture.format == "JPEG" and picture.width == 320


async def test_preview_is_off_by_default(app_factory, tmp_path: Path) -> None:
    seen = await run(app_factory, tmp_path, "svd", I2V, preview=False)
    assert seen and not any(p.preview for p in seen)

"""Extend, through the engine's API as the front ends use it: a finished video made longer from its last
frame, as one joined file; the lineage kept with the job; the owner's alone; priced like any job."""

from __future__ import annotations

import asyncio
import json
from dataclasses import replace
from typing import Any

import numpy as np
import pytest
from sqlalchemy import text

from engine.backends.base import Output
from engine.errors import InvalidInput, NotAllowed, QuotaExceeded
from engine.types import JobKind, JobState, Options, Origin, SubmitRequest, UserRef
from engine.video import decoded_frames, encode_frames, join_extension, probe
from tests.conftest import RecordingDeliverer

ANN = UserRef("test", "ann", "Ann")


def ask(user: UserRef = ANN, prompt: str = "a kite over the sea", **options: Any) -> SubmitRequest:
    return SubmitRequest(user, prompt, Origin("test", chat_id="chat-1"), Options(**options))


async def extend(app: Any, user: UserRef, job_id: str) -> Any:
    again = await app.service.extend(user, job_id)
    return await app.service.submit(SubmitRequest(user, again.prompt, Origin("test", chat_id="chat-1"),
                                                  again.options, again.image))


async def test_extend_makes_one_longer_video_at_the_same_rate_and_size_and_again(app_factory) -> None:
    app = await app_factory(deliverer=RecordingDeliverer())
    first = await app.service.wait((await app.service.submit(ask(frames=8, fps=4, seed=5))).id)
    assert probe(first.result_path).frames == 8

    second = await app.service.wait((await extend(app, ANN, first.id)).id)
    assert second.state is JobState.SUCCEEDED and second.kind is JobKind.IMAGE_TO_VIDEO
    assert (second.prompt, second.seed, second.options.extend_of) == ("a kite over the sea", 5, first.id)
    info, original = probe(second.result_path), probe(first.result_path)
    # 8 frames, then 8 more made from the last one, less their first (the last one again)
    assert (info.frames, info.fps, info.width, info.height) == (15, 4, original.width, original.height)
    joined, before = decoded_frames(second.result_path), decoded_frames(first.result_path)
    assert np.abs(joined[0].astype(int) - before[0].astype(int)).mean() < 3  # the original comes first

    third = await app.service.wait((await extend(app, ANN, second.id)).id)
    assert probe(third.result_path).frames == 22 and third.options.extend_of == second.id
    assert await app.repo.ledger_balance() == {first.id: 0, second.id: 0, third.id: 0}  # settled as any job


async def test_extend_is_the_owners_alone(app_factory) -> None:
    app = await app_factory()
    done = await app.service.wait((await app.service.submit(ask(frames=4))).id)
    with pytest.raises(NotAllowed) as refused:
        await app.service.extend(UserRef("test", "eve", "Eve"), done.id)
    assert refused.value.reason == "not_owner"
    # Nor can a forged request name someone else's job as the one it continues.
    forged = replace(ask(UserRef("test", "eve", "Eve"), frames=4), image=b"x", options=Options(extend_of=done.id))
    with pytest.raises(NotAllowed):
        await app.service.submit(forged)


async def test_a_swept_video_cannot_be_extended_and_says_so(app_factory) -> None:
    app = await app_factory()
    done = await app.service.wait((await app.service.submit(ask(frames=4))).id)
    done.result_path.unlink()
    with pytest.raises(InvalidInput) as gone:
        await app.service.extend(ANN, done.id)
    assert gone.value.message == f"The video of job {done.id} is no longer kept, so it cannot be extended."


async def test_extend_is_refused_when_the_quota_is_used_up_and_nothing_is_charged(app_factory) -> None:
    app = await app_factory(settings={"max_jobs_per_day": 1})
    done = await app.service.wait((await app.service.submit(ask(frames=4))).id)
    with pytest.raises(QuotaExceeded) as refused:
        await extend(app, ANN, done.id)
    assert refused.value.limit == "max_jobs_per_day"

    def count() -> int:
        with app.db.transaction() as conn:
            return conn.execute(text("SELECT count(*) FROM jobs")).scalar_one()

    assert await asyncio.to_thread(count) == 1


async def test_the_lineage_is_kept_with_the_job(app_factory) -> None:
    app = await app_factory()
    done = await app.service.wait((await app.service.submit(ask(frames=4, model="zeroscope"))).id)
    longer = await app.service.wait((await extend(app, ANN, done.id)).id)

    def options() -> dict[str, Any]:
        with app.db.transaction() as conn:
            raw = conn.execute(text("SELECT options FROM jobs WHERE id = :id"), {"id": longer.id}).scalar_one()
        return json.loads(raw) if isinstance(raw, str) else raw

    stored = await asyncio.to_thread(options)
    # A text model cannot animate a picture: the extension gets an image-to-video model, and one that reads its
    # prompt since one can run here (engine/captions.py), rather than SVD-XT, which would leave the words out.
    assert stored["extend_of"] == done.id and stored["model"] == "ltx-video"
    assert longer.model == "ltx-video"


def test_new_frames_of_another_size_are_fitted_to_the_original(tmp_path) -> None:
    original = tmp_path / "a.mp4"
    encode_frames([np.full((144, 256, 3), 40 * i, np.uint8) for i in range(5)], 8, original)
    more = Output(fps=24, frames=[np.full((320, 320, 3), 200, np.uint8)] * 4)
    info = join_extension(original, more.frames or [], tmp_path / "b.mp4")
    assert (info.frames, info.fps, info.width, info.height) == (8, 8, 256, 144)

"""Old files leave the disk, records stay: what an operator's disk and a user's Retry see."""

from __future__ import annotations

import io
from datetime import timedelta

import numpy as np
from PIL import Image

from engine.backends.simulated import SimulatedBackend
from engine.clock import utcnow
from engine.types import JobState, Options, Origin, SubmitRequest, UserRef
from tests.conftest import RecordingDeliverer


def _png() -> bytes:
    buffer = io.BytesIO()
    Image.fromarray(np.full((64, 96, 3), 120, np.uint8)).save(buffer, "PNG")
    return buffer.getvalue()


def req(user: str = "u1", platform: str = "test", image: bytes | None = None) -> SubmitRequest:
    return SubmitRequest(UserRef(platform, user), "a heron", Origin(platform, "c"), Options(frames=4), image)


async def test_files_of_delivered_jobs_go_after_the_keep_time_and_the_records_stay(app_factory) -> None:
    app = await app_factory(deliverer=RecordingDeliverer())
    done = await app.service.wait((await app.service.submit(req(image=_png()))).id)
    results, uploads = app.settings.results_dir, app.settings.uploads_dir
    assert done.result_path.exists() and done.image_path.exists()
    assert not (results / "work" / done.id).exists()  # scratch goes as soon as the job ends

    assert await app.service.sweep_files() == 0  # not old enough yet
    assert await app.service.sweep_files(now=utcnow() + timedelta(days=8)) == 1
    assert list(results.glob(f"{done.id}*")) == [] and list(uploads.glob(f"{done.id}*")) == []
    after = await app.service.get(done.id)
    assert after.state is JobState.SUCCEEDED and after.charged_usd == done.charged_usd
    assert after.result_path is None and after.image_path is None
    assert await app.repo.ledger_balance() == {done.id: 0}
    assert await app.service.sweep_files(now=utcnow() + timedelta(days=8)) == 0  # nothing left to do


async def test_a_result_still_waiting_for_its_front_end_is_kept(app_factory) -> None:
    app = await app_factory(deliverer=RecordingDeliverer())
    waiting = await app.service.wait((await app.service.submit(req(platform="discord"))).id)  # no deliverer yet
    assert await app.service.sweep_files(now=utcnow() + timedelta(days=30)) == 0
    assert waiting.result_path.exists()


async def test_files_that_are_not_the_jobs_own_are_never_deleted(app_factory, tmp_path) -> None:
    shared = SimulatedBackend("local", seconds=0.01, steps=1, render=False, scratch=tmp_path / "shared")
    app = await app_factory(backends={"local": shared}, gpus=1, deliverer=RecordingDeliverer())
    done = await app.service.wait((await app.service.submit(req())).id)
    assert done.result_path.parent == tmp_path / "shared"  # one blank video every run shares
    assert await app.service.sweep_files(now=utcnow() + timedelta(days=8)) == 1
    assert done.result_path.exists()


async def test_keep_files_days_zero_keeps_them_for_ever(app_factory) -> None:
    app = await app_factory(deliverer=RecordingDeliverer(), settings={"keep_files_days": 0})
    done = await app.service.wait((await app.service.submit(req())).id)
    assert await app.service.sweep_files(now=utcnow() + timedelta(days=1000)) == 0
    assert done.result_path.exists()

"""Replicate through its official client, against a fake that checks every request against the OpenAPI spec."""

from __future__ import annotations

import asyncio
from pathlib import Path

import pytest

from engine.errors import AuthFailed, Moderated, TransientError
from engine.types import JobKind
from engine.video import probe
from engine.words import Seconds
from tests.engine.cloud.conftest import backend_for
from tests.fakes.providers.replicate import FakeReplicate


async def test_image_job_runs_svd_version_and_bills_predict_time(served, make_job, tmp_path: Path) -> None:
    fake = await served(FakeReplicate)
    backend = backend_for("replicate", fake, tmp_path)
    run = make_job(JobKind.IMAGE_TO_VIDEO, fps=6)
    try:
        output = await backend.run(run.ctx)
    finally:
        await backend.aclose()
    info = probe(output.video_path)
    assert (info.frames, info.width, info.height) == (12, 64, 48)
    create = fake.calls("POST", "/v1/predictions")[0]
    assert create.headers["Authorization"] == "Bearer r8_test_token"
    job = next(iter(fake.jobs.values()))
    assert job.data["version"] == "3f0457e4619daac51203dedb472816fd4af51f3149fa7a9e0b5ffcf1b8172438"
    inputs = job.body["input"]
    assert inputs["video_length"] == "25_frames_with_svd_xt" and inputs["frames_per_second"] == 6
    assert inputs["seed"] == 1234
    image = inputs["input_image"]
    assert image.startswith("data:image/jpeg;base64,") or image.startswith(fake.url + "/_uploads/")
    assert output.cost_usd == pytest.approx(42.0 * 0.0014)  # metrics.predict_time x A100 price
    assert output.model == "svd-xt"
    assert run.steps[-1] == (100, 100) and any(0 < s < 100 for s, _ in run.steps)
    assert fake.problems == []


async def test_large_picture_is_uploaded_to_files_first(served, make_job, tmp_path: Path) -> None:
    fake = await served(FakeReplicate)
    backend = backend_for("replicate", fake, tmp_path, cloud_models=(
        '{"replicate": [{"name": "minimax", "kind": "image-to-video", "width": 1920, "height": 1080}]}'))
    run = make_job(JobKind.IMAGE_TO_VIDEO, model="minimax")
    try:
        await backend.run(run.ctx)
    finally:
        await backend.aclose()
    upload = fake.calls("POST", "/v1/files")
    assert len(upload) == 1
    job = next(iter(fake.jobs.values()))
    assert job.route == "minimax/video-01"  # an official model: created on /v1/models/{owner}/{name}
    assert job.body["input"]["first_frame_image"].startswith(fake.url + "/_uploads/")
    assert len(fake.uploads[job.body["input"]["first_frame_image"].rsplit("/", 1)[1]]) > 256 * 1024
    assert fake.problems == []


async def test_throttled_create_is_transient_with_its_wait(served, make_job, tmp_path: Path) -> None:
    fake = await served(FakeReplicate)
    fake.fail_next("create", 429, {"title": "Too Many Requests", "status": 429,
                                   "detail": "Request was throttled. Expected available in 7 seconds."})
    backend = backend_for("replicate", fake, tmp_path)
    with pytest.raises(TransientError) as caught:
        await backend.run(make_job(JobKind.TEXT_TO_VIDEO).ctx)
    await backend.aclose()
    assert caught.value.retry_after == 7.0
    assert "rate-limiting" in caught.value.message


async def test_refused_token_is_an_auth_failure_naming_the_setting(served, make_job, tmp_path: Path) -> None:
    fake = await served(FakeReplicate)
    backend = backend_for("replicate", fake, tmp_path, replicate_api_token="r8_wrong")
    with pytest.raises(AuthFailed) as caught:
        await backend.run(make_job(JobKind.TEXT_TO_VIDEO).ctx)
    await backend.aclose()
    assert "REPLICATE_API_TOKEN" in str(caught.value)
    assert "r8_wrong" not in str(caught.value)


@pytest.mark.parametrize(
    ("outcome", "error", "words"),
    [
        ("moderated", Moderated, "content rules"),
        ("failed", TransientError, "illegal memory access"),
        ("expired", TransientError, "expired"),
        ("not_video", TransientError, "instead of a video"),
        ("malformed", TransientError, "not valid JSON"),
    ],
)
async def test_failures_are_classified(served, make_job, tmp_path: Path, outcome, error, words) -> None:
    fake = await served(FakeReplicate)
    fake.plan(outcome, polls=1)
    backend = backend_for("replicate", fake, tmp_path)
    with pytest.raises(error) as caught:
        await backend.run(make_job(JobKind.TEXT_TO_VIDEO).ctx)
    await backend.aclose()
    assert words in str(caught.value)


async def test_cancel_reaches_replicate(served, make_job, tmp_path: Path) -> None:
    fake = await served(FakeReplicate)
    fake.plan("slow")
    backend = backend_for("replicate", fake, tmp_path)
    task = asyncio.create_task(backend.run(make_job(JobKind.TEXT_TO_VIDEO).ctx))
    await fake.polled(2)
    task.cancel()
    with pytest.raises(asyncio.CancelledError):
        await task
    await backend.aclose()
    assert len(fake.calls("POST", "/cancel")) == 1
    assert next(iter(fake.jobs.values())).cancelled


async def test_a_job_that_never_finishes_times_out_and_is_cancelled(served, make_job, tmp_path: Path) -> None:
    from engine.errors import AttemptTimeout

    fake = await served(FakeReplicate)
    fake.plan("slow")
    backend = backend_for("replicate", fake, tmp_path, cloud_timeout_s=0.3)
    with pytest.raises(AttemptTimeout) as caught:
        await backend.run(make_job(JobKind.TEXT_TO_VIDEO).ctx)
    await backend.aclose()
    assert str(caught.value).startswith("replicate did not finish within")
    assert caught.value.text.args["wait"] == Seconds(0.3)  # said in each reader's words for a duration
    assert len(fake.calls("POST", "/cancel")) == 1

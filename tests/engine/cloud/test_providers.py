"""Every provider against its fake: the same user-visible promises, in each provider's own protocol.

A job ends in a playable mp4 with the provider's model and cost; a refused key is an auth failure that names
the setting; a 429 is transient and carries its wait; a 5xx is transient; moderation is explained and not
retried; a result that is gone, not a video or not JSON is transient; a user's cancel and the deadline both
cancel the remote job (where the provider has a cancel call).
"""

from __future__ import annotations

import asyncio
from pathlib import Path
from typing import Any

import pytest

from engine.errors import AttemptTimeout, AuthFailed, Moderated, TransientError
from engine.types import JobKind
from engine.video import probe
from tests.engine.cloud.conftest import backend_for
from tests.fakes.providers.fal import FakeFal, FakeHuggingFace
from tests.fakes.providers.replicate import FakeReplicate
from tests.fakes.providers.runway import FakeRunway
from tests.fakes.providers.stability import FakeStability
from tests.fakes.providers.veo import FakeVeo

T2V, I2V = JobKind.TEXT_TO_VIDEO, JobKind.IMAGE_TO_VIDEO

# (provider, fake, a kind it does, the 429 body it sends, the path part its cancel call hits or None)
PROVIDERS: list[tuple[str, type, JobKind, Any, tuple[str, str] | None]] = [
    ("replicate", FakeReplicate, T2V, {"detail": "Request was throttled."}, ("POST", "/cancel")),
    ("fal", FakeFal, I2V, {"detail": "Rate limit exceeded"}, ("PUT", "/cancel")),
    ("huggingface", FakeHuggingFace, T2V, {"error": "Too many requests"}, ("PUT", "/cancel")),
    ("stability", FakeStability, I2V, {"id": "x", "name": "rate_limit_exceeded", "errors": ["slow down"]}, None),
    ("runway", FakeRunway, I2V, {"error": "Too many requests"}, ("DELETE", "/v1/tasks/")),
    ("veo", FakeVeo, T2V, {"error": {"code": 429, "message": "Resource has been exhausted",
                                     "status": "RESOURCE_EXHAUSTED"}}, None),
]
IDS = [p[0] for p in PROVIDERS]


async def _run(backend, run) -> Any:
    try:
        return await backend.run(run.ctx)
    finally:
        await backend.aclose()


@pytest.mark.parametrize(("name", "fake_cls", "kind", "throttled", "cancel"), PROVIDERS, ids=IDS)
async def test_a_job_comes_back_as_a_playable_video_with_its_cost(
    served, make_job, tmp_path: Path, name, fake_cls, kind, throttled, cancel
) -> None:
    fake = await served(fake_cls)
    backend = backend_for(name, fake, tmp_path)
    run = make_job(kind, portrait=True)
    output = await _run(backend, run)
    info = probe(output.video_path)
    assert info.frames == 12 and info.codec == "h264"
    assert output.model and output.cost_usd and output.cost_usd > 0
    assert run.steps[-1] == (100, 100)
    assert fake.problems == []
    assert len(fake.jobs) == 1


@pytest.mark.parametrize(("name", "fake_cls", "kind", "throttled", "cancel"), PROVIDERS, ids=IDS)
async def test_a_refused_key_names_the_setting_and_never_the_key(
    served, make_job, tmp_path: Path, name, fake_cls, kind, throttled, cancel
) -> None:
    from reelbot.backends import PROVIDER_KEYS

    fake = await served(fake_cls)
    backend = backend_for(name, fake, tmp_path, **{PROVIDER_KEYS[name]: "wrong-secret-123"})
    with pytest.raises(AuthFailed) as caught:
        await _run(backend, make_job(kind))
    assert PROVIDER_KEYS[name].upper() in str(caught.value)
    assert "wrong-secret-123" not in str(caught.value)


@pytest.mark.parametrize(("name", "fake_cls", "kind", "throttled", "cancel"), PROVIDERS, ids=IDS)
async def test_429_is_transient_and_keeps_retry_after(
    served, make_job, tmp_path: Path, name, fake_cls, kind, throttled, cancel
) -> None:
    fake = await served(fake_cls)
    fake.fail_next("create", 429, throttled, {"Retry-After": "30"})
    backend = backend_for(name, fake, tmp_path)
    with pytest.raises(TransientError) as caught:
        await _run(backend, make_job(kind))
    if name != "replicate":  # the official client drops the headers of a failed POST
        assert caught.value.retry_after == 30.0
    assert "429" in str(caught.value)


@pytest.mark.parametrize(("name", "fake_cls", "kind", "throttled", "cancel"), PROVIDERS, ids=IDS)
async def test_server_errors_are_transient(
    served, make_job, tmp_path: Path, name, fake_cls, kind, throttled, cancel
) -> None:
    fake = await served(fake_cls)
    fake.fail_next("create", 500, "<html>Internal Server Error</html>")
    backend = backend_for(name, fake, tmp_path)
    with pytest.raises(TransientError) as caught:
        await _run(backend, make_job(kind))
    assert "500" in str(caught.value)


@pytest.mark.parametrize(("name", "fake_cls", "kind", "throttled", "cancel"), PROVIDERS, ids=IDS)
@pytest.mark.parametrize(("outcome", "error"), [("moderated", Moderated), ("failed", TransientError),
                                                ("malformed", TransientError), ("expired", TransientError)])
async def test_remote_outcomes_are_classified(
    served, make_job, tmp_path: Path, name, fake_cls, kind, throttled, cancel, outcome, error
) -> None:
    fake = await served(fake_cls)
    fake.plan(outcome, polls=1)
    backend = backend_for(name, fake, tmp_path)
    with pytest.raises(error) as caught:
        await _run(backend, make_job(kind))
    if outcome == "moderated":
        assert "content rules" in str(caught.value) and "Change the prompt or the picture." in str(caught.value)
        assert not caught.value.retryable


@pytest.mark.parametrize(("name", "fake_cls", "kind", "throttled", "cancel"), PROVIDERS, ids=IDS)
async def test_cancel_and_deadline_stop_the_remote_job(
    served, make_job, tmp_path: Path, name, fake_cls, kind, throttled, cancel
) -> None:
    fake = await served(fake_cls)
    fake.plan("slow")
    fake.plan("slow")
    backend = backend_for(name, fake, tmp_path)
    task = asyncio.create_task(backend.run(make_job(kind).ctx))
    await fake.polled(2)
    task.cancel()
    with pytest.raises(asyncio.CancelledError):
        await task
    await backend.aclose()
    backend = backend_for(name, fake, tmp_path, cloud_timeout_s=20)
    with pytest.raises(AttemptTimeout) as caught:
        await _run(backend, make_job(kind))
    assert f"{name} did not finish within 20 s" in str(caught.value)
    assert fake.throttled == 0  # every look kept the provider's pace
    if cancel is not None:
        assert len(fake.calls(*cancel)) == 2
        assert all(job.cancelled for job in fake.jobs.values())

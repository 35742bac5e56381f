"""Each provider's official SDK against its fake: what the SDK sends, the fake accepts (and refuses what the
provider refuses); what the fake answers, the SDK parses with its own types. This is what keeps the fakes
faithful, so the backends' tests against them mean something. Each SDK's base URL points at its fake."""

from __future__ import annotations

import asyncio
import base64
from typing import Any

import httpx
import pytest

from tests.fakes.providers.base import tiny_mp4
from tests.fakes.providers.fal import FakeFal, FakeHuggingFace
from tests.fakes.providers.replicate import FakeReplicate
from tests.fakes.providers.runway import FakeRunway
from tests.fakes.providers.veo import FakeVeo

PIXEL = "data:image/png;base64," + base64.b64encode(
    bytes.fromhex("89504e470d0a1a0a0000000d4948445200000001000000010806000000"
                  "1f15c4890000000d49444154789c6360000002000154a24f5b0000000049454e44ae426082")).decode()
SVD = "3f0457e4619daac51203dedb472816fd4af51f3149fa7a9e0b5ffcf1b8172438"


async def test_the_replicate_sdk_speaks_with_its_fake(served, clock) -> None:
    import replicate

    fake = await served(FakeReplicate)
    fake.plan("slow")
    client = replicate.Client(api_token=fake.key, base_url=fake.url)
    try:
        created = await client.predictions.async_create(version=SVD, input={"input_image": PIXEL, "seed": 1})
        assert created.status == "starting" and created.urls["cancel"].endswith("/cancel")
        clock.t += 1
        running = await client.predictions.async_get(created.id)
        assert running.status == "processing"
        clock.t += 30
        cancelled = await client.predictions.async_cancel(created.id)
        assert cancelled.status == "canceled" and cancelled.metrics["predict_time"] == pytest.approx(30)
        fake.plan("ok", polls=0)
        done = await client.models.predictions.async_create(model="minimax/video-01", input={"prompt": "a cat"})
        clock.t += 1
        done = await client.predictions.async_get(done.id)
        assert done.status == "succeeded" and done.output.endswith(".mp4") and done.metrics["predict_time"] == 42.0
    finally:
        await client._async_client.aclose()
    assert fake.problems == []  # every request fit the OpenAPI spec, every answer the prediction schema


async def test_the_runway_sdk_speaks_with_its_fake(served, clock) -> None:
    import runwayml

    fake = await served(FakeRunway)
    async with runwayml.AsyncRunwayML(api_key=fake.key, base_url=fake.url, max_retries=0) as client:
        fake.plan("ok", polls=1)
        task = await client.image_to_video.create(model="gen4_turbo", prompt_image=PIXEL, ratio="960:960",
                                                  prompt_text="a cat", duration=5, seed=4294967295)
        pending = await client.tasks.retrieve(task.id)
        assert pending.status == "PENDING" and pending.estimated_cost.credits == 25
        clock.t += 6
        done = await client.tasks.retrieve(task.id)
        assert done.status == "SUCCEEDED" and done.cost.credits == 25 and done.output
        clock.t += 1
        with pytest.raises(runwayml.RateLimitError):  # a look faster than the SDK's own pace
            fake.plan("slow")
            slow = await client.text_to_video.create(model="gen4.5", prompt_text="a cat", ratio="720:1280",
                                                     duration=5)
            await client.tasks.retrieve(slow.id)
            await client.tasks.retrieve(slow.id)
        await client.tasks.delete(slow.id)
        cancelled = await client.tasks.retrieve(slow.id)
        assert cancelled.status == "CANCELLED" and cancelled.cost.credits == 0
        with pytest.raises(runwayml.BadRequestError) as refused:  # gen4.5's text-to-video: two ratios only
            await client.text_to_video.create(model="gen4.5", prompt_text="a cat", ratio="1104:832",  # type: ignore[arg-type]
                                              duration=5)
        assert "ratio" in str(refused.value)
        with pytest.raises(runwayml.BadRequestError):  # promptText is required there
            await client.text_to_video.create(model="gen4.5", ratio="1280:720", duration=5)  # type: ignore[call-arg]
    assert fake.problems == []


async def test_the_fal_sdk_speaks_with_its_fake(served, clock, monkeypatch) -> None:
    import fal_client
    import fal_client.client

    fake = await served(FakeFal)
    monkeypatch.setattr(fal_client.client, "QUEUE_URL_FORMAT", fake.url + "/")
    client = fal_client.AsyncClient(key=fake.key)
    try:
        await _fal_session(client, fake, clock)
    finally:
        await (await client._client).aclose()  # the client keeps one httpx session and has no close
    assert fake.problems == []


async def _fal_session(client: Any, fake: FakeFal, clock: Any) -> None:
    import fal_client.client

    fake.plan("ok", polls=2)
    handle = await client.submit("fal-ai/stable-video", arguments={"image_url": PIXEL, "fps": 25, "seed": 3})
    statuses = []
    for _ in range(3):
        clock.t += 0.1
        statuses.append(await handle.status(with_logs=True))
    assert [type(s).__name__ for s in statuses] == ["Queued", "InProgress", "Completed"]
    assert statuses[1].logs and statuses[2].metrics  # the fields the client reads without asking
    result = await client.result("fal-ai/stable-video", handle.request_id)
    assert result["video"]["url"].endswith(".mp4")
    with pytest.raises(fal_client.client.FalClientHTTPError) as refused:  # stable-video takes fps 10-100
        await client.submit("fal-ai/stable-video", arguments={"image_url": PIXEL, "fps": 7})
    assert refused.value.status_code == 422


async def test_the_hugging_face_sdk_speaks_with_its_fake(served, monkeypatch) -> None:
    import httpx2
    from huggingface_hub import InferenceClient
    from huggingface_hub.utils import _http

    from engine.cloud.config import REAL_CLOCK

    fake = await served(FakeHuggingFace)
    fake.clock = REAL_CLOCK  # the SDK sleeps its 0.5 s pace in real time (in a thread)
    port = int(fake.url.rsplit(":", 1)[1])

    class ToTheFake(httpx2.BaseTransport):
        """router.huggingface.co and the Hub (huggingface.co) are the fake; anything else passes."""

        def __init__(self) -> None:
            self.inner = httpx2.HTTPTransport()

        def handle_request(self, request: Any) -> Any:
            if request.url.host in ("router.huggingface.co", "huggingface.co"):
                request.url = request.url.copy_with(scheme="http", host="127.0.0.1", port=port)
            return self.inner.handle_request(request)

        def close(self) -> None:
            self.inner.close()

    monkeypatch.setattr(_http, "_GLOBAL_CLIENT_FACTORY", lambda: httpx2.Client(transport=ToTheFake()))
    monkeypatch.setattr(_http, "_GLOBAL_CLIENT", None)
    fake.plan("ok", polls=0)
    try:
        client = InferenceClient(provider="fal-ai", api_key=fake.key)
        video = await asyncio.to_thread(client.text_to_video, "a cat surfing", model="Lightricks/LTX-Video")
    finally:
        _http.close_session()
    assert video == tiny_mp4()
    create = fake.calls("POST")[0]
    assert create.path == "/fal-ai/fal-ai/ltx-video" and create.query == "_subdomain=queue"
    assert fake.calls("GET", "/status")[0].path.startswith("/fal-ai/fal-ai/ltx-video/requests/")
    assert fake.problems == []


async def test_the_google_genai_sdk_speaks_with_its_fake(served, clock) -> None:
    from google import genai
    from google.genai import types

    fake = await served(FakeVeo)
    fake.inline_video = True
    fake.plan("ok", polls=1)
    async with httpx.AsyncClient() as http:  # submit as the Gemini API documents it (the SDK's types check it)
        answer = await http.post(f"{fake.url}/v1beta/models/veo-3.0-fast-generate-001:predictLongRunning",
                                 headers={"x-goog-api-key": fake.key},
                                 json={"instances": [{"prompt": "a cat"}],
                                       "parameters": {"aspectRatio": "16:9", "durationSeconds": 4,
                                                      "sampleCount": 1}})
        refused = await http.post(f"{fake.url}/v1beta/models/veo-3.0-fast-generate-001:predictLongRunning",
                                  headers={"x-goog-api-key": fake.key},
                                  json={"instances": [{"prompt": "a cat"}],
                                        "parameters": {"aspectRatio": "16:9", "durationSeconds": 4,
                                                       "frames": 12}})
    assert answer.status_code == 200 and refused.status_code == 400 and "frames" in refused.text
    # On httpx (a transport given): its aiohttp path subclasses ClientSession, which aiohttp warns against.
    client = genai.Client(api_key=fake.key, http_options=types.HttpOptions(
        base_url=fake.url, api_version="v1beta", async_client_args={"transport": httpx.AsyncHTTPTransport()}))
    operation = types.GenerateVideosOperation(name=answer.json()["name"])
    operation = await client.aio.operations.get(operation)
    assert not operation.done
    clock.t += 10
    operation = await client.aio.operations.get(operation)
    assert operation.done and operation.response is not None
    assert operation.response.generated_videos[0].video.video_bytes == tiny_mp4()
    fake.operation_error = (8, "RESOURCE_EXHAUSTED", "Quota exceeded")
    fake.plan("failed", polls=0)
    async with httpx.AsyncClient() as http:
        failing = await http.post(f"{fake.url}/v1beta/models/veo-3.0-fast-generate-001:predictLongRunning",
                                  headers={"x-goog-api-key": fake.key},
                                  json={"instances": [{"prompt": "a cat"}],
                                        "parameters": {"aspectRatio": "9:16", "durationSeconds": 8}})
    operation = await client.aio.operations.get(types.GenerateVideosOperation(name=failing.json()["name"]))
    assert operation.done and operation.error == {"code": 8, "message": "Quota exceeded",
                                                  "status": "RESOURCE_EXHAUSTED"}
    assert fake.problems == []

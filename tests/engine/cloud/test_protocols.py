"""What each provider's own protocol asks for: sizes, field names, headers, and where the key may go."""

from __future__ import annotations

import base64
import io
import json
from pathlib import Path

import pytest
from PIL import Image

from engine.errors import BackendUnavailable, Moderated, RejectedInput, TransientError
from engine.types import JobKind
from tests.engine.cloud.conftest import backend_for
from tests.engine.cloud.conftest import run_once as _run
from tests.fakes.providers.fal import FakeFal, FakeHuggingFace
from tests.fakes.providers.runway import FakeRunway
from tests.fakes.providers.stability import FakeStability
from tests.fakes.providers.veo import FakeVeo

T2V, I2V = JobKind.TEXT_TO_VIDEO, JobKind.IMAGE_TO_VIDEO



async def test_stability_gets_a_portrait_picture_at_one_of_its_three_sizes(served, make_job, tmp_path) -> None:
    fake = await served(FakeStability)
    await _run(backend_for("stability", fake, tmp_path), make_job(I2V, portrait=True))
    job = next(iter(fake.jobs.values()))
    with Image.open(io.BytesIO(job.body["image"])) as image:
        assert image.size == (576, 1024) and image.format == "JPEG"
    assert job.body["motion_bucket_id"] == b"127" and job.body["seed"] == b"1234"
    assert fake.problems == []


async def test_stability_endpoint_gone_makes_the_provider_unavailable(served, make_job, tmp_path) -> None:
    fake = await served(FakeStability)
    fake.withdrawn = True
    with pytest.raises(BackendUnavailable) as caught:
        await _run(backend_for("stability", fake, tmp_path), make_job(I2V))
    assert "withdrawn" in str(caught.value) and "CHAIN_IMAGE_TO_VIDEO" in str(caught.value)


async def test_stability_403_is_its_content_filter(served, make_job, tmp_path) -> None:
    fake = await served(FakeStability)
    fake.fail_next("create", 403, {"id": "x", "name": "content_moderation",
                                    "errors": ["Your request was flagged by our content moderation system"]})
    with pytest.raises(Moderated) as caught:
        await _run(backend_for("stability", fake, tmp_path), make_job(I2V))
    assert "content moderation" in str(caught.value)


async def test_runway_gets_camel_case_ratio_and_duration(served, make_job, tmp_path) -> None:
    fake = await served(FakeRunway)
    run = make_job(I2V, portrait=True, frames=25, fps=7)
    output = await _run(backend_for("runway", fake, tmp_path), run)
    body = next(iter(fake.jobs.values())).body
    assert body["model"] == "gen4_turbo" and body["ratio"] == "720:1280" and body["duration"] == 5
    assert body["promptText"] == "a cat surfing" and body["promptImage"].startswith("data:image/jpeg;base64,")
    assert (50, 100) in run.steps  # RUNNING progress 0.5
    assert output.cost_usd == pytest.approx(5 * 0.05)
    assert fake.calls("POST", "/v1/image_to_video")[0].headers["X-Runway-Version"] == "2024-11-06"
    assert fake.problems == []


async def test_runway_text_to_video_uses_its_text_model(served, make_job, tmp_path) -> None:
    fake = await served(FakeRunway)
    await _run(backend_for("runway", fake, tmp_path), make_job(T2V, frames=240, fps=24))
    job = next(iter(fake.jobs.values()))
    assert job.route == "text_to_video" and job.body["model"] == "gen4.5" and job.body["duration"] == 10
    assert "promptImage" not in job.body


async def test_runway_input_errors_are_rejected_input_not_retried(served, make_job, tmp_path) -> None:
    fake = await served(FakeRunway)
    fake.fail_next("create", 400, {"error": "promptImage: the image could not be decoded"})
    with pytest.raises(RejectedInput) as caught:
        await _run(backend_for("runway", fake, tmp_path), make_job(I2V))
    assert not caught.value.retryable and "could not be decoded" in str(caught.value)


async def test_veo_gets_base64_picture_aspect_and_allowed_duration(served, make_job, tmp_path) -> None:
    fake = await served(FakeVeo)
    await _run(backend_for("veo", fake, tmp_path), make_job(I2V, portrait=True, negative_prompt="blurry",
                                                             frames=100, fps=24))
    job = next(iter(fake.jobs.values()))
    instance, params = job.body["instances"][0], job.body["parameters"]
    with Image.open(io.BytesIO(base64.b64decode(instance["image"]["bytesBase64Encoded"]))) as image:
        assert image.size == (720, 1280)
    assert params == {"aspectRatio": "9:16", "durationSeconds": 4, "negativePrompt": "blurry"}
    download = fake.calls("GET", "/v1beta/files/")[0]
    assert download.headers["x-goog-api-key"] == fake.key  # the video lives on the API's own host
    assert fake.problems == []


async def test_fal_sub_path_apps_are_polled_under_the_app_root(served, make_job, tmp_path) -> None:
    fake = await served(FakeFal)
    backend = backend_for("fal", fake, tmp_path)
    await _run(backend, make_job(I2V, model="ltx-video"))
    assert next(iter(fake.jobs.values())).route == "fal-ai/ltx-video/image-to-video"
    status = fake.calls("GET", "/status")[0]
    assert status.path.startswith("/fal-ai/ltx-video/requests/")
    assert status.headers["Authorization"] == f"Key {fake.key}"
    assert fake.problems == []


async def test_fal_validation_errors_are_rejected_input(served, make_job, tmp_path) -> None:
    fake = await served(FakeFal)
    fake.fail_next("create", 422, {"detail": [{"loc": ["body", "num_inference_steps"],
                                               "msg": "ensure this value is less than 50",
                                               "type": "value_error.number.not_lt"}]})
    with pytest.raises(RejectedInput) as caught:
        await _run(backend_for("fal", fake, tmp_path), make_job(T2V, steps=80))
    assert "less than 50" in str(caught.value)


async def test_hugging_face_goes_through_the_router_with_its_token(served, make_job, tmp_path) -> None:
    fake = await served(FakeHuggingFace)
    await _run(backend_for("huggingface", fake, tmp_path), make_job(T2V))
    create = fake.calls("POST")[0]
    assert create.path == "/fal-ai/fal-ai/ltx-video" and create.query == "_subdomain=queue"
    assert create.headers["Authorization"] == "Bearer hf_test_token"
    assert json.loads(create.body)["prompt"] == "a cat surfing"
    assert fake.problems == []


async def test_the_key_never_goes_to_another_host(served, make_job, tmp_path) -> None:
    api, cdn = await served(FakeFal), await served(FakeFal)
    api.video_url = lambda job: f"{cdn.url}/_files/{job.id}.mp4"  # type: ignore[method-assign]
    cdn.jobs = api.jobs
    await _run(backend_for("fal", api, tmp_path), make_job(T2V))
    download = cdn.calls("GET", "/_files/")[0]
    assert "Authorization" not in download.headers


async def test_a_video_over_the_download_cap_is_refused(served, make_job, tmp_path) -> None:
    fake = await served(FakeFal)
    with pytest.raises(TransientError) as caught:
        await _run(backend_for("fal", fake, tmp_path, cloud_max_download_mb=0.001), make_job(T2V))
    assert "download cap" in str(caught.value) and "CLOUD_MAX_DOWNLOAD_MB" in str(caught.value)


async def test_not_a_video_is_refused(served, make_job, tmp_path) -> None:
    fake = await served(FakeRunway)
    fake.plan("not_video", polls=0)
    with pytest.raises(TransientError) as caught:
        await _run(backend_for("runway", fake, tmp_path), make_job(I2V))
    assert "text/html instead of a video" in str(caught.value)


def test_webm_results_are_re_encoded_to_mp4(tmp_path: Path) -> None:
    import av
    import numpy as np

    from engine.video import playable_mp4, probe

    src = tmp_path / "in.webm"
    with av.open(str(src), "w", format="webm") as container:
        stream = container.add_stream("libvpx-vp9", rate=8)
        stream.width, stream.height, stream.pix_fmt = 64, 48, "yuv420p"
        for i in range(6):
            frame = av.VideoFrame.from_ndarray(np.full((48, 64, 3), 30 * i, np.uint8), format="rgb24")
            container.mux(stream.encode(frame))
        container.mux(stream.encode(None))
    info = playable_mp4(src, tmp_path / "out.mp4")
    assert info.codec == "h264" and info.frames == 6 and probe(tmp_path / "out.mp4").pix_fmt == "yuv420p"

"""Each model's input rules, from the catalog, before any request: what the provider would refuse is mapped
to the nearest value it takes (and the user is told), failure codes are sorted as the provider defines them,
and what comes back is bounded (body size, redirects that would carry a key elsewhere)."""

from __future__ import annotations

from pathlib import Path

import pytest

from engine.cloud.catalog import DEFAULT_PROMPT
from engine.errors import AuthFailed, BackendUnavailable, Moderated, RejectedInput, TransientError
from engine.types import JobKind
from engine.video import probe
from engine.words import Text
from tests.engine.cloud.conftest import backend_for
from tests.engine.cloud.conftest import run_once as _run
from tests.fakes.providers.fal import FakeFal, FakeHuggingFace
from tests.fakes.providers.replicate import FakeReplicate
from tests.fakes.providers.runway import FakeRunway
from tests.fakes.providers.stability import FakeStability
from tests.fakes.providers.veo import FakeVeo

T2V, I2V = JobKind.TEXT_TO_VIDEO, JobKind.IMAGE_TO_VIDEO


def told(run) -> list[str]:
    """The notes the user is told (a Text each, kept as JSON on the attempt), in English."""
    return [str(note) for note in map(Text.from_json, run.ctx.notes) if isinstance(note, Text)]



@pytest.mark.parametrize(("size", "portrait", "ratio"), [((1104, 832), False, "1280:720"),
                                                         ((960, 960), False, "1280:720"),
                                                         ((832, 1104), True, "720:1280")])
async def test_runway_text_to_video_is_sent_a_ratio_it_accepts(served, make_job, tmp_path, size, portrait,
                                                               ratio) -> None:
    fake = await served(FakeRunway)
    run = make_job(T2V, width=size[0], height=size[1], portrait=portrait)
    await _run(backend_for("runway", fake, tmp_path), run)
    assert next(iter(fake.jobs.values())).body["ratio"] == ratio and fake.problems == []
    if not size[0] == size[1] == 960 and ratio != f"{size[0]}:{size[1]}":
        assert any("gen4.5" in note and ratio.replace(":", "x") in note for note in told(run))


async def test_runway_image_to_video_keeps_its_six_ratios(served, make_job, tmp_path) -> None:
    fake = await served(FakeRunway)
    await _run(backend_for("runway", fake, tmp_path), make_job(I2V, width=1104, height=832))
    assert next(iter(fake.jobs.values())).body["ratio"] == "1104:832"


async def test_runway_counts_its_prompt_limit_in_utf16_units(served, make_job, tmp_path) -> None:
    fake = await served(FakeRunway)
    run = make_job(T2V, prompt="🎬" * 600)  # 600 characters, 1200 UTF-16 units
    await _run(backend_for("runway", fake, tmp_path), run)
    sent = next(iter(fake.jobs.values())).body["promptText"]
    assert sent == "🎬" * 500 and fake.problems == []
    assert any("prompt cut to 1000 UTF-16 units" in note for note in told(run))


@pytest.mark.parametrize(("code", "error"), [("SAFETY.INPUT.TEXT", Moderated),
                                             ("INPUT_PREPROCESSING.SAFETY.TEXT", Moderated),
                                             ("INPUT_PREPROCESSING.INTERNAL", TransientError),
                                             ("ASSET.INVALID", RejectedInput),
                                             ("INTERNAL.BAD_OUTPUT.CODE01", TransientError)])
async def test_runway_failure_codes_are_sorted_as_runway_defines_them(served, make_job, tmp_path, code,
                                                                      error) -> None:
    fake = await served(FakeRunway)
    fake.failure_code = code
    fake.plan("failed", polls=1)
    with pytest.raises(error) as caught:
        await _run(backend_for("runway", fake, tmp_path), make_job(I2V))
    assert type(caught.value) is error and code in str(caught.value)


@pytest.mark.parametrize("fake_cls", [FakeFal, FakeHuggingFace], ids=["fal", "huggingface"])
async def test_fal_image_to_video_always_sends_a_prompt(served, make_job, tmp_path, fake_cls) -> None:
    fake = await served(fake_cls)
    name = "fal" if fake_cls is FakeFal else "huggingface"
    await _run(backend_for(name, fake, tmp_path), make_job(I2V, prompt="", model="ltx-video"))
    body = next(iter(fake.jobs.values())).body
    assert body["prompt"] == DEFAULT_PROMPT and body["image_url"].startswith("data:image/jpeg")
    assert fake.problems == []


@pytest.mark.parametrize(("name", "fake_cls", "asked", "sent", "field"),
                         [("fal", FakeFal, 7, 10, "fps"), ("fal", FakeFal, 60, 60, "fps"),
                          ("replicate", FakeReplicate, 60, 30, "frames_per_second"),
                          ("replicate", FakeReplicate, 2, 5, "frames_per_second")])
async def test_fps_outside_a_models_range_becomes_the_nearest_with_a_note(served, make_job, tmp_path, name,
                                                                          fake_cls, asked, sent, field) -> None:
    fake = await served(fake_cls)
    run = make_job(I2V, fps=asked)
    await _run(backend_for(name, fake, tmp_path), run)
    inputs = next(iter(fake.jobs.values())).body
    assert inputs.get("input", inputs)[field] == sent and fake.problems == []
    said = [note for note in told(run) if note.startswith(f"{name}: fps {asked} → {sent}")]
    assert len(said) == (0 if asked == sent else 1)


async def test_stability_seed_tops_out_at_4294967294(served, make_job, tmp_path) -> None:
    fake = await served(FakeStability)
    run = make_job(I2V, seed=4294967295)
    run.ctx.job = type(run.ctx.job)(run.ctx.job.id, I2V, "", run.ctx.job.options, run.ctx.job.image_path,
                                    4294967295)
    await _run(backend_for("stability", fake, tmp_path), run)
    assert next(iter(fake.jobs.values())).body["seed"] == b"0" and fake.problems == []
    assert any("seed 4294967295 → 0" in note for note in told(run))


@pytest.mark.parametrize(("code", "status", "message", "error"), [
    (3, "INVALID_ARGUMENT", "durationSeconds is out of range", RejectedInput),
    (3, "INVALID_ARGUMENT", "The prompt violates our safety policy", Moderated),
    (8, "RESOURCE_EXHAUSTED", "Quota exceeded", TransientError),
    (13, "INTERNAL", "Internal error", TransientError),
    (14, "UNAVAILABLE", "The service is currently unavailable", TransientError),
    (7, "PERMISSION_DENIED", "The caller does not have permission", AuthFailed),
    (9, "FAILED_PRECONDITION", "User location is not supported", BackendUnavailable),
])
async def test_veo_grpc_codes_are_sorted(served, make_job, tmp_path, code, status, message, error) -> None:
    fake = await served(FakeVeo)
    fake.operation_error = (code, status, message)
    fake.plan("failed", polls=1)
    with pytest.raises(error) as caught:
        await _run(backend_for("veo", fake, tmp_path), make_job(T2V))
    assert type(caught.value) is error and status in str(caught.value)
    assert caught.value.retryable is (error is not RejectedInput and error is not Moderated)


async def test_veo_inline_video_is_delivered(served, make_job, tmp_path) -> None:
    fake = await served(FakeVeo)
    fake.inline_video = True
    output = await _run(backend_for("veo", fake, tmp_path), make_job(T2V))
    assert probe(output.video_path).frames == 12 and fake.calls("GET", "/v1beta/files/") == []
    fake.plan("ok")
    with pytest.raises(TransientError) as caught:  # inline, yet still within the download cap
        await _run(backend_for("veo", fake, tmp_path, cloud_max_download_mb=0.001), make_job(T2V))
    assert "download cap" in str(caught.value)


async def test_the_veo_key_never_follows_a_redirect_elsewhere(served, make_job, tmp_path) -> None:
    api, storage = await served(FakeVeo), await served(FakeFal)
    api.redirect_downloads_to = storage.url
    storage.jobs = api.jobs
    output = await _run(backend_for("veo", api, tmp_path), make_job(T2V))
    assert probe(output.video_path).frames == 12
    assert api.calls("GET", "/v1beta/files/")[0].headers["x-goog-api-key"] == api.key  # its own origin
    fetched = storage.calls("GET", "/_files/")
    assert len(fetched) == 1 and "x-goog-api-key" not in {k.lower() for k in fetched[0].headers}
    assert all(api.key not in value for value in fetched[0].headers.values())


@pytest.mark.parametrize(("name", "fake_cls", "kind", "step"), [
    ("runway", FakeRunway, I2V, "create"), ("replicate", FakeReplicate, T2V, "create"),
    ("fal", FakeFal, T2V, "create"), ("veo", FakeVeo, T2V, "create")])
async def test_an_oversized_provider_body_is_refused(served, make_job, tmp_path, name, fake_cls, kind,
                                                     step) -> None:
    fake = await served(fake_cls)
    fake.fail_next(step, 201 if name == "replicate" else 200, {"id": "x", "padding": "x" * (5 * 1024 * 1024)})
    with pytest.raises(TransientError) as caught:
        await _run(backend_for(name, fake, tmp_path), make_job(kind))
    assert "over 4 MB" in str(caught.value) and "refused unread" in str(caught.value)


async def test_polling_faster_than_allowed_is_rate_limited_by_the_fake(served, make_job, tmp_path) -> None:
    fake = await served(FakeStability)
    # An operator forcing a 1 s pace on Stability (which allows one look every 10 s): the fake says 429 ...
    backend = backend_for("stability", fake, tmp_path, cloud_poll_interval_s=1.0)
    output = await _run(backend, make_job(I2V))
    assert fake.throttled > 0
    assert probe(output.video_path).frames == 12  # ... its Retry-After is honoured: the job still ends
    looks = next(iter(fake.jobs.values())).data["looks"]
    assert all(b - a >= 10 for a, b in zip(looks, looks[1:], strict=False))
    # At the provider's own pace, never.
    fresh = await served(FakeStability)
    await _run(backend_for("stability", fresh, tmp_path), make_job(I2V))
    assert fresh.throttled == 0


def test_the_settings_default_keeps_each_providers_own_pace(tmp_path: Path) -> None:
    from reelbot.backends import build_providers
    from tests.conftest import make_settings

    keys = {"stability_api_key": "sk", "runwayml_api_secret": "k", "replicate_api_token": "r8"}
    built = build_providers(make_settings(tmp_path, **keys), {})
    assert {name: b.pace for name, b in built.items()} == {"stability": 10.0, "runway": 6.0, "replicate": 0.5}
    forced = build_providers(make_settings(tmp_path, cloud_poll_interval_s=3.0, **keys), {})
    assert {b.pace for b in forced.values()} == {3.0}

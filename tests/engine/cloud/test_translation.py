"""Prompt languages on cloud models, with the real Replicate client against its fake: a model that reads
Korean gets the user's words; one that reads English gets the translation, the same one the GPU got before
it ran out of memory (translated once for the job)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from engine.backends.simulated import SimulatedBackend
from engine.translate.tiny import make_tiny_marian
from engine.types import JobState, Options, Origin, SubmitRequest, UserRef
from tests.engine.cloud.conftest import on_clock
from tests.fakes.providers.replicate import FakeReplicate

KOREAN = "서핑하는 고양이"


@pytest.fixture(scope="module")
def tiny_marian(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return make_tiny_marian(tmp_path_factory.mktemp("models") / "opus-mt-ko-en")


def korean_request() -> SubmitRequest:
    return SubmitRequest(UserRef("test", "u1", "u1"), KOREAN, Origin("test", "chat"), Options())


def replicate_settings(fake: FakeReplicate, marian: Path, **extra: Any) -> dict[str, Any]:
    return {"replicate_api_token": fake.key, "replicate_base_url": fake.url, "prompt_translation": "auto",
            "prompt_translation_model": str(marian), **extra}


def prompts_sent(fake: FakeReplicate) -> list[str]:
    return [job.body["input"]["prompt"] for job in fake.jobs.values()]


async def test_a_cloud_model_that_reads_korean_gets_the_users_words(app_factory, served, tiny_marian):
    replicate = await served(FakeReplicate)
    korean_zeroscope = [{"name": "zeroscope", "kind": "text-to-video", "prompt_languages": ["en", "ko"]}]
    app = await app_factory(settings=replicate_settings(
        replicate, tiny_marian, chain_text_to_video=["replicate"], cloud_models=json.dumps(
            {"replicate": korean_zeroscope})))
    on_clock(app.backends["replicate"], replicate)
    done = await app.service.wait((await app.service.submit(korean_request())).id)
    assert done.state is JobState.SUCCEEDED, done.error_message
    assert prompts_sent(replicate) == [KOREAN] and done.prompt_used is None
    assert not app.translator.loaded


async def test_a_fallback_to_another_english_model_reuses_the_translation(app_factory, served, tiny_marian):
    replicate = await served(FakeReplicate)
    app = await app_factory(settings=replicate_settings(  # a zeroscope GPU that runs out of memory every time
        replicate, tiny_marian, chain_text_to_video=["local", "replicate"], simulated_oom_every=1))
    on_clock(app.backends["replicate"], replicate)
    gpu = app.backends["local"]
    assert isinstance(gpu, SimulatedBackend)
    asked: list[str] = []
    translate = app.translator.translate

    async def counted(text: str, language: str) -> str:
        asked.append(text)
        return await translate(text, language)

    app.translator.translate = counted
    done = await app.service.wait((await app.service.submit(korean_request())).id)
    assert done.state is JobState.SUCCEEDED and done.backend == "replicate", done.error_message
    english = done.prompt_used
    assert english and english != KOREAN
    assert gpu.prompts == [english] and prompts_sent(replicate) == [english]
    assert asked == [KOREAN]

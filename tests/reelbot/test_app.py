"""The composition root decides who may spend the operator's money: a provider is built (and so in the
chains, and open to ``--provider``) only when the operator enabled it; a key kept for another purpose
(HF_TOKEN, for gated downloads) spends nothing by itself. /status and `reelbot doctor` say who can spend."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from typing import Any

import pytest

from bot.discord.texts import status_embed
from bot.i18n import ENGLISH as EN
from bot.render import status_text
from engine.errors import InvalidInput
from engine.types import JobState, Options, Origin, SubmitRequest, UserRef
from reelbot.doctor import render_checks, run_checks
from tests.fakes.providers.fal import FakeHuggingFace

HF_OFF = "HF_TOKEN is only used for downloads; set HF_INFERENCE=true to pay for inference"


def req(**options: Any) -> SubmitRequest:
    return SubmitRequest(UserRef("test", "u1", "u1"), "a cat surfing", Origin("test", "chat"), Options(**options),
                         None)


@pytest.fixture
async def hf() -> AsyncIterator[FakeHuggingFace]:
    fake = await FakeHuggingFace().start()
    yield fake
    await fake.stop()


def hf_settings(hf: FakeHuggingFace, **extra: Any) -> dict[str, Any]:
    """HF_TOKEN set (as for the gated SVD-XT download), the local GPU out of memory on every job, and the
    default chains, which name huggingface."""
    return {"hf_token": hf.key, "hf_inference_base_url": hf.url, "cloud_poll_interval_s": 0.01,
            "simulated_oom_every": 1, **extra}


async def test_hf_token_alone_spends_nothing(app_factory, hf):
    app = await app_factory(settings=hf_settings(hf))
    assert "huggingface" in app.settings.chain_text_to_video

    done = await app.service.wait((await app.service.submit(req())).id)
    assert done.state is JobState.FAILED and [a.backend for a in done.attempts] == ["local"]
    assert done.charged_usd == 0 and hf.requests == []  # no paid fallback, not one call to the provider
    with pytest.raises(InvalidInput) as err:
        await app.service.submit(req(provider="huggingface"))
    assert "no provider called 'huggingface'" in err.value.message
    report = await app.service.report()
    assert str({h.name: h.problem for h in report.backends}["huggingface"]) == HF_OFF
    assert hf.requests == []


async def test_hf_inference_true_opts_in_to_paid_hugging_face_jobs(app_factory, hf):
    app = await app_factory(settings=hf_settings(hf, hf_inference=True))

    done = await app.service.wait((await app.service.submit(req())).id)
    assert done.state is JobState.SUCCEEDED and [a.backend for a in done.attempts] == ["local", "huggingface"]
    assert len(hf.jobs) == 1 and done.charged_usd > 0
    assert "Can spend money: huggingface" in status_text(EN, await app.service.report()).splitlines()


async def test_status_and_doctor_show_who_can_spend(app_factory, hf):
    app = await app_factory(settings={"replicate_api_token": "r8_test", "runwayml_api_secret": "key_test",
                                      "hf_token": hf.key})
    line = f"Can spend money: replicate, runway · off: huggingface ({HF_OFF})"

    report = await app.service.report()
    assert line in status_text(EN, report).splitlines()  # /status on Telegram, `reelbot status`
    spend = next(field.value for field in status_embed(EN, report).fields if field.name == "Spend")
    assert line in spend.splitlines()  # /status on Discord

    checks = await asyncio.to_thread(run_checks, app.settings, hub_check=lambda repo, token: None,
                                     key_check=lambda settings: {})
    lines = render_checks(EN, checks).splitlines()
    assert f"✓ {line}" in lines
    assert f"– huggingface key: set; not used for cloud jobs ({HF_OFF})" in lines
    assert hf.requests == []


async def test_without_any_provider_nothing_can_spend(app_factory):
    app = await app_factory()
    assert "Can spend money: no cloud provider" in status_text(EN, await app.service.report()).splitlines()


async def test_status_says_why_a_provider_is_off_in_the_readers_language(app_factory, tmp_path):
    from bot.i18n import words
    from reelbot.cli import _with_snapshot, snapshot

    app = await app_factory(settings={"hf_token": "hf_test"})  # no other key: replicate, runway... are not set up
    report = await app.service.report()
    korean = status_text(words("ko"), report)
    assert "replicate: 사용할 수 없음: REPLICATE_API_TOKEN이(가) 설정되지 않았어요" in korean
    assert "huggingface (HF_TOKEN은 내려받기에만 써요. 추론 비용을 내려면 HF_INFERENCE=true로 설정해 주세요)" in korean
    assert "replicate: unavailable: REPLICATE_API_TOKEN is not set" in status_text(EN, report)
    # `reelbot status` in another shell reads the running engine's view, words and all
    path = tmp_path / "status.json"
    path.write_text(snapshot(report))
    live, fresh = _with_snapshot(report, path)
    assert fresh and status_text(words("ko"), live) == korean

"""The controls users know from other video bots, on Discord: /video's negative, aspect, motion and quality
options (and the same flags in the prompt), /models, and the model option's suggestions as the user types."""

from __future__ import annotations

from typing import Any

import pytest

from engine.backends.simulated import SimulatedBackend
from engine.types import UserRef
from tests.bot.discord.conftest import GUILD, Speaker
from tests.fakes.discord_api import FakeDiscord

WORDS = {
    "en-US": {
        "bad ar": "'4:3' is not an aspect ratio I can make; use one of: 16:9, 9:16, 1:1, 4:5, 21:9.",
        "models": "Models you can use now (time and price of one video):",
        "minimax": "minimax — from words or a picture · replicate, ≈ 2 min 30 s · $0.50",
        "zeroscope": "zeroscope — from words or a picture · local, ≈ 20 s · free",
    },
    "ko": {
        "bad ar": "'4:3' 비율로는 만들 수 없어요. 이 중에서 골라 주세요: 16:9, 9:16, 1:1, 4:5, 21:9.",
        "models": "지금 쓸 수 있는 모델 (영상 1개의 시간과 가격):",
        "minimax": "minimax — 글 또는 사진에서 · replicate, 약 2분 30초 · $0.50",
        "zeroscope": "zeroscope — 글 또는 사진에서 · local, 약 20초 · 무료",
    },
}


@pytest.fixture
def two_backends() -> dict[str, Any]:
    return {
        "backends": {
            "local": SimulatedBackend("local", seconds=20, steps=2, models=frozenset({"zeroscope", "svd-xt"})),
            "replicate": SimulatedBackend("replicate", local=False, seconds=150, steps=2, usd_per_run=0.5,
                                          models=frozenset({"minimax"})),
        },
        "chain_text_to_video": "local,replicate",
        "chain_image_to_video": "local,replicate",
    }


async def test_video_options_reach_the_job_as_the_same_options_flags_give(fake: FakeDiscord, make_bot) -> None:
    bot = await make_bot(simulated_seconds=0.2, simulated_steps=2)
    ann = fake.user(1001, "ann")
    inter = fake.slash("video", ann, guild_id=GUILD, options={
        "prompt": "a cat surfing", "negative": "blurry, text", "aspect": "4:5", "motion": 7, "quality": "best"})
    done = await fake.wait_for(lambda: (m := fake.original(inter)) and m.files and m)
    job = await bot.service.get(done.content.split("job ")[1].split()[0])
    assert (job.options.negative_prompt, job.options.aspect, job.options.motion, job.options.quality) == (
        "blurry, text", "4:5", 7, "best")

    # a flag in the prompt wins over the option, as for every other option
    inter = fake.slash("video", ann, guild_id=GUILD, options={"prompt": "a dog --ar 21:9", "portrait": True})
    done = await fake.wait_for(lambda: (m := fake.original(inter)) and m.files and m)
    job = await bot.service.get(done.content.split("job ")[1].split()[0])
    assert job.options.aspect == "21:9" and not job.options.portrait


async def test_a_bad_ratio_is_told_to_the_user_alone(fake: FakeDiscord, make_bot, speaker: Speaker) -> None:
    bot = await make_bot(simulated_seconds=0.2, simulated_steps=2)
    inter = fake.slash("video", fake.user(1002, "bob"), guild_id=GUILD, options={"prompt": "a cat --ar 4:3"},
                       locale=speaker.locale)
    [said] = await fake.wait_for(lambda: fake.ephemeral(inter))
    assert said.startswith(WORDS[speaker.locale]["bad ar"])
    assert (await bot.service.history(UserRef("discord", "1002"))).total == 0  # nothing queued, nothing charged


async def test_models_lists_what_can_run_now_with_speed_and_price(fake: FakeDiscord, make_bot, two_backends,
                                                                  speaker: Speaker) -> None:
    await make_bot(**two_backends)
    inter = fake.slash("models", fake.user(1003, "cy"), guild_id=GUILD, locale=speaker.locale)
    [said] = await fake.wait_for(lambda: fake.ephemeral(inter))
    words = WORDS[speaker.locale]
    lines = said.splitlines()
    assert lines[0] == words["models"]
    assert lines[1] == f"• {words['minimax']}" and lines[3] == f"• {words['zeroscope']}"
    assert lines[2].startswith("• svd-xt — ")


async def test_the_model_option_suggests_the_same_list_as_the_user_types(fake: FakeDiscord, make_bot, two_backends,
                                                                         speaker: Speaker) -> None:
    await make_bot(**two_backends)
    ann = fake.user(1004, "ann")
    inter = fake.autocomplete("video", ann, guild_id=GUILD, focused="model",
                              options={"prompt": "a cat", "model": "ze"}, locale=speaker.locale)
    await fake.wait_for(lambda: inter.callbacks)
    [answer] = inter.callbacks
    assert answer["type"] == 8  # APPLICATION_COMMAND_AUTOCOMPLETE_RESULT
    assert answer["data"]["choices"] == [{"name": WORDS[speaker.locale]["zeroscope"], "value": "zeroscope"}]

    everything = fake.autocomplete("video", ann, guild_id=GUILD, focused="model", options={"model": ""},
                                   locale=speaker.locale)
    await fake.wait_for(lambda: everything.callbacks)
    assert [c["value"] for c in everything.callbacks[0]["data"]["choices"]] == ["minimax", "svd-xt", "zeroscope"]

"""The controls users know from other video bots, on Telegram: --ar, --quality, --motion, --neg and /models,
told once for a user whose app is in English and once for one whose app is in Korean."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from engine.backends.simulated import SimulatedBackend
from engine.video import probe
from tests.bot.telegram.stories import in_each_language, replies_to, sent_videos

SAYS = {
    "en": {
        "bad ar": "'4:3' is not an aspect ratio I can make; use one of: 16:9, 9:16, 1:1, 4:5, 21:9.",
        "models": "Models you can use now (time and price of one video):",
        "minimax": "• minimax — from words or a picture · replicate, ≈ 2 min 30 s · $0.50",
        "zeroscope": "• zeroscope — from words or a picture · local, ≈ 20 s · free",
        "pick": "Pick one with --model NAME, like --model minimax.",
        "motion unused": "Note: --motion was not used: zeroscope has no such setting.",
    },
    "ko": {
        "bad ar": "'4:3' 비율로는 만들 수 없어요. 이 중에서 골라 주세요: 16:9, 9:16, 1:1, 4:5, 21:9.",
        "models": "지금 쓸 수 있는 모델 (영상 1개의 시간과 가격):",
        "minimax": "• minimax — 글 또는 사진에서 · replicate, 약 2분 30초 · $0.50",
        "zeroscope": "• zeroscope — 글 또는 사진에서 · local, 약 20초 · 무료",
        "pick": "--model 이름으로 골라 주세요. 예: --model minimax",
        "motion unused": "참고: zeroscope에는 그런 설정이 없어서 --motion은(는) 적용되지 않았어요.",
    },
}


@in_each_language
async def test_a_tall_fast_video_is_made_tall_with_the_fast_preset(fake, make_bot, tmp_path: Path, lang: str) -> None:
    bot = await make_bot(simulated_seconds=0.2, simulated_steps=2)
    ann = fake.user(1101, "Ann", language_code=lang)
    chat = fake.private_chat(ann)
    fake.send(chat, ann, '/video a cat --ar 9:16 --quality fast --neg "blurry, text"')

    [video] = await sent_videos(fake)
    [job] = await bot.jobs()
    assert json.loads(job["options"]) == {"aspect": "9:16", "quality": "fast", "negative_prompt": "blurry, text",
                                          "portrait": False, "allow_fewer_frames": True}
    path = tmp_path / "tall.mp4"
    path.write_bytes(video.files["video"])
    info = probe(path)
    assert info.height > info.width and info.width * 16 == info.height * 9  # 144x256: 9:16


@in_each_language
async def test_the_same_controls_in_korean_words(fake, make_bot, lang: str) -> None:
    bot = await make_bot(simulated_seconds=0.2, simulated_steps=2)
    ann = fake.user(1102, "Ann", language_code=lang)
    chat = fake.private_chat(ann)
    fake.send(chat, ann, "/video 고양이 --비율 1x1 --품질 최고 --움직임 3 --제외 흐릿함")
    await sent_videos(fake)
    [job] = await bot.jobs()
    options = json.loads(job["options"])
    assert (options["aspect"], options["quality"], options["motion"], options["negative_prompt"]) == (
        "1:1", "best", 3, "흐릿함")


@in_each_language
async def test_a_ratio_not_on_the_list_is_refused_with_the_choices(fake, make_bot, lang: str) -> None:
    bot = await make_bot(simulated_seconds=0.2, simulated_steps=2)
    ann = fake.user(1103, "Ann", language_code=lang)
    chat = fake.private_chat(ann)
    request = fake.send(chat, ann, "/video a cat --ar 4:3")
    await fake.wait_for(lambda: any(SAYS[lang]["bad ar"] in (m.text or "")
                                    for m in replies_to(fake, chat["id"], request["message_id"])))
    assert await bot.jobs() == []  # nothing queued, nothing charged


@in_each_language
async def test_motion_on_a_model_without_it_is_told_in_the_caption(fake, make_bot, lang: str) -> None:
    await make_bot(simulated_seconds=0.2, simulated_steps=2)
    ann = fake.user(1104, "Ann", language_code=lang)
    chat = fake.private_chat(ann)
    fake.send(chat, ann, "/video a cat --motion 8 --model zeroscope")
    [video] = await sent_videos(fake)
    assert SAYS[lang]["motion unused"] in video.params["caption"]


@pytest.fixture
def two_backends() -> dict[str, SimulatedBackend]:
    return {
        "local": SimulatedBackend("local", seconds=20, steps=2, models=frozenset({"zeroscope", "svd-xt"})),
        "replicate": SimulatedBackend("replicate", local=False, seconds=150, steps=2, usd_per_run=0.5,
                                      models=frozenset({"minimax"})),
    }


@in_each_language
async def test_models_lists_what_can_run_now_with_speed_and_price(fake, make_bot, two_backends, lang: str) -> None:
    await make_bot(backends=two_backends, chain_text_to_video="local,replicate",
                   chain_image_to_video="local,replicate")
    ann = fake.user(1105, "Ann", language_code=lang)
    chat = fake.private_chat(ann)
    request = fake.send(chat, ann, "/models")
    [reply] = await fake.wait_for(lambda: replies_to(fake, chat["id"], request["message_id"]))
    say = SAYS[lang]
    lines = reply.text.splitlines()
    assert lines[0] == say["models"]
    assert lines[1] == say["minimax"] and lines[3] == say["zeroscope"]
    assert lines[2].startswith("• svd-xt — ") and len(lines) == 5
    assert lines[-1] == say["pick"]
    menu = {c["command"] for call in fake.calls_to("setMyCommands") for c in call.params["commands"]}
    assert "models" in menu

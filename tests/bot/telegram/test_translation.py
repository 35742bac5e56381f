"""A Korean prompt on a model that reads English, as a Telegram user sees it: the job's message and the
video's caption show what the model got (``서핑하는 고양이 → "…"``) and why, in Korean."""

from __future__ import annotations

from pathlib import Path

import pytest

from engine.translate.tiny import make_tiny_marian
from tests.bot.telegram.test_jobs import replies_to, sent_videos, texts

NOTE = "이 모델은 영어만 이해해서 번역했어요. 원문 그대로 쓰려면 --raw"


@pytest.fixture(scope="module")
def tiny_marian(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return make_tiny_marian(tmp_path_factory.mktemp("models") / "opus-mt-ko-en")


async def test_the_user_sees_the_korean_prompt_and_what_the_model_got(fake, make_bot, tiny_marian) -> None:
    bot = await make_bot(simulated_seconds=0.6, simulated_steps=6, default_language="ko",
                         prompt_translation="auto", prompt_translation_model=str(tiny_marian))
    ann = fake.user(1201, "Ann")
    chat = fake.private_chat(ann)
    request = fake.send(chat, ann, "/video 서핑하는 고양이 --frames 8")

    [video] = await sent_videos(fake)
    [job] = await bot.jobs()
    english = job["prompt_used"]
    assert job["prompt"] == "서핑하는 고양이" and english and english != job["prompt"]
    translated = f'서핑하는 고양이 → "{english}"'
    caption = video.params["caption"].splitlines()
    assert caption[0] == translated and NOTE in caption

    [note] = [m for m in replies_to(fake, chat["id"], request["message_id"]) if m.video is None]
    running = [t for t in texts(fake, chat["id"], note.message_id) if "만드는 중" in t]
    assert running and all(translated in t and NOTE in t for t in running), running


async def test_raw_keeps_the_korean_and_says_nothing_of_translation(fake, make_bot, tiny_marian) -> None:
    bot = await make_bot(simulated_seconds=0.3, simulated_steps=3, default_language="ko",
                         prompt_translation="auto", prompt_translation_model=str(tiny_marian))
    ann = fake.user(1202, "Ann")
    chat = fake.private_chat(ann)
    fake.send(chat, ann, "/video 서핑하는 고양이 --frames 8 --raw")

    [video] = await sent_videos(fake)
    [job] = await bot.jobs()
    assert job["prompt_used"] is None
    assert video.params["caption"].startswith("“서핑하는 고양이”") and "→" not in video.params["caption"]
    assert bot.app is not None and bot.app.backends["local"].prompts == ["서핑하는 고양이"]

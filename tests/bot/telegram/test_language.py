"""Whose language the bot speaks on Telegram: the app's (``language_code``), a choice made with
``/settings language``, ``DEFAULT_LANGUAGE`` for the rest; the command menu in each language."""

from __future__ import annotations

import dataclasses
import json

import pytest

from bot.telegram.keyboards import parse_language, parse_press
from engine.types import JobState
from engine.words import Text
from tests.bot.telegram.stories import buttons, replies_to, sent_videos
from tests.fakes.telegram_api import FakeTelegram
from tests.images import png

USAGE_EN, USAGE_KO = "Today: 0 of 500 videos.", "오늘: 영상 0 / 500개."


async def ask(fake: FakeTelegram, chat: dict, user: dict, text: str) -> str:
    """What the bot answers to ``text``."""
    sent = fake.send(chat, user, text)
    [reply] = await fake.wait_for(lambda: replies_to(fake, chat["id"], sent["message_id"]))
    return str(reply.text)


@pytest.mark.parametrize("default", ["en", "ko"])
async def test_each_user_hears_their_apps_language_and_the_rest_the_default(fake, make_bot, default: str) -> None:
    await make_bot(default_language=default)
    people = {lang: fake.user(6001 + n, "P", language_code=lang) for n, lang in enumerate(["en", "ko", "fr", None])}
    said = {lang: await ask(fake, fake.private_chat(user), user, "/usage") for lang, user in people.items()}
    assert said["en"].startswith(USAGE_EN) and said["ko"].startswith(USAGE_KO)  # an English user stays English
    default_usage = USAGE_KO if default == "ko" else USAGE_EN
    assert said["fr"].startswith(default_usage) and said[None].startswith(default_usage)  # no Korean, no English


async def test_settings_language_makes_an_english_app_user_read_korean(fake, make_bot) -> None:
    await make_bot()
    ann = fake.user(6101, "Ann", language_code="en-US")
    chat = fake.private_chat(ann)
    assert await ask(fake, chat, ann, "/settings language ko") == "이제부터 한국어로 답할게요."
    assert (await ask(fake, chat, ann, "/usage")).startswith(USAGE_KO)
    assert (await ask(fake, chat, ann, "/settings language English")) == "From now on I'll answer you in English."
    assert await ask(fake, chat, ann, "/settings language 한국어") == "이제부터 한국어로 답할게요."
    refused = await ask(fake, chat, ann, "/settings language klingon")
    assert refused.startswith("klingon은(는) 지원하지 않는 언어예요.") and "en, ko" in refused
    assert await ask(fake, chat, ann, "/settings language auto") == "From now on I'll answer you in English."
    assert (await ask(fake, chat, ann, "/usage")).startswith(USAGE_EN)  # their app's language again
    wrong = await ask(fake, chat, ann, "/settings colour blue")
    assert wrong.startswith("colour is not a setting. The settings are: model, frames, fps, aspect, motion, language, delivery")


async def test_settings_language_alone_shows_the_language_and_buttons_to_change_it(fake, make_bot) -> None:
    await make_bot()
    ann = fake.user(6201, "Ann", language_code="en")
    chat = fake.private_chat(ann)
    asked = fake.send(chat, ann, "/settings language")
    [shown] = await fake.wait_for(lambda: replies_to(fake, chat["id"], asked["message_id"]))
    assert shown.text.startswith("I answer you in English, the language of your Telegram app.")
    assert buttons(shown.reply_markup) == [("English", "lang:en"), ("한국어", "lang:ko"),
                                           ("✓ Automatic (my Telegram app's language)", "lang:auto")]
    query = fake.press(chat, ann, shown.message_id, "lang:ko")
    answer = await fake.wait_for(lambda: fake.answered.get(query))
    assert answer["text"] == "이제부터 한국어로 답할게요."
    edited = await fake.wait_for(lambda: (m := fake.messages[(chat["id"], shown.message_id)]) and "한국어" in m.text
                                 and m)
    assert edited.text.startswith("내 설정:") and "• 언어: 한국어 (직접 고름)" in edited.text
    assert buttons(edited.reply_markup)[:3] == [("English", "lang:en"), ("✓ 한국어", "lang:ko"),
                                                ("자동 (Telegram 앱 언어)", "lang:auto")]
    assert (await ask(fake, chat, ann, "/usage")).startswith(USAGE_KO)

    # The job buttons' handler never takes a language choice, nor the other way round.
    assert parse_press("lang:ko") is None and parse_language("cancel:ab12") is None
    forged = fake.press(chat, ann, shown.message_id, "lang:xx")
    refused = await fake.wait_for(lambda: fake.answered.get(forged))
    assert refused["show_alert"] is True and refused["text"].startswith("xx은(는) 지원하지 않는 언어예요.")


async def test_the_command_menu_is_set_in_each_language(fake, make_bot) -> None:
    await make_bot()
    menus = {call.params.get("language_code"): call.params["commands"] for call in fake.calls_to("setMyCommands")}
    assert set(menus) == {None, "ko"}  # the default for everyone, and Korean for Korean apps
    english = {c["command"]: c["description"] for c in menus[None]}
    korean = {c["command"]: c["description"] for c in menus["ko"]}
    assert list(english) == list(korean) == ["video", "usage", "cancel", "job", "settings", "models", "status", "admin",
                                             "help", "link", "unlink"]
    assert english["video"] == "Make a video from a text prompt" and korean["video"] == "프롬프트로 영상 만들기"
    assert korean["settings"] == "내 기본 설정: 모델, 프레임, fps, 언어, 전달 방식"
    assert all(1 <= len(d) <= 256 for d in [*english.values(), *korean.values()])


async def test_with_korean_the_default_the_plain_menu_is_korean_and_english_apps_get_english(fake, make_bot) -> None:
    await make_bot(default_language="ko")
    menus = {call.params.get("language_code"): call.params["commands"] for call in fake.calls_to("setMyCommands")}
    assert set(menus) == {None, "en"}
    assert menus[None][0]["description"] == "프롬프트로 영상 만들기"
    assert menus["en"][0]["description"] == "Make a video from a text prompt"


async def test_a_group_job_speaks_to_its_asker_in_theirs_and_keeps_the_default_for_the_group(fake, make_bot) -> None:
    bot = await make_bot(simulated_seconds=30, simulated_steps=30)
    min_ = fake.user(6301, "Min", language_code="ko")
    group = fake.group_chat(-100630, "Makers")
    request = fake.send(group, min_, photo=png(), caption=f"@{fake.bot_username} 파도")
    await fake.wait_for(lambda: any("local에서 만드는 중" in (m.text or "")
                                    for m in replies_to(fake, group["id"], request["message_id"])))
    [note] = replies_to(fake, group["id"], request["message_id"])
    assert [label for label, _ in buttons(note.reply_markup)] == ["✖ 취소"]
    [job] = await bot.jobs()
    origin = json.loads(job["origin"])
    assert (origin["language"], origin["place_language"]) == ("ko", "en")  # Telegram names no group language


async def test_a_korean_caption_longer_than_telegram_allows_is_cut_whole(fake, make_bot) -> None:
    bot = await make_bot()
    min_ = fake.user(6401, "Min", language_code="ko")
    chat = fake.private_chat(min_)
    fake.send(chat, min_, "/video " + "고양이가 파도 위에서 서핑해요 " * 20)
    [video] = await sent_videos(fake)
    [row] = await bot.jobs()
    job = await bot.service.get(row["id"])
    assert job.state is JobState.SUCCEEDED and job.origin.language == "ko"

    # The same job with a long note the backend left for the user: the caption no longer fits in 1024 units.
    [attempt] = job.attempts
    note = Text("{change}", {"change": "프레임을 줄였어요 " * 120})
    long = dataclasses.replace(job, attempts=(dataclasses.replace(attempt, notes=(note,)),))
    assert bot.frontend is not None
    await bot.frontend.deliverer.deliver(long)
    [_, again] = await sent_videos(fake, 2)
    caption = again.params["caption"]
    assert len(caption.encode("utf-16-le")) // 2 <= 1024 and caption.endswith("…")
    assert caption.startswith(video.params["caption"] + "\n참고: 프레임을 줄였어요")  # the whole caption, then the note
    assert video.params["caption"].startswith("“고양이가 파도 위에서 서핑해요") and "시드" in video.params["caption"]

"""/settings on Telegram: a person's defaults for every video (frames, fps, model), where results go, shown
with whether each is theirs, refused plainly when a value cannot be, and reset; each story as the person
lives it, in the chat."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from engine.video import probe
from tests.bot.telegram.stories import buttons, replies_to, sent_videos
from tests.fakes.telegram_api import FakeTelegram


async def ask(fake: FakeTelegram, chat: dict, user: dict, text: str) -> Any:
    """The bot's answer to ``text``."""
    sent = fake.send(chat, user, text)
    [reply] = await fake.wait_for(lambda: replies_to(fake, chat["id"], sent["message_id"]))
    return reply


def frames_in(call: Any, tmp_path: Path) -> int:
    """How many frames the video the bot sent has."""
    path = tmp_path / f"sent-{id(call)}.mp4"
    path.write_bytes(call.files["video"])
    return probe(path).frames


async def test_frames_set_once_apply_to_the_next_video_and_a_flag_still_wins(fake, make_bot, tmp_path) -> None:
    await make_bot()
    ann = fake.user(7001, "Ann", language_code="en")
    chat = fake.private_chat(ann)
    said = await ask(fake, chat, ann, "/settings frames 9")
    assert said.text == "Saved — frames: 9. Your next videos use it unless a flag says otherwise."
    fake.send(chat, ann, "/video a lighthouse in a storm")
    [video] = await sent_videos(fake)
    assert frames_in(video, tmp_path) == 9
    fake.send(chat, ann, "/video a lighthouse in a storm --frames 25")
    [_, flagged] = await sent_videos(fake, 2)
    assert frames_in(flagged, tmp_path) == 25  # the flag wins for this video only

    said = await ask(fake, chat, ann, "/settings frames 500")
    assert said.text == ("frames must be between 1 and 129; you asked for 500. Choose another value, or default "
                         "to let each model choose.")
    said = await ask(fake, chat, ann, "/settings model klingon-xl")
    assert said.text.startswith("'klingon-xl' is not a model here. Models: ")
    said = await ask(fake, chat, ann, "/settings frames default")
    assert said.text == "Back to the default — frames: the model's default."


async def test_a_korean_user_sets_frames_14_with_the_korean_name_and_the_next_video_has_14(fake, make_bot) -> None:
    bot = await make_bot()
    min_ = fake.user(7101, "Min", language_code="ko")
    chat = fake.private_chat(min_)
    said = await ask(fake, chat, min_, "/settings 프레임 14")
    assert said.text == "저장했어요 — 프레임 수: 14. 옵션으로 따로 정하지 않으면 다음 영상부터 이 값을 써요."
    fake.send(chat, min_, "/video 파도 위의 고양이")
    await sent_videos(fake)
    [row] = await bot.jobs()
    assert (await bot.service.get(row["id"])).options.frames == 14
    refused = await ask(fake, chat, min_, "/settings 프레임 많이")
    assert refused.text.startswith("프레임 수")  # the value and what to do, in Korean
    assert "많이" in refused.text and "default(기본)" in refused.text


async def test_settings_alone_shows_every_setting_and_buttons_change_delivery_and_reset(fake, make_bot) -> None:
    await make_bot()
    ann = fake.user(7201, "Ann", language_code="en")
    chat = fake.private_chat(ann)
    await ask(fake, chat, ann, "/settings fps 6")
    shown = await ask(fake, chat, ann, "/settings")
    assert shown.text.splitlines()[:8] == [
        "Your settings:", "• model: automatic (default)", "• frames: the model's default (default)",
        "• fps: 6 (your choice)", "• aspect ratio: the model's default (default)",
        "• motion: the model's default (default)", "• language: English (default)",
        "• delivery: public, in the chat where you asked (default)"]
    assert buttons(shown.reply_markup)[3:] == [("✓ Results in the chat", "set:delivery:public"),
                                               ("Results to me privately", "set:delivery:private"),
                                               ("↺ Reset all", "set:reset")]

    query = fake.press(chat, ann, shown.message_id, "set:delivery:private")
    answer = await fake.wait_for(lambda: fake.answered.get(query))
    assert answer["text"].startswith("Saved — delivery: private, sent to you alone.")
    edited = await fake.wait_for(lambda: (m := fake.messages[(chat["id"], shown.message_id)])
                                 and "private, sent to you alone (your choice)" in m.text and m)
    assert ("✓ Results to me privately", "set:delivery:private") in buttons(edited.reply_markup)

    query = fake.press(chat, ann, shown.message_id, "set:reset")
    answer = await fake.wait_for(lambda: fake.answered.get(query))
    assert answer["text"] == "All your settings are back to their defaults."
    await fake.wait_for(lambda: "• fps: the model's default (default)" in fake.messages[(chat["id"],
                                                                                         shown.message_id)].text)
    forged = fake.press(chat, ann, shown.message_id, "set:colour:blue")
    refused = await fake.wait_for(lambda: fake.answered.get(forged))
    assert refused["show_alert"] is True and refused["text"].startswith("'colour' is not a setting")


async def test_delivery_private_sends_a_group_video_to_the_private_chat_not_the_group(fake, make_bot) -> None:
    await make_bot()
    ann = fake.user(7301, "Ann", language_code="en")
    private = fake.private_chat(ann)  # Ann started the bot: it may write to her
    group = fake.group_chat(-100730, "Makers")
    said = await ask(fake, private, ann, "/settings delivery private")
    assert said.text.startswith("Saved — delivery: private, sent to you alone.")

    request = fake.send(group, ann, "/video a red kite over the sea")
    [video] = await sent_videos(fake)
    assert int(video.params["chat_id"]) == ann["id"]  # in her private chat, not the group
    assert video.params["caption"].startswith("“a red kite over the sea”")
    [note] = replies_to(fake, group["id"], request["message_id"])
    await fake.wait_for(lambda: "I sent you the video in our private chat." in fake.messages[(group["id"],
                                                                                             note.message_id)].text)
    assert not [m for m in fake.messages.values() if m.chat_id == group["id"] and m.video]


async def test_delivery_private_to_someone_who_never_started_the_bot_falls_back_to_the_group(fake, make_bot) -> None:
    await make_bot()
    bob = fake.user(7401, "Bob", language_code="ko")  # never opened a private chat with the bot
    group = fake.group_chat(-100740, "Makers")
    said = await ask(fake, group, bob, "/settings 전달 비공개")
    assert said.text.startswith("저장했어요 — 전달 방식: 비공개, 나에게만 보내요.")

    request = fake.send(group, bob, "/video 바다 위의 연")
    video = await fake.wait_for(lambda: next((m for m in fake.messages.values() if m.video), None))
    assert video.chat_id == group["id"] and video.reply_to_message_id == request["message_id"]  # not lost
    assert video.caption.startswith("개인 채팅으로 보낼 수 없었어요. 저와 채팅을 열고 시작을 누르면")
    [tried, _] = fake.calls_to("sendVideo")
    assert int(tried.params["chat_id"]) == bob["id"]  # the private chat was tried first

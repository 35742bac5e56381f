"""Extend and the half-way preview, as Telegram users live them: the real python-telegram-bot client against
the fake Bot API server, the simulated GPU behind it."""

from __future__ import annotations

from pathlib import Path

from engine.video import probe
from tests.bot.telegram.stories import SAYS, buttons, in_each_language, replies_to, sent_videos
from tests.images import png


def frames_and_fps(tmp_path: Path, data: bytes, name: str) -> tuple[int, float]:
    path = tmp_path / name
    path.write_bytes(data)
    info = probe(path)
    return info.frames, info.fps


@in_each_language
async def test_extend_sends_a_longer_video_and_can_be_pressed_again(fake, make_bot, tmp_path: Path,
                                                                     lang: str) -> None:
    bot = await make_bot()
    ann = fake.user(1101, "Ann", language_code=lang)
    chat = fake.private_chat(ann)
    fake.send(chat, ann, photo=png(), caption="a boat --frames 6 --fps 4 --seed 3")
    [first] = await sent_videos(fake)
    [job] = await bot.jobs()
    assert (SAYS[lang]["extend"], f"extend:{job['id']}") in buttons(first.params["reply_markup"])
    video_message = next(m for m in fake.messages.values() if m.video is not None)

    pressed = fake.press(chat, ann, video_message.message_id, f"extend:{job['id']}")
    await fake.wait_for(lambda: fake.answered.get(pressed))
    assert not fake.answered[pressed]["show_alert"]
    second = (await sent_videos(fake, 2))[1]
    assert frames_and_fps(tmp_path, second.files["video"], "second.mp4") == (11, 4)  # 6, then 5 new
    assert second.params["caption"].startswith("“a boat”")

    longer = (await bot.jobs())[1]
    again = next(m for m in fake.messages.values() if m.video == second.files["video"])
    fake.press(chat, ann, again.message_id, f"extend:{longer['id']}")
    third = (await sent_videos(fake, 3))[2]
    assert frames_and_fps(tmp_path, third.files["video"], "third.mp4") == (16, 4)
    jobs = await bot.jobs()
    assert [j["state"] for j in jobs] == ["succeeded"] * 3 and [j["seed"] for j in jobs] == [3, 3, 3]


async def test_a_strangers_extend_is_refused(fake, make_bot) -> None:
    bot = await make_bot()
    ann, bob = fake.user(1102, "Ann"), fake.user(1103, "Bob")
    group = fake.group_chat(-1101)
    fake.send(group, ann, "/video a boat --frames 4")
    await sent_videos(fake)
    [job] = await bot.jobs()
    video_message = next(m for m in fake.messages.values() if m.video is not None)
    pressed = fake.press(group, bob, video_message.message_id, f"extend:{job['id']}")
    await fake.wait_for(lambda: fake.answered.get(pressed))
    assert fake.answered[pressed] == {"show_alert": True, "text": (
        "Only the person who asked for that video can extend it. Make your own with /video.")}
    assert len(await bot.jobs()) == 1


async def test_extend_with_the_days_quota_used_is_refused_and_nothing_is_charged(fake, make_bot) -> None:
    bot = await make_bot(max_jobs_per_day=1)
    ann = fake.user(1104, "Ann")
    chat = fake.private_chat(ann)
    fake.send(chat, ann, photo=png(), caption="a boat --frames 4")
    await sent_videos(fake)
    [job] = await bot.jobs()
    video_message = next(m for m in fake.messages.values() if m.video is not None)
    pressed = fake.press(chat, ann, video_message.message_id, f"extend:{job['id']}")
    await fake.wait_for(lambda: fake.answered.get(pressed))
    [note] = replies_to(fake, chat["id"], video_message.message_id)
    await fake.wait_for(lambda: "limit" in (fake.messages[(chat["id"], note.message_id)].text or ""))
    assert fake.messages[(chat["id"], note.message_id)].text.startswith(
        "You have made 1 videos today; the limit is 1 a day.")
    assert len(await bot.jobs()) == 1
    assert await bot.app.repo.ledger_balance() == {job["id"]: 0}


async def test_preview_on_puts_one_picture_on_the_progress_and_only_admins_switch_it(fake, make_bot) -> None:
    await make_bot(telegram_admin_ids="1199", simulated_seconds=1.0, simulated_steps=10)
    boss, ann = fake.user(1199, "Boss"), fake.user(1105, "Ann")
    group = fake.group_chat(-1102)
    refused = fake.send(group, ann, "/preview on")
    await fake.wait_for(lambda: replies_to(fake, group["id"], refused["message_id"]))
    assert replies_to(fake, group["id"], refused["message_id"])[0].text == (
        "Only the bot's admins can switch the preview.")

    before = fake.send(group, ann, "/video a calm lake --frames 4")  # off by default: no picture
    await sent_videos(fake)
    [note] = [m for m in replies_to(fake, group["id"], before["message_id"]) if m.video is None]
    assert not [m for m in fake.messages.values() if m.photo is not None]

    switched = fake.send(group, boss, "/preview on")
    await fake.wait_for(lambda: replies_to(fake, group["id"], switched["message_id"]))
    assert replies_to(fake, group["id"], switched["message_id"])[0].text.startswith("Preview is on here")
    asked = fake.send(group, ann, "/video a calm lake --frames 4")
    await sent_videos(fake, 2)
    [note] = [m for m in replies_to(fake, group["id"], asked["message_id"]) if m.video is None]
    [picture] = [m for m in fake.messages.values() if m.photo is not None]
    assert picture.reply_to_message_id == note.message_id and picture.photo.startswith(b"\xff\xd8")
    assert picture.caption == "👀 Half-way there: a first look."

    off = fake.send(group, boss, "/preview off")
    await fake.wait_for(lambda: replies_to(fake, group["id"], off["message_id"]))
    fake.send(group, ann, "/video a calm lake --frames 4")
    await sent_videos(fake, 3)
    assert len([m for m in fake.messages.values() if m.photo is not None]) == 1


async def test_help_names_preview(fake, make_bot) -> None:
    await make_bot()
    ann = fake.user(1106, "Ann")
    chat = fake.private_chat(ann)
    asked = fake.send(chat, ann, "/help")
    await fake.wait_for(lambda: replies_to(fake, chat["id"], asked["message_id"]))
    [reply] = replies_to(fake, chat["id"], asked["message_id"])
    assert "/preview on|off (bot admins): a preview picture at about half-way through each job here." in reply.text

"""Extend and the half-way preview, as Discord users live them: the real discord.py client against the
local Discord, the simulated GPU behind it."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from engine.video import probe
from tests.bot.discord.conftest import GUILD, Speaker
from tests.fakes.discord_api import FakeDiscord


def _button(message: Any, label: str) -> str:
    return next(custom_id for text, custom_id in message.buttons() if text.startswith(label))


def frames_and_fps(tmp_path: Path, message: Any) -> tuple[int, float]:
    [(name, data)] = message.files.items()
    path = tmp_path / name
    path.write_bytes(data)
    info = probe(path)
    return info.frames, info.fps


async def test_extend_posts_a_longer_video_and_can_be_pressed_again(fake: FakeDiscord, make_bot, tmp_path: Path,
                                                                     speaker: Speaker) -> None:
    await make_bot()
    ann = fake.user(1001, "ann")
    inter = fake.slash("video", ann, guild_id=GUILD, options={"prompt": "a fox --frames 6", "fps": 4, "seed": 3},
                       locale=speaker.locale)
    done = await fake.wait_for(lambda: (m := fake.original(inter)) and m.files and m)
    extend = _button(done, speaker.says("Extend"))
    assert extend.startswith("reelbot:extend:")

    pressed = fake.press(done, extend, ann, guild_id=GUILD, locale=speaker.locale)
    longer = await fake.wait_for(lambda: (m := fake.original(pressed)) and m.files and m)
    assert longer.id != done.id and longer.content.startswith("“a fox” " + speaker.says("· job "))
    assert frames_and_fps(tmp_path, longer) == (11, 4)  # 6 frames, then 5 new ones from the last

    again = fake.press(longer, _button(longer, speaker.says("Extend")), ann, guild_id=GUILD, locale=speaker.locale)
    longest = await fake.wait_for(lambda: (m := fake.original(again)) and m.files and m)
    assert frames_and_fps(tmp_path, longest) == (16, 4)
    assert speaker.says("· seed ") + "3" in longest.content  # the seed's lineage


async def test_a_strangers_extend_is_refused(fake: FakeDiscord, make_bot, speaker: Speaker) -> None:
    bot = await make_bot()
    ann, eve = fake.user(1001, "ann"), fake.user(1003, "eve")
    inter = fake.slash("video", ann, guild_id=GUILD, options={"prompt": "a fox --frames 4"})
    done = await fake.wait_for(lambda: (m := fake.original(inter)) and m.files and m)
    sneaky = fake.press(done, _button(done, "Extend"), eve, guild_id=GUILD, locale=speaker.locale)
    [text] = await fake.wait_for(lambda: fake.ephemeral(sneaky))
    assert text.startswith(speaker.says("Only the person who asked for that video can extend it."))
    assert (await bot.service.report()).jobs_by_state == {"succeeded": 1}


async def test_extend_with_the_days_quota_used_is_refused_and_nothing_is_charged(fake: FakeDiscord,
                                                                                  make_bot) -> None:
    bot = await make_bot(max_jobs_per_day=1)
    ann = fake.user(1001, "ann")
    inter = fake.slash("video", ann, guild_id=GUILD, options={"prompt": "a fox --frames 4"})
    done = await fake.wait_for(lambda: (m := fake.original(inter)) and m.files and m)
    pressed = fake.press(done, _button(done, "Extend"), ann, guild_id=GUILD)
    [text] = await fake.wait_for(lambda: fake.ephemeral(pressed))
    assert text.startswith("You have made 1 videos today; the limit is 1 a day.")
    job_id = done.content.split("job ")[1].split()[0]
    assert await bot.app.repo.ledger_balance() == {job_id: 0}
    assert (await bot.service.report()).jobs_by_state == {"succeeded": 1}


def preview_edits(fake: FakeDiscord, message_id: str) -> list[bytes]:
    """The pictures the bot attached to a message as preview.jpg, edit by edit."""
    found = []
    for method, path, body in fake.requests:
        if method != "PATCH" or not path.endswith(f"/messages/{message_id}") or not isinstance(body, dict):
            continue
        payload = json.loads(body.get("payload_json", b"{}"))
        names = [a.get("filename") for a in payload.get("attachments") or []]
        if "preview.jpg" in names:
            found += [data for key, data in body.items() if key.startswith("files[")]
    return found


async def test_preview_on_shows_one_picture_in_the_progress_reply_and_only_admins_switch_it(
        fake: FakeDiscord, make_bot) -> None:
    await make_bot(discord_admin_ids="2001", simulated_seconds=1.0, simulated_steps=10)
    boss, ann = fake.user(2001, "boss"), fake.user(1001, "ann")
    refused = fake.slash("preview", ann, guild_id=GUILD, options={"state": "on"}, manage_guild=True)
    [text] = await fake.wait_for(lambda: fake.ephemeral(refused))
    assert text == "Only the bot's admins can switch the preview."

    plain = fake.slash("video", ann, guild_id=GUILD, options={"prompt": "a calm lake --frames 4"})
    done = await fake.wait_for(lambda: (m := fake.original(plain)) and m.files and m)
    assert preview_edits(fake, done.id) == []  # off by default

    switched = fake.slash("preview", boss, guild_id=GUILD, options={"state": "on"})
    [text] = await fake.wait_for(lambda: fake.ephemeral(switched))
    assert text.startswith("Preview is on here")
    inter = fake.slash("video", ann, guild_id=GUILD, options={"prompt": "a calm lake --frames 4"})
    done = await fake.wait_for(lambda: (m := fake.original(inter)) and "✅" in m.content and m)
    [picture] = preview_edits(fake, done.id)
    assert picture.startswith(b"\xff\xd8")  # a JPEG
    assert list(done.files) == [f"reelbot-{done.content.split('job ')[1].split()[0]}.mp4"]  # the video took its place

    help_ = fake.slash("help", ann, guild_id=GUILD)
    [text] = await fake.wait_for(lambda: fake.ephemeral(help_))
    assert "**/preview** on|off" in text

"""Attacks a stranger in a Telegram group can try, each as the story of what they get: nothing."""

from __future__ import annotations

import asyncio
import socket

import aiohttp

from tests.bot.telegram.stories import SAYS, buttons, in_each_language, replies_to, sent_videos
from tests.fakes.telegram_api import ANONYMOUS_ADMIN, FakeTelegram
from tests.images import png


async def test_anonymous_admins_of_two_groups_are_two_users_with_their_own_jobs(fake: FakeTelegram,
                                                                               make_bot) -> None:
    bot = await make_bot(max_jobs_per_day=1, simulated_seconds=30, simulated_steps=30)
    north, south = fake.group_chat(-100701, "North"), fake.group_chat(-100702, "South")
    first = fake.send(north, ANONYMOUS_ADMIN, "/video a lighthouse", sender_chat=north)
    second = fake.send(south, ANONYMOUS_ADMIN, "/video a harbour", sender_chat=south)
    for chat, request in ((north, first), (south, second)):
        await fake.wait_for(lambda chat=chat, request=request: [
            m for m in replies_to(fake, chat["id"], request["message_id"]) if "job " in m.text])
    jobs = await bot.jobs()
    assert len(jobs) == 2  # one a day each: the second group was not refused for the first one's job
    [north_job] = [j["id"] for j in jobs if j["prompt"] == "a lighthouse"]

    # South's anonymous admin cannot cancel North's job by typing its id.
    typed = fake.send(south, ANONYMOUS_ADMIN, f"/cancel {north_job}", sender_chat=south)
    [said] = await fake.wait_for(lambda: replies_to(fake, south["id"], typed["message_id"]))
    assert "someone else's" in said.text
    assert (await bot.service.get(north_job)).state.value in ("queued", "running")


@in_each_language
async def test_status_typed_in_a_group_is_answered_privately(fake: FakeTelegram, make_bot, lang: str) -> None:
    say = SAYS[lang]
    await make_bot(telegram_admin_ids="4001")
    boss, ann = fake.user(4001, "Boss", language_code=lang), fake.user(4002, "Ann", language_code=lang)
    group = fake.group_chat(-100800, "Makers")
    fake.private_chat(boss)
    asked = fake.send(group, boss, "/status")
    [told] = await fake.wait_for(lambda: replies_to(fake, group["id"], asked["message_id"]))
    assert told.text == say["sent privately"]
    [photo] = fake.calls_to("sendPhoto")
    assert photo.params["chat_id"] == boss["id"]
    assert photo.params["caption"].startswith(say["jobs"]) and say["spend"] in photo.params["caption"]
    assert all(say["spend"] not in (m.text or "") for m in fake.messages.values() if m.chat_id == group["id"])

    # A member who is no admin of the bot learns nothing; an admin who never opened a chat is told how.
    nosy = fake.send(group, ann, "/status")
    [refused] = await fake.wait_for(lambda: replies_to(fake, group["id"], nosy["message_id"]))
    assert refused.text.startswith(say["admins only"])
    fake.fail_next("sendPhoto", error_code=403, description="Forbidden: bot can't initiate conversation with a user")
    again = fake.send(group, boss, "/status")
    [told] = await fake.wait_for(lambda: replies_to(fake, group["id"], again["message_id"]))
    assert told.text.startswith(say["only privately"])


async def test_a_forged_retry_on_someone_elses_job_is_refused(fake: FakeTelegram, make_bot) -> None:
    bot = await make_bot()
    ann, eve = fake.user(5001, "Ann"), fake.user(5002, "Eve")
    group = fake.group_chat(-100900, "Makers")
    fake.send(group, ann, photo=png(), caption=f"@{fake.bot_username} my private photo")
    await sent_videos(fake)
    job_id = (await bot.jobs())[0]["id"]
    [video_message] = [m.message_id for m in fake.messages.values() if m.chat_id == group["id"]
                       and any(data.startswith("retry:") for _, data in buttons(m.reply_markup))]
    for action in ("retry", "same"):
        query = fake.press(group, eve, video_message, f"{action}:{job_id}")
        answer = await fake.wait_for(lambda query=query: fake.answered.get(query))
        assert answer["show_alert"] is True
        assert answer["text"].startswith("Only the person who asked for that video can")
    assert len(await bot.jobs()) == 1 and len(fake.calls_to("sendVideo")) == 1
    assert buttons(fake.messages[(group["id"], video_message)].reply_markup)  # the owner still has them


async def test_the_webhook_refuses_forged_and_oversized_posts_before_reading_them(fake: FakeTelegram,
                                                                                  make_bot) -> None:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    url = f"http://127.0.0.1:{port}/tg-hook"
    await make_bot(telegram_mode="webhook", telegram_webhook_url=url, telegram_webhook_listen="127.0.0.1",
                   telegram_webhook_port=port, telegram_webhook_secret="s3cret-hook-token")
    good = {"X-Telegram-Bot-Api-Secret-Token": "s3cret-hook-token"}
    async with aiohttp.ClientSession() as http:
        for headers in ({}, {"X-Telegram-Bot-Api-Secret-Token": "s3cret-hook-tokeN"}):
            async with http.post(url, data=b"{}", headers=headers) as resp:
                assert resp.status == 403
        async with http.post(url, data=b"not json", headers=good) as resp:
            assert resp.status == 400
    # A body announced as 2 MB is refused from its headers alone: the answer comes before any of it is sent.
    reader, writer = await asyncio.open_connection("127.0.0.1", port)
    writer.write(b"POST /tg-hook HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
                 b"X-Telegram-Bot-Api-Secret-Token: s3cret-hook-token\r\nContent-Length: 2097152\r\n\r\n")
    await writer.drain()
    status_line = await asyncio.wait_for(reader.readline(), 10)
    writer.close()
    assert status_line.startswith(b"HTTP/1.1 413")
    assert fake.calls_to("sendMessage") == []  # none of it reached the bot as an update

"""Restarts, the cloud button and webhook mode, with the real PTB client against the fake Bot API."""

from __future__ import annotations

import socket

import aiohttp

from engine.backends.simulated import SimulatedBackend
from tests.bot.telegram.conftest import delivery_state
from tests.bot.telegram.stories import SAYS, buttons, in_each_language, replies_to, sent_videos, texts
from tests.images import png


@in_each_language
async def test_restart_mid_job_delivers_the_video_once(fake, make_bot, lang: str) -> None:
    say = SAYS[lang]
    first = await make_bot(simulated_seconds=20, simulated_steps=20)
    ann = fake.user(3001, "Ann", language_code=lang)
    chat = fake.private_chat(ann)
    request = fake.send(chat, ann, photo=png(), caption="the tide comes in")
    running = say["running"].format(backend="local")
    await fake.wait_for(lambda: any(running in (m.text or "") for m in fake.messages.values()))
    await first.stop()  # a clean stop puts the running job back in the queue

    second = await make_bot(simulated_seconds=0.5, simulated_steps=5)
    [video] = await sent_videos(fake)
    assert say["on"].format(backend="local") in video.params["caption"]  # the asker's language, after a restart
    [note] = [m for m in replies_to(fake, chat["id"], request["message_id"]) if m.video is None]
    await fake.wait_for(lambda: "✅" in fake.messages[(chat["id"], note.message_id)].text)
    history = texts(fake, chat["id"], note.message_id)
    assert all(t.startswith(f"“the tide comes in” {say['job']}") for t in history[1:]), history
    assert say["below"] in history[-1]
    [job] = await second.jobs()
    assert job["state"] == "succeeded"
    assert await delivery_state(second, job["id"], "delivered") == ("delivered", 1)
    [video] = fake.calls_to("sendVideo")
    assert video.params["reply_parameters"]["message_id"] == request["message_id"]


async def test_a_result_finished_while_the_bot_was_away_is_delivered_at_start(fake, make_bot) -> None:
    first = await make_bot(simulated_seconds=0.3, simulated_steps=3)
    ann = fake.user(3002, "Ann")
    chat = fake.private_chat(ann)
    fake.fail_next("sendVideo", times=1, error_code=502, description="Bad Gateway")
    fake.send(chat, ann, "/video a snowy street")
    await fake.wait_for(lambda: fake.calls_to("sendVideo"))
    await first.stop()  # the failed delivery waits in the outbox

    second = await make_bot()
    videos = await sent_videos(fake, 2)
    assert len(videos) == 2 and videos[1].files["video"].startswith(b"\x00\x00\x00")
    [job] = await second.jobs()
    assert (await delivery_state(second, job["id"], "delivered"))[0] == "delivered"


@in_each_language
async def test_run_on_cloud_now_moves_a_waiting_job(fake, make_bot, lang: str) -> None:
    say = SAYS[lang]
    local = SimulatedBackend("local", seconds=30, steps=30)
    cloud = SimulatedBackend("cloudsim", local=False, seconds=0.2, steps=2, usd_per_run=0.05)
    bot = await make_bot(backends={"local": local, "cloudsim": cloud},
                         chain_text_to_video="local,cloudsim", local_max_wait_s=3600)
    ann, bob = fake.user(3003, "Ann"), fake.user(3004, "Bob", language_code=lang)
    fake.send(fake.private_chat(ann), ann, "/video first in line")
    await fake.wait_for(lambda: any("Running" in (m.text or "") for m in fake.messages.values()))
    request = fake.send(fake.private_chat(bob), bob, "/video second in line")

    def offer() -> list[tuple[str, str]]:
        notes = replies_to(fake, bob["id"], request["message_id"])
        return [b for note in notes for b in buttons(note.reply_markup) if b[1].startswith("cloud:")]

    [(label, data)] = await fake.wait_for(offer)
    [note] = replies_to(fake, bob["id"], request["message_id"])
    assert note.text.split("\n")[-1].startswith(say["next"])  # Bob waits behind Ann's job, in his language
    assert [text for text, _ in buttons(note.reply_markup)] == [
        say["cancel"], say["cloud"].format(backend="cloudsim", cost="$0.050")]
    query = fake.press(fake.private_chat(bob), bob, note.message_id, data)
    answer = await fake.wait_for(lambda: fake.answered.get(query))
    assert answer["text"] == say["moving"].format(backend="cloudsim")
    [video] = await sent_videos(fake)
    assert video.params["chat_id"] == bob["id"]
    assert say["on"].format(backend="cloudsim") in video.params["caption"] and "$0.050" in video.params["caption"]
    jobs = {j["prompt"]: j for j in await bot.jobs()}
    assert jobs["second in line"]["backend"] == "cloudsim"
    assert jobs["first in line"]["state"] == "running"


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


async def test_webhook_mode_sets_the_webhook_and_answers_posted_updates(fake, make_bot) -> None:
    port = _free_port()
    url = f"http://127.0.0.1:{port}/tg-hook"
    await make_bot(telegram_mode="webhook", telegram_webhook_url=url, telegram_webhook_listen="127.0.0.1",
                   telegram_webhook_port=port, telegram_webhook_secret="s3cret-hook-token")
    [hook] = fake.calls_to("setWebhook")
    assert hook.params["url"] == url and hook.params["secret_token"] == "s3cret-hook-token"
    assert fake.calls_to("getUpdates") == []

    ann = fake.user(3005, "Ann")
    chat = fake.private_chat(ann)
    fake.send(chat, ann, "/video birds over a lake")
    [video] = await sent_videos(fake)
    assert video.params["chat_id"] == chat["id"]

    # Someone who does not know the secret cannot post updates to the bot.
    async with aiohttp.ClientSession() as http:
        forged = {"update_id": 999, "message": {"message_id": 1, "date": 0, "chat": chat, "from": ann,
                                                "text": "/video forged"}}
        async with http.post(url, json=forged, headers={"X-Telegram-Bot-Api-Secret-Token": "wrong"}) as resp:
            assert resp.status == 403

"""An admin runs the Telegram group from the chat (/admin, the Delete button, a private message when a model
cannot load), and a member who tries the same gets nothing. Each as the story the group lives."""

from __future__ import annotations

from typing import Any

from engine.backends.simulated import SimulatedBackend
from engine.errors import ModelUnavailable
from engine.words import N_
from tests.bot.telegram.stories import buttons, replies_to, sent_videos
from tests.fakes.telegram_api import FakeTelegram

BOSS_ID = 4001


async def said_to(fake: FakeTelegram, chat: dict[str, Any], who: dict[str, Any], text: str,
                  reply_to: int | None = None) -> str:
    """What the bot answered to a message (a job's note once it is no longer "Queuing…")."""
    sent = fake.send(chat, who, text, reply_to=reply_to)
    [answer] = await fake.wait_for(lambda: replies_to(fake, chat["id"], sent["message_id"]))
    await fake.wait_for(lambda: not answer.text.startswith("⏳"))
    return answer.text


async def test_an_admin_bans_by_replying_and_limits_by_id_and_a_member_cannot(fake: FakeTelegram,
                                                                             make_bot) -> None:
    await make_bot(telegram_admin_ids=str(BOSS_ID))
    boss, ann, mallory = fake.user(BOSS_ID, "Boss"), fake.user(4002, "Ann"), fake.user(4666, "Mallory")
    group = fake.group_chat(-100500, "Makers")

    # Mallory posts; the boss answers her message with /admin ban.
    spam = fake.send(group, mallory, "buy my stuff")
    assert (await said_to(fake, group, ann, "/admin ban", reply_to=spam["message_id"])) == (
        "Only the bot's admins can ban users.")
    said = await said_to(fake, group, boss, "/admin ban", reply_to=spam["message_id"])
    assert said.startswith("Mallory is banned: the bot refuses their next requests.")
    assert (await said_to(fake, group, mallory, "/video a heron")) == (
        "You are not allowed to make videos with this bot.")
    said = await said_to(fake, group, boss, "/admin 차단해제 4666")  # the Korean name, and her id
    assert said == "Mallory is not banned: they can make videos again."

    await said_to(fake, group, ann, "/video a heron")
    said = await said_to(fake, group, boss, "/admin limit 4002 jobs=1")
    assert said.startswith("Ann's limits now: 1 videos a day")
    said = await said_to(fake, group, ann, "/video another heron")
    assert "You have made 1 videos today; the limit is 1 a day." in said
    said = await said_to(fake, group, boss, "/admin ban @mallory")
    assert said.startswith("Telegram does not tell bots who @mallory is.")
    assert (await said_to(fake, group, boss, "/admin")).startswith("Admin commands:")


async def test_a_blocked_word_keeps_a_prompt_out(fake: FakeTelegram, make_bot) -> None:
    bot = await make_bot(telegram_admin_ids=str(BOSS_ID))
    boss, ann = fake.user(BOSS_ID, "Boss"), fake.user(4002, "Ann")
    group = fake.group_chat(-100501, "Makers")
    assert (await said_to(fake, group, ann, "/admin block heron")) == (
        "Only the bot's admins can see or change the blocked words.")
    said = await said_to(fake, group, boss, "/admin block 고양이, heron")
    assert said.splitlines()[0] == "Blocked from now on: “고양이”, “heron”."
    said = await said_to(fake, group, ann, "/video 고양이가 서핑해요")
    assert said.startswith("Your prompt contains “고양이”, which this bot does not allow.")
    assert await bot.jobs() == []
    assert (await said_to(fake, group, boss, "/admin blocklist")) == "Blocked words: “heron”, “고양이”"


async def test_the_owner_deletes_a_result_and_a_stranger_cannot(fake: FakeTelegram, make_bot) -> None:
    bot = await make_bot()
    ann, eve = fake.user(4002, "Ann"), fake.user(4003, "Eve")
    group = fake.group_chat(-100502, "Makers")
    fake.send(group, ann, "/video my cat")
    await sent_videos(fake)
    [job] = await bot.jobs()
    result = (await bot.service.get(job["id"])).result_path
    assert result is not None and result.exists()
    [video] = [m for m in fake.messages.values() if m.chat_id == group["id"]
               and any(data.startswith("delete:") for _, data in buttons(m.reply_markup))]

    query = fake.press(group, eve, video.message_id, f"delete:{job['id']}")
    answer = await fake.wait_for(lambda: fake.answered.get(query))
    assert answer["show_alert"] is True and answer["text"].startswith("That video is someone else's")
    assert not video.deleted and result.exists()

    query = fake.press(group, ann, video.message_id, f"delete:{job['id']}")
    answer = await fake.wait_for(lambda: fake.answered.get(query))
    assert answer["text"] == "Deleted."
    assert video.deleted and not result.exists()
    note = (await bot.service.get(job["id"])).origin.data["message_id"]
    assert fake.messages[(group["id"], note)].deleted  # the job's own message went too


async def test_a_gated_model_is_explained_to_the_admin_privately_and_plainly_to_the_member(
        fake: FakeTelegram, make_bot) -> None:
    def gated(_count: int, _job: Any) -> BaseException:
        return ModelUnavailable(N_("The model {model} is gated on Hugging Face.", model="svd-xt"), backend="local",
                                hint=N_("Accept its licence, then set HF_TOKEN in .env."))

    await make_bot(telegram_admin_ids=str(BOSS_ID),
                   backends={"local": SimulatedBackend("local", seconds=0.01, steps=2, failure=gated)})
    boss, ann = fake.user(BOSS_ID, "Boss"), fake.user(4002, "Ann")
    fake.private_chat(boss)
    group = fake.group_chat(-100503, "Makers")
    asked = fake.send(group, ann, "/video a heron")
    [note] = await fake.wait_for(lambda: replies_to(fake, group["id"], asked["message_id"]))
    await fake.wait_for(lambda: "❌" in note.text)
    assert "cannot be used on this bot right now; its admins have been told why." in note.text
    assert "HF_TOKEN" not in note.text
    [alert] = await fake.wait_for(lambda: [c for c in fake.calls_to("sendMessage")
                                           if c.params["chat_id"] == boss["id"]])
    assert "gated on Hugging Face" in alert.params["text"] and "HF_TOKEN" in alert.params["text"]

"""Attacks a stranger on a public Discord bot can try, each as the story of what they get: nothing."""

from __future__ import annotations

import asyncio

from sqlalchemy import text

from tests.bot.discord.conftest import GUILD
from tests.fakes.discord_api import FakeDiscord
from tests.images import png

OTHER_GUILD = 700000000000000002  # a server the attacker created themselves and added the bot to


def _button(message, label: str) -> str:
    return next(custom_id for text_, custom_id in message.buttons() if text_.startswith(label))


async def test_a_server_manager_elsewhere_gets_no_admin_powers(fake: FakeDiscord, make_bot) -> None:
    fake.guild(OTHER_GUILD)
    bot = await make_bot(simulated_seconds=30, simulated_steps=300, max_jobs_per_day=2)
    ann, mallory = fake.user(1001, "ann"), fake.user(1666, "mallory")
    victim = fake.slash("video", ann, guild_id=GUILD, options={"prompt": "ann's private idea"})
    running = await fake.wait_for(lambda: (m := fake.original(victim)) and "Running" in m.content and m)
    job_id = running.content.split("job ")[1].split()[0]

    # Mallory manages her own server. There, /status shows her server's jobs and nothing global.
    status = fake.slash("status", mallory, guild_id=OTHER_GUILD, manage_guild=True)
    [shown] = await fake.wait_for(lambda: fake.ephemeral(status))
    assert shown.startswith("This server: 0 waiting, 0 running")
    assert "ann" not in shown and job_id not in shown and "$" not in shown

    # She cannot cancel or look up Ann's job, typed or pressed.
    cancel = fake.slash("cancel", mallory, guild_id=OTHER_GUILD, manage_guild=True, options={"job": job_id})
    [said] = await fake.wait_for(lambda: fake.ephemeral(cancel))
    assert "someone else's" in said
    pressed = fake.press(running, _button(running, "Cancel"), mallory, guild_id=GUILD, manage_guild=True)
    [said] = await fake.wait_for(lambda: fake.ephemeral(pressed))
    assert "someone else's" in said
    lookup = fake.slash("job", mallory, guild_id=OTHER_GUILD, manage_guild=True, options={"job": job_id})
    [said] = await fake.wait_for(lambda: fake.ephemeral(lookup))
    assert "someone else's" in said and "private idea" not in said
    assert (await bot.service.get(job_id)).state.value == "running"

    # Her own jobs wait their turn like everyone's and count against her limits, here and in DMs.
    for where in (OTHER_GUILD, OTHER_GUILD):
        made = fake.slash("video", mallory, guild_id=where, manage_guild=True, options={"prompt": "me first"})
        await fake.wait_for(lambda made=made: (m := fake.original(made)) and "job " in m.content)
    third = fake.slash("video", mallory, options={"prompt": "from a DM"})
    [said] = await fake.wait_for(lambda: fake.ephemeral(third))
    assert "You have made 2 videos today; the limit is 2 a day." in said
    rows = await _rows(bot, "SELECT j.priority, u.role FROM jobs j JOIN users u ON u.id = j.user_id "
                            "WHERE u.external_id = '1666'")
    assert rows == [(0, "user"), (0, "user")]


async def test_a_prompt_cannot_ping_everyone_or_a_role(fake: FakeDiscord, make_bot) -> None:
    await make_bot()
    ann = fake.user(1001, "ann")
    channel = fake.guilds[str(GUILD)]["channels"][0]["id"]
    prompt = "@everyone <@&700000000000000009> <@1002> look"
    live = fake.slash("video", ann, guild_id=GUILD, options={"prompt": prompt})
    done = await fake.wait_for(lambda: (m := fake.original(live)) and m.files and m)
    assert "@everyone" in done.content and done.pings == set()  # shown, pinging nobody

    late = fake.slash("video", ann, guild_id=GUILD, options={"prompt": prompt}, age_s=14.8 * 60)
    posted = await fake.wait_for(lambda: [m for m in fake.in_channel(channel) if m.files and not m.interaction_token])
    assert posted[0].content.startswith("<@1001> ") and posted[0].pings == {"user:1001"}
    assert fake.original(late) is not None


async def test_a_forged_retry_on_someone_elses_job_is_refused(fake: FakeDiscord, make_bot) -> None:
    bot = await make_bot()
    ann, eve = fake.user(1001, "ann"), fake.user(1003, "eve")
    asked = fake.slash("video", ann, guild_id=GUILD, options={"prompt": "my holiday photo"},
                       image=("me.png", png(), "image/png"))
    done = await fake.wait_for(lambda: (m := fake.original(asked)) and m.files and m)
    jobs_before = await _rows(bot, "SELECT count(*) FROM jobs")
    for label in ("Retry", "Same seed"):
        forged = fake.press(done, _button(done, label), eve, guild_id=GUILD)
        [said] = await fake.wait_for(lambda forged=forged: fake.ephemeral(forged))
        assert said.startswith("Only the person who asked for that video can")
    assert await _rows(bot, "SELECT count(*) FROM jobs") == jobs_before
    mine = fake.press(done, _button(done, "Same seed"), ann, guild_id=GUILD)
    again = await fake.wait_for(lambda: (m := fake.original(mine)) and m.files and m)
    assert "(ltx-video)" in again.content


async def test_a_frames_flag_with_thousands_of_digits_is_a_clear_private_answer(fake: FakeDiscord,
                                                                                make_bot) -> None:
    await make_bot()
    ann = fake.user(1001, "ann")
    inter = fake.slash("video", ann, guild_id=GUILD, options={"prompt": "a cat --frames " + "9" * 5000})
    [said] = await fake.wait_for(lambda: fake.ephemeral(inter))
    assert said.startswith("--frames 999999999999… is far too large (5,000 digits).")
    await fake.wait_for(lambda: inter.original in fake.deleted)  # nothing stays in public


async def test_the_interaction_token_is_forgotten_once_the_result_is_delivered(fake: FakeDiscord,
                                                                              make_bot) -> None:
    bot = await make_bot()
    inter = fake.slash("video", fake.user(1001), guild_id=GUILD, options={"prompt": "a heron"})
    await fake.wait_for(lambda: (m := fake.original(inter)) and m.files)
    await bot.service.outbox.idle()  # the delivery is confirmed
    [(origin,)] = await _rows(bot, "SELECT origin FROM jobs")
    assert inter.token not in str(origin) and "message_id" in str(origin)


async def _rows(bot, sql: str) -> list[tuple]:
    def query() -> list[tuple]:
        with bot.app.db.transaction() as conn:
            return [tuple(r) for r in conn.execute(text(sql))]
    return await asyncio.to_thread(query)

"""An admin runs the community from Discord (/admin, the Delete button, a DM when a model cannot load), and a
member who tries the same gets nothing. Each as the story the people in the server live."""

from __future__ import annotations

from typing import Any

from engine.backends.simulated import SimulatedBackend
from engine.errors import ModelUnavailable
from engine.types import UserRef
from engine.words import N_
from tests.bot.discord.conftest import GUILD
from tests.fakes.discord_api import FakeDiscord

ADMIN_ID = 1001


def _button(message: Any, label: str) -> str:
    return next(custom_id for text_, custom_id in message.buttons() if text_.startswith(label))


async def admin(fake: FakeDiscord, who: dict[str, Any], sub: str, **options: Any) -> str:
    """``/admin sub`` with its options; what the one who typed it read (only they see it)."""
    typed = fake.slash("admin", who, guild_id=GUILD, subcommand=sub, options=options)
    [said] = await fake.wait_for(lambda: fake.ephemeral(typed))
    return said


async def video(fake: FakeDiscord, who: dict[str, Any], prompt: str) -> tuple[Any, list[str]]:
    asked = fake.slash("video", who, guild_id=GUILD, options={"prompt": prompt})
    return asked, await fake.wait_for(lambda: fake.ephemeral(asked) or (
        (m := fake.original(asked)) and "job " in m.content and [m.content]))


async def test_an_admin_bans_and_limits_members_and_a_member_cannot(fake: FakeDiscord, make_bot) -> None:
    await make_bot(discord_admin_ids=str(ADMIN_ID))
    boss, ann, mallory = fake.user(ADMIN_ID, "boss"), fake.user(1002, "ann"), fake.user(1666, "mallory")

    # Mallory tries to ban Ann: refused, Ann is untouched.
    said = await admin(fake, mallory, "ban", user=ann)
    assert said == "Only the bot's admins can ban users."
    _asked, [queued] = await video(fake, ann, "a heron")
    assert "job " in queued

    said = await admin(fake, boss, "ban", user=mallory)
    assert said.startswith("Mallory is banned: the bot refuses their next requests.")
    _asked, [refused] = await video(fake, mallory, "me again")
    assert refused == "You are not allowed to make videos with this bot."
    said = await admin(fake, boss, "unban", user=mallory)
    assert said == "Mallory is not banned: they can make videos again."
    _asked, [queued] = await video(fake, mallory, "me again")
    assert "job " in queued

    # Ann gets one video a day of her own; the rest of her limits stay the settings'.
    said = await admin(fake, boss, "limit", user=ann, limits="jobs=1 usd=default")
    assert said.startswith("Ann's limits now: 1 videos a day, $2.00 a month")
    _asked, [refused] = await video(fake, ann, "a second heron")
    assert "You have made 1 videos today; the limit is 1 a day." in refused
    said = await admin(fake, boss, "limit", user=ann, limits="jobs=lots")
    assert said.startswith("jobs=lots is not a number.")


async def test_a_blocked_word_keeps_a_prompt_out_until_it_is_unblocked(fake: FakeDiscord, make_bot) -> None:
    bot = await make_bot(discord_admin_ids=str(ADMIN_ID), blocked_words="gore")
    boss, ann = fake.user(ADMIN_ID, "boss"), fake.user(1002, "ann")
    said = await admin(fake, ann, "block", words="heron")
    assert said == "Only the bot's admins can see or change the blocked words."

    said = await admin(fake, boss, "block", words="Heron, 고양이")
    assert said.splitlines() == ["Blocked from now on: “heron”, “고양이”.", "Blocked words: “heron”, “고양이”",
                                 "From the BLOCKED_WORDS setting: “gore”"]
    asked, [refused] = await video(fake, ann, "a HERON at dawn")
    assert refused.startswith("Your prompt contains “heron”, which this bot does not allow.")
    assert fake.original(asked) is None or "job " not in fake.original(asked).content  # nothing public
    assert (await bot.service.history(_ann_ref())).total == 0

    said = await admin(fake, boss, "unblock", words="heron")
    assert said.startswith("No longer blocked: “heron”.")
    _asked, [queued] = await video(fake, ann, "a heron at dawn")
    assert "job " in queued
    said = await admin(fake, boss, "unblock", words="gore")
    assert said.startswith("“gore” is blocked by the BLOCKED_WORDS setting, not from chat.")


async def test_the_owner_deletes_a_result_and_a_stranger_cannot(fake: FakeDiscord, make_bot) -> None:
    bot = await make_bot(discord_admin_ids=str(ADMIN_ID))
    ann, eve = fake.user(1002, "ann"), fake.user(1003, "eve")
    asked = fake.slash("video", ann, guild_id=GUILD, options={"prompt": "my cat"})
    done = await fake.wait_for(lambda: (m := fake.original(asked)) and m.files and m)
    job = (await bot.service.history(_ann_ref())).items[0]
    assert job.result_path is not None and job.result_path.exists()

    pressed = fake.press(done, _button(done, "Delete"), eve, guild_id=GUILD)
    [said] = await fake.wait_for(lambda: fake.ephemeral(pressed))
    assert said == "That video is someone else's; only they or an admin can delete it."
    assert done.id in fake.messages and job.result_path.exists()

    pressed = fake.press(done, _button(done, "Delete"), ann, guild_id=GUILD)
    [said] = await fake.wait_for(lambda: fake.ephemeral(pressed))
    assert said == "Deleted."
    assert done.id in fake.deleted and done.id not in fake.messages
    assert not job.result_path.exists() and (await bot.service.get(job.id)).deleted


async def test_a_gated_model_is_explained_to_the_admins_in_a_dm_and_plainly_to_the_member(
        fake: FakeDiscord, make_bot) -> None:
    def gated(_count: int, _job: Any) -> BaseException:
        return ModelUnavailable(N_("The model {model} is gated on Hugging Face.", model="svd-xt"), backend="local",
                                hint=N_("Accept its licence, then set HF_TOKEN in .env."))

    await make_bot(discord_admin_ids=str(ADMIN_ID),
                   backends={"local": SimulatedBackend("local", seconds=0.01, steps=2, failure=gated)})
    ann = fake.user(1002, "ann")
    asked = fake.slash("video", ann, guild_id=GUILD, options={"prompt": "a heron"})
    failed = await fake.wait_for(lambda: (m := fake.original(asked)) and "❌" in m.content and m)
    assert "cannot be used on this bot right now; its admins have been told why." in failed.content
    assert "HF_TOKEN" not in failed.content
    [dm] = await fake.wait_for(lambda: fake.in_channel(fake.dm_channel(str(ADMIN_ID))))
    assert dm.content.startswith("⚠ The model ") and "gated on Hugging Face" in dm.content
    assert "HF_TOKEN" in dm.content


def _ann_ref() -> UserRef:
    return UserRef("discord", "1002", "ann")

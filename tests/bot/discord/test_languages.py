"""Whose language each Discord message is in: the user's choice, their app's, their server's, the default's;
and the commands themselves in Korean for Korean clients."""

from __future__ import annotations

import logging
import re

import discord
from discord import app_commands

from bot.discord import translator
from bot.discord.translator import CatalogTranslator, localized, slash_name
from engine.words import N_
from tests.bot.discord.conftest import GUILD, KOREAN, Speaker
from tests.fakes.discord_api import FakeDiscord

KOREAN_GUILD = 700000000000000003
# Slash commands keep their English names in Korean too: every reply (shared with Telegram) names them so, and
# Discord matches typed names in English (discord-api-docs#5001). The context menu, picked from a list, is Korean.
KOREAN_NAMES = {"Animate image": "사진을 영상으로"}


def _last_line(content: str) -> str:
    return content.splitlines()[-1]


async def test_commands_are_synced_with_korean_descriptions_that_fit(fake: FakeDiscord,
                                                                               make_bot) -> None:
    await make_bot()
    synced = fake.commands[str(GUILD)]
    assert {c["name"]: c["name_localizations"] for c in synced if c.get("name_localizations")} == {
        english: {"ko": korean} for english, korean in KOREAN_NAMES.items()}
    slash = [c for c in synced if c.get("type", 1) == 1]
    assert {c["name"] for c in slash} == {"video", "usage", "cancel", "job", "status", "help", "settings",
                                           "preview", "admin", "link", "unlink", "models"}
    assert all(slash_name(c["name"]) and re.fullmatch(r"[-_\w]{1,32}", c["name"]) for c in slash)
    video = next(c for c in synced if c["name"] == "video")
    assert video["description_localizations"] == {"ko": "글로 영상을 만들거나 사진을 움직이게 해요"}
    assert {o["name"] for o in video["options"]} >= {"prompt", "image", "seed"}  # typed options stay English
    assert all(o["description_localizations"]["ko"] and not o.get("name_localizations") for o in video["options"])

    said = []  # every description and choice name, in English and in Korean
    for command in slash:
        said += [command["description"], command["description_localizations"]["ko"]]
        for option in command["options"]:
            said += [option["description"], option["description_localizations"]["ko"]]
            for choice in option.get("choices") or []:
                said += [choice["name"], *(choice.get("name_localizations") or {}).values()]
    assert all(1 <= len(text) <= 100 for text in said), [t for t in said if not 1 <= len(t) <= 100]
    settings = next(c for c in synced if c["name"] == "settings")
    assert [o["name"] for o in settings["options"]] == ["model", "frames", "fps", "aspect", "motion", "language",
                                                         "delivery", "reset"]
    language = settings["options"][5]
    assert [(c["name"], c["value"]) for c in language["choices"]] == [
        ("English", "en"), ("한국어", "ko"), ("Automatic (your Discord app's language)", "auto")]
    assert language["choices"][2]["name_localizations"] == {"ko": "자동 (Discord 앱 언어)"}
    assert not language["choices"][1].get("name_localizations")  # a language's name is its own in every language


class _Said:
    """Words that say ``text`` whatever they are asked."""

    def __init__(self, text: str) -> None:
        self.said = text

    def text(self, _message: object) -> str:
        return self.said


async def test_a_translation_discord_would_refuse_is_left_out(monkeypatch, caplog) -> None:
    """One bad string would make Discord refuse the whole sync: it stays English instead, and is logged."""
    command = app_commands.Command(name="video", description="x", callback=_noop)
    at = app_commands.TranslationContextLocation
    description = localized(N_("How to use this bot"))
    for said, location in (("아주 긴 설명 " * 20, at.command_description), ("/두 단어", at.command_name),
                           ("/Video", at.command_name)):
        monkeypatch.setattr(translator, "words", lambda lang, said=said: _Said(said))
        context = app_commands.TranslationContext(location, command)
        with caplog.at_level(logging.ERROR):
            assert await CatalogTranslator().translate(description, discord.Locale.korean, context) is None  # type: ignore[arg-type]
    assert caplog.text.count("does not fit Discord's rules") == 3
    monkeypatch.setattr(translator, "words", lambda lang: _Said("짧은 설명"))
    context = app_commands.TranslationContext(at.command_description, command)
    assert await CatalogTranslator().translate(description, discord.Locale.korean, context) == "짧은 설명"  # type: ignore[arg-type]
    assert await CatalogTranslator().translate(description, discord.Locale.american_english, context) is None  # type: ignore[arg-type]


async def _noop(interaction: discord.Interaction) -> None:
    return None


async def test_an_english_app_in_a_korean_server_gets_english(fake: FakeDiscord, make_bot) -> None:
    fake.guild(KOREAN_GUILD, "서버", locale="ko", community=True)
    await make_bot(simulated_seconds=30, simulated_steps=300)
    ann = fake.user(1001, "ann")
    inter = fake.slash("video", ann, guild_id=KOREAN_GUILD, options={"prompt": "a fox"}, locale="en-US")
    running = await fake.wait_for(lambda: (m := fake.original(inter)) and "Running on local" in m.content and m)
    assert running.content.startswith("“a fox” · job ") and [label for label, _ in running.buttons()] == ["Cancel"]
    usage = fake.slash("usage", ann, guild_id=KOREAN_GUILD, locale="en-US")
    [text] = await fake.wait_for(lambda: fake.ephemeral(usage))
    assert text.startswith("Today: 1 of ")


async def test_an_app_in_a_language_reelbot_does_not_speak_hears_the_servers(fake: FakeDiscord, make_bot) -> None:
    fake.guild(KOREAN_GUILD, "서버", locale="ko", community=True)
    await make_bot()
    usage = fake.slash("usage", fake.user(1001), guild_id=KOREAN_GUILD, locale="ja")
    [text] = await fake.wait_for(lambda: fake.ephemeral(usage))
    assert text.startswith("오늘: 영상 0 / ")


async def test_settings_language_makes_an_english_app_hear_korean_until_auto(fake: FakeDiscord, make_bot) -> None:
    await make_bot()
    ann = fake.user(1001, "ann")
    chosen = fake.slash("settings", ann, guild_id=GUILD, options={"language": "ko"})
    [text] = await fake.wait_for(lambda: fake.ephemeral(chosen))
    assert text == "이제부터 한국어로 답할게요."

    inter = fake.slash("video", ann, guild_id=GUILD, options={"prompt": "a fox", "seed": 7})
    done = await fake.wait_for(lambda: (m := fake.original(inter)) and m.files and m)
    assert done.content.startswith("“a fox” · 작업 ") and "만에 완료" in _last_line(done.content)
    assert [label for label, _ in done.buttons()] == ["다시 만들기 (새 시드)", "같은 시드로", "이어서 만들기", "삭제"]
    usage = fake.slash("usage", ann, guild_id=GUILD)
    [text] = await fake.wait_for(lambda: fake.ephemeral(usage))
    assert text.startswith("오늘: 영상 1 / ")

    back = fake.slash("settings", ann, guild_id=GUILD, options={"language": "auto"})
    [text] = await fake.wait_for(lambda: fake.ephemeral(back))
    assert text == "From now on I'll answer you in English."
    usage = fake.slash("usage", ann, guild_id=GUILD)
    [text] = await fake.wait_for(lambda: fake.ephemeral(usage))
    assert text.startswith("Today: 1 of ")


async def test_help_names_the_commands_as_the_users_discord_shows_them(fake: FakeDiscord, make_bot,
                                                                      speaker: Speaker) -> None:
    await make_bot()
    asked = fake.slash("help", fake.user(1001), guild_id=GUILD, locale=speaker.locale)
    [text] = await fake.wait_for(lambda: fake.ephemeral(asked))
    if speaker is KOREAN:
        assert text.startswith("**/video** `prompt:`에 만들고 싶은 장면을") and "**사진을 영상으로**" in text
        assert "**/settings**로 내 설정을 봐요" in text and "--seed 7 (또는 --시드)" in text
    else:
        assert text.startswith("**/video** `prompt:` what to show") and "**Animate image**" in text
        assert "**/settings** shows your settings" in text and "`delivery:`" in text and "--seed" in text


async def test_a_late_result_is_posted_in_the_servers_language_and_a_dm_in_the_askers(fake: FakeDiscord,
                                                                                    make_bot) -> None:
    """The asker's app is in English; their server chose Korean. A result posted in the channel after the
    interaction expired is for everyone there: Korean, calling the asker. A DM is the asker's own: English."""
    channel = fake.guild(KOREAN_GUILD, "서버", locale="ko", community=True)["id"]
    await make_bot()
    ann = fake.user(1001, "ann")
    fake.slash("video", ann, guild_id=KOREAN_GUILD, options={"prompt": "an old request", "seed": 3},
               age_s=14.8 * 60, locale="en-US")
    [posted] = await fake.wait_for(lambda: [m for m in fake.in_channel(channel) if m.files])
    assert posted.content.startswith("<@1001> “an old request” · 작업 ") and posted.pings == {"user:1001"}
    assert "만에 완료" in _last_line(posted.content) and "시드 3" in _last_line(posted.content)
    assert [label for label, _ in posted.buttons()] == ["다시 만들기 (새 시드)", "같은 시드로", "이어서 만들기", "삭제"]

    fake.fail_next.append((f"/channels/{channel}/messages", 403, {"code": 50013, "message": "Missing Permissions"}))
    fake.slash("video", ann, guild_id=KOREAN_GUILD, options={"prompt": "a private result"}, age_s=14.8 * 60,
               locale="en-US")
    [dm] = await fake.wait_for(lambda: [m for m in fake.in_channel(fake.dm_channel(ann["id"])) if m.files])
    assert dm.content.startswith("“a private result” · job ") and "✅ Done in" in dm.content


async def test_a_server_that_cannot_choose_a_language_hears_the_default(fake: FakeDiscord, make_bot) -> None:
    """Only Community servers choose a language; Discord says en-US for every other one, so a late result in
    an ordinary server is in DEFAULT_LANGUAGE, while the asker's own reply follows their app."""
    channel = fake.guilds[str(GUILD)]["channels"][0]["id"]
    await make_bot(default_language="ko")
    ann = fake.user(1001, "ann")
    now = fake.slash("video", ann, guild_id=GUILD, options={"prompt": "now"}, locale="en-US")
    done = await fake.wait_for(lambda: (m := fake.original(now)) and m.files and m)
    assert "✅ Done in" in done.content
    fake.slash("video", ann, guild_id=GUILD, options={"prompt": "later"}, age_s=14.8 * 60, locale="en-US")
    [posted] = await fake.wait_for(lambda: [m for m in fake.in_channel(channel) if m.files and not m.interaction_token])
    assert posted.content.startswith("<@1001> “later” · 작업 ") and "만에 완료" in posted.content

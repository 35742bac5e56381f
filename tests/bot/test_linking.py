"""One person, one account: the stories of /link and /unlink told on Discord, Telegram and the web console of
one running reelbot (the real discord.py and python-telegram-bot clients against the local fakes)."""

from __future__ import annotations

import asyncio
import base64
import json
import re
from collections.abc import AsyncIterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import pytest
from itsdangerous import TimestampSigner

from bot.web.frontend import WebFrontend
from engine.types import UserRef
from reelbot.app import App
from tests.bot.telegram.stories import replies_to
from tests.bot.web.conftest import csrf_of
from tests.conftest import make_settings
from tests.fakes.discord_api import FakeDiscord
from tests.fakes.telegram_api import FakeTelegram

GUILD = 700000000000000001
ADMIN = 1900  # a Discord admin of the bot (DISCORD_ADMIN_IDS)
CODE = re.compile(r"[A-HJ-NP-Z2-9]{4}-[A-HJ-NP-Z2-9]{4}")

SAYS = {
    "en": {
        "code": "Your code: ",
        "linked": "Linked: Telegram Tom, Discord Dee are now one account",
        "unlinked": "Unlinked: Discord Dee is on its own again, apart from Telegram Tom.",
        "today 1": "Today: 1 of 5 videos.",
        "today 0": "Today: 0 of 5 videos.",
        "wrong": "That code is not right, or it was already used.",
        "too many": "Too many wrong codes were typed; linking is paused for a while.",
        "own": "That code is for your other account",
        "burned": "Codes are typed only in our private chat: that code was seen here, so it no longer works.",
        "private": "Link codes are only given and typed in our private chat",
        "banned": "You are not allowed to make videos with this bot.",
        "banned link": "A banned account cannot be linked.",
        "admins only": "Only the bot's admins can see /status.",
        "one a day": "You have made 1 videos today; the limit is 1 a day.",
    },
    "ko": {
        "code": "코드: ",
        "linked": "연결했어요. 이제 Telegram Tom, Discord Dee은(는) 하나의 계정이에요.",
        "unlinked": "연결을 끊었어요. Discord Dee은(는) 이제 Telegram Tom와(과) 따로예요.",
        "today 1": "오늘: 영상 1 / 5개.",
        "today 0": "오늘: 영상 0 / 5개.",
        "wrong": "코드가 맞지 않거나 이미 사용된 코드예요.",
        "too many": "틀린 코드가 너무 많이 입력돼서 잠시 연결을 멈췄어요.",
        "own": "이 코드는 다른 계정용이에요.",
        "burned": "코드는 개인 채팅에서만 입력해 주세요. 이 코드는 여기서 다른 사람에게 보였으니 이제 쓸 수 없어요.",
        "private": "연결 코드는 다른 사람이 볼 수 없도록 개인 채팅에서만 주고받아요.",
        "banned": "이 봇으로 영상을 만들 수 없도록 제한되어 있어요.",
        "banned link": "이용이 제한된 계정은 연결할 수 없어요.",
        "admins only": "/status는 봇 관리자만 볼 수 있어요.",
        "one a day": "오늘 영상을 1개 만들었어요. 하루에 1개까지 만들 수 있어요.",
    },
}
LOCALES = {"en": "en-US", "ko": "ko"}


@dataclass
class World:
    """One reelbot with all three front ends, and the people in it."""

    app: App
    discord: FakeDiscord
    telegram: FakeTelegram
    lang: str

    @property
    def web_url(self) -> str:
        web = next(f for f in self.app.frontends if isinstance(f, WebFrontend))
        return f"http://127.0.0.1:{web.server.port}"

    def says(self, key: str) -> str:
        return SAYS[self.lang][key]

    async def tg(self, user: dict[str, Any], text: str, chat: dict[str, Any] | None = None) -> str:
        """What the bot answers ``user`` on Telegram (in their private chat unless ``chat``)."""
        chat = chat or self.telegram.private_chat(user)
        sent = self.telegram.send(chat, user, text)
        [reply] = await self.telegram.wait_for(lambda: replies_to(self.telegram, chat["id"], sent["message_id"]))
        return str(reply.text)

    async def dc(self, user: dict[str, Any], command: str, **options: Any) -> str:
        """What the bot answers ``user``'s slash command on Discord (to them alone)."""
        inter = self.discord.slash(command, user, guild_id=GUILD, options=options or None,
                                   locale=LOCALES[self.lang])
        [text] = await self.discord.wait_for(lambda: self.discord.ephemeral(inter))
        return text

    async def link_tom_to_dee(self, tom: dict[str, Any], dee: dict[str, Any]) -> None:
        given = await self.tg(tom, "/link")
        assert given.startswith(self.says("code")), given
        linked = await self.dc(dee, "link", code=CODE.search(given).group(0).lower())  # any case works
        assert linked.startswith(self.says("linked")), linked


@pytest.fixture(params=["en", "ko"])
async def world(request: pytest.FixtureRequest, tmp_path: Path) -> AsyncIterator[World]:
    discord, telegram = FakeDiscord(), FakeTelegram()
    discord.guild(GUILD)
    await discord.start()
    await telegram.start()
    settings = make_settings(
        tmp_path, discord_token=discord.token, discord_api_base_url=discord.api_url,
        discord_gateway_url=discord.gateway_url, discord_command_guilds=str(GUILD), discord_edit_interval_s=0.2,
        discord_admin_ids=str(ADMIN), telegram_token=telegram.token, telegram_api_base_url=telegram.base_url,
        telegram_file_base_url=telegram.base_file_url, telegram_edit_interval_private_s=0.2,
        telegram_poll_timeout_s=1, web_enabled=True, web_port=0, max_jobs_per_day=5,
        default_language=request.param,
    )
    app = await App.launch(settings, lock=False, frontends=True)
    try:
        yield World(app, discord, telegram, request.param)
    finally:
        await app.close()
        await telegram.stop()
        await discord.stop()
        assert discord.spec_errors == [] and telegram.spec_errors == []


def people(world: World) -> tuple[dict[str, Any], dict[str, Any]]:
    code = None if world.lang == "en" else "ko"
    return world.telegram.user(7001, "Tom", language_code=code), world.discord.user(1001, "dee")


async def test_linked_on_telegram_and_discord_one_person_has_one_quota_and_one_history(world: World) -> None:
    tom, dee = people(world)
    await world.link_tom_to_dee(tom, dee)

    chat = world.telegram.private_chat(tom)
    asked = world.telegram.send(chat, tom, "/video a lighthouse in fog")  # made on Telegram...
    job_id = await world.telegram.wait_for(lambda: next(
        (found.group(1) for m in replies_to(world.telegram, chat["id"], asked["message_id"]) for edit in m.edits
         if (found := re.search(r"(?:job|작업) (\w{8})", edit))), None))
    await world.app.service.wait(job_id)
    assert (await world.dc(dee, "usage")).startswith(world.says("today 1"))  # ...counted on Discord
    assert (await world.tg(tom, "/usage")).startswith(world.says("today 1"))

    # ...and in the web history of the person signed in with Discord, whose job it is there too
    async with httpx.AsyncClient(base_url=world.web_url, timeout=30) as browser:
        _sign_in(world, browser, UserRef("discord", dee["id"], "Dee"))
        videos = await browser.get("/videos")
        assert "a lighthouse in fog" in videos.text
        assert (await browser.get(f"/videos/{job_id}.mp4")).status_code == 200
        page = await browser.get("/link")
        assert "Telegram Tom, Discord Dee" in page.text

    unlinked = await world.dc(dee, "unlink")
    assert unlinked.startswith(world.says("unlinked")), unlinked
    assert (await world.dc(dee, "usage")).startswith(world.says("today 0"))  # the job stays with who made it
    assert (await world.tg(tom, "/usage")).startswith(world.says("today 1"))


async def test_a_language_chosen_on_one_platform_is_the_whole_accounts(world: World) -> None:
    tom, dee = people(world)
    await world.link_tom_to_dee(tom, dee)
    other = "ko" if world.lang == "en" else "en"
    await world.tg(tom, f"/settings language {other}")
    assert (await world.dc(dee, "usage")).startswith(SAYS[other]["today 0"])  # whatever Dee's Discord app says


async def test_the_web_console_gives_and_takes_codes_like_the_chats(world: World) -> None:
    tom, dee = people(world)
    async with httpx.AsyncClient(base_url=world.web_url, timeout=30) as browser:
        _sign_in(world, browser, UserRef("discord", dee["id"], "Dee"))
        csrf = await csrf_of(browser, "/link")
        given = await browser.post("/link", data={"csrf": csrf, "action": "code"})
        code = CODE.search(given.text).group(0)
        linked = await world.tg(tom, f"/link {code}")
        assert linked.startswith(SAYS[world.lang]["linked"].replace("Telegram Tom, Discord Dee",
                                                                     "Discord Dee, Telegram Tom")), linked
        unlink = await browser.post("/link", data={"csrf": csrf, "action": "unlink"})
        assert "Discord Dee" in unlink.text and unlink.status_code == 200
    assert (await world.tg(tom, "/unlink")).startswith(
        {"en": "This account is not linked with any other.", "ko": "이 계정은 다른 계정과 연결돼 있지 않아요."}[world.lang])


async def test_wrong_reused_own_and_group_chat_codes_are_refused_and_guessing_stops(world: World) -> None:
    tom, dee = people(world)
    eve = world.discord.user(1003, "eve")
    given = await world.tg(tom, "/link")
    code = CODE.search(given).group(0)
    assert (await world.tg(tom, f"/link {code}")).startswith(world.says("own"))  # typed where it was given

    # a code typed in a group is taken down and stops working for anyone
    group = world.telegram.group_chat(-100500, "Makers")
    assert (await world.tg(tom, f"/link {code}", chat=group)).startswith(world.says("burned"))
    assert any(m.deleted for m in world.telegram.messages.values() if m.chat_id == group["id"]) or \
        world.telegram.calls_to("deleteMessage")
    assert (await world.dc(dee, "link", code=code)).startswith(world.says("wrong"))
    assert (await world.tg(tom, "/link", chat=group)).startswith(world.says("private"))  # no code in a group

    code = CODE.search(await world.tg(tom, "/link")).group(0)  # a new one, kept private
    for guess in ("AAAA-AAAA", "BBBB-BBBB", "CCCC-CCCC", "DDDD-DDDD", "EEEE-EEEE"):
        assert (await world.dc(eve, "link", code=guess)).startswith(world.says("wrong"))
    stopped = await world.dc(eve, "link", code=code)  # the right code, but Eve has guessed enough
    assert stopped.startswith(world.says("too many")), stopped
    assert (await world.dc(dee, "link", code=code)).startswith(world.says("linked"))  # Dee is not locked out
    assert (await world.dc(eve, "link", code=code)).startswith(world.says("too many"))
    reused = await world.dc(world.discord.user(1004, "ann"), "link", code=code)
    assert reused.startswith(world.says("wrong"))  # used once


async def test_banned_stays_banned_and_linking_makes_no_one_an_admin(world: World) -> None:
    tom, dee = people(world)
    boss = world.discord.user(ADMIN, "boss")
    service = world.app.service
    admin = UserRef("discord", str(ADMIN), "Boss")

    # the admin links their own Telegram: it stays a plain user there
    code = CODE.search(await world.dc(boss, "link")).group(0)
    assert (await world.tg(tom, f"/link {code}")).startswith(world.says("linked").split(" ")[0])
    assert (await world.tg(tom, "/status")).startswith(world.says("admins only"))
    assert service.is_admin(admin) and not service.is_admin(UserRef("telegram", str(tom["id"])))
    await world.tg(tom, "/unlink")

    # a ban of the Telegram identity is the account's, on Discord too; unlinking does not lift it
    await world.link_tom_to_dee(tom, dee)
    await service.ban(admin, f"telegram:{tom['id']}")
    refused = world.discord.slash("video", dee, guild_id=GUILD, options={"prompt": "a boat"},
                                  locale=LOCALES[world.lang])
    [text] = await world.discord.wait_for(lambda: world.discord.ephemeral(refused))
    assert text.startswith(world.says("banned"))
    await world.dc(dee, "unlink")
    refused = world.discord.slash("video", dee, guild_id=GUILD, options={"prompt": "a boat"},
                                  locale=LOCALES[world.lang])
    [text] = await world.discord.wait_for(lambda: world.discord.ephemeral(refused))
    assert text.startswith(world.says("banned"))
    assert (await world.tg(tom, "/link")).startswith(world.says("banned link"))  # no way out by linking
    ann = world.telegram.user(7003, "Ann", language_code=None if world.lang == "en" else "ko")
    code = CODE.search(await world.tg(ann, "/link")).group(0)
    assert (await world.dc(dee, "link", code=code)).startswith(world.says("banned link"))


async def test_both_chats_at_once_on_a_one_a_day_account_make_exactly_one_video(world: World) -> None:
    tom, dee = people(world)
    await world.link_tom_to_dee(tom, dee)
    service = world.app.service
    await service.set_limits(UserRef("discord", str(ADMIN)), f"discord:{dee['id']}", max_jobs_per_day=1)
    chat = world.telegram.private_chat(tom)
    on_telegram = world.telegram.send(chat, tom, "/video a fox at dawn")
    on_discord = world.discord.slash("video", dee, guild_id=GUILD, options={"prompt": "a fox at dusk"},
                                     locale=LOCALES[world.lang])
    said_tg = await world.telegram.wait_for(
        lambda: [m for m in replies_to(world.telegram, chat["id"], on_telegram["message_id"])
                 if "⏳" not in m.edits[-1] or len(m.edits) > 1])
    await world.discord.wait_for(lambda: world.discord.ephemeral(on_discord) or
                                 ((m := world.discord.original(on_discord)) and "·" in m.content))
    await asyncio.gather(*(service.wait(j.id) for j in (await service.history(UserRef("telegram", str(tom["id"])))).items))
    jobs = (await service.history(UserRef("telegram", str(tom["id"])))).items
    refusals = [t for t in [*world.discord.ephemeral(on_discord), said_tg[0].edits[-1]] if world.says("one a day") in t]
    assert len(jobs) == 1 and len(refusals) == 1, (jobs, refusals)


def _sign_in(world: World, client: Any, user: UserRef) -> None:
    """The cookie the console gives after a Discord or Telegram sign-in (as tests/bot/web/conftest.py makes it)."""
    web = next(f for f in world.app.frontends if isinstance(f, WebFrontend))
    payload = {"who": user.key, "name": user.name, "csrf": "t-" + user.user_id}
    cookie = TimestampSigner(web.config.secret_key).sign(base64.b64encode(json.dumps(payload).encode())).decode()
    client.cookies.set("reelbot_session", cookie, domain="127.0.0.1")

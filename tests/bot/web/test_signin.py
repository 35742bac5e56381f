"""Signing in to the console with a chat account: the same person, quota and history as in chat; and the
operator's ways in. (bot/web/oauth.py's own tests check every refusal of the platforms' answers.)"""

from __future__ import annotations

from pathlib import Path
from urllib.parse import urlsplit

import httpx

from engine.types import Options, Origin, SubmitRequest, UserRef
from tests.bot.web.conftest import ADMIN_DISCORD_ID, Web, close_web, csrf_of, open_web, with_discord
from tests.fakes.telegram_api import FakeTelegram


async def follow(client: httpx.AsyncClient, url: str, *, hops: int = 5) -> httpx.Response:
    """A browser following redirects across sites (the console, then Discord, then back)."""
    for _ in range(hops):
        if url.startswith("/"):
            answer = await client.get(url)
        else:
            async with httpx.AsyncClient(follow_redirects=False) as outside:  # another site's cookies stay there
                answer = await outside.get(url)
        if answer.status_code not in (301, 302, 303, 307):
            return answer
        url = answer.headers["location"]
        parts = urlsplit(url)
        if parts.netloc == urlsplit(str(client.base_url)).netloc:
            url = parts.path + (f"?{parts.query}" if parts.query else "")
    return answer


async def test_ann_signs_in_with_discord_and_finds_her_chat_videos(tmp_path: Path) -> None:
    async with with_discord(tmp_path) as (web, discord):
        discord.sign_in_as(discord.user(777000111222333444, "ann"))
        ann = UserRef("discord", "777000111222333444", "Ann")
        made = await web.app.service.submit(SubmitRequest(ann, "made in discord", Origin("discord", "5"),
                                                          Options(frames=8)))
        await web.wait(made.id)
        browser = web.client()
        login = await browser.get("/login")
        assert "Sign in with Discord" in login.text

        home = await follow(browser, "/auth/discord")

        assert home.status_code == 200 and "Make a video" in home.text and 'title="discord:777000111222333444"' in home.text
        assert "made in discord" in (await browser.get("/videos")).text
        assert (await browser.get("/admin", headers={"Accept": "text/html"})).status_code == 403


async def test_a_discord_admin_who_signs_in_gets_the_admin_pages(tmp_path: Path) -> None:
    async with with_discord(tmp_path) as (web, discord):
        discord.sign_in_as(discord.user(int(ADMIN_DISCORD_ID), "boss"))
        browser = web.client()
        await follow(browser, "/auth/discord")
        assert (await browser.get("/admin")).status_code == 200


async def test_a_discord_redirect_this_browser_did_not_start_signs_no_one_in(tmp_path: Path) -> None:
    async with with_discord(tmp_path) as (web, discord):
        discord.sign_in_as(discord.user(int(ADMIN_DISCORD_ID), "boss"))
        attacker, victim = web.client(), web.client()
        start = await attacker.get("/auth/discord")  # the attacker's own sign-in, handed to the victim
        async with httpx.AsyncClient() as outside:
            back = (await outside.get(start.headers["location"])).headers["location"]
        parts = urlsplit(back)

        answer = await victim.get(f"{parts.path}?{parts.query}")

        assert answer.status_code == 403 and "This sign-in did not start on this page" in answer.text
        assert (await victim.get("/admin", headers={"Accept": "text/html"})).headers["location"] == "/login"


async def test_minji_signs_in_with_telegram_and_a_forged_one_is_refused(tmp_path: Path) -> None:
    telegram = FakeTelegram()
    await telegram.start()
    telegram.login_domain = "127.0.0.1"
    web = await open_web(tmp_path, telegram_token=telegram.token, telegram_api_base_url=telegram.base_url,
                         telegram_file_base_url=telegram.base_file_url, telegram_login_url=telegram.oauth_url)
    try:
        telegram.login_user = {"id": 5550001, "first_name": "Minji", "username": "minji"}
        browser = web.client()
        login = await browser.get("/login")
        assert "Sign in with Telegram" in login.text
        link = login.text.split('class="button telegram" href="')[1].split('"')[0].replace("&amp;", "&")
        async with httpx.AsyncClient() as outside:
            back = (await outside.get(link)).headers["location"]  # Telegram sends her back with #tgAuthResult=
        result = back.split("#tgAuthResult=", 1)[1]

        page = await browser.get("/auth/telegram")  # what the page's script then does with the fragment:
        assert "Signing you in" in page.text
        home = await follow(browser, f"/auth/telegram?result={result}")

        assert home.status_code == 200 and 'title="telegram:5550001"' in home.text
        forged = dict(telegram.login_data({"id": 1, "first_name": "Admin"}), hash="0" * 64)
        stranger = web.client()
        refused = await stranger.get("/auth/telegram", params={k: str(v) for k, v in forged.items()})
        assert refused.status_code == 403
        assert (await stranger.get("/", headers={"Accept": "text/html"})).headers["location"] == "/login"
    finally:
        await close_web(web)
        await telegram.stop()


async def test_signing_out_ends_the_session(web: Web) -> None:
    operator = await web.operator()
    csrf = await csrf_of(operator)

    out = await operator.post("/logout", data={"csrf": csrf})

    assert out.status_code == 303 and out.headers["location"] == "/login"
    assert (await operator.get("/", headers={"Accept": "text/html"})).headers["location"] == "/login"

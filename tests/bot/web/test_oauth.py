"""Signing in to the web console with a Discord or Telegram account, checked on the server against a local
Discord (OAuth2) and a local oauth.telegram.org: the person ends up as the same account their chat jobs are
kept under, and every answer that is forged, replayed, stale or malformed is refused in words they read."""

from __future__ import annotations

import base64
import hashlib
import hmac
import html
import json
import secrets
import socket
import time
from collections.abc import AsyncIterator
from dataclasses import replace
from typing import Any
from urllib.parse import parse_qs, parse_qsl, urlsplit

import aiohttp
import pytest
from starlette.applications import Starlette
from starlette.middleware import Middleware
from starlette.middleware.sessions import SessionMiddleware
from starlette.requests import Request
from starlette.responses import HTMLResponse, RedirectResponse
from starlette.routing import Route

from bot.i18n import Words
from bot.web.oauth import (
    ChatAccount,
    DiscordOAuth,
    SignInFailed,
    TelegramLogin,
    new_state,
    parse_tg_auth_result,
)
from tests.browser import Browser, serve
from tests.fakes.discord_api import FakeDiscord
from tests.fakes.openapi import load, schema_problems
from tests.fakes.telegram_api import FakeTelegram

CONSOLE = "http://127.0.0.1:8080"  # where the console is, for the platforms: nothing needs to listen there
DISCORD_BACK = CONSOLE + "/sign-in/discord"
TELEGRAM_BACK = CONSOLE + "/sign-in/telegram"
KO = Words("ko")


@pytest.fixture
async def discord() -> AsyncIterator[FakeDiscord]:
    fake = await FakeDiscord().start()
    fake.redirect_uris.append(DISCORD_BACK)  # as registered in the Developer Portal (OAuth2 → Redirects)
    yield fake
    await fake.stop()


@pytest.fixture
async def telegram() -> AsyncIterator[FakeTelegram]:
    fake = FakeTelegram()
    await fake.start()
    fake.login_domain = "127.0.0.1"  # @BotFather's /setdomain
    yield fake
    await fake.stop()


@pytest.fixture
async def http() -> AsyncIterator[aiohttp.ClientSession]:
    async with aiohttp.ClientSession() as session:
        yield session


def console_for(discord: FakeDiscord) -> DiscordOAuth:
    return DiscordOAuth(client_id=discord.app_id, client_secret=discord.client_secret, redirect_uri=DISCORD_BACK,
                        api_base_url=discord.api_url, oauth_base_url=discord.url)


async def approve(http: aiohttp.ClientSession, url: str) -> str:
    """The browser at the platform's sign-in page: where the platform sends it back."""
    async with http.get(url, allow_redirects=False) as page:
        assert page.status == 302, f"{page.status}: {await page.text()}"
        return page.headers["Location"]


async def discord_code(http: aiohttp.ClientSession, oauth: DiscordOAuth, state: str) -> dict[str, str]:
    back = await approve(http, oauth.authorize_url(state))
    assert back.startswith(DISCORD_BACK + "?")
    return dict(parse_qsl(urlsplit(back).query))


def refusal(failed: pytest.ExceptionInfo[SignInFailed]) -> tuple[str, str, str]:
    """What the person reads, in English and in Korean, and the reason the console sees."""
    error = failed.value
    return (f"{error.message} {error.hint or ''}".strip(), f"{KO.text(error.text)} {KO.text(error.hint_text)}".strip(),
            error.reason)


# --- Discord ------------------------------------------------------------------------------------------------


async def test_ann_signs_in_with_discord_as_the_account_her_chat_jobs_are_under(
        discord: FakeDiscord, http: aiohttp.ClientSession) -> None:
    discord.sign_in_as(discord.user(1001, "ann"), locale="ko")
    oauth = console_for(discord)
    state = new_state()
    asked = parse_qs(urlsplit(oauth.authorize_url(state)).query)
    assert {k: v[0] for k, v in asked.items()} == {
        "response_type": "code", "client_id": discord.app_id, "scope": "identify", "redirect_uri": DISCORD_BACK,
        "state": state, "prompt": "none"}

    code = oauth.code_from(await discord_code(http, oauth, state), state)
    account = await oauth.sign_in(http, code)

    assert account == ChatAccount("discord", "1001", "Ann", "ko")
    assert account.user.key == "discord:1001"
    # The code went to the token endpoint with the redirect it was given for; the secret only in the header.
    assert ("POST", "/oauth2/token", {"grant_type": "authorization_code", "code": code,
                                      "redirect_uri": DISCORD_BACK}) in discord.requests
    assert discord.spec_errors == []
    spec = load("discord-openapi.json")
    assert schema_problems(spec, spec["components"]["schemas"]["UserPIIResponse"], discord.signed_in, "@me") == []


async def test_a_sign_in_code_works_once(discord: FakeDiscord, http: aiohttp.ClientSession) -> None:
    discord.sign_in_as(discord.user(1001, "ann"))
    oauth = console_for(discord)
    state = new_state()
    code = oauth.code_from(await discord_code(http, oauth, state), state)
    assert (await oauth.sign_in(http, code)).user_id == "1001"

    with pytest.raises(SignInFailed) as replayed:
        await oauth.sign_in(http, code)
    assert refusal(replayed) == (
        "Discord did not accept this sign-in: it was already used or has expired. Sign in again.",
        "Discord가 이 로그인을 받아들이지 않았어요. 이미 쓰였거나 만료됐어요. 다시 로그인해 주세요.",
        "invalid_grant")
    assert replayed.value.detail == 'token: 400 invalid_grant Invalid "code" in request.'


async def test_a_code_is_only_good_with_the_redirect_it_was_given_for(
        discord: FakeDiscord, http: aiohttp.ClientSession) -> None:
    discord.sign_in_as(discord.user(1001, "ann"))
    oauth = console_for(discord)
    state = new_state()
    code = oauth.code_from(await discord_code(http, oauth, state), state)
    elsewhere = replace(oauth, redirect_uri="http://127.0.0.1:8080/elsewhere")
    with pytest.raises(SignInFailed) as failed:
        await elsewhere.sign_in(http, code)
    assert failed.value.reason == "invalid_grant"
    assert failed.value.detail == 'token: 400 invalid_grant Invalid "redirect_uri" in request.'


async def test_discord_sends_no_one_to_a_redirect_the_application_did_not_register(
        discord: FakeDiscord, http: aiohttp.ClientSession) -> None:
    discord.sign_in_as(discord.user(1001, "ann"))
    stranger = replace(console_for(discord), redirect_uri="https://evil.example/steal")
    async with http.get(stranger.authorize_url(new_state()), allow_redirects=False) as page:
        assert (page.status, await page.text()) == (400, "Invalid OAuth2 redirect_uri")


async def test_a_console_with_the_wrong_client_secret_is_told_to_its_admin(
        discord: FakeDiscord, http: aiohttp.ClientSession) -> None:
    discord.sign_in_as(discord.user(1001, "ann"))
    oauth = replace(console_for(discord), client_secret="an-old-secret")
    state = new_state()
    code = oauth.code_from(await discord_code(http, oauth, state), state)
    with pytest.raises(SignInFailed) as failed:
        await oauth.sign_in(http, code)
    assert refusal(failed) == (
        "Discord refused the web console's client ID or secret. "
        "An admin must copy them again from the Developer Portal (your app → OAuth2).",
        "Discord가 웹 콘솔의 클라이언트 ID나 시크릿을 거부했어요. 관리자가 Developer Portal(내 앱 → OAuth2)에서 "
        "다시 복사해 넣어야 해요.",
        "invalid_client")


async def test_pressing_cancel_on_discord_signs_no_one_in(discord: FakeDiscord, http: aiohttp.ClientSession) -> None:
    discord.sign_in_as(discord.user(1001, "ann"), approves=False)
    oauth = console_for(discord)
    state = new_state()
    back = await discord_code(http, oauth, state)
    assert back["error"] == "access_denied" and back["state"] == state
    with pytest.raises(SignInFailed) as failed:
        oauth.code_from(back, state)
    assert refusal(failed) == (
        "You did not allow reelbot to see your Discord account, so you are not signed in. "
        "Sign in again and choose Authorize.",
        "reelbot이 Discord 계정을 볼 수 있게 허용하지 않아서 로그인되지 않았어요. 다시 로그인하고 승인해 주세요.",
        "declined")


@pytest.mark.parametrize("session_state", ["another-browsers-state", None])
async def test_a_redirect_that_this_browser_did_not_start_is_refused(
        discord: FakeDiscord, http: aiohttp.ClientSession, session_state: str | None) -> None:
    """Someone sends Ann a link to the console's redirect with *their* code (login CSRF): the state in it
    is not the one Ann's session holds (or her session holds none), so she is not signed in as them."""
    discord.sign_in_as(discord.user(666, "mallory"))
    oauth = console_for(discord)
    back = await discord_code(http, oauth, new_state())
    with pytest.raises(SignInFailed) as failed:
        oauth.code_from(back, session_state)
    assert refusal(failed)[1:] == ("이 로그인은 이 페이지에서 시작되지 않았거나 너무 오래됐어요. 다시 로그인해 주세요.",
                                   "state")


USER = {"id": "1001", "username": "ann", "avatar": None, "discriminator": "0", "public_flags": 0, "flags": 0,
        "global_name": "Ann", "mfa_enabled": False, "locale": "en-US"}
TOKEN = {"token_type": "Bearer", "access_token": "abc", "expires_in": 604800, "refresh_token": "r", "scope": "identify"}


@pytest.mark.parametrize(("step", "status", "answer", "problem"), [
    ("/users/@me", 200, {**USER, "id": "10o1"}, "user: id: String should match pattern"),
    ("/users/@me", 200, {**USER, "id": 1001}, "user: id: Input should be a valid string"),
    ("/users/@me", 200, {**USER, "id": "01001"}, "user: id: String should match pattern"),
    ("/users/@me", 200, {**USER, "id": str(1 << 64)}, "user: id: Value error, the id does not fit in 64 bits"),
    ("/users/@me", 200, {k: v for k, v in USER.items() if k != "username"}, "user: username: Field required"),
    ("/users/@me", 200, {**USER, "bot": True}, "user: bot: Value error, a bot account cannot sign in"),
    ("/users/@me", 200, {**USER, "locale": "<script>"}, "user: locale: String should match pattern"),
    ("/users/@me", 200, ["not", "a", "user"], "user: answer: Input should be a valid dictionary"),
    ("/oauth2/token", 200, {**TOKEN, "token_type": "MAC"}, "token: token_type: Value error, token_type is 'MAC', not Bearer"),
    ("/oauth2/token", 200, {**TOKEN, "scope": "email"}, "token: scope: Value error, the token's scope 'email' lacks identify"),
    ("/oauth2/token", 200, {**TOKEN, "access_token": "abc\r\nX-Evil: 1"}, "token: access_token: String should match"),
    ("/oauth2/token", 200, {"error": "server_error"}, "token: access_token: Field required"),
    ("/oauth2/token", 500, {"error": 5, "error_description": ["?"]}, "token: 500"),
    ("/users/@me", 404, {"message": "404: Not Found", "code": 0}, "user: 404"),
])
async def test_an_answer_discord_would_never_give_signs_no_one_in(
        discord: FakeDiscord, http: aiohttp.ClientSession, step: str, status: int, answer: Any, problem: str) -> None:
    discord.sign_in_as(discord.user(1001, "ann"))
    oauth = console_for(discord)
    state = new_state()
    code = oauth.code_from(await discord_code(http, oauth, state), state)
    discord.fail_next.append((step, status, answer))
    with pytest.raises(SignInFailed) as failed:
        await oauth.sign_in(http, code)
    assert refusal(failed) == (
        "Discord answered the sign-in with something reelbot cannot use. Try again in a few minutes.",
        "Discord의 로그인 응답을 reelbot이 쓸 수 없어요. 몇 분 뒤에 다시 시도해 주세요.",
        "bad_answer")
    assert failed.value.detail.startswith(problem)


async def test_a_busy_discord_says_when_to_try_again(discord: FakeDiscord, http: aiohttp.ClientSession) -> None:
    discord.sign_in_as(discord.user(1001, "ann"))
    oauth = console_for(discord)
    state = new_state()
    code = oauth.code_from(await discord_code(http, oauth, state), state)
    discord.fail_next.append(("/oauth2/token", 429,
                              {"message": "You are being rate limited.", "retry_after": 42.5, "global": False}))
    with pytest.raises(SignInFailed) as failed:
        await oauth.sign_in(http, code)
    assert refusal(failed) == ("Discord is busy with too many sign-ins. Try again in 42 s.",
                               "지금 Discord에 로그인 요청이 너무 많아요. 42초 후에 다시 시도해 주세요.", "rate_limited")
    assert failed.value.retry_after == 42.5


async def test_an_unreachable_discord_is_said_so(http: aiohttp.ClientSession) -> None:
    with socket.socket() as closed:  # bound, never listening: connections are refused
        closed.bind(("127.0.0.1", 0))
        base = f"http://127.0.0.1:{closed.getsockname()[1]}"
        oauth = DiscordOAuth(client_id="1", client_secret="s", redirect_uri=DISCORD_BACK, api_base_url=base + "/api/v10")
        with pytest.raises(SignInFailed) as failed:
            await oauth.sign_in(http, "code")
    assert failed.value.reason == "unreachable"
    assert failed.value.message.startswith("Could not reach Discord to sign you in: ClientConnectorError")


@pytest.mark.parametrize(("global_name", "username", "shown"), [
    (None, "ann", "ann"),  # no display name set: the username
    ("Ann\u202eevil\u0007  Lee", "ann", "Annevil Lee"),  # a right-to-left override and a bell, dropped
    ("\u200b\u202e", "ann", "ann"),  # nothing visible left: the username
    ("A" * 100, "ann", "A" * 64),
])
async def test_the_name_shown_is_the_one_people_see_on_discord_made_safe(
        discord: FakeDiscord, http: aiohttp.ClientSession, global_name: str | None, username: str, shown: str) -> None:
    discord.sign_in_as({**discord.user(1001, username), "global_name": global_name})
    oauth = console_for(discord)
    state = new_state()
    account = await oauth.sign_in(http, oauth.code_from(await discord_code(http, oauth, state), state))
    assert account.name == shown


# --- Telegram -----------------------------------------------------------------------------------------------


async def test_minji_signs_in_with_telegram_as_the_account_her_chat_jobs_are_under(
        telegram: FakeTelegram, http: aiohttp.ClientSession) -> None:
    telegram.login_user = telegram.user(5005, "민지", username="minji")
    login = TelegramLogin(telegram.token, oauth_base_url=telegram.oauth_url)
    url = login.login_url(TELEGRAM_BACK + "?next=/jobs", lang="ko")
    assert {k: v[0] for k, v in parse_qs(urlsplit(url).query).items()} == {
        "bot_id": "4242", "origin": CONSOLE, "request_access": "write", "return_to": TELEGRAM_BACK + "?next=/jobs",
        "lang": "ko"}

    back = await approve(http, url)
    page, _, fragment = back.partition("#")
    assert page == TELEGRAM_BACK + "?next=/jobs" and fragment.startswith("tgAuthResult=")
    account = login.verify_result(fragment.removeprefix("tgAuthResult="))

    assert account == ChatAccount("telegram", "5005", "민지")
    assert account.user.key == "telegram:5005"


async def test_telegram_sends_no_one_back_to_a_domain_the_bot_was_not_given(
        telegram: FakeTelegram, http: aiohttp.ClientSession) -> None:
    telegram.login_user = telegram.user(5005, "민지")
    login = TelegramLogin(telegram.token, oauth_base_url=telegram.oauth_url)
    async with http.get(login.login_url("https://evil.example/steal"), allow_redirects=False) as page:
        assert (page.status, await page.text()) == (400, "Bot domain invalid")


def test_the_widget_fields_are_checked_the_way_telegram_documents() -> None:
    """The check string spelled out, as the docs give it: every field but hash, sorted, key=value a line;
    the key is the SHA-256 of the bot's token; the hash is the HMAC-SHA256 in hex. The widget's redirect
    passes them as query parameters, so all strings."""
    token = "4242:AAH-fake-token-for-tests-0123456789"
    now = 1_790_000_000
    check = "auth_date=1790000000\nfirst_name=Ann\nid=5005\nlast_name=Lee\nusername=ann"
    digest = hmac.new(hashlib.sha256(token.encode()).digest(), check.encode(), hashlib.sha256).hexdigest()
    query = {"id": "5005", "first_name": "Ann", "last_name": "Lee", "username": "ann", "auth_date": str(now),
             "hash": digest}
    login = TelegramLogin(token, clock=lambda: now + 30)
    assert login.verify(query) == ChatAccount("telegram", "5005", "Ann Lee")
    assert login.verify({**query, "hash": digest.upper()}).user_id == "5005"  # hex in either case


def signed(telegram: FakeTelegram, **changes: Any) -> dict[str, Any]:
    return {**telegram.login_data(telegram.user(5005, "민지", username="minji")), **changes}


def encoded(data: dict[str, Any]) -> str:
    return base64.urlsafe_b64encode(json.dumps(data).encode()).decode().rstrip("=")


async def test_a_sign_in_signed_with_another_bots_token_is_refused(telegram: FakeTelegram) -> None:
    forger = FakeTelegram(bot_id=666)
    forged = forger.login_data(forger.user(5005, "민지"))
    with pytest.raises(SignInFailed) as failed:
        TelegramLogin(telegram.token).verify_result(encoded(forged))
    assert refusal(failed) == (
        "This Telegram sign-in is not signed by Telegram for this bot. Sign in again.",
        "이 Telegram 로그인에는 이 봇을 위한 Telegram의 서명이 없어요. 다시 로그인해 주세요.",
        "bad_signature")


@pytest.mark.parametrize("tampered", [{"id": 1}, {"first_name": "Admin"}, {"auth_date": int(time.time()) + 5},
                                      {"is_admin": "true"}, {"hash": "0" * 64}, {"hash": "zz"}])
async def test_a_tampered_telegram_sign_in_is_refused(telegram: FakeTelegram, tampered: dict[str, Any]) -> None:
    """Someone changes a field of their own sign-in (becomes user 1, renames themselves, makes it newer,
    adds a field) or its hash: the signature no longer fits."""
    with pytest.raises(SignInFailed) as failed:
        TelegramLogin(telegram.token).verify_result(encoded(signed(telegram, **tampered)))
    assert failed.value.reason == "bad_signature"


async def test_an_old_telegram_sign_in_is_refused(telegram: FakeTelegram) -> None:
    """A sign-in found later (a browser's history, a shared link) no longer opens the console."""
    two_days_ago = int(time.time()) - 2 * 24 * 3600
    with pytest.raises(SignInFailed) as failed:
        TelegramLogin(telegram.token).verify(telegram.login_data(telegram.user(5005, "민지"), auth_date=two_days_ago))
    assert refusal(failed) == ("This Telegram sign-in is too old (2 days ago). Sign in again.",
                               "이 Telegram 로그인은 너무 오래됐어요 (2일 전). 다시 로그인해 주세요.", "expired")
    # the same sign-in, where the console allows a week
    week = TelegramLogin(telegram.token, max_age_s=7 * 24 * 3600)
    assert week.verify(telegram.login_data(telegram.user(5005, "민지"), auth_date=two_days_ago)).user_id == "5005"


async def test_a_telegram_sign_in_from_the_future_points_at_the_servers_clock(telegram: FakeTelegram) -> None:
    now = int(time.time())
    data = telegram.login_data(telegram.user(5005, "민지"), auth_date=now)
    assert TelegramLogin(telegram.token, clock=lambda: now - 30).verify(data).user_id == "5005"  # a little skew
    with pytest.raises(SignInFailed) as failed:
        TelegramLogin(telegram.token, clock=lambda: now - 3600).verify(data)
    assert refusal(failed) == (
        "This Telegram sign-in is dated 1 h 00 min in the future: this server's clock may be wrong. "
        "An admin should check the server's clock.",
        "이 Telegram 로그인 시각이 1시간 뒤로 되어 있어요. 이 서버의 시계가 틀렸을 수 있어요. 관리자가 서버 시계를 확인해야 해요.",
        "clock")


@pytest.mark.parametrize(("result", "reason"), [
    ("false", "declined"),
    ("", "declined"),
    ("%%%not-base64", "malformed"),
    (encoded({"id": 5005})[:-3], "malformed"),  # cut short
    (base64.urlsafe_b64encode(b"[1, 2]").decode(), "malformed"),
    ("A" * 5000, "malformed"),
])
def test_a_damaged_telegram_answer_is_refused(result: str, reason: str) -> None:
    with pytest.raises(SignInFailed) as failed:
        parse_tg_auth_result(result)
    assert failed.value.reason == reason


async def test_telegram_fields_that_are_not_strings_or_numbers_are_refused_before_any_check(
        telegram: FakeTelegram) -> None:
    with pytest.raises(SignInFailed) as failed:
        TelegramLogin(telegram.token).verify(signed(telegram, first_name={"nested": True}))
    assert refusal(failed)[1:] == ("Telegram 로그인 정보가 빠졌거나 손상됐어요. 다시 로그인해 주세요.", "malformed")


def test_a_console_given_something_that_is_not_a_bot_token_says_so_at_start() -> None:
    with pytest.raises(SignInFailed) as failed:
        TelegramLogin("not-a-token")
    assert refusal(failed) == (
        "TELEGRAM_TOKEN is not a bot token, so Telegram sign-in cannot work. "
        "Copy the bot's token from @BotFather into .env.",
        "TELEGRAM_TOKEN이 봇 토큰이 아니라서 Telegram 로그인을 쓸 수 없어요. @BotFather에서 봇 토큰을 복사해 .env에 넣어 주세요.",
        "misconfigured")


# --- the whole round trip, in a real browser -----------------------------------------------------------------


def sign_in_page(discord: FakeDiscord, telegram: FakeTelegram, http: aiohttp.ClientSession) -> Starlette:
    """The least a console does to sign people in: the Discord state kept in the signed session cookie,
    and Telegram's fragment (which never reaches a server by itself) posted back by the page's own script."""
    login = TelegramLogin(telegram.token, oauth_base_url=telegram.oauth_url)

    def oauth(request: Request) -> DiscordOAuth:
        return replace(console_for(discord), redirect_uri=f"{request.base_url}back/discord")

    def signed_in(account: ChatAccount) -> HTMLResponse:
        return HTMLResponse(f"<p id=who>Signed in as {html.escape(account.name)} ({account.user.key})</p>")

    async def home(request: Request) -> HTMLResponse:
        telegram_url = html.escape(login.login_url(f"{request.base_url}back/telegram"))
        return HTMLResponse(f"<a id=discord href=/go/discord>Discord</a> <a id=telegram href='{telegram_url}'>Telegram</a>")

    async def go_discord(request: Request) -> RedirectResponse:
        request.session["state"] = state = new_state()
        return RedirectResponse(oauth(request).authorize_url(state))

    async def back_discord(request: Request) -> HTMLResponse:
        try:
            code = oauth(request).code_from(request.query_params, request.session.pop("state", None))
            return signed_in(await oauth(request).sign_in(http, code))
        except SignInFailed as failed:
            return HTMLResponse(f"<p id=who>{html.escape(str(failed))}</p>", status_code=403)

    async def back_telegram(request: Request) -> HTMLResponse:
        if request.method == "GET":
            return HTMLResponse("""<p id=who>…</p><script>
                const result = new URLSearchParams(location.hash.slice(1)).get("tgAuthResult") || "";
                history.replaceState(null, "", location.pathname);
                fetch(location.pathname, {method: "POST", body: new URLSearchParams({tgAuthResult: result})})
                  .then(r => r.text()).then(t => { document.body.innerHTML = t; });</script>""")
        try:
            return signed_in(login.verify_result(str((await request.form()).get("tgAuthResult", ""))))
        except SignInFailed as failed:
            return HTMLResponse(f"<p id=who>{html.escape(str(failed))}</p>", status_code=403)

    return Starlette(routes=[
        Route("/", home), Route("/go/discord", go_discord), Route("/back/discord", back_discord),
        Route("/back/telegram", back_telegram, methods=["GET", "POST"]),
    ], middleware=[Middleware(SessionMiddleware, secret_key=secrets.token_hex(16))])


async def test_ann_signs_in_with_discord_in_a_real_browser(
        browser: Browser, discord: FakeDiscord, telegram: FakeTelegram, http: aiohttp.ClientSession) -> None:
    discord.sign_in_as(discord.user(1001, "ann"))
    async with serve(sign_in_page(discord, telegram, http)) as url:
        discord.redirect_uris.append(url + "/back/discord")
        await browser.aio.open(url)
        await browser.aio.click("#discord")
        assert await browser.aio.wait_for_text("#who", "Signed in") == "Signed in as Ann (discord:1001)"
        assert browser.driver.current_url.startswith(url + "/back/discord?code=")
        # The same link again (the back button, a shared URL): the code and the state are spent.
        await browser.aio.open(browser.driver.current_url)
        assert (await browser.aio.text("#who")).startswith("This sign-in did not start on this page")


async def test_minji_signs_in_with_telegram_in_a_real_browser(
        browser: Browser, discord: FakeDiscord, telegram: FakeTelegram, http: aiohttp.ClientSession) -> None:
    telegram.login_user = telegram.user(5005, "민지", username="minji")
    async with serve(sign_in_page(discord, telegram, http)) as url:
        await browser.aio.open(url)
        await browser.aio.click("#telegram")
        assert await browser.aio.wait_for_text("#who", "Signed in") == "Signed in as 민지 (telegram:5005)"
        assert browser.driver.current_url == url + "/back/telegram"  # the signed fields gone from the address
        await browser.aio.screenshot("sign-in-telegram")

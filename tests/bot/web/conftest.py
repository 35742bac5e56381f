"""The web console on a free port, over an engine with a simulated GPU; people are httpx clients with their
own cookie jars, or real headless browsers (``tests/browser.py``), each test starting as a fresh visitor, with a
screenshot of every browser a failed test used (``SCREENSHOTS_DIR``, default ``.screenshots/``)."""


from __future__ import annotations

import base64
import json
import re
from collections.abc import AsyncIterator, Iterator
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
import pytest
from itsdangerous import TimestampSigner

from bot.web.frontend import WebFrontend
from engine.types import UserRef
from reelbot.app import App
from tests.browser import Browser, browser, browser_ko  # noqa: F401 - the fixtures, for every test here
from tests.conftest import make_settings
from tests.fakes.discord_api import FakeDiscord

ADMIN_DISCORD_ID = "111111111111111111"
PASSWORD = "correct horse battery staple"


@dataclass
class Web:
    app: App
    frontend: WebFrontend
    clients: list[httpx.AsyncClient] = field(default_factory=list)

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.frontend.server.port}"

    def client(self, **kwargs: Any) -> httpx.AsyncClient:
        client = httpx.AsyncClient(base_url=self.url, follow_redirects=False, timeout=30, **kwargs)
        self.clients.append(client)
        return client

    async def operator(self) -> httpx.AsyncClient:
        """The operator, signed in with the one-time link reelbot printed."""
        client = self.client()
        answer = await client.get(f"/login/link/{self.frontend.console.links.new()}")
        assert answer.status_code == 303 and answer.headers["location"] == "/"
        return client

    def person(self, user: UserRef, **kwargs: Any) -> httpx.AsyncClient:
        """Someone already signed in with their chat account (the cookie the console gives after a Discord or
        Telegram sign-in; tests/bot/web/test_signin.py goes through those sign-ins for real)."""
        client = self.client(**kwargs)
        payload = {"who": user.key, "name": user.name, "csrf": "t-" + user.user_id}
        data = base64.b64encode(json.dumps(payload).encode())
        cookie = TimestampSigner(self.frontend.config.secret_key).sign(data).decode()
        client.cookies.set("reelbot_session", cookie, domain="127.0.0.1")
        return client

    async def wait(self, job_id: str) -> None:
        await self.app.service.wait(job_id)


async def csrf_of(client: httpx.AsyncClient, path: str = "/") -> str:
    page = await client.get(path, headers={"Accept": "text/html"})
    found = re.search(r'<meta name="csrf" content="([^"]+)"', page.text)
    assert found, page.text[:500]
    return found.group(1)


async def open_web(tmp_path: Path, *, backends: dict[str, Any] | None = None, **overrides: Any) -> Web:
    settings = make_settings(tmp_path, web_enabled=True, web_port=0, web_password=PASSWORD,
                             discord_admin_ids=ADMIN_DISCORD_ID, **overrides)
    app = await App.launch(settings, backends=backends, lock=False, frontends=True)
    frontend = next(f for f in app.frontends if isinstance(f, WebFrontend))
    return Web(app, frontend)


async def close_web(console: Web) -> None:
    for client in console.clients:
        await client.aclose()
    await console.app.close()


@asynccontextmanager
async def with_discord(tmp_path: Path, **overrides: Any) -> AsyncIterator[tuple[Web, FakeDiscord]]:
    """A console whose members sign in with Discord (the application's redirect registered)."""
    discord = await FakeDiscord().start()
    web = await open_web(tmp_path, discord_client_id=discord.app_id, discord_client_secret=discord.client_secret,
                         discord_api_base_url=discord.api_url, discord_oauth_url=discord.url, **overrides)
    discord.redirect_uris.append(f"{web.url}/auth/discord/callback")
    try:
        yield web, discord
    finally:
        await close_web(web)
        await discord.stop()


@pytest.fixture
async def web(tmp_path: Path) -> AsyncIterator[Web]:
    console = await open_web(tmp_path)
    try:
        yield console
    finally:
        await close_web(console)


BROWSER_FIXTURES = ("browser", "browser_ko")
_OUTCOME = pytest.StashKey[pytest.TestReport]()


@pytest.hookimpl(wrapper=True)
def pytest_runtest_makereport(item: pytest.Item, call: pytest.CallInfo[None]) -> Iterator[Any]:
    report = yield
    if report.when == "call":
        item.stash[_OUTCOME] = report
    return report


@pytest.fixture(autouse=True)
def _fresh_visitor(request: pytest.FixtureRequest) -> Iterator[None]:
    used: list[Browser] = [request.getfixturevalue(name) for name in BROWSER_FIXTURES
                           if name in request.fixturenames]
    for opened in used:
        opened.forget()
    yield
    report = request.node.stash.get(_OUTCOME, None)
    if report is not None and report.failed:
        for opened in used:
            opened.screenshot(f"FAILED-{request.node.name}-{opened.lang}")

"""What every page shares: the engine's service, the settings, the signed-in person and their words.

Handlers are thin (design convention 2): they read the request, call the service, and render a template
through :meth:`Console.page`, which gives every template the reader's words (``_``, ``n_``, ``w``), who is
signed in, whether they are an admin (the engine's answer, from the settings, on every request), and the
CSRF token for its forms.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from datetime import datetime
from functools import wraps
from pathlib import Path
from typing import Any

import aiohttp
from starlette.requests import Request
from starlette.responses import RedirectResponse, Response
from starlette.templating import Jinja2Templates

from bot.i18n import Words
from bot.render import describe_error
from bot.web.auth import OneTimeLinks, Passwords, csrf_token, signed_in
from bot.web.config import WebConfig
from bot.web.live import LiveJobs
from bot.web.oauth import DiscordOAuth, SignInFailed, TelegramLogin
from engine.errors import NotAllowed, NotFound, ReelbotError
from engine.service import Service
from engine.types import UserRef

HERE = Path(__file__).parent
Handler = Callable[[Request], Awaitable[Response]]


class Console:
    def __init__(self, service: Service, config: WebConfig) -> None:
        self.service = service
        self.config = config
        self.live = LiveJobs(service)
        self.links = OneTimeLinks()
        self.passwords = Passwords(config.password)
        self.templates = Jinja2Templates(directory=str(HERE / "templates"))
        self.templates.env.globals["version"] = _static_version()
        self._base_url = ""
        self._closing = asyncio.Event()
        self._http: aiohttp.ClientSession | None = None

    @property
    def base_url(self) -> str:
        """How browsers reach the console (WEB_PUBLIC_URL, else the address it listens on, port and all)."""
        return self._base_url or self.config.base_url

    def listening_on(self, url: str) -> None:
        self._base_url = url

    def discord(self) -> DiscordOAuth | None:
        discord = self.config.discord
        if discord is None:
            return None
        return DiscordOAuth(discord.client_id, discord.client_secret, f"{self.base_url}/auth/discord/callback",
                            api_base_url=discord.api_base_url, oauth_base_url=discord.oauth_url)

    def telegram(self) -> TelegramLogin | None:
        token = self.config.telegram_token
        if not token:
            return None
        try:
            return TelegramLogin(token, oauth_base_url=self.config.telegram_login_url)
        except SignInFailed:  # not a bot token: the doctor says so; no Telegram button
            return None

    def telegram_link(self, lang: str | None = None) -> str | None:
        login = self.telegram()
        return login.login_url(f"{self.base_url}/auth/telegram", lang=lang) if login else None

    async def http(self) -> aiohttp.ClientSession:
        """One HTTP client for the sign-ins, opened at the first and closed with the console."""
        if self._http is None:
            self._http = aiohttp.ClientSession()
        return self._http

    async def closing(self, within_s: float) -> bool:
        """Wait up to ``within_s``; True once the console is stopping (long-lived streams then end)."""
        try:
            await asyncio.wait_for(self._closing.wait(), within_s)
        except TimeoutError:
            return False
        return True

    def stopping(self) -> None:
        self._closing.set()

    async def close(self) -> None:
        if self._http is not None:
            await self._http.close()
            self._http = None

    async def words(self, request: Request, user: UserRef | None = None) -> Words:
        """The reader's language: their choice (stored, as in chat), else their browser's, else the default."""
        chosen = await self.service.language_of(user) if user is not None else None
        return self.config.languages.words(chosen, *accepted_languages(request.headers.get("accept-language", "")))

    async def page(self, request: Request, template: str, status_code: int = 200, **context: Any) -> Response:
        user = signed_in(request)
        w = context.pop("w", None) or await self.words(request, user)
        response = self.templates.TemplateResponse(request, template, {
            "w": w, "_": w._, "n_": w.n_, "user": user, "csrf": csrf_token(request),
            "admin": user is not None and self.service.is_admin(user), "demo": self.config.demo,
            "lang": w.lang, **context,
        }, status_code=status_code)
        return response

    def when(self, moment: datetime) -> str:
        """A stored time as the community's clock shows it (TIMEZONE)."""
        return self.service.config.calendar.local(moment).strftime("%Y-%m-%d %H:%M")

    async def refusal(self, request: Request, error: ReelbotError) -> Response:
        """A refused action as a page in the reader's words: what is wrong and what to do."""
        w = await self.words(request, signed_in(request))
        status = 404 if isinstance(error, NotFound) else 403 if isinstance(error, NotAllowed) else 400
        return await self.page(request, "error.html", status_code=status, w=w, message=describe_error(w, error))


def accepted_languages(header: str) -> list[str]:
    """Accept-Language, most wanted first ("ko-KR,ko;q=0.9,en;q=0.8" -> ["ko-KR", "ko", "en"])."""
    ranked = []
    for n, part in enumerate(header.split(",")[:12]):
        code, _, params = part.strip().partition(";")
        quality = 1.0
        if params.strip().startswith("q="):
            try:
                quality = float(params.strip()[2:])
            except ValueError:
                continue
        if code and code != "*" and quality > 0:
            ranked.append((-quality, n, code.strip()))
    return [code for _, _, code in sorted(ranked)]


def signed_in_only(console: Console) -> Callable[[Handler], Handler]:
    """A page for signed-in people; anyone else is sent to sign in (a script gets 401)."""

    def wrap(handler: Handler) -> Handler:
        @wraps(handler)
        async def checked(request: Request) -> Response:
            if signed_in(request) is None:
                if request.method == "GET" and "text/html" in request.headers.get("accept", ""):
                    return RedirectResponse("/login", status_code=303)
                return Response("sign in first\n", status_code=401, media_type="text/plain")
            try:
                return await handler(request)
            except ReelbotError as exc:
                return await console.refusal(request, exc)

        return checked

    return wrap


def admins_only(console: Console) -> Callable[[Handler], Handler]:
    """A page for the bot's admins: decided by the engine from the settings on every request."""

    def wrap(handler: Handler) -> Handler:
        @wraps(handler)
        async def checked(request: Request) -> Response:
            user = signed_in(request)
            if user is not None and not console.service.is_admin(user):
                w = await console.words(request, user)
                return await console.page(request, "error.html", status_code=403, w=w,
                                          message=w._("Only the bot's admins can see this page."))
            return await handler(request)

        return signed_in_only(console)(checked)

    return wrap


def _static_version() -> str:
    """Changes when the CSS or JS does, so browsers fetch the new one (assets are cached for a day)."""
    import hashlib

    digest = hashlib.sha256()
    for path in sorted((HERE / "static").glob("*")):
        digest.update(path.read_bytes())
    return digest.hexdigest()[:10]

"""Signing in and out, and the reader's settings (the same stored choices as ``/settings`` in chat)."""

from __future__ import annotations

import logging

from starlette.requests import Request
from starlette.responses import RedirectResponse, Response
from starlette.routing import Route

from bot.core import settings as core
from bot.core.language import choices, choose
from bot.render import describe_error
from bot.web.auth import OPERATOR, from_this_machine, sign_in, sign_out, signed_in
from bot.web.console import Console, accepted_languages, signed_in_only
from bot.web.make import ASPECT_NAMES
from bot.web.oauth import ChatAccount, SignInFailed, new_state
from engine.controls import ASPECTS
from engine.defaults import DELIVERY, SETTABLE
from engine.errors import ReelbotError

log = logging.getLogger(__name__)


def routes(console: Console) -> list[Route]:
    config = console.config

    async def login(request: Request, message: str | None = None, status_code: int = 200) -> Response:
        if signed_in(request) is not None and message is None:
            return RedirectResponse("/", status_code=303)
        return await console.page(
            request, "login.html", status_code=status_code, message=message,
            password=console.passwords.set, local=config.local,
            discord=config.discord is not None, telegram=console.telegram_link((await console.words(request)).lang),
        )

    async def login_page(request: Request) -> Response:
        return await login(request)

    async def login_password(request: Request) -> Response:
        w = await console.words(request)
        address = request.client.host if request.client else "?"
        if not console.passwords.set:
            return await login(request, w._("Signing in with a password is not set up (WEB_PASSWORD)."), 403)
        wait = console.passwords.wait_before_trying(address)
        if wait is not None:
            return await login(request, w._("Too many tries. Try again in {wait}.", wait=w.duration(wait)), 429)
        form = await request.form(max_files=0, max_fields=4)
        given = form.get("password")
        if not isinstance(given, str) or not console.passwords.check(given):
            return await login(request, w._("That password is not right."), 403)
        sign_in(request, OPERATOR)
        return RedirectResponse("/", status_code=303)

    async def login_link(request: Request) -> Response:
        """The operator's one-time link: only for a console that listens on this machine, opened on it."""
        w = await console.words(request)
        token = request.path_params["token"]
        if not (config.local and from_this_machine(request)) or not console.links.use(token):
            return await login(request, w._("This sign-in link is not valid (it works once, on the computer "
                                            "that runs reelbot, until reelbot restarts)."), 403)
        sign_in(request, OPERATOR)
        return RedirectResponse("/", status_code=303)

    async def discord_start(request: Request) -> Response:
        """Off to Discord, with a fresh state this browser's session keeps to check the way back."""
        oauth = console.discord()
        if oauth is None:
            return Response(status_code=404)
        state = request.session["discord_state"] = new_state()
        return RedirectResponse(oauth.authorize_url(state), status_code=303)

    async def discord_back(request: Request) -> Response:
        oauth = console.discord()
        if oauth is None:
            return Response(status_code=404)
        expected = request.session.pop("discord_state", None)
        try:
            code = oauth.code_from(request.query_params, expected if isinstance(expected, str) else None)
            account = await oauth.sign_in(await console.http(), code)
        except SignInFailed as exc:
            return await failed(request, exc)
        return await signed(request, account)

    async def telegram_back(request: Request) -> Response:
        """Telegram's sign-in page sends the browser back with the account in the address's fragment, which
        only the page can read (app.js turns it into ``?result=``); the widget's own redirect carries the
        fields as query parameters. Either is verified here."""
        login = console.telegram()
        if login is None:
            return Response(status_code=404)
        query = request.query_params
        try:
            if "result" in query:
                account = login.verify_result(query["result"])
            elif "hash" in query:
                account = login.verify(dict(query))
            else:
                return await console.page(request, "signing_in.html")
        except SignInFailed as exc:
            return await failed(request, exc)
        return await signed(request, account)

    async def failed(request: Request, error: SignInFailed) -> Response:
        if error.detail:
            log.warning("%s sign-in refused (%s): %s", error.platform, error.reason, error.detail)
        w = await console.words(request)
        return await login(request, describe_error(w, error), 403)

    async def signed(request: Request, account: ChatAccount) -> Response:
        sign_in(request, account.user)
        return RedirectResponse("/", status_code=303)

    async def logout(request: Request) -> Response:
        sign_out(request)
        return RedirectResponse("/login", status_code=303)

    @signed_in_only(console)
    async def settings(request: Request) -> Response:
        """The signed-in person's settings: the same ones, kept the same way, as /settings in chat."""
        user = signed_in(request)
        assert user is not None
        codes = accepted_languages(request.headers.get("accept-language", ""))
        message = error = None
        w = await console.words(request, user)
        if request.method == "POST":
            form = await request.form(max_files=0, max_fields=12)
            try:
                if form.get("action") == "reset":
                    w, message = await core.reset(console.service, config.languages, user, *codes)
                else:
                    w = await choose(console.service, config.languages, user, str(form.get("language", "")), *codes)
                    for name in (*SETTABLE, DELIVERY):
                        if name not in form:  # a setting this page has no field for is left as it is
                            continue
                        value = str(form.get(name, "")).strip() or core.DEFAULT_WORDS[0]
                        await core.change(console.service, config.languages, user, name, value, *codes)
                    message = w._("Saved.")
            except ReelbotError as exc:
                message, error = None, describe_error(w, exc)
        shown = await console.service.settings_of(user)
        current = {s.name: s.value for s in shown.settings if s.chosen or s.name == DELIVERY}
        lines = core.settings_text(w, shown).splitlines()[1:]
        limits = console.service.config.input_limits
        return await console.page(request, "settings.html", status_code=400 if error else 200, w=w, nav="settings",
                                  languages=choices(), chosen=shown.language, message=message, error=error,
                                  shown=[line.removeprefix("• ") for line in lines], current=current,
                                  models=core.model_names(console.service), max_frames=limits.max_frames,
                                  max_fps=limits.max_fps,
                                  aspects=[(value, w.text(ASPECT_NAMES.get(value, value))) for value in ASPECTS])

    return [
        Route("/login", login_page, methods=["GET"]),
        Route("/login", login_password, methods=["POST"]),
        Route("/login/link/{token}", login_link, methods=["GET"]),
        Route("/logout", logout, methods=["POST"]),
        Route("/auth/discord", discord_start, methods=["GET"]),
        Route("/auth/discord/callback", discord_back, methods=["GET"]),
        Route("/auth/telegram", telegram_back, methods=["GET"]),
        Route("/settings", settings, methods=["GET", "POST"]),
    ]

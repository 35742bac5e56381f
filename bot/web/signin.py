"""Signing in and out, and the reader's language (the same stored choice as ``/settings language`` in chat)."""

from __future__ import annotations

from starlette.requests import Request
from starlette.responses import RedirectResponse, Response
from starlette.routing import Route

from bot.core.language import choices, choose
from bot.web.auth import OPERATOR, from_this_machine, sign_in, sign_out, signed_in
from bot.web.console import Console, accepted_languages, signed_in_only
from engine.errors import ReelbotError


def routes(console: Console) -> list[Route]:
    config = console.config

    async def login(request: Request, message: str | None = None, status_code: int = 200) -> Response:
        if signed_in(request) is not None and message is None:
            return RedirectResponse("/", status_code=303)
        return await console.page(
            request, "login.html", status_code=status_code, message=message,
            password=console.passwords.set, local=config.local,
            discord=config.discord is not None, telegram=console.telegram_link(),
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

    async def logout(request: Request) -> Response:
        sign_out(request)
        return RedirectResponse("/login", status_code=303)

    @signed_in_only(console)
    async def settings(request: Request) -> Response:
        user = signed_in(request)
        assert user is not None
        message = None
        if request.method == "POST":
            form = await request.form(max_files=0, max_fields=4)
            try:
                w = await choose(console.service, config.languages, user, str(form.get("language", "")),
                                 *accepted_languages(request.headers.get("accept-language", "")))
            except ReelbotError as exc:
                return await console.refusal(request, exc)
            message = w._("Saved.")
        chosen = await console.service.language_of(user)
        return await console.page(request, "settings.html", nav="settings", languages=choices(), chosen=chosen,
                                  message=message)

    return [
        Route("/login", login_page, methods=["GET"]),
        Route("/login", login_password, methods=["POST"]),
        Route("/login/link/{token}", login_link, methods=["GET"]),
        Route("/logout", logout, methods=["POST"]),
        Route("/settings", settings, methods=["GET", "POST"]),
    ]

"""The console's ASGI app: its pages, its assets (all in the package: nothing from a CDN), and the checks
that wrap every route.

- Every request that changes something (POST) must carry the session's CSRF token (form field ``csrf`` or
  header ``X-CSRF-Token``), and say its size: a body over the largest picture allowed is refused before it
  is read.
- Every response says what the page may load: only its own scripts, styles, pictures and videos (CSP), never
  inside another site's frame.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from functools import wraps

from starlette.applications import Starlette
from starlette.middleware import Middleware
from starlette.middleware.sessions import SessionMiddleware
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import BaseRoute, Mount, Route
from starlette.staticfiles import StaticFiles
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from bot.web import admin, linking, make, signin, videos
from bot.web.auth import CSRF_FIELD, CSRF_HEADER, csrf_ok
from bot.web.console import HERE, Console

SAFE = frozenset({"GET", "HEAD", "OPTIONS"})
FORM_ROOM = 1024 * 1024  # the form's other fields, beside the picture
HEADERS = [
    (b"content-security-policy", b"default-src 'self'; img-src 'self' data: blob:; media-src 'self' blob:; "
                                 b"style-src 'self'; script-src 'self'; connect-src 'self'; frame-ancestors 'none'; "
                                 b"base-uri 'none'; form-action 'self' https://discord.com https://oauth.telegram.org"),
    (b"x-content-type-options", b"nosniff"),
    (b"referrer-policy", b"same-origin"),
    (b"x-frame-options", b"DENY"),
]


def build_app(console: Console) -> Starlette:
    config = console.config
    routes: list[BaseRoute] = [
        *_guarded(console, signin.routes(console) + make.routes(console) + videos.routes(console)
                  + admin.routes(console) + linking.routes(console)),
        Mount("/static", app=StaticFiles(directory=str(HERE / "static")), name="static"),
    ]
    middleware = [
        Middleware(SecurityHeaders),
        Middleware(SessionMiddleware, secret_key=config.secret_key, session_cookie="reelbot_session",
                   max_age=round(config.session_days * 86400), same_site="lax", https_only=config.secure),
    ]
    return Starlette(routes=routes, middleware=middleware)


def _guarded(console: Console, routes: list[Route]) -> list[Route]:
    """Each route with the CSRF and size checks on its unsafe methods."""
    guarded = []
    for route in routes:
        methods = set(route.methods or ())
        if methods - SAFE:
            route = Route(route.path, _csrf_checked(console, route.endpoint), methods=sorted(methods))
        guarded.append(route)
    return guarded


def _csrf_checked(console: Console, endpoint: Callable[[Request], Awaitable[Response]]) \
        -> Callable[[Request], Awaitable[Response]]:
    most = console.config.max_image_bytes + FORM_ROOM

    @wraps(endpoint)
    async def checked(request: Request) -> Response:
        if request.method in SAFE:
            return await endpoint(request)
        w = await console.words(request)

        async def refused(status: int, message: str) -> Response:
            if "application/json" in request.headers.get("accept", ""):  # the page's own script
                return JSONResponse({"error": message}, status_code=status)
            return await console.page(request, "error.html", status_code=status, w=w, message=message)

        length = request.headers.get("content-length")
        if length is None or not length.isdigit():
            return await refused(411, w._("The request must say its size (Content-Length)."))
        if int(length) > most:
            return await refused(413, w._("That is too large to send: at most {size} MB.",
                                          size=w.number(most / 1024 / 1024, 0)))
        # The form is read once, here, with its limits (the handler gets the same one), and its upload's
        # temporary file is closed when the handler is done.
        form = await request.form(max_files=1, max_fields=40)
        try:
            given = request.headers.get(CSRF_HEADER)
            if given is None:
                value = form.get(CSRF_FIELD)
                given = value if isinstance(value, str) else None
            if not csrf_ok(request, given):
                return await refused(403, w._(
                    "This form has expired or did not come from this page. Reload the page and try again."))
            return await endpoint(request)
        finally:
            await form.close()

    return checked


class SecurityHeaders:
    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return

        async def with_headers(message: Message) -> None:
            if message["type"] == "http.response.start":
                message.setdefault("headers", [])
                message["headers"] = [*message["headers"], *HEADERS]
            await send(message)

        await self.app(scope, receive, with_headers)

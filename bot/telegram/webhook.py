"""Webhook mode: Telegram POSTs each update to our public address, and this server hands it to PTB.

python-telegram-bot's own webhook server reads a whole body (up to 100 MB) before it looks at the secret
header, and compares the secret with ``!=``. Here the secret is compared in constant time first, a body
larger than any update is refused unread, and only then is the JSON parsed into an Update.
"""

from __future__ import annotations

import hmac
import json
import logging
from typing import Any

from aiohttp import web
from telegram import Update
from telegram.ext import Application

log = logging.getLogger(__name__)
SECRET_HEADER = "X-Telegram-Bot-Api-Secret-Token"
MAX_BODY = 1024 * 1024  # an update is a few kilobytes (the files themselves are fetched separately)


class WebhookServer:
    def __init__(self, application: Application, *, path: str, secret: str,
                 listen: str, port: int) -> None:
        self.application = application
        self.path = "/" + path.lstrip("/")
        self.secret = secret.encode()
        self.listen = listen
        self.port = port
        self._runner: web.AppRunner | None = None

    async def start(self) -> None:
        app = web.Application(client_max_size=MAX_BODY)
        app.router.add_post(self.path, self._receive)
        self._runner = web.AppRunner(app, access_log=None)
        await self._runner.setup()
        await web.TCPSite(self._runner, self.listen, self.port).start()

    async def stop(self) -> None:
        if self._runner is not None:
            await self._runner.cleanup()
            self._runner = None

    async def _receive(self, request: web.Request) -> web.Response:
        given = request.headers.get(SECRET_HEADER, "").encode()
        if not hmac.compare_digest(given, self.secret):
            return web.Response(status=403, text="wrong or missing secret token\n")
        if request.content_length is None:
            return web.Response(status=411, text="Content-Length required\n")
        if request.content_length > MAX_BODY:
            return web.Response(status=413, text="too large for an update\n")
        try:
            data: Any = json.loads(await request.read())
            update = Update.de_json(data, self.application.bot)
        except (ValueError, TypeError, KeyError) as exc:
            log.warning("Telegram webhook: an update that cannot be read (%s)", type(exc).__name__)
            return web.Response(status=400, text="not an update\n")
        await self.application.update_queue.put(update)
        return web.Response(text="ok\n")

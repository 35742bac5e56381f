"""The web console's life cycle: a third front end on the shared core, served from the engine's own loop.

:meth:`WebFrontend.prepare` takes the address (a port in use is said at once) and follows the engine's
events; :meth:`WebFrontend.start` serves once the engine has resumed its jobs and returns the console's
line, with the operator's one-time sign-in link when the console listens on this machine only.
"""

from __future__ import annotations

from dataclasses import replace

from bot.web.app import build_app
from bot.web.auth import WEB
from bot.web.config import WebConfig
from bot.web.console import Console
from bot.web.server import WebServer
from engine.service import Service
from engine.types import JobView
from engine.words import N_, Text


class WebDeliverer:
    """A web job's result is its page: the browser following it hears the end and shows the video; nothing
    is sent anywhere. (The outbox still records the delivery, so the files are kept as long as any.)"""

    async def deliver(self, job: JobView) -> None:
        return None


class WebFrontend:
    platform = WEB
    max_video_bytes: int | None = None

    def __init__(self, service: Service, config: WebConfig) -> None:
        self.service = service
        self.config = config
        self.console = Console(service, config)
        self.deliverer = WebDeliverer()
        self.server = WebServer(build_app(self.console), config.host, config.port)

    @property
    def url(self) -> str:
        """How browsers reach the console: WEB_PUBLIC_URL, else the address it listens on (the port it got)."""
        return replace(self.config, port=self.server.port).base_url

    async def prepare(self) -> None:
        self.server.bind()
        self.console.listening_on(self.url)
        self.console.live.open()

    async def start(self) -> Text:
        await self.server.start()
        if self.config.local:
            link = f"{self.url}/login/link/{self.console.links.new()}"
            return N_("Web console: {url} (this link signs you in once, on this computer)", url=link)
        return N_("Web console: {url}", url=self.url)

    async def stop(self) -> None:
        self.console.stopping()  # every open stream ends, so the server stops at once
        await self.console.live.close()
        await self.server.stop()
        await self.console.close()

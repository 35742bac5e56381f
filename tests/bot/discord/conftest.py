"""A running reelbot (engine + the real discord.py client) talking to the local Discord."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest

from bot.discord.frontend import DiscordFrontend
from engine.backends.base import Backend
from engine.lanes import GpuLane
from reelbot.app import App
from tests.conftest import make_settings
from tests.fakes.discord_api import FakeDiscord

GUILD = 700000000000000001


class Bot:
    """One reelbot process's worth of engine and Discord front end (stop and start it again to restart)."""

    def __init__(self, fake: FakeDiscord, tmp_path: Path, **settings: Any) -> None:
        self.fake = fake
        self.backends: dict[str, Backend] | None = settings.pop("backends", None)
        self.gpus: int = settings.pop("gpus", 1)
        defaults: dict[str, Any] = {
            "discord_token": fake.token,
            "discord_api_base_url": fake.api_url,
            "discord_gateway_url": fake.gateway_url,
            "discord_edit_interval_s": 0.2,
            "discord_command_guilds": str(GUILD),
        }
        self.settings = make_settings(tmp_path, **{**defaults, **settings})
        self.app: App | None = None
        self.frontend: DiscordFrontend | None = None
        self.started_line = ""

    async def start(self) -> Bot:
        lanes = [GpuLane(i, device=f"sim:{i}") for i in range(self.gpus)]
        said: list[str] = []
        self.app = await App.launch(self.settings, backends=self.backends, lanes=lanes, lock=False, frontends=True,
                                    say=said.append)
        [frontend] = self.app.frontends
        assert isinstance(frontend, DiscordFrontend)
        self.frontend = frontend
        self.started_line = said[-1]
        return self

    async def stop(self) -> None:
        self.frontend = None
        if self.app is not None:
            await self.app.close()
            self.app = None

    @property
    def service(self) -> Any:
        assert self.app is not None
        return self.app.service


@pytest.fixture
async def fake() -> AsyncIterator[FakeDiscord]:
    server = FakeDiscord()
    server.guild(GUILD)
    await server.start()
    yield server
    await server.stop()
    assert server.spec_errors == [], "the bot sent requests the Discord API spec does not allow"


@pytest.fixture
async def make_bot(fake: FakeDiscord, tmp_path: Path) -> AsyncIterator[Any]:
    bots: list[Bot] = []

    async def factory(**settings: Any) -> Bot:
        bot = Bot(fake, tmp_path, **settings)
        bots.append(bot)
        return await bot.start()

    yield factory
    for bot in bots:
        await bot.stop()
    await asyncio.sleep(0)

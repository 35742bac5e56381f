"""A running reelbot (engine + the real python-telegram-bot client) talking to the fake Bot API server."""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import text

from bot.telegram.frontend import TelegramFrontend
from engine.backends.base import Backend
from engine.lanes import GpuLane
from reelbot.app import App
from tests.conftest import make_settings
from tests.fakes.telegram_api import FakeTelegram


class Bot:
    """One reelbot process's worth of engine and Telegram front end (stop and start it again to restart)."""

    def __init__(self, fake: FakeTelegram, tmp_path: Path, **settings: Any) -> None:
        self.fake = fake
        self.backends: dict[str, Backend] | None = settings.pop("backends", None)
        self.gpus: int = settings.pop("gpus", 1)
        self.lane_device: str = settings.pop("lane_device", "sim:{i}")  # "cpu": real (tiny) pipelines
        defaults: dict[str, Any] = {
            "telegram_token": fake.token,
            "telegram_api_base_url": fake.base_url,
            "telegram_file_base_url": fake.base_file_url,
            "telegram_edit_interval_private_s": 0.2,
            "telegram_edit_interval_group_s": 0.4,
            "telegram_poll_timeout_s": 1,  # stopping waits for the poll under way
        }
        self.settings = make_settings(tmp_path, **{**defaults, **settings})
        self.app: App | None = None
        self.frontend: TelegramFrontend | None = None

    async def start(self) -> Bot:
        lanes = [GpuLane(i, device=self.lane_device.format(i=i)) for i in range(self.gpus)]
        said: list[str] = []
        self.app = await App.launch(self.settings, backends=self.backends, lanes=lanes, lock=False, frontends=True,
                                    say=said.append)
        [frontend] = self.app.frontends
        assert isinstance(frontend, TelegramFrontend)
        self.frontend = frontend
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

    async def jobs(self) -> list[dict[str, Any]]:
        """Every job row, oldest first, as the operator's database shows them."""
        assert self.app is not None
        app = self.app

        def query() -> list[dict[str, Any]]:
            with app.db.transaction() as conn:
                result = conn.execute(text("SELECT * FROM jobs ORDER BY created_at"))
                return [dict(row._mapping) for row in result]

        return await asyncio.to_thread(query)


async def delivery_state(bot: Bot, job_id: str, until: str, timeout_s: float = 10.0) -> tuple[str, int]:
    """The job's delivery (state, tries) once it reaches ``until`` (or what it is when time runs out)."""
    assert bot.app is not None
    deadline = time.monotonic() + timeout_s
    while True:
        state = (await bot.app.repo.delivery_states([job_id]))[job_id]
        if state[0] == until or time.monotonic() > deadline:
            return state
        await asyncio.sleep(0.05)  # paced: a poll with a deadline


@pytest.fixture
async def fake() -> AsyncIterator[FakeTelegram]:
    server = FakeTelegram()
    await server.start()
    yield server
    await server.stop()
    assert server.spec_errors == [], "the bot sent requests the Bot API spec does not allow"


@pytest.fixture
async def make_bot(fake: FakeTelegram, tmp_path: Path) -> AsyncIterator[Any]:
    bots: list[Bot] = []

    async def factory(**settings: Any) -> Bot:
        bot = Bot(fake, tmp_path, **settings)
        bots.append(bot)
        return await bot.start()

    yield factory
    for bot in bots:
        await bot.stop()

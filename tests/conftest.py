"""Shared fixtures: an engine on a fresh SQLite file (or a fresh PostgreSQL database) with simulated GPUs."""

from __future__ import annotations

import secrets
from collections.abc import AsyncIterator, Iterator
from pathlib import Path
from typing import Any

import psycopg
import pytest

from engine.backends.base import Backend
from engine.lanes import GpuLane
from engine.types import JobView
from reelbot.app import App
from reelbot.settings import Settings

PG_ADMIN = "postgresql://postgres@127.0.0.1:5432/postgres"


def make_settings(tmp_path: Path, **overrides: Any) -> Settings:
    values: dict[str, Any] = {
        "data_dir": tmp_path / "data",
        "local_backend": "simulated",
        "simulated_seconds": 0.05,
        "simulated_steps": 5,
        "max_queued_per_user": 50,
        "max_jobs_per_day": 500,
        "rate_limit_per_minute": 0,  # tests submit in bursts; the rate limit has tests of its own
        # No test downloads a translation model: those of prompt translation bring a tiny one of their own.
        "prompt_translation": "off",
        # The web console has tests of its own (tests/bot/web), on a free port; elsewhere it stays off.
        "web_enabled": False,
        **overrides,
    }
    return Settings(_env_file=None, **values)


class RecordingDeliverer:
    """A front end's deliverer that remembers what it was handed (and can fail on demand)."""

    def __init__(self, fail_times: int = 0) -> None:
        self.delivered: list[JobView] = []
        self.fail_times = fail_times

    async def deliver(self, job: JobView) -> None:
        if self.fail_times:
            self.fail_times -= 1
            raise ConnectionError("chat platform unreachable")
        self.delivered.append(job)


async def open_app(
    settings: Settings,
    *,
    backends: dict[str, Backend] | None = None,
    gpus: int | None = None,
    lanes: list[GpuLane] | None = None,
    deliverer: RecordingDeliverer | None = None,
    platform: str = "test",
) -> App:
    if gpus is not None:
        lanes = [GpuLane(i, device=f"sim:{i}") for i in range(gpus)]
    return await App.launch(settings, backends=backends, lanes=lanes, lock=False,
                            deliverers={platform: deliverer} if deliverer is not None else None)


@pytest.fixture
async def app_factory(tmp_path: Path) -> AsyncIterator[Any]:
    opened: list[App] = []

    async def factory(**kwargs: Any) -> App:
        settings_overrides = kwargs.pop("settings", {})
        settings = make_settings(tmp_path, **settings_overrides)
        app = await open_app(settings, **kwargs)
        opened.append(app)
        return app

    yield factory
    for app in opened:
        await app.close()


@pytest.fixture
def pg_url() -> Iterator[str]:
    """A brand-new PostgreSQL database on the machine's server, dropped afterwards."""
    name = f"reelbot_test_{secrets.token_hex(4)}"
    with psycopg.connect(PG_ADMIN, autocommit=True) as conn:
        conn.execute(f'CREATE DATABASE "{name}"')
    try:
        yield f"postgresql+psycopg://postgres@127.0.0.1:5432/{name}"
    finally:
        with psycopg.connect(PG_ADMIN, autocommit=True) as conn:
            conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')

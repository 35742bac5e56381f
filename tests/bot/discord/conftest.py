"""A running reelbot (engine + the real discord.py client) talking to the local Discord."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Mapping
from dataclasses import dataclass, field
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
KOREAN_GUILD = 700000000000000003  # a Community server whose language is Korean (add it with korean_guild)


@dataclass(frozen=True)
class Speaker:
    """A user whose Discord app speaks ``locale``, and what reelbot's words look like to them: a story is
    written once with the English words, and ``says`` gives the words that user reads."""

    locale: str
    words: Mapping[str, str] = field(default_factory=dict)  # English -> what this user reads instead

    def says(self, english: str) -> str:
        return self.words[english] if self.words else english


ENGLISH = Speaker("en-US")
KOREAN = Speaker("ko", {
    # job messages and their buttons
    "· job ": "· 작업 ",
    "Queued #1": "대기 중 (1번째",
    "Running": "만드는 중",
    "Running on local": "local에서 만드는 중",
    "Running on runway": "runway에서 만드는 중",
    "✅ Done in": "만에 완료",
    "on local (zeroscope)": "local에서 (zeroscope)",
    "on replicate": "replicate에서",
    "seed 7": "시드 7",
    "· seed 42 ·": "· 시드 42 ·",
    "· seed ": "· 시드 ",
    "Cancel": "취소",
    "Retry (new seed)": "다시 만들기 (새 시드)",
    "Same seed": "같은 시드로",
    "Delete": "삭제",
    "Extend": "이어서 만들기",
    "Only the person who asked for that video can extend it.": "이어서 만들기는 그 영상을 요청한 사람만 할 수 있어요.",
    "Run on cloud now (replicate ≈ $0.080)": "지금 클라우드에서 실행 (replicate 약 $0.080)",
    "Cancelled. You were not charged.": "취소됐어요. 비용은 청구되지 않았어요.",
    "Job ": "작업 ",
    "Moving job": "작업 ",
    # refusals
    "someone else's": "다른 사람의 작업이에요",
    "You have made 1 videos today; the limit is 1 a day.": "오늘 영상을 1개 만들었어요. 하루에 1개까지 만들 수 있어요.",
    "You can make more in": "후에 더 만들 수 있어요",
    "Only the bot's admins": "/status는 봇 관리자만 볼 수 있어요.",
    "Tell me what to show": "어떤 장면을 만들지 알려 주세요",
    "attach a picture": "사진을 붙이면",
    "notes.pdf is not a picture I can animate.": "notes.pdf은(는) 움직이게 할 수 있는 사진이 아니에요.",
    "That message has no picture to animate.": "이 메시지에는 움직이게 할 사진이 없어요.",
    # /status, /usage
    "reelbot status": "reelbot 상태",
    "Jobs: 0 queued, 0 running": "작업: 대기 중 0개, 만드는 중 0개",
    "GPUs": "GPU",
    "Backends": "백엔드",
    "Spend": "지출",
    "This server: 0 waiting, 0 running; today 0 made, 0 failed.": "이 서버: 대기 중 0개, 만드는 중 0개. 오늘 완료 0개, 실패 0개.",
    "Today: 1 of 5 videos.": "오늘: 영상 1 / 5개.",
    "In progress: 1 of 50.": "진행 중: 1 / 50개.",
})


@pytest.fixture(params=[ENGLISH, KOREAN], ids=["en", "ko"])
def speaker(request: pytest.FixtureRequest) -> Speaker:
    """The story once as a user whose Discord is in English, once as one whose Discord is in Korean."""
    return request.param


class Bot:
    """One reelbot process's worth of engine and Discord front end (stop and start it again to restart)."""

    def __init__(self, fake: FakeDiscord, tmp_path: Path, **settings: Any) -> None:
        self.fake = fake
        self.backends: dict[str, Backend] | None = settings.pop("backends", None)
        self.gpus: int = settings.pop("gpus", 1)
        self.lane_device: str = settings.pop("lane_device", "sim:{i}")  # "cpu": real (tiny) pipelines
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
        lanes = [GpuLane(i, device=self.lane_device.format(i=i)) for i in range(self.gpus)]
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

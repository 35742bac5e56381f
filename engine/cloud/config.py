"""How every cloud provider is run: its clock (tests give a virtual one), paces, deadlines and size caps."""

from __future__ import annotations

import asyncio
import time
from dataclasses import dataclass
from typing import Protocol


class Clock(Protocol):
    """Time as polling sees it; tests give a virtual one so a 10 s pace costs no real time."""

    def now(self) -> float: ...

    async def sleep(self, seconds: float) -> None: ...


class MonotonicClock:
    def now(self) -> float:
        return time.monotonic()

    async def sleep(self, seconds: float) -> None:
        await asyncio.sleep(seconds)


REAL_CLOCK = MonotonicClock()


@dataclass(frozen=True, slots=True)
class CloudConfig:
    poll_interval_s: float | None = None  # None: each provider's own pace; a number: every provider's
    timeout_s: float = 600.0  # submit to result; then the remote job is cancelled and the job moves on
    request_timeout_s: float = 60.0
    max_download_bytes: int = 200 * 1024 * 1024
    max_body_bytes: int = 4 * 1024 * 1024  # an API answer (JSON) larger than this is refused unread
    clock: Clock = REAL_CLOCK

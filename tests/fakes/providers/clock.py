"""A virtual clock shared by a cloud backend and its fake: a 10 s poll pace costs no real time.

The backend sleeps on it (each sleep moves time on at once) and the fake reads it to judge how fast it is
being polled, so a test sees the real pacing rules enforced without waiting for them.
"""

from __future__ import annotations

import asyncio


class VirtualClock:
    def __init__(self, start: float = 1000.0) -> None:
        self.t = start
        self.slept: list[float] = []

    def now(self) -> float:
        return self.t

    async def sleep(self, seconds: float) -> None:
        self.slept.append(seconds)
        self.t += max(0.0, seconds)
        await asyncio.sleep(0)

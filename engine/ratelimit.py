"""The per-user request rate (``RATE_LIMIT_PER_MINUTE``): one counter for every front end.

A request that reaches the quota check costs a database read and, for a picture, a download and a decode;
a user (or a script) sending dozens a minute is told when to try again before any of that happens.
"""

from __future__ import annotations

import time
from collections import deque
from collections.abc import Callable


class RateLimiter:
    def __init__(self, per_minute: int, *, clock: Callable[[], float] = time.monotonic) -> None:
        self.per_minute = per_minute  # 0: no limit
        self.clock = clock
        self._hits: dict[str, deque[float]] = {}

    def hit(self, key: str) -> float | None:
        """Count one request of ``key``; None if it may go on, else the seconds until one more fits."""
        if self.per_minute <= 0:
            return None
        now = self.clock()
        hits = self._hits.setdefault(key, deque())
        while hits and hits[0] <= now - 60.0:
            hits.popleft()
        if len(hits) >= self.per_minute:
            return max(0.1, hits[0] + 60.0 - now)
        hits.append(now)
        if len(self._hits) > 10_000:  # forget users who went quiet, so the table stays small
            self._hits = {k: v for k, v in self._hits.items() if v and v[-1] > now - 60.0}
        return None

"""Telegram's flood control: wait as long as it says (``RetryAfter``), a bounded number of times."""

from __future__ import annotations

import asyncio
import datetime as dtm
import logging
import warnings
from collections.abc import Awaitable, Callable
from typing import TypeVar

from telegram.error import RetryAfter

log = logging.getLogger(__name__)
T = TypeVar("T")


class FloodWait(Exception):
    """Telegram asked for a longer pause than we wait inline; the outbox retries after ``retry_after``."""

    def __init__(self, retry_after: float) -> None:
        super().__init__(f"Telegram flood control: retry in {retry_after:.0f} s")
        self.retry_after = retry_after


def retry_seconds(exc: RetryAfter) -> float:
    """Seconds Telegram asked us to wait (PTB gives an int or a timedelta depending on PTB_TIMEDELTA)."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # PTB warns about the int form; either form is fine here
        value = exc.retry_after
    return value.total_seconds() if isinstance(value, dtm.timedelta) else float(value)


async def patiently(call: Callable[[], Awaitable[T]], *, max_wait_s: float = 30.0, tries: int = 4) -> T:
    """Run a Bot API call, sleeping through flood control; raise :class:`FloodWait` past ``max_wait_s``."""
    for attempt in range(1, tries + 1):
        try:
            return await call()
        except RetryAfter as exc:
            wait = retry_seconds(exc)
            if wait > max_wait_s or attempt == tries:
                raise FloodWait(wait) from exc
            log.info("Telegram flood control: waiting %.0f s", wait)
            await asyncio.sleep(wait)
    raise AssertionError("unreachable")

"""One message per job, edited as the job moves, never faster than Telegram allows in that chat.

Telegram limits how often a bot may write to one chat (about once a second in a private chat, 20 times a
minute in a group). Each job's message keeps only the newest wanted text: while an edit waits for the
chat's next free slot, newer progress replaces older, so a fast job costs a handful of edits, not one per
denoising step. ``RetryAfter`` moves the chat's next slot as far as Telegram says. The final text (done,
failed, cancelled) is never dropped and nothing is shown after it.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from dataclasses import dataclass
from typing import Any

from telegram import Bot, InlineKeyboardMarkup
from telegram.error import BadRequest, Forbidden, NetworkError, RetryAfter

from bot.telegram.flood import retry_seconds

log = logging.getLogger(__name__)
_NETWORK_TRIES = 3


@dataclass
class _Live:
    chat_id: int
    message_id: int
    interval_s: float
    header: str
    text: str = ""
    markup: InlineKeyboardMarkup | None = None
    shown: tuple[str, Any] | None = None
    final: bool = False
    gone: bool = False  # deleted by the user, or the bot was removed from the chat
    task: asyncio.Task[None] | None = None
    failures: int = 0

    def wanted(self) -> tuple[str, Any]:
        return self.text, self.markup.to_dict() if self.markup is not None else None


class LiveMessages:
    def __init__(self, bot: Bot, *, private_interval_s: float, group_interval_s: float) -> None:
        self.bot = bot
        self.private_interval_s = private_interval_s
        self.group_interval_s = group_interval_s
        self._live: dict[str, _Live] = {}
        self._next_slot: dict[int, float] = {}  # chat id -> monotonic time of its next allowed edit

    def tracks(self, job_id: str) -> bool:
        return job_id in self._live

    def track(self, job_id: str, chat_id: int, message_id: int, chat_type: str, header: str) -> None:
        """Start following a job's message; every text it shows starts with ``header``."""
        if job_id not in self._live:
            interval = self.private_interval_s if chat_type == "private" else self.group_interval_s
            self._live[job_id] = _Live(chat_id, message_id, interval, header)

    def show(self, job_id: str, line: str, markup: InlineKeyboardMarkup | None = None) -> None:
        """Ask for the job's message to read ``line``; superseded by any later call before it is sent."""
        live = self._live.get(job_id)
        if live is None or live.final or live.gone:
            return
        live.text, live.markup = f"{live.header}\n{line}", markup
        self._kick(job_id, live)

    async def finish(
        self, job_id: str, line: str, markup: InlineKeyboardMarkup | None = None, *, timeout_s: float = 60.0
    ) -> bool:
        """Show the last line of a job and stop following it; True when Telegram has it."""
        live = self._live.get(job_id)
        if live is None:
            return False
        live.text, live.markup, live.final = f"{live.header}\n{line}", markup, True
        task = self._kick(job_id, live)
        if task is None:
            del self._live[job_id]
        else:
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(asyncio.shield(task), timeout_s)
        return live.shown == live.wanted()

    async def aclose(self) -> None:
        tasks = [live.task for live in self._live.values() if live.task is not None]
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)
        self._live.clear()

    def _kick(self, job_id: str, live: _Live) -> asyncio.Task[None] | None:
        if live.task is None or live.task.done():
            if live.wanted() == live.shown:
                return None
            live.task = asyncio.get_running_loop().create_task(self._flush(job_id, live), name=f"tg-edit-{job_id}")
        return live.task

    async def _flush(self, job_id: str, live: _Live) -> None:
        while not live.gone and live.wanted() != live.shown:
            wait = self._next_slot.get(live.chat_id, 0.0) - time.monotonic()
            if wait > 0:
                await asyncio.sleep(wait)
                continue  # newer text may have arrived while waiting
            self._next_slot[live.chat_id] = time.monotonic() + live.interval_s
            wanted = live.wanted()
            try:
                await self.bot.edit_message_text(
                    live.text, chat_id=live.chat_id, message_id=live.message_id, reply_markup=live.markup
                )
            except RetryAfter as exc:
                self._next_slot[live.chat_id] = time.monotonic() + retry_seconds(exc)
                continue
            except BadRequest as exc:
                if "not modified" in exc.message.lower():
                    live.shown = wanted
                    continue
                # The message is gone or the text is refused: no later edit of it can work.
                log.warning("cannot edit the message of job %s: %s", job_id, exc.message)
                live.gone = True
                break
            except Forbidden as exc:
                log.warning("cannot edit the message of job %s: %s", job_id, exc.message)
                live.gone = True
                break
            except NetworkError as exc:
                live.failures += 1
                if live.failures >= _NETWORK_TRIES:
                    log.warning("giving up on editing the message of job %s: %s", job_id, exc)
                    break
                await asyncio.sleep(2.0 * live.failures)
                continue
            live.failures = 0
            live.shown = wanted
        if live.final and self._live.get(job_id) is live:
            del self._live[job_id]

"""One message per job, edited as the job moves: the newest wanted text wins, at the platform's own pace.

A front end gives the editor its ``edit(target, text, markup)`` and says for each job where its message is
and how fast it may change (:class:`Where`): Discord one interval per job, Telegram one slot per chat, with
private and group chats at different intervals. While an edit waits for its slot newer text replaces older,
so a fast job costs a handful of edits, not one per denoising step; a text already shown is not sent again.

``edit`` reports trouble by raising :class:`SlowDown` (the platform asks to wait: the pace's next slot moves
that far) or :class:`MessageGone` (no later edit can work: deleted, no rights, an expired token); anything
else is a failed try, retried after ``backoff_s`` x tries, and after ``tries`` in a row the message is left
as it is. The final text (:meth:`PacedEditor.finish`) is never dropped and nothing is shown after it.

A platform that can show a picture with a job's message gives ``attach(target, picture, caption)``: a
job's one preview (:meth:`PacedEditor.attach`) then goes out in its own slot of the same pace, never after
the final text; a picture that fails is dropped (it is a nicety), never retried.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections.abc import Awaitable, Callable, Hashable
from dataclasses import dataclass
from typing import Any, Generic, TypeVar

log = logging.getLogger(__name__)
T = TypeVar("T")  # where a message is: Discord's interaction reply, Telegram's (chat, message)
M = TypeVar("M")  # the buttons under it


class MessageGone(Exception):
    """No edit of this message can work any more."""


class SlowDown(Exception):
    """The platform asks to wait ``seconds`` before the next edit (a 429 with Retry-After, a flood wait)."""

    def __init__(self, seconds: float) -> None:
        super().__init__(f"asked to wait {seconds:.1f} s")
        self.seconds = seconds


@dataclass(frozen=True, slots=True)
class Where(Generic[T]):
    """A job's message, and its pace: edits under the same ``pace`` key share one slot every ``interval_s``."""

    target: T
    pace: Hashable
    interval_s: float


@dataclass(eq=False)
class _Live(Generic[T, M]):
    where: Where[T]
    header: str
    text: str = ""
    markup: M | None = None
    shown: tuple[str, Any] | None = None
    final: bool = False
    gone: bool = False
    failures: int = 0
    task: asyncio.Task[None] | None = None
    picture: tuple[bytes, str] | None = None  # a preview waiting for its slot, and its caption
    pictured: bool = False  # a job shows one preview at most


class PacedEditor(Generic[T, M]):
    def __init__(
        self,
        edit: Callable[[T, str, M | None], Awaitable[None]],
        *,
        markup_key: Callable[[M], Any] = lambda markup: markup,
        tries: int = 3,
        backoff_s: float = 0.0,
        name: str = "edit",
        attach: Callable[[T, bytes, str], Awaitable[None]] | None = None,
    ) -> None:
        self._edit = edit
        self._attach = attach
        self._markup_key = markup_key  # markups with the same key look the same: no edit needed between them
        self.tries = tries
        self.backoff_s = backoff_s
        self.name = name
        self._live: dict[str, _Live[T, M]] = {}
        self._next_slot: dict[Hashable, float] = {}  # pace -> monotonic time of its next allowed edit

    def tracks(self, job_id: str) -> bool:
        return job_id in self._live

    def attach(self, job_id: str, picture: bytes, caption: str) -> None:
        """Show ``picture`` with the job's message, once per job, in the message's next free slot."""
        live = self._live.get(job_id)
        if self._attach is None or live is None or live.final or live.gone or live.pictured:
            return
        live.picture, live.pictured = (picture, caption), True
        self._kick(job_id, live)

    def track(self, job_id: str, where: Where[T], header: str) -> None:
        """Start following a job's message; every text it shows starts with ``header``."""
        if job_id not in self._live:
            self._live[job_id] = _Live(where, header)

    def show(self, job_id: str, line: str, markup: M | None = None) -> None:
        """Ask for the job's message to read ``line``; superseded by any later call before it is sent."""
        live = self._live.get(job_id)
        if live is None or live.final or live.gone:
            return
        live.text, live.markup = f"{live.header}\n{line}", markup
        self._kick(job_id, live)

    async def finish(self, job_id: str, line: str, markup: M | None = None, *, timeout_s: float = 60.0) -> bool:
        """Show the last line of a job and stop following it; True when the platform has it."""
        live = self._live.get(job_id)
        if live is None:
            return False
        live.text, live.markup, live.final = f"{live.header}\n{line}", markup, True
        task = self._kick(job_id, live)
        if task is None:
            self._drop(job_id)
        else:
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(asyncio.shield(task), timeout_s)
        return live.shown == self._wanted(live)

    def forget(self, job_id: str) -> None:
        """Stop following a job; an edit waiting for its slot is dropped (the deliverer has the last word)."""
        live = self._live.get(job_id)
        if live is not None:
            self._drop(job_id)
            if live.task is not None:
                live.task.cancel()

    async def aclose(self) -> None:
        tasks = [live.task for live in self._live.values() if live.task is not None]
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)
        self._live.clear()

    def _wanted(self, live: _Live[T, M]) -> tuple[str, Any]:
        return live.text, self._markup_key(live.markup) if live.markup is not None else None

    def _drop(self, job_id: str) -> None:
        self._live.pop(job_id, None)
        now = time.monotonic()  # a slot in the past says nothing: forget it, or one job per pace would leak
        self._next_slot = {pace: at for pace, at in self._next_slot.items() if at > now}

    def _kick(self, job_id: str, live: _Live[T, M]) -> asyncio.Task[None] | None:
        if live.task is None or live.task.done():
            if self._wanted(live) == live.shown and live.picture is None:
                return None
            live.task = asyncio.get_running_loop().create_task(self._flush(job_id, live),
                                                               name=f"{self.name}-{job_id}")
        return live.task

    async def _flush(self, job_id: str, live: _Live[T, M]) -> None:
        pace = live.where.pace
        while not live.gone and (self._wanted(live) != live.shown or live.picture is not None):
            wait = self._next_slot.get(pace, 0.0) - time.monotonic()
            if wait > 0:
                await asyncio.sleep(wait)
                continue  # newer text may have arrived while waiting
            self._next_slot[pace] = time.monotonic() + live.where.interval_s
            if live.picture is not None:
                picture, live.picture = live.picture, None
                if not live.final:  # nothing goes out after the final text
                    await self._show_picture(job_id, live, *picture)
                continue
            wanted = self._wanted(live)
            try:
                await self._edit(live.where.target, live.text, live.markup)
            except SlowDown as exc:
                self._next_slot[pace] = time.monotonic() + exc.seconds
                continue
            except MessageGone as exc:
                log.info("the message of job %s can no longer be edited: %s", job_id, exc)
                live.gone = True
                break
            except Exception as exc:  # noqa: BLE001 - a platform's bad moment: tried again, then given up
                live.failures += 1
                log.warning("cannot edit the message of job %s (try %d of %d): %s", job_id, live.failures,
                            self.tries, exc)
                if live.failures >= self.tries:
                    live.gone = True
                    break
                await asyncio.sleep(self.backoff_s * live.failures)
                continue
            # The platform counts from when it got the edit, which may be later than when it was sent (a slow
            # network, a busy machine): the next one waits a full interval from the answer, never less.
            self._next_slot[pace] = max(self._next_slot.get(pace, 0.0), time.monotonic() + live.where.interval_s)
            live.failures = 0
            live.shown = wanted
        if live.final and self._live.get(job_id) is live:
            self._drop(job_id)

    async def _show_picture(self, job_id: str, live: _Live[T, M], picture: bytes, caption: str) -> None:
        assert self._attach is not None
        try:
            await self._attach(live.where.target, picture, caption)
        except SlowDown as exc:
            self._next_slot[live.where.pace] = time.monotonic() + exc.seconds
        except Exception as exc:  # noqa: BLE001 - a preview is a nicety: the job's message goes on without it
            log.info("cannot show the preview of job %s: %s", job_id, exc)

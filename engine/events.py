"""Engine events, fanned out to any number of subscribers without ever blocking the engine.

Each subscriber gets its own bounded queue and its own task. ``publish`` never waits: when a subscriber's
queue is full, progress events for it are dropped (the next one supersedes them) while state changes still
get in by evicting the oldest progress event. Outcomes that must not be lost go through the outbox
(``engine/outbox.py``), not through here.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable
from dataclasses import dataclass

from engine.types import JobState
from engine.words import Text

log = logging.getLogger(__name__)


@dataclass(frozen=True, slots=True)
class Event:
    job_id: str
    platform: str  # the job's origin, so a front end can ignore other platforms' jobs


@dataclass(frozen=True, slots=True)
class Queued(Event):
    position: int
    eta_s: float


@dataclass(frozen=True, slots=True)
class Started(Event):
    backend: str
    model: str | None
    lane: str | None
    estimate_usd: float = 0.0  # what a cloud attempt is expected to cost (shown to the user)
    prompt_used: str | None = None  # the prompt this model gets when it is not the user's (translated)
    translation_failed: bool = False  # the model does not understand the prompt, which could not be translated
    prompt_unused: Text | None = None  # the model takes no prompt: what the user is told (engine/captions.py)


@dataclass(frozen=True, slots=True)
class Progress(Event):
    step: int
    total: int
    preview: bytes | None = None


@dataclass(frozen=True, slots=True)
class Loading(Event):
    """A local model is made ready before the job's first step: its weights downloaded from the Hub
    (``phase`` "download", bytes so far of all), then loaded (``phase`` "load", onto the GPU when ``gpu``).
    Download steps may be dropped like progress steps; the next one says more."""

    model: str
    phase: str
    done_bytes: int = 0
    total_bytes: int = 0
    gpu: bool = True


@dataclass(frozen=True, slots=True)
class Retrying(Event):
    """One backend failed and the job moves on to the next; ``reason`` is for the user."""

    failed_backend: str
    error_code: str
    reason: Text | str
    next_backend: str


@dataclass(frozen=True, slots=True)
class Ended(Event):
    state: JobState
    error_code: str | None = None
    message: Text | str | None = None


@dataclass(frozen=True, slots=True)
class ProviderAlert(Event):
    """For admins, once until the backend works again: its key was refused or the service is gone.
    ``job_id`` is the job that found out; ``platform`` is empty: every front end may tell its admins."""

    backend: str
    message: Text | str


@dataclass(frozen=True, slots=True)
class ModelAlert(Event):
    """For admins, once until the model works again: ``model`` of ``backend`` cannot be loaded (a gated repo
    whose licence was not accepted, weights not downloaded, a broken folder). ``message`` is the technical
    reason with what to do; the user whose job found out is told only that the admins know.
    ``platform`` is empty: every front end may tell its admins."""

    backend: str
    model: str
    message: Text | str


Handler = Callable[[Event], Awaitable[None]]


def _droppable(event: Event) -> bool:
    """A step that the next one supersedes: denoising progress, or bytes of a download."""
    return isinstance(event, Progress) or isinstance(event, Loading) and event.phase == "download"


class Subscription:
    def __init__(self, bus: EventBus, handler: Handler, maxsize: int) -> None:
        self._bus = bus
        self._handler = handler
        self.queue: asyncio.Queue[Event] = asyncio.Queue(maxsize)
        self.dropped = 0
        self._task = asyncio.get_running_loop().create_task(self._drain(), name="reelbot-events")

    def offer(self, event: Event) -> None:
        if self.queue.full():
            if _droppable(event):
                self.dropped += 1
                return
            self._evict_one()
        self.queue.put_nowait(event)

    def _evict_one(self) -> None:
        kept = []
        evicted = False
        while not self.queue.empty():
            item = self.queue.get_nowait()
            self.queue.task_done()
            if not evicted and _droppable(item):
                evicted = True
                self.dropped += 1
                continue
            kept.append(item)
        if not evicted:
            kept.pop(0)
            self.dropped += 1
        for item in kept:
            self.queue.put_nowait(item)

    async def _drain(self) -> None:
        while True:
            event = await self.queue.get()
            try:
                await self._handler(event)
            except Exception:
                log.exception("event subscriber failed on %s", type(event).__name__)
            finally:
                self.queue.task_done()

    async def close(self) -> None:
        self._bus.unsubscribe(self)
        self._task.cancel()
        await asyncio.gather(self._task, return_exceptions=True)


class EventBus:
    def __init__(self) -> None:
        self._subs: list[Subscription] = []

    def subscribe(self, handler: Handler, *, maxsize: int = 1000) -> Subscription:
        sub = Subscription(self, handler, maxsize)
        self._subs.append(sub)
        return sub

    def unsubscribe(self, sub: Subscription) -> None:
        if sub in self._subs:
            self._subs.remove(sub)

    def publish(self, event: Event) -> None:
        for sub in self._subs:
            sub.offer(event)

    async def drain(self) -> None:
        """Wait until every subscriber has handled every event published so far (tests, a clean stop)."""
        await asyncio.gather(*(sub.queue.join() for sub in list(self._subs)))

    async def close(self) -> None:
        for sub in list(self._subs):
            await sub.close()

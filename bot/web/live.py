"""A job's progress, pushed to every browser that follows it (server-sent events, no polling).

One subscription to the engine's events for the whole console, fanned out to the browsers following each
job: 50 browsers cost the engine one subscriber, not 50. Each browser has its own small queue; one that
falls behind loses progress steps (the next supersedes them), never the state changes, and gets what piled
up in one write. Progress steps are paced per job (``PROGRESS_EVERY_S``): a bar needs no more than a few
moves a second, and a fast model (a distilled one does tens of steps a second) would otherwise cost the
engine's loop a write per step per browser. The first step and the last go at once; one held back goes
when its time comes, unless a later one (or the job's next state) supersedes it. Lines are worded in each
follower's language with the same words the chats use (``bot.core.lines``).
"""

from __future__ import annotations

import asyncio
import json
from collections import deque
from collections.abc import AsyncGenerator
from dataclasses import dataclass, field

from bot.core.lines import JobLines
from bot.i18n import ENGLISH, Words
from bot.render import progress_bar, queued_line, running_line
from engine.events import Ended, Event, Loading, Progress, Queued, Started, Subscription
from engine.service import Service
from engine.types import JobState, JobView, UserRef

KEEPALIVE_S = 15.0
PROGRESS_EVERY_S = 0.2  # the most often a job's followers hear of its next step
FOLLOWER_QUEUE = 64
_CLOSED = object()


@dataclass(eq=False)
class _Follower:
    w: Words
    pending: deque[object] = field(default_factory=deque)
    ready: asyncio.Event = field(default_factory=asyncio.Event)

    def offer(self, item: object) -> None:
        if len(self.pending) >= FOLLOWER_QUEUE:
            if isinstance(item, dict) and item.get("state") == "running" and "step" in item:
                return  # a progress step: the next one says more
            self.pending.popleft()
        self.pending.append(item)
        self.ready.set()

    async def take(self) -> list[object]:
        """Everything offered since the last take, waiting up to ``KEEPALIVE_S`` for something (then
        ``TimeoutError``)."""
        if not self.pending:
            self.ready.clear()
            async with asyncio.timeout(KEEPALIVE_S):
                await self.ready.wait()
        items = list(self.pending)
        self.pending.clear()
        return items


@dataclass(eq=False)
class _Pace:
    """A followed job's progress steps: when its followers last heard one, and the one held back."""

    last: float
    held: Progress | None = None
    timer: asyncio.TimerHandle | None = None

    def drop_held(self) -> None:
        self.held = None
        if self.timer is not None:
            self.timer.cancel()
            self.timer = None


class LiveJobs:
    def __init__(self, service: Service) -> None:
        self.service = service
        self.lines = JobLines()
        self._followers: dict[str, set[_Follower]] = {}
        self._paces: dict[str, _Pace] = {}
        self._subscription: Subscription | None = None

    def open(self) -> None:
        if self._subscription is None:
            self._subscription = self.service.subscribe(self.on_event)

    async def close(self) -> None:
        for followers in self._followers.values():
            for follower in followers:
                follower.offer(_CLOSED)
        if self._subscription is not None:
            await self._subscription.close()
            self._subscription = None

    @property
    def following(self) -> int:
        return sum(len(f) for f in self._followers.values())

    async def on_event(self, event: Event) -> None:
        followers = self._followers.get(event.job_id)
        if not followers:
            if isinstance(event, Started | Ended):  # what the job runs on, for whoever opens its page later
                self.lines.line(ENGLISH, event)
            return
        if isinstance(event, Progress) and not self._due(event):
            return
        self._fan_out(followers, event)

    def _due(self, event: Progress) -> bool:
        """Whether the job's followers hear of this step now; if not, it is held back until its time."""
        loop = asyncio.get_running_loop()
        now = loop.time()
        pace = self._paces.get(event.job_id)
        if pace is None or event.step <= 1 or event.step >= event.total or now >= pace.last + PROGRESS_EVERY_S:
            if pace is None:
                self._paces[event.job_id] = _Pace(now)
            else:
                pace.drop_held()
                pace.last = now
            return True
        pace.held = event  # the latest step: it supersedes any held before it
        if pace.timer is None:
            pace.timer = loop.call_at(pace.last + PROGRESS_EVERY_S, self._release, event.job_id)
        return False

    def _release(self, job_id: str) -> None:
        pace = self._paces.get(job_id)
        if pace is None or pace.held is None:
            return
        held = pace.held
        pace.timer = None
        pace.held = None
        pace.last = asyncio.get_running_loop().time()
        followers = self._followers.get(job_id)
        if followers:
            self._fan_out(followers, held)

    def _fan_out(self, followers: set[_Follower], event: Event) -> None:
        if not isinstance(event, Progress) and (pace := self._paces.get(event.job_id)) is not None:
            pace.drop_held()  # the job's next state (or its end) supersedes a step held back
            if isinstance(event, Ended):
                del self._paces[event.job_id]
        said: dict[str, dict[str, object]] = {}  # one wording per language, however many follow
        for follower in list(followers):
            update = said.get(follower.w.lang)
            if update is None:
                update = said[follower.w.lang] = self._update(follower.w, event)
            follower.offer(update)

    def _update(self, w: Words, event: Event) -> dict[str, object]:
        line = self.lines.line(w, event)
        if isinstance(event, Ended):
            return {"state": event.state.value, "ended": True}
        if isinstance(event, Queued):
            return {"state": "queued", "line": line, "position": event.position, "eta_s": round(event.eta_s)}
        if isinstance(event, Progress):  # the page draws its own bar
            line = (line or "").removesuffix(" " + progress_bar(event.step, event.total))
            return {"state": "running", "line": line, "step": event.step, "total": event.total}
        if isinstance(event, Started):
            return {"state": "running", "line": line}
        if isinstance(event, Loading):  # the model is downloaded, then loaded: the line says how far
            return {"state": "running", "line": line, "phase": event.phase}
        return {"state": "running", "line": line}  # Retrying: on its way to the next backend

    async def follow(self, w: Words, by: UserRef, job_id: str) -> AsyncGenerator[str, None]:
        """The job's updates as server-sent events until it ends (or the console stops), for its owner or an
        admin. The first is the job as it is now, read once, after joining its followers, so nothing falls
        between the two; a job that is not there or not theirs raises (``NotFound``, ``NotAllowed``) at that
        first step, before anything is sent."""
        follower = _Follower(w)
        self._followers.setdefault(job_id, set()).add(follower)
        try:
            view = await self.service.job_for(by, job_id)
            first = snapshot(w, view)
            yield _event(first)
            if first.get("ended"):
                return
            while True:
                try:
                    items = await follower.take()
                except TimeoutError:
                    yield ": keepalive\n\n"
                    continue
                said, over = [], False  # what piled up goes in one write
                for item in items:
                    over = item is _CLOSED or isinstance(item, dict) and bool(item.get("ended"))
                    if item is not _CLOSED:
                        said.append(_event(item))
                    if over:
                        break
                if said:
                    yield "".join(said)
                if over:
                    return
        finally:
            followers = self._followers.get(job_id)
            if followers is not None:
                followers.discard(follower)
                if not followers:
                    del self._followers[job_id]
                    if (pace := self._paces.pop(job_id, None)) is not None:
                        pace.drop_held()


def snapshot(w: Words, view: JobView) -> dict[str, object]:
    """What a browser that just opened the job's page sees first."""
    if view.state.terminal:
        return {"state": view.state.value, "ended": True}
    if view.state is JobState.QUEUED:
        return {"state": "queued", "line": queued_line(w, view.position, view.eta_s),
                "position": view.position, "eta_s": round(view.eta_s) if view.eta_s is not None else None}
    step, total = view.progress or (0, 0)
    return {"state": "running", "line": running_line(w, view.backend, None, view.model).removesuffix("…"),
            "step": step, "total": total}


def _event(data: object) -> str:
    return f"data: {json.dumps(data, ensure_ascii=False)}\n\n"

"""Each GPU lane's warm-up at start: its models loaded and their default shapes compiled, in the background,
before the lane takes its first job.

A lane warming up reports it in /status ("warming up svd-xt") and takes no job; jobs queue for it (or go to
another idle lane), and never go to the cloud because of it. A backend takes part by having
``warm_up_models(lane) -> list[str]`` and ``warm_up(lane, model, cancel) -> list[str]`` (the local diffusers
backend; see engine/local/compiled.py). Stopping cancels the warm-up at its next denoising step and does not
wait for it: a compile in progress finishes on the lane's thread while the rest of reelbot shuts down.
"""

from __future__ import annotations

import asyncio
import logging
import threading
from collections.abc import Callable, Iterable
from typing import Any

from engine.lanes import GpuLane

log = logging.getLogger(__name__)


class WarmUps:
    def __init__(self, lanes: Iterable[GpuLane], backends: Iterable[Any],
                 say: Callable[[str], None] | None = None) -> None:
        self.lanes = list(lanes)
        self.backends = [b for b in backends if getattr(b, "local", False) and hasattr(b, "warm_up")]
        self.say = say or log.info
        self.tasks: list[asyncio.Task[None]] = []
        self._cancel = threading.Event()

    def start(self) -> None:
        """Mark each lane that has something to warm up as warming, and start warming them (lanes at once)."""
        loop = asyncio.get_running_loop()
        for lane in self.lanes:
            work = [(backend, model) for backend in self.backends for model in backend.warm_up_models(lane)]
            if not work:
                continue
            lane.warming = work[0][1]
            self.tasks.append(loop.create_task(self._warm(lane, work), name=f"warm-up-{lane.name}"))

    async def wait(self) -> None:
        """Until every lane has warmed up (or given up)."""
        await asyncio.gather(*self.tasks, return_exceptions=True)

    async def stop(self) -> None:
        """Stop warming at the next step; the lanes' threads are not waited for."""
        self._cancel.set()
        for task in self.tasks:
            task.cancel()
        await asyncio.gather(*self.tasks, return_exceptions=True)

    async def _warm(self, lane: GpuLane, work: list[tuple[Any, str]]) -> None:
        try:
            for backend, model in work:
                if self._cancel.is_set():
                    return
                lane.warming = model
                self.say(f"{lane.name}: warming up {model}")
                future = lane.in_thread(backend.warm_up, lane, model, self._cancel)
                try:
                    notes = await asyncio.shield(future)
                except asyncio.CancelledError:
                    self._cancel.set()  # the thread stops at its next step; nobody waits for it
                    future.add_done_callback(_retrieved)
                    raise
                except Exception as exc:  # a backend's bug must not keep the lane from its jobs
                    log.exception("lane %s: warming up %s failed", lane.name, model)
                    notes = [f"warm-up of {model} failed: {type(exc).__name__}: {exc}"]
                for note in notes:
                    self.say(f"{lane.name}: {note}")
        finally:
            lane.warming = None
            if not self._cancel.is_set():
                lane.ready_again()


def _retrieved(future: asyncio.Future[Any]) -> None:
    if not future.cancelled():
        future.exception()

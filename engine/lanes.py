"""A GPU lane: one GPU, one worker thread, one job at a time.

diffusers pipelines are not thread-safe and torch work must never run on the event loop, so each GPU gets
a single thread that every local attempt on that GPU runs on. Models loaded on a lane stay warm there
(``warm``, least recently used first) until a loader evicts them; the scheduler reads ``warm_models`` to
prefer jobs whose model is already loaded.
"""

from __future__ import annotations

import asyncio
import logging
import threading
import time
from collections import OrderedDict
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from typing import Any, TypeVar

R = TypeVar("R")
log = logging.getLogger(__name__)


class GpuLane:
    def __init__(
        self,
        index: int,
        *,
        device: str,
        label: str = "",
        models: frozenset[str] | None = None,
        cancel_grace_s: float = 60.0,
    ) -> None:
        self.index = index
        self.name = f"gpu{index}"
        self.device = device  # "cuda:0", or "sim:0" for the simulated backend
        self.label = label or device  # human name, e.g. "NVIDIA H100 80GB HBM3"
        self.models = models  # None: every local model
        self.cancel_grace_s = cancel_grace_s
        self.warm: OrderedDict[str, Any] = OrderedDict()  # touched only on the lane's thread
        self.warm_models: frozenset[str] = frozenset()  # snapshot the event loop may read
        self.current_job: str | None = None
        self.busy_since: float | None = None
        self.expected_end: float = 0.0
        self.jobs_done = 0
        self.broken: str | None = None  # set when the GPU is unusable; the lane takes no more work
        self.warming: str | None = None  # the model compiled at start (engine/warmup.py): no job meanwhile
        self.stopping = False  # a cancelled job still finishing its step, load or decode: no job meanwhile
        self.on_ready: Callable[[], None] | None = None  # the scheduler's: the lane can take a job again
        self._executor = ThreadPoolExecutor(max_workers=1, thread_name_prefix=f"reelbot-{self.name}")

    @property
    def ready(self) -> bool:
        """Free to start a job now."""
        return self.current_job is None and self.broken is None and self.warming is None and not self.stopping

    def serves(self, model: str | None) -> bool:
        return self.broken is None and (self.models is None or model is None or model in self.models)

    # --- warm models (call from the lane's thread) ---

    def get_warm(self, model: str) -> Any | None:
        value = self.warm.get(model)
        if value is not None:
            self.warm.move_to_end(model)
        return value

    def put_warm(self, model: str, value: Any) -> None:
        self.warm[model] = value
        self.warm.move_to_end(model)
        self.warm_models = frozenset(self.warm)

    def evict_oldest(self) -> str | None:
        if not self.warm:
            return None
        model, _ = self.warm.popitem(last=False)
        self.warm_models = frozenset(self.warm)
        return model

    # --- running ---

    async def call(self, fn: Callable[..., R], *args: Any, cancel: threading.Event) -> R:
        """Run ``fn`` on this lane's thread. If the caller is cancelled, raise the cancel flag and wait for
        the work to stop (it checks the flag every step). Work that outlasts ``cancel_grace_s`` (a model
        still loading, a long VAE decode) is left to finish: the caller goes on, and the lane takes no job
        until it has stopped (``stopping``). A cancel or a timeout never marks the GPU broken."""
        loop = asyncio.get_running_loop()
        future = loop.run_in_executor(self._executor, fn, *args)
        try:
            return await asyncio.shield(future)
        except asyncio.CancelledError:
            cancel.set()
            done, _ = await asyncio.wait({future}, timeout=self.cancel_grace_s)
            if not done:
                log.warning("lane %s: a cancelled job has not stopped after %.0f s; no job starts there until "
                            "it has", self.name, self.cancel_grace_s)
                self.stopping = True
                future.add_done_callback(self._stopped)
            elif not future.cancelled() and future.exception() is not None:
                future.exception()  # retrieved: the cancel is what the caller asked for
            raise

    def _stopped(self, future: asyncio.Future[Any]) -> None:
        if not future.cancelled():
            future.exception()  # retrieved: it was cancelled
        self.stopping = False
        self.ready_again()

    def ready_again(self) -> None:
        """Tell the scheduler that the lane may take a job again (after a warm-up or a late stop)."""
        if self.on_ready is not None:
            self.on_ready()

    def in_thread(self, fn: Callable[..., R], *args: Any) -> asyncio.Future[R]:
        """Run ``fn`` on this lane's thread, with no cancel handling (the warm-up's own)."""
        return asyncio.get_running_loop().run_in_executor(self._executor, fn, *args)

    def begin(self, job_id: str, expected_s: float) -> None:
        self.current_job = job_id
        self.busy_since = time.monotonic()
        self.expected_end = self.busy_since + expected_s

    def end(self) -> None:
        self.current_job = None
        self.busy_since = None
        self.jobs_done += 1

    def remaining_s(self, now: float) -> float:
        return max(0.0, self.expected_end - now) if self.current_job else 0.0

    def close(self) -> None:
        self._executor.shutdown(wait=False, cancel_futures=True)

"""The front end's side of distributed mode: queue jobs, cancel them wherever they run, hear their events,
and give the job of a worker that stopped answering to another one.

:class:`QueueDispatcher` is the service's :class:`~engine.dispatch.Dispatcher` there: admitted jobs go to
PostgreSQL (procrastinate), one queue per model, for the ``reelbot worker`` processes. The watchdog runs in
every front end: a procrastinate job whose worker has sent no heartbeat for ``WORKER_STALLED_S`` is handed
back to the queue (its attempt marked interrupted), or failed and refunded once it has stopped
``MAX_INTERRUPTIONS`` + 1 workers. The ledger and the outbox are the same as embedded mode, so a job is
charged and delivered once whichever worker finishes it.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from datetime import timedelta

from engine.clock import utcnow
from engine.distributed.notify import Listener
from engine.distributed.queue import JobQueue, queue_for
from engine.events import Ended, Event, EventBus, Queued
from engine.outbox import Outbox
from engine.router import Router, Step
from engine.types import JobSpec, JobState
from engine.views import stored_view
from storage.repo import Admitted, Repository

log = logging.getLogger(__name__)
POSITIONS_EVERY_S = 2.0
RECONCILE_EVERY_S = 60.0
FORGET_WORKER_S = 3600.0  # jobs admitted but not queued (the queue refused them a moment): queued again
CANCEL_WAIT_S = 30.0  # how long a cancel waits for the worker that runs the job to stop it


class QueueDispatcher:
    def __init__(
        self,
        queue: JobQueue,
        *,
        repo: Repository,
        router: Router,
        events: EventBus,
        outbox: Outbox,
        heartbeat_s: float,
        stalled_s: float,
        max_interruptions: int,
    ) -> None:
        self.queue = queue
        self.repo = repo
        self.router = router
        self.events = events
        self.outbox = outbox
        self.heartbeat_s = heartbeat_s
        self.stalled_s = stalled_s
        self.max_interruptions = max_interruptions
        self._tasks: list[asyncio.Task[None]] = []
        self.listener = Listener(queue.conninfo, self._on_event)

    async def start(self) -> None:
        loop = asyncio.get_running_loop()
        self._tasks.append(loop.create_task(self.listener.run(), name="reelbot-listen"))
        await asyncio.wait_for(self.listener.connected.wait(), 30)
        await self.reconcile()
        self._tasks.append(loop.create_task(self._watch(), name="reelbot-watchdog"))
        self._tasks.append(loop.create_task(self._publish_positions(), name="reelbot-positions"))

    async def stop(self) -> None:
        for task in self._tasks:
            task.cancel()
        await asyncio.gather(*self._tasks, return_exceptions=True)
        self._tasks.clear()

    async def waiting(self) -> int:
        return (await self.repo.counts_by_state()).get("queued", 0)

    async def dispatch(
        self, spec: JobSpec, admitted: Admitted, steps: list[Step], *, user_key: str, platform: str
    ) -> tuple[int, float] | None:
        # Admins first; among users, whoever has fewer jobs open goes before (procrastinate takes the
        # highest priority first, and in order of arrival within one).
        fair = admitted.priority * 1000 - await self.repo.open_jobs_of(admitted.user_id)
        try:
            return await self.enqueue(spec.id, steps, fair)
        except Exception:  # admitted and stored: the watchdog queues it within a minute
            log.exception("could not queue job %s now; it will be queued again shortly", spec.id)
            return None

    async def enqueue(self, job_id: str, steps: list[Step], priority: int) -> tuple[int, float]:
        """Queue the job for its model's workers; its (place, rough wait) among those waiting there."""
        local = next((s for s in steps if s.backend.local), None)
        queue = queue_for(local.model if local else None)
        await self.queue.defer(job_id, queue, priority)
        waiting = await self.queue.waiting(queue)
        each = local.estimate.seconds if local else steps[0].estimate.seconds if steps else 60.0
        return max(1, waiting), max(0, waiting - 1) * each

    async def resume(self, job_id: str) -> asyncio.Task[None] | None:
        """A stored job that has not ended goes back to the queue (a worker runs it, not this process)."""
        view = await stored_view(self.repo, job_id)
        if not view.state.terminal:
            await self.enqueue(job_id, self.router.plan(view.kind, view.options), 0)
        return None

    async def cancel(self, job_id: str) -> bool:
        if await self.queue.cancel(job_id) != "aborting":
            return False  # it was only waiting (or is not queued): the caller closes it
        await self._until_ended(job_id, timeout_s=CANCEL_WAIT_S)  # its worker stops it, refunds, tells
        return True

    async def wait(self, job_id: str) -> None:
        await self._until_ended(job_id)  # a worker runs it: its end arrives as an event (NOTIFY)
        await self.outbox.flush()

    def position(self, job_id: str) -> tuple[int, float] | None:
        return None  # told by events (every POSITIONS_EVERY_S), not known here between them

    def progress(self, job_id: str) -> tuple[int, int] | None:
        return None

    def place_for(self, model: str | None) -> tuple[int, float] | None:
        return None  # the GPUs are the workers'

    def cloud_step(self, job_id: str) -> Step | None:
        return None

    async def to_cloud(self, job_id: str) -> bool:
        return False

    async def reconcile(self) -> int:
        """Queue what PostgreSQL says is waiting but procrastinate does not hold (a crash between the two)."""
        fixed = 0
        for job_id in await self.repo.queued_job_ids():
            if await self.queue.queued(job_id):
                continue
            view = await stored_view(self.repo, job_id)
            await self.enqueue(job_id, self.router.plan(view.kind, view.options), 0)
            fixed += 1
        if fixed:
            log.warning("queued %d jobs again that were admitted but not in the queue", fixed)
        return fixed

    async def rescue_stalled(self) -> int:
        rescued = 0
        for proc_job, job_id in await self.queue.stalled(self.stalled_s):
            outcome = await self.repo.interrupt(
                job_id, now=utcnow(), max_interruptions=self.max_interruptions,
                why="its worker stopped answering (no heartbeat)",
            )
            if outcome == "requeued":
                await self.queue.retry(proc_job)
                log.warning("job %s: its worker stopped answering; queued again", job_id)
            else:
                await self.queue.give_up(proc_job)
                if outcome == "failed":
                    view = await stored_view(self.repo, job_id)
                    log.error("job %s failed: it stopped workers %d times", job_id, self.max_interruptions + 1)
                    self.events.publish(Ended(job_id, view.origin.platform, JobState.FAILED, view.error_code,
                                              view.error_text))
                    await self.outbox.flush()
            rescued += 1
        return rescued

    async def _until_ended(self, job_id: str, timeout_s: float | None = None, check_every_s: float = 5.0) -> None:
        """Wait for a job a worker runs to end: its Ended event (NOTIFY) wakes this; the database is asked
        every ``check_every_s`` in case. Returns when it has ended, or when ``timeout_s`` ran out."""
        ended = asyncio.Event()

        async def on_event(event: Event) -> None:
            if isinstance(event, Ended) and event.job_id == job_id:
                ended.set()

        subscription = self.events.subscribe(on_event)
        deadline = None if timeout_s is None else time.monotonic() + timeout_s
        try:
            while await self._open(job_id):
                left = check_every_s if deadline is None else min(check_every_s, deadline - time.monotonic())
                if left <= 0:
                    break
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(ended.wait(), left)
        finally:
            await subscription.close()

    async def _open(self, job_id: str) -> bool:
        found = await self.repo.job(job_id)
        return found is not None and not JobState(found[0].state).terminal

    async def _publish_positions(self) -> None:
        """Tell waiting jobs when their place in their model's queue changes (every POSITIONS_EVERY_S)."""
        last: dict[str, int] = {}
        while True:
            await asyncio.sleep(POSITIONS_EVERY_S)
            try:
                places = await self.queue.places()
                for job_id, (_, place) in places.items():
                    if last.get(job_id, place) != place:
                        view = await stored_view(self.repo, job_id)
                        steps = self.router.plan(view.kind, view.options)
                        each = next((s.estimate.seconds for s in steps if s.backend.local), 60.0)
                        self.events.publish(Queued(job_id, view.origin.platform, place, (place - 1) * each))
                last = {job_id: place for job_id, (_, place) in places.items()}
            except Exception:
                log.exception("could not publish queue positions")

    async def _on_event(self, event: Event) -> None:
        self.events.publish(event)
        if isinstance(event, Ended):
            await self.outbox.flush()

    async def _watch(self) -> None:
        last_reconcile = asyncio.get_running_loop().time()
        while True:
            try:
                await self.rescue_stalled()
                if asyncio.get_running_loop().time() - last_reconcile > RECONCILE_EVERY_S:
                    last_reconcile = asyncio.get_running_loop().time()
                    await self.reconcile()
                    # A worker silent for an hour is gone (its job went elsewhere long ago): off /status.
                    await self.repo.forget_workers(utcnow() - timedelta(seconds=FORGET_WORKER_S))
            except Exception:
                log.exception("the watchdog could not check for stopped workers")
            await asyncio.sleep(self.heartbeat_s)

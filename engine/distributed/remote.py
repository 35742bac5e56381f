"""The front end's side of distributed mode: queue jobs, cancel them wherever they run, hear their events,
and give the job of a worker that stopped answering to another one.

The watchdog runs in every front end: a procrastinate job whose worker has sent no heartbeat for
``WORKER_STALLED_S`` is handed back to the queue (its attempt marked interrupted), or failed and refunded
once it has stopped ``MAX_INTERRUPTIONS`` + 1 workers. The ledger and the outbox are the same as embedded
mode, so a job is charged and delivered once whichever worker finishes it.
"""

from __future__ import annotations

import asyncio
import logging
from datetime import timedelta
from typing import TYPE_CHECKING

from engine.clock import utcnow
from engine.distributed.notify import Listener
from engine.distributed.queue import JobQueue, queue_for
from engine.events import Ended, Event, Queued
from engine.router import Step
from engine.types import JobState

if TYPE_CHECKING:
    from engine.service import Service

log = logging.getLogger(__name__)
POSITIONS_EVERY_S = 2.0
RECONCILE_EVERY_S = 60.0
FORGET_WORKER_S = 3600.0  # jobs admitted but not queued (the queue refused them a moment): queued again


class Remote:
    def __init__(self, queue: JobQueue, *, heartbeat_s: float, stalled_s: float, max_interruptions: int) -> None:
        self.queue = queue
        self.heartbeat_s = heartbeat_s
        self.stalled_s = stalled_s
        self.max_interruptions = max_interruptions
        self._service: Service | None = None
        self._tasks: list[asyncio.Task[None]] = []
        self.listener = Listener(queue.conninfo, self._on_event)

    @property
    def service(self) -> Service:
        assert self._service is not None, "Remote.start first"
        return self._service

    async def start(self, service: Service) -> None:
        self._service = service
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

    async def dispatch(self, job_id: str, steps: list[Step], priority: int) -> tuple[int, float]:
        """Queue the job for its model's workers; its (place, rough wait) among those waiting there."""
        local = next((s for s in steps if s.backend.local), None)
        queue = queue_for(local.model if local else None)
        await self.queue.defer(job_id, queue, priority)
        waiting = await self.queue.waiting(queue)
        each = local.estimate.seconds if local else steps[0].estimate.seconds if steps else 60.0
        return max(1, waiting), max(0, waiting - 1) * each

    async def cancel(self, job_id: str) -> str:
        return await self.queue.cancel(job_id)

    async def reconcile(self) -> int:
        """Queue what PostgreSQL says is waiting but procrastinate does not hold (a crash between the two)."""
        service = self.service
        fixed = 0
        for job_id in await service.repo.queued_job_ids():
            if await self.queue.queued(job_id):
                continue
            view = await service.get(job_id)
            steps = service.router.plan(view.kind, view.options)
            await self.dispatch(job_id, steps, 0)
            fixed += 1
        if fixed:
            log.warning("queued %d jobs again that were admitted but not in the queue", fixed)
        return fixed

    async def _publish_positions(self) -> None:
        """Tell waiting jobs when their place in their model's queue changes (every POSITIONS_EVERY_S)."""
        last: dict[str, int] = {}
        while True:
            await asyncio.sleep(POSITIONS_EVERY_S)
            try:
                places = await self.queue.places()
                for job_id, (_, place) in places.items():
                    if last.get(job_id, place) != place:
                        view = await self.service.get(job_id)
                        steps = self.service.router.plan(view.kind, view.options)
                        each = next((s.estimate.seconds for s in steps if s.backend.local), 60.0)
                        self.service.events.publish(Queued(job_id, view.origin.platform, place, (place - 1) * each))
                last = {job_id: place for job_id, (_, place) in places.items()}
            except Exception:
                log.exception("could not publish queue positions")

    async def _on_event(self, event: Event) -> None:
        self.service.events.publish(event)
        if isinstance(event, Ended):
            await self.service.outbox.flush()

    async def _watch(self) -> None:
        last_reconcile = asyncio.get_running_loop().time()
        while True:
            try:
                await self.rescue_stalled()
                if asyncio.get_running_loop().time() - last_reconcile > RECONCILE_EVERY_S:
                    last_reconcile = asyncio.get_running_loop().time()
                    await self.reconcile()
                    # A worker silent for an hour is gone (its job went elsewhere long ago): off /status.
                    await self.service.repo.forget_workers(utcnow() - timedelta(seconds=FORGET_WORKER_S))
            except Exception:
                log.exception("the watchdog could not check for stopped workers")
            await asyncio.sleep(self.heartbeat_s)

    async def rescue_stalled(self) -> int:
        service = self.service
        rescued = 0
        for proc_job, job_id in await self.queue.stalled(self.stalled_s):
            outcome = await service.repo.interrupt(
                job_id, now=utcnow(), max_interruptions=self.max_interruptions,
                why="its worker stopped answering (no heartbeat)",
            )
            if outcome == "requeued":
                await self.queue.retry(proc_job)
                log.warning("job %s: its worker stopped answering; queued again", job_id)
            else:
                await self.queue.give_up(proc_job)
                if outcome == "failed":
                    view = await service.get(job_id)
                    log.error("job %s failed: it stopped workers %d times", job_id, self.max_interruptions + 1)
                    service.events.publish(Ended(job_id, view.origin.platform, JobState.FAILED, view.error_code,
                                                 view.error_message))
                    await service.outbox.flush()
            rescued += 1
        return rescued

"""``reelbot worker``: one process per GPU (or a cloud-only one) that takes jobs from PostgreSQL.

It runs each job where embedded mode would (its dispatcher: this process's GPU lane, then the cloud
fallbacks), sends the job's events to the front ends over NOTIFY, and writes a heartbeat row (host, GPU,
warm models, current job) that ``/status`` shows. SIGTERM stops it cleanly: a job it was running is queued
again for another worker.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Sequence

from procrastinate import JobContext
from procrastinate.job_context import AbortReason

from engine.clock import utcnow
from engine.dispatch import Dispatcher
from engine.distributed.notify import Forwarder
from engine.distributed.queue import JobQueue
from engine.events import EventBus
from engine.lanes import GpuLane
from storage.repo import Repository

log = logging.getLogger(__name__)


class Worker:
    def __init__(self, queue: JobQueue, *, jobs: Dispatcher, events: EventBus, repo: Repository,
                 lanes: Sequence[GpuLane], name: str, host: str, gpu: str, models: list[str],
                 queues: list[str], concurrency: int, heartbeat_s: float, stalled_s: float) -> None:
        """``jobs`` runs each job in this process (on ``lanes``); ``events`` are what it forwards."""
        self.queue = queue
        self.jobs = jobs
        self.events = events
        self.repo = repo
        self.lanes = lanes
        self.name = name
        self.host = host
        self.gpu = gpu
        self.models = models
        self.queues = queues
        self.concurrency = concurrency
        self.heartbeat_s = heartbeat_s
        self.stalled_s = stalled_s
        self.current: set[str] = set()
        self.done = 0
        self.started = utcnow()

    async def serve(self, stop: asyncio.Event) -> None:
        forwarder = Forwarder(self.queue.conninfo, self.events)
        beats = asyncio.get_running_loop().create_task(self._beat())
        work = asyncio.get_running_loop().create_task(self.queue.run_worker(
            self._handle, queues=self.queues, name=self.name, concurrency=self.concurrency,
            heartbeat_s=self.heartbeat_s, stalled_s=self.stalled_s,
        ))
        try:
            await asyncio.wait({work, asyncio.ensure_future(stop.wait())}, return_when=asyncio.FIRST_COMPLETED)
        finally:
            work.cancel()  # procrastinate stops: running jobs are aborted for shutdown and queued again
            await asyncio.gather(work, return_exceptions=True)
            beats.cancel()
            await asyncio.gather(beats, return_exceptions=True)
            await forwarder.close()
            await self.repo.worker_gone(self.name)

    async def _handle(self, context: JobContext, job_id: str) -> None:
        task = await self.jobs.resume(job_id)
        if task is None:
            return  # it ended (cancelled) before a worker took it
        self.current.add(job_id)
        try:
            await asyncio.shield(task)
            self.done += 1
        except asyncio.CancelledError:
            if context.abort_reason() is AbortReason.USER_REQUEST:
                await self.jobs.cancel(job_id)  # closes it as cancelled, refunds, tells
                return
            task.cancel()  # a clean stop: the runner puts the job back to "queued"
            await asyncio.gather(task, return_exceptions=True)
            await asyncio.shield(self.queue.defer(job_id, context.job.queue, context.job.priority))
            raise
        finally:
            self.current.discard(job_id)

    async def _beat(self) -> None:
        while True:
            try:
                await self.repo.worker_beat({
                    "name": self.name, "host": self.host, "gpu": self.gpu, "models": self.models,
                    "warm": sorted({m for lane in self.lanes for m in lane.warm_models}),
                    "current_job": next(iter(self.current), None), "jobs_done": self.done,
                    "started_at": self.started, "last_heartbeat": utcnow(),
                })
            except Exception as exc:  # the database may be away for a while: keep working, keep trying
                log.warning("could not write the heartbeat: %s", exc)
            await asyncio.sleep(self.heartbeat_s)

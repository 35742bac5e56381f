"""Where admitted jobs run: the one seam between admission (``Service``) and running.

Two places implement :class:`Dispatcher`, and the composition root picks one at start-up:

- :class:`LocalLanes` (here): this process runs its jobs, on its own GPU lanes and then the cloud. It is the
  embedded mode, and each ``reelbot worker`` of distributed mode runs the jobs it takes the same way.
- ``engine.distributed.remote.QueueDispatcher``: the front end of distributed mode, which queues jobs in
  PostgreSQL for the GPU workers and watches over them.

The service admits a job (quota, money, the stored row) and hands it over; from then on the dispatcher
answers where it waits, stops it, moves it to the cloud, and says when it has ended.
"""

from __future__ import annotations

import asyncio
import logging
from pathlib import Path
from typing import Protocol

from engine.clock import utcnow
from engine.events import EventBus, Queued
from engine.router import Router, Step
from engine.runner import ActiveJob, JobRunner
from engine.scheduler import Scheduler
from engine.types import JobSpec, JobState
from engine.views import job_view
from engine.warmup import WarmUps
from storage.repo import Admitted, Limits, Repository

log = logging.getLogger(__name__)


class Dispatcher(Protocol):
    async def start(self) -> None:
        """Take over what a previous run left (jobs admitted and not ended), then keep positions told."""
        ...

    async def stop(self) -> None:
        """Stop the background work; jobs left running are the runner's to put back (a clean stop)."""
        ...

    async def waiting(self) -> int:
        """How many admitted jobs wait to start (``MAX_QUEUE`` bounds it)."""
        ...

    async def dispatch(
        self, spec: JobSpec, admitted: Admitted, steps: list[Step], *, user_key: str, platform: str
    ) -> tuple[int, float] | None:
        """Run a job just admitted; its (place in line, seconds until it starts), or None if not known yet."""
        ...

    async def resume(self, job_id: str) -> asyncio.Task[None] | None:
        """Run again a stored job that has not ended: the task that drives it here, or None if it runs
        elsewhere (or has ended)."""
        ...

    async def cancel(self, job_id: str) -> bool:
        """Stop the job wherever it runs. True if whoever ran it closed it (cancelled, refunded, told);
        False if nothing was running it, and the caller closes the stored job."""
        ...

    async def wait(self, job_id: str) -> None:
        """Until the job has ended (at once if it has)."""
        ...

    def position(self, job_id: str) -> tuple[int, float] | None:
        """(place in line, seconds until it starts) of a waiting job, where known."""
        ...

    def progress(self, job_id: str) -> tuple[int, int] | None:
        """(step, total) of a running job, where known."""
        ...

    def place_for(self, model: str | None) -> tuple[int, float] | None:
        """(place, seconds until start) a new job for ``model`` would get on a GPU here; None if none serves it."""
        ...

    def cloud_step(self, job_id: str) -> Step | None:
        """The cloud backend a job waiting for a GPU could move to now, if any."""
        ...

    async def to_cloud(self, job_id: str) -> bool:
        """Move a job waiting for a GPU to the cloud now; False if it cannot move."""
        ...


class LocalLanes:
    """Jobs run in this process: the scheduler queues them on its GPU lanes, the runner drives each one
    through its chain, and after a restart the jobs a crash left are run again."""

    def __init__(
        self,
        *,
        repo: Repository,
        router: Router,
        scheduler: Scheduler,
        runner: JobRunner,
        events: EventBus,
        limits: Limits,
        max_interruptions: int,
        position_interval_s: float = 1.0,
    ) -> None:
        self.repo = repo
        self.router = router
        self.scheduler = scheduler
        self.runner = runner
        self.events = events
        self.limits = limits
        self.max_interruptions = max_interruptions
        self.position_interval_s = position_interval_s
        self._positions_task: asyncio.Task[None] | None = None
        self.warm_ups = WarmUps(scheduler.lanes, router.backends.values())

    async def start(self) -> None:
        # The lanes warm up in the background (engine/warmup.py): jobs, recovered ones too, wait for them.
        self.warm_ups.start()
        report = await self.repo.recover(now=utcnow(), max_interruptions=self.max_interruptions)
        if report.requeued or report.failed:
            log.warning("recovered after a stop: %d jobs run again, %d failed after repeated crashes",
                        len(report.requeued), len(report.failed))
        for job_id in report.queued:
            await self.resume(job_id)
        self._positions_task = asyncio.get_running_loop().create_task(self._publish_positions())

    async def stop(self) -> None:
        await self.warm_ups.stop()
        if self._positions_task is not None:
            self._positions_task.cancel()
            await asyncio.gather(self._positions_task, return_exceptions=True)
            self._positions_task = None

    async def waiting(self) -> int:
        return self.scheduler.queued()

    async def dispatch(
        self, spec: JobSpec, admitted: Admitted, steps: list[Step], *, user_key: str, platform: str
    ) -> tuple[int, float] | None:
        self.runner.start(
            ActiveJob(
                spec=spec, user_key=user_key, platform=platform, priority=admitted.priority,
                max_running=admitted.max_running, reserved_micros=admitted.reserved_micros, steps=steps,
            )
        )
        return self.scheduler.position(spec.id)

    async def resume(self, job_id: str) -> asyncio.Task[None] | None:
        found = await self.repo.job(job_id)
        if found is None or JobState(found[0].state).terminal:
            return None
        job, user, _ = found
        view = job_view(job, user, [])
        steps = self.router.plan(view.kind, view.options)
        admitted = Admitted(
            job.id, user.id or 0, job.max_cost_micros, job.priority,
            None if job.priority > 0
            else (self.limits.max_running if user.max_running is None else user.max_running),
        )
        spec = JobSpec(job.id, view.kind, job.prompt, view.options,
                       Path(job.image_path) if job.image_path else None, job.seed)
        # A linked identity's job counts in its account's running limit and fair share, as at its admission.
        user_key = (await self.repo.account_key(user.account_id) if user.account_id is not None else None) \
            or view.user.key
        await self.dispatch(spec, admitted, steps, user_key=user_key, platform=job.origin_platform)
        active = self.runner.active.get(job_id)
        return active.task if active is not None else None

    async def cancel(self, job_id: str) -> bool:
        return await self.runner.cancel(job_id)

    async def wait(self, job_id: str) -> None:
        job = self.runner.active.get(job_id)
        if job is not None and job.task is not None:
            await asyncio.wait({job.task})

    def position(self, job_id: str) -> tuple[int, float] | None:
        return self.scheduler.position(job_id)

    def progress(self, job_id: str) -> tuple[int, int] | None:
        active = self.runner.active.get(job_id)
        return active.progress if active else None

    def place_for(self, model: str | None) -> tuple[int, float] | None:
        return self.scheduler.place_for(model)

    def cloud_step(self, job_id: str) -> Step | None:
        return self.runner.cloud_step(job_id)

    async def to_cloud(self, job_id: str) -> bool:
        return await self.runner.to_cloud(job_id)

    async def _publish_positions(self) -> None:
        """Tell waiting jobs when their place in the queue changes (at most once per interval)."""
        last: dict[str, int] = {}
        seen_version = -1
        while True:
            await asyncio.sleep(self.position_interval_s)
            if self.scheduler.version == seen_version:
                continue
            seen_version = self.scheduler.version
            try:
                places = self.scheduler.positions()
                for job_id, (place, eta) in places.items():
                    if last.get(job_id) != place:
                        active = self.runner.active.get(job_id)
                        if active is not None:
                            self.events.publish(Queued(job_id, active.platform, place, eta))
                last = {job_id: place for job_id, (place, _) in places.items()}
            except Exception:  # keep telling positions; a bug here must not silence them for good
                log.exception("could not publish queue positions")

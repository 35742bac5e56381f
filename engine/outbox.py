"""The outbox: every finished job's news is stored with the job's closing transaction and sent from here.

A front end registers a :class:`Deliverer` for its platform; the outbox hands it each finished job and
marks the delivery done only when ``deliver`` returns. A delivery that raises is retried with backoff
(honouring a ``retry_after`` on the exception), and after a restart everything not yet confirmed is sent
again. A front end that is not running (no token) leaves its deliveries waiting for the next start.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable
from typing import Protocol

from engine.clock import utcnow
from engine.types import JobView
from storage.repo import Repository

log = logging.getLogger(__name__)


class Deliverer(Protocol):
    async def deliver(self, job: JobView) -> None:
        """Send the job's result (or its failure) to where it came from; raise to be retried."""
        ...


class Outbox:
    def __init__(
        self,
        repo: Repository,
        view: Callable[[str], Awaitable[JobView]],
        *,
        max_tries: int = 5,
        retry_base_s: float = 2.0,
    ) -> None:
        self.repo = repo
        self.view = view
        self.max_tries = max_tries
        self.retry_base_s = retry_base_s
        self.deliverers: dict[str, Deliverer] = {}
        self._inflight: set[int] = set()
        self._tasks: set[asyncio.Task[None]] = set()

    def register(self, platform: str, deliverer: Deliverer) -> None:
        self.deliverers[platform] = deliverer

    async def flush(self) -> int:
        """Send everything that waits for a registered platform (at start-up, after recovery)."""
        pending = await self.repo.pending_deliveries(self.deliverers)
        for delivery_id, job_id, platform in pending:
            self.notify(delivery_id, job_id, platform)
        return len(pending)

    def notify(self, delivery_id: int, job_id: str, platform: str) -> None:
        if not delivery_id or platform not in self.deliverers or delivery_id in self._inflight:
            return
        self._inflight.add(delivery_id)
        task = asyncio.get_running_loop().create_task(
            self._deliver(delivery_id, job_id, self.deliverers[platform]), name=f"deliver-{job_id}"
        )
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    async def idle(self) -> None:
        """Wait until every delivery under way has ended (tests, the CLI, shutdown)."""
        while self._tasks:
            await asyncio.gather(*list(self._tasks), return_exceptions=True)

    async def _deliver(self, delivery_id: int, job_id: str, deliverer: Deliverer) -> None:
        try:
            for attempt in range(1, self.max_tries + 1):
                if not await self.repo.claim_delivery(delivery_id):
                    return
                try:
                    await deliverer.deliver(await self.view(job_id))
                except Exception as exc:
                    final = attempt == self.max_tries
                    log.warning("delivery of job %s failed (try %d/%d): %s", job_id, attempt,
                                self.max_tries, exc)
                    await self.repo.end_delivery(
                        delivery_id, delivered=False, now=utcnow(), error=str(exc)[:500], final=final
                    )
                    if final:
                        return
                    wait = getattr(exc, "retry_after", None) or self.retry_base_s * 2 ** (attempt - 1)
                    await asyncio.sleep(float(wait))
                else:
                    await self.repo.end_delivery(delivery_id, delivered=True, now=utcnow())
                    return
        finally:
            self._inflight.discard(delivery_id)

    async def aclose(self) -> None:
        for task in list(self._tasks):
            task.cancel()
        await asyncio.gather(*list(self._tasks), return_exceptions=True)

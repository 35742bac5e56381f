"""The outbox: every finished job's news is stored with the job's closing transaction and sent from here.

A front end registers a :class:`Deliverer` for its platform, with the largest video the platform accepts;
the outbox hands it each finished job, its video re-encoded to fit that cap when needed (lower bitrate,
then lower resolution), and marks the delivery done only when ``deliver`` returns. A delivery that raises
is retried with backoff (honouring a numeric ``retry_after`` on the exception; :class:`Undeliverable`
gives up at once), and after a restart everything not yet confirmed is sent again. A front end that is
not running (no token) leaves its deliveries waiting for the next start.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable
from dataclasses import replace
from typing import Protocol

from engine.clock import utcnow
from engine.errors import VideoTooLarge
from engine.types import ORIGIN_SECRETS, JobState, JobView
from engine.video import fit_to_size
from engine.words import N_
from storage.repo import Repository

log = logging.getLogger(__name__)


class Undeliverable(Exception):
    """Raised by a deliverer when trying again cannot help (the user blocked the bot, the chat is gone)."""


class Deliverer(Protocol):
    async def deliver(self, job: JobView) -> None:
        """Send the job's result (or its failure) to where it came from; raise to be retried.

        A succeeded job's ``result_path`` already fits the platform's cap. If no encoding could fit,
        ``result_path`` is None and ``error_code``/``error_message`` say why, for the user.
        """
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
        self.max_video_bytes: dict[str, int | None] = {}
        self._inflight: set[int] = set()
        self._tasks: set[asyncio.Task[None]] = set()

    def register(self, platform: str, deliverer: Deliverer, *, max_video_bytes: int | None = None) -> None:
        self.deliverers[platform] = deliverer
        self.max_video_bytes[platform] = max_video_bytes

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
            self._deliver(delivery_id, job_id, platform), name=f"deliver-{job_id}"
        )
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    async def idle(self) -> None:
        """Wait until every delivery the database holds for a registered front end has been tried (tests, the
        CLI, shutdown). The database is asked first: a job another process closed (a worker, a cancel that
        reached one) has its delivery stored before this process hears of it."""
        await self.flush()
        while self._tasks:
            await asyncio.gather(*list(self._tasks), return_exceptions=True)

    async def _deliver(self, delivery_id: int, job_id: str, platform: str) -> None:
        deliverer, cap = self.deliverers[platform], self.max_video_bytes.get(platform)
        try:
            for attempt in range(1, self.max_tries + 1):
                if not await self.repo.claim_delivery(delivery_id):
                    return
                try:
                    await deliverer.deliver(await self._fitted(await self.view(job_id), cap))
                except Exception as exc:
                    final = attempt == self.max_tries or isinstance(exc, Undeliverable)
                    log.warning("delivery of job %s failed (try %d/%d): %s", job_id, attempt,
                                self.max_tries, exc)
                    await self.repo.end_delivery(
                        delivery_id, delivered=False, now=utcnow(), error=str(exc)[:500], final=final
                    )
                    if final:
                        await self.repo.forget_origin_keys(job_id, ORIGIN_SECRETS)
                        return
                    wait = getattr(exc, "retry_after", None)
                    if not isinstance(wait, int | float) or wait <= 0:
                        wait = self.retry_base_s * 2 ** (attempt - 1)
                    await asyncio.sleep(float(wait))
                else:
                    await self.repo.end_delivery(delivery_id, delivered=True, now=utcnow())
                    await self.repo.forget_origin_keys(job_id, ORIGIN_SECRETS)
                    return
        finally:
            self._inflight.discard(delivery_id)

    async def _fitted(self, job: JobView, cap: int | None) -> JobView:
        path = job.result_path
        if cap is None or path is None or job.state is not JobState.SUCCEEDED or path.stat().st_size <= cap:
            return job
        try:
            fitted = await asyncio.to_thread(fit_to_size, path, cap, path.with_name(f"{path.stem}.{cap}.mp4"))
        except VideoTooLarge as exc:
            said = exc.text if exc.hint_text is None else N_("{message} {hint}", message=exc.text, hint=exc.hint_text)
            return replace(job, result_path=None, error_code=exc.code, error_message=str(exc), error_text=said)
        return replace(job, result_path=fitted.path)

    async def aclose(self) -> None:
        for task in list(self._tasks):
            task.cancel()
        await asyncio.gather(*list(self._tasks), return_exceptions=True)

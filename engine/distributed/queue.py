"""Jobs in PostgreSQL, with procrastinate: one task (``reelbot.run_job``), one queue per local model
(``model.<name>``, so a worker only takes jobs for the models it keeps warm) and ``cloud`` for jobs with no
local step. A job's procrastinate ``lock`` and ``queueing_lock`` are its reelbot id: it runs on one worker at
a time and is queued at most once.
"""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable

import procrastinate
import psycopg
from procrastinate import exceptions as pexc
from procrastinate.jobs import Job as ProcJob
from procrastinate.jobs import Status
from procrastinate.schema import SchemaManager
from sqlalchemy.engine import make_url

log = logging.getLogger(__name__)
TASK = "reelbot.run_job"
CLOUD_QUEUE = "cloud"
_SCHEMA_LOCK = 0x7265656C  # "reel": one process creates procrastinate's tables, the others wait

Handler = Callable[[procrastinate.JobContext, str], Awaitable[None]]


def conninfo(database_url: str) -> str:
    """A libpq address from reelbot's SQLAlchemy URL (``postgresql+psycopg://`` -> ``postgresql://``)."""
    url = make_url(database_url).set(drivername="postgresql")
    return url.render_as_string(hide_password=False)


def queue_for(model: str | None) -> str:
    return f"model.{model}" if model else CLOUD_QUEUE


class JobQueue:
    def __init__(self, database_url: str) -> None:
        self.conninfo = conninfo(database_url)
        self.app = procrastinate.App(connector=procrastinate.PsycopgConnector(conninfo=self.conninfo))
        self._handler: Handler | None = None

        @self.app.task(name=TASK, pass_context=True, queue=CLOUD_QUEUE)
        async def run_job(context: procrastinate.JobContext, job_id: str) -> None:
            if self._handler is None:
                raise RuntimeError("this process does not run jobs")
            await self._handler(context, job_id)

    async def open(self) -> None:
        await self.ensure_schema()
        await self.app.open_async()

    async def close(self) -> None:
        await self.app.close_async()

    async def ensure_schema(self) -> None:
        """Create procrastinate's tables the first time (under a lock: many processes start at once)."""
        async with await psycopg.AsyncConnection.connect(self.conninfo, autocommit=True) as conn:
            await conn.execute("SELECT pg_advisory_lock(%s)", (_SCHEMA_LOCK,))
            try:
                found = await (await conn.execute("SELECT to_regclass('procrastinate_jobs')")).fetchone()
                if found is None or found[0] is None:
                    log.info("creating procrastinate's tables")
                    await conn.execute(SchemaManager.get_schema())
            finally:
                await conn.execute("SELECT pg_advisory_unlock(%s)", (_SCHEMA_LOCK,))

    async def defer(self, job_id: str, queue: str, priority: int = 0) -> bool:
        """Queue a job; False when it is already waiting (deferring twice is harmless)."""
        try:
            await self.app.configure_task(TASK, queue=queue, priority=priority, lock=job_id,
                                          queueing_lock=job_id).defer_async(job_id=job_id)
        except pexc.AlreadyEnqueued:
            return False
        return True

    async def _find(self, job_id: str) -> tuple[int, str] | None:
        rows = await self.app.connector.execute_query_all_async(
            "SELECT id, status FROM procrastinate_jobs WHERE lock = %(lock)s AND status IN ('todo', 'doing') "
            "ORDER BY id DESC LIMIT 1", lock=job_id,
        )
        return (int(rows[0]["id"]), str(rows[0]["status"])) if rows else None

    async def cancel(self, job_id: str) -> str:
        """"cancelled" (it was waiting), "aborting" (its worker is told to stop), or "none" (not queued)."""
        found = await self._find(job_id)
        if found is None:
            return "none"
        proc_id, status = found
        if status == "todo" and await self.app.job_manager.cancel_job_by_id_async(proc_id):
            return "cancelled"
        await self.app.job_manager.cancel_job_by_id_async(proc_id, abort=True)
        return "aborting"

    async def queued(self, job_id: str) -> bool:
        return await self._find(job_id) is not None

    async def waiting(self, queue: str) -> int:
        row = await self.app.connector.execute_query_one_async(
            "SELECT count(*) AS n FROM procrastinate_jobs WHERE queue_name = %(q)s AND status = 'todo'", q=queue)
        return int(row["n"]) if row else 0

    async def places(self) -> dict[str, tuple[str, int]]:
        """job id -> (queue, 1-based place) of every waiting job, in the order workers will take them."""
        rows = await self.app.connector.execute_query_all_async(
            "SELECT args->>'job_id' AS job_id, queue_name, row_number() OVER "
            "(PARTITION BY queue_name ORDER BY priority DESC, id) AS place "
            "FROM procrastinate_jobs WHERE status = 'todo' AND task_name = %(task)s", task=TASK,
        )
        return {str(r["job_id"]): (str(r["queue_name"]), int(r["place"])) for r in rows}

    async def stalled(self, seconds: float) -> list[tuple[ProcJob, str]]:
        """Jobs being run by workers whose heartbeat stopped ``seconds`` ago (killed, cut off)."""
        found = await self.app.job_manager.get_stalled_jobs(seconds_since_heartbeat=seconds, task_name=TASK)
        return [(job, str(job.task_kwargs.get("job_id"))) for job in found]

    async def retry(self, job: ProcJob) -> None:
        await self.app.job_manager.retry_job(job)

    async def give_up(self, job: ProcJob) -> None:
        await self.app.job_manager.finish_job(job, status=Status.FAILED, delete_job=False)

    async def run_worker(self, handler: Handler, *, queues: list[str], name: str, concurrency: int,
                         heartbeat_s: float, stalled_s: float) -> None:
        self._handler = handler
        await self.app.run_worker_async(
            queues=queues, name=name, concurrency=concurrency, install_signal_handlers=False,
            update_heartbeat_interval=heartbeat_s, stalled_worker_timeout=stalled_s, delete_jobs="successful",
            abort_job_polling_interval=1.0,
            # A stopping worker hands its job back at once instead of finishing it (a video can take minutes).
            shutdown_graceful_timeout=0.1,
        )

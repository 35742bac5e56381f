"""Files on disk: which jobs' videos and pictures may be deleted, and which file names belong to no job."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime

from sqlalchemy import or_, select, update

from storage.db import threaded
from storage.statements import TERMINAL_STATES, Store, deliveries, jobs


class FileQueries(Store):
    """The paths a job keeps, and forgetting them once the files are gone."""

    @threaded
    def files_to_forget(self, finished_before: datetime, limit: int = 500) -> list[tuple[str, str | None, str | None]]:
        """(job id, result path, picture path) of jobs that ended before a time, whose news is no longer
        waiting to be delivered, and that still hold files."""
        waiting = select(deliveries.c.id).where(
            deliveries.c.job_id == jobs.c.id, deliveries.c.state.in_(("pending", "sending"))
        ).exists()
        with self.db.transaction() as conn:
            rows = conn.execute(
                select(jobs.c.id, jobs.c.result_path, jobs.c.image_path)
                .where(
                    jobs.c.state.in_(TERMINAL_STATES),
                    jobs.c.finished_at < finished_before,
                    or_(jobs.c.result_path.is_not(None), jobs.c.image_path.is_not(None)),
                    ~waiting,
                )
                .order_by(jobs.c.finished_at)
                .limit(limit)
            ).all()
        return [(job_id, result, image) for job_id, result, image in rows]

    @threaded
    def forget_files(self, job_ids: Sequence[str]) -> None:
        """The files of these jobs are deleted: the rows (and the books) stay, without the paths."""
        if job_ids:
            with self.db.transaction() as conn:
                conn.execute(update(jobs).where(jobs.c.id.in_(list(job_ids))).values(result_path=None, image_path=None))

    @threaded
    def unknown_job_ids(self, job_ids: Sequence[str]) -> set[str]:
        """Which of these ids no job row has (files named after them belong to nobody)."""
        if not job_ids:
            return set()
        with self.db.transaction() as conn:
            known = set(conn.execute(select(jobs.c.id).where(jobs.c.id.in_(list(job_ids)))).scalars())
        return set(job_ids) - known

"""The workers of distributed mode: their heartbeats, and forgetting those that went silent."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import insert, select, update

from storage.db import threaded
from storage.statements import Store, workers


class WorkerQueries(Store):
    """One row per worker, refreshed by its heartbeat."""

    @threaded
    def worker_beat(self, row: dict[str, Any]) -> None:
        """Insert or refresh a worker's row (its heartbeat)."""
        with self.db.transaction() as conn:
            done = conn.execute(update(workers).where(workers.c.name == row["name"]).values(
                **{k: v for k, v in row.items() if k not in ("name", "started_at")}))
            if done.rowcount == 0:
                conn.execute(insert(workers).values(**row))

    @threaded
    def worker_gone(self, name: str) -> None:
        with self.db.transaction() as conn:
            conn.execute(workers.delete().where(workers.c.name == name))

    @threaded
    def forget_workers(self, silent_since: datetime) -> int:
        """Drop the rows of workers that have sent no heartbeat since a time (gone for good)."""
        with self.db.transaction() as conn:
            return conn.execute(workers.delete().where(workers.c.last_heartbeat < silent_since)).rowcount

    @threaded
    def workers(self) -> list[dict[str, Any]]:
        with self.db.transaction() as conn:
            return [dict(r) for r in conn.execute(select(workers).order_by(workers.c.name)).mappings()]

"""The outbox: a job's news waits here until its front end has delivered it."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from datetime import datetime

from sqlalchemy import select, update

from storage.db import threaded
from storage.statements import Store, deliveries, jobs


class DeliveryQueries(Store):
    """Pending deliveries, claiming and ending one, and their states."""

    @threaded
    def forget_origin_keys(self, job_id: str, keys: Sequence[str]) -> None:
        """Drop credentials kept in a job's origin (an interaction token) once they are no longer needed."""
        with self.db.transaction() as conn:
            origin = conn.execute(select(jobs.c.origin).where(jobs.c.id == job_id).with_for_update()).scalar() or {}
            data = origin.get("data") or {}
            if any(key in data for key in keys):
                kept = {k: v for k, v in data.items() if k not in keys}
                conn.execute(update(jobs).where(jobs.c.id == job_id).values(origin={**origin, "data": kept}))

    @threaded
    def pending_deliveries(self, platforms: Iterable[str]) -> list[tuple[int, str, str]]:
        with self.db.transaction() as conn:
            rows = conn.execute(
                select(deliveries.c.id, deliveries.c.job_id, deliveries.c.platform)
                .where(
                    deliveries.c.platform.in_(list(platforms)),
                    deliveries.c.state.in_(("pending", "sending")),
                )
                .order_by(deliveries.c.id)
            ).all()
        return [(i, j, p) for i, j, p in rows]

    @threaded
    def claim_delivery(self, delivery_id: int) -> bool:
        with self.db.transaction() as conn:
            return (
                conn.execute(
                    update(deliveries)
                    .where(deliveries.c.id == delivery_id, deliveries.c.state.in_(("pending", "sending")))
                    .values(state="sending", tries=deliveries.c.tries + 1)
                ).rowcount
                == 1
            )

    @threaded
    def end_delivery(
        self, delivery_id: int, *, delivered: bool, now: datetime, error: str | None = None, final: bool = False
    ) -> None:
        state = "delivered" if delivered else ("failed" if final else "pending")
        with self.db.transaction() as conn:
            conn.execute(
                update(deliveries)
                .where(deliveries.c.id == delivery_id)
                .values(state=state, last_error=error, delivered_at=now if delivered else None)
            )

    @threaded
    def delivery_states(self, job_ids: Iterable[str]) -> dict[str, tuple[str, int]]:
        with self.db.transaction() as conn:
            rows = conn.execute(
                select(deliveries.c.job_id, deliveries.c.state, deliveries.c.tries).where(
                    deliveries.c.job_id.in_(list(job_ids))
                )
            ).all()
        return {j: (s, t) for j, s, t in rows}

"""What operators and users read: a user's usage, a server's counts, jobs by state, spend per backend,
the month's budget, the busiest users, and whether the books balance."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import case, func, or_, select

from storage.db import threaded
from storage.records import Limits, ScopeCounts, Usage, effective_limits
from storage.statements import (
    OPEN_STATES,
    TERMINAL_STATES,
    Store,
    account_of,
    attempts,
    budget,
    jobs,
    ledger,
    users,
)


class ReportQueries(Store):
    """Reads only: nothing here changes a row."""

    @threaded
    def usage(self, platform: str, external_id: str, limits: Limits, now: datetime) -> Usage:
        with self.db.transaction() as conn:
            user = conn.execute(
                select(users).where(users.c.platform == platform, users.c.external_id == external_id)
            ).mappings().one_or_none()
            if user is None:
                return Usage(None, "user", 0, 0, 0, limits)
            account = account_of(dict(user))  # linked identities: the account's numbers (storage/links.py)
            open_jobs = self.db.execute(conn, self._q.open_count, {"b_uid": account}).fetchone()[0]
            return Usage(
                user["id"],
                user["role"],
                open_jobs,
                self._jobs_since(conn, account, self.calendar.day_start(now)),
                self._user_month_micros(conn, account, now),
                effective_limits(dict(user), limits),
            )

    @threaded
    def scope_counts(self, scope: str, today: datetime) -> ScopeCounts:
        """The jobs of one server or group: waiting and running now, made and failed today."""
        with self.db.transaction() as conn:
            rows: dict[str, int] = dict(conn.execute(
                select(jobs.c.state, func.count())
                .where(jobs.c.scope == scope, or_(jobs.c.state.in_(OPEN_STATES), jobs.c.created_at >= today))
                .group_by(jobs.c.state)
            ).all())
        return ScopeCounts(rows.get("queued", 0), rows.get("running", 0), rows.get("succeeded", 0),
                           rows.get("failed", 0))

    @threaded
    def counts_by_state(self) -> dict[str, int]:
        with self.db.transaction() as conn:
            return dict(conn.execute(select(jobs.c.state, func.count()).group_by(jobs.c.state)).all())

    @threaded
    def spend_by_backend(self, since: datetime) -> dict[str, tuple[int, float]]:
        """Money paid out (micro-dollars) and GPU seconds per backend since a time, failed attempts included."""
        with self.db.transaction() as conn:
            rows = conn.execute(
                select(attempts.c.backend, func.sum(attempts.c.cost_micros), func.sum(attempts.c.gpu_seconds))
                .where(attempts.c.started_at >= since)
                .group_by(attempts.c.backend)
            ).all()
        return {backend: (int(cost or 0), float(gpu or 0.0)) for backend, cost, gpu in rows}

    @threaded
    def committed_micros(self, month: str) -> int:
        with self.db.transaction() as conn:
            value = conn.execute(
                select(budget.c.committed_micros).where(budget.c.month == month)
            ).scalar_one_or_none()
        return int(value or 0)

    @threaded
    def top_users(self, since: datetime, limit: int = 5) -> list[tuple[str, str, str, int, int]]:
        """(platform, id, name, jobs, charged micro-dollars) of the busiest users since a time."""
        with self.db.transaction() as conn:
            rows = conn.execute(
                select(
                    users.c.platform, users.c.external_id, users.c.name,
                    func.count(jobs.c.id), func.coalesce(func.sum(jobs.c.charged_micros), 0),
                )
                .join(jobs, jobs.c.user_id == users.c.id)
                .where(jobs.c.created_at >= since)
                .group_by(users.c.id, users.c.platform, users.c.external_id, users.c.name)
                .order_by(func.count(jobs.c.id).desc())
                .limit(limit)
            ).all()
        return [(p, e, n, int(c), int(m)) for p, e, n, c, m in rows]

    @threaded
    def ledger_balance(self) -> dict[str, int]:
        """For every closed job, how far its books are off; all zeros when they balance.

        The books balance when, per job, reserve = settle + refund (the hold is released exactly once) and
        settle + extra + absorbed = the sum of its attempts' costs (every dollar a provider billed is on the
        books once: the user's part charged to them, the operator's part to the budget). The figure is the
        sum of both differences' sizes, in micro-dollars.
        """
        held = case(
            (ledger.c.kind == "reserve", ledger.c.amount_micros),
            (ledger.c.kind.in_(("settle", "refund")), -ledger.c.amount_micros),
            else_=0,
        )
        booked = case((ledger.c.kind.in_(("settle", "extra", "absorbed")), ledger.c.amount_micros), else_=0)
        billed = (
            select(attempts.c.job_id, func.sum(attempts.c.cost_micros).label("cost"))
            .group_by(attempts.c.job_id)
            .subquery()
        )
        with self.db.transaction() as conn:
            rows = conn.execute(
                select(ledger.c.job_id, func.sum(held), func.sum(booked))
                .join(jobs, jobs.c.id == ledger.c.job_id)
                .where(jobs.c.state.in_(TERMINAL_STATES))
                .group_by(ledger.c.job_id)
            ).all()
            costs = dict(conn.execute(select(billed.c.job_id, billed.c.cost)).all())
        return {
            job_id: abs(int(unreleased)) + abs(int(spent) - int(costs.get(job_id) or 0))
            for job_id, unreleased, spent in rows
        }

"""The listings admins page through (the web console): every job under a filter, newest first, and every user
with their numbers of the day and the month, most recently active first. Each call answers one page and how
many rows the whole listing has.

A page costs a few small queries however many rows there are: jobs walk ``ix_jobs_created`` (or a user's
``ix_jobs_user_created``) backwards and stop after the page; users are ordered by their latest job, read per
user from ``ix_jobs_user_created``, and only the page's users have their jobs counted.
"""

from __future__ import annotations

from collections import defaultdict
from datetime import datetime
from typing import Any

from sqlalchemy import Connection, and_, case, func, or_, select

from storage.db import threaded
from storage.models import Attempt, Job, User
from storage.records import Paged, UserRow
from storage.statements import OPEN_STATES, Store, account_members, attempts, jobs, users

# What admins may search for is typed by people: these characters are matched as themselves.
_LIKE_ESCAPE = "/"


class ListingQueries(Store):
    """Reads only: nothing here changes a row."""

    @threaded
    def jobs_page(
        self,
        *,
        user_key: tuple[str, str] | None,
        state: str | None,
        backend: str | None,
        origin_platform: str | None,
        offset: int,
        limit: int,
    ) -> Paged[tuple[Job, User, list[Attempt]]]:
        """Jobs newest first (by creation, then id), each with its user and its attempts as ``job()`` reads
        them; only those of the user ``(platform, external_id)``, in ``state``, last run by ``backend`` and
        sent from ``origin_platform``, where given (a user's jobs are their account's: those of the
        identities linked with them too). ``total`` counts every job the filter matches."""
        where: list[Any] = []
        with self.db.transaction() as conn:
            if user_key is not None:
                found = conn.execute(
                    select(users.c.id, users.c.account_id)
                    .where(users.c.platform == user_key[0], users.c.external_id == user_key[1])
                ).one_or_none()
                if found is None:
                    return Paged([], 0)
                # One history per account: the jobs of every identity linked with this one (storage/links.py).
                # One identity alone (most people) walks its own index, already in order.
                ids = list(conn.execute(account_members(found.account_id or found.id)).scalars())
                where.append(jobs.c.user_id == ids[0] if len(ids) == 1 else jobs.c.user_id.in_(ids))
            if state is not None:
                where.append(jobs.c.state == state)
            if backend is not None:
                where.append(jobs.c.backend == backend)
            if origin_platform is not None:
                where.append(jobs.c.origin_platform == origin_platform)
            total = int(conn.execute(select(func.count()).select_from(jobs).where(*where)).scalar_one())
            if offset >= total:
                return Paged([], total)
            rows = conn.execute(
                select(jobs).where(*where).order_by(jobs.c.created_at.desc(), jobs.c.id.desc())
                .offset(offset).limit(limit)
            ).mappings().all()
            owners = {
                row["id"]: User(**row)
                for row in conn.execute(
                    select(users).where(users.c.id.in_({r["user_id"] for r in rows}))
                ).mappings()
            }
            tries: dict[str, list[Attempt]] = defaultdict(list)
            for row in conn.execute(
                select(attempts).where(attempts.c.job_id.in_([r["id"] for r in rows])).order_by(attempts.c.id)
            ).mappings():
                tries[row["job_id"]].append(Attempt(**row))
        return Paged([(Job(**r), owners[r["user_id"]], tries[r["id"]]) for r in rows], total)

    @threaded
    def users_page(self, *, search: str | None, offset: int, limit: int, now: datetime) -> Paged[UserRow]:
        """Users most recently active first (their latest job, else when they first came), each with their
        overrides and numbers (see :class:`UserRow`); only those whose name or id contains ``search``, in
        any case, where given (``%`` and ``_`` match themselves)."""
        where: list[Any] = []
        if search:
            pattern = "%" + _escape_like(search) + "%"
            where.append(or_(users.c.name.ilike(pattern, escape=_LIKE_ESCAPE),
                             users.c.external_id.ilike(pattern, escape=_LIKE_ESCAPE)))
        last_job = (
            select(func.max(jobs.c.created_at)).where(jobs.c.user_id == users.c.id).correlate(users)
            .scalar_subquery()
        )
        activity = func.coalesce(last_job, users.c.created_at).label("activity")
        with self.db.transaction() as conn:
            total = int(conn.execute(select(func.count()).select_from(users).where(*where)).scalar_one())
            if offset >= total:
                return Paged([], total)
            rows = conn.execute(
                select(users, last_job.label("last_job_at"), activity).where(*where)
                .order_by(activity.desc(), users.c.id.desc()).offset(offset).limit(limit)
            ).mappings().all()
            return Paged(self._user_rows(conn, rows, now), total)

    @threaded
    def user_row(self, platform: str, external_id: str, now: datetime) -> UserRow | None:
        """One user as :meth:`users_page` lists them; None if the bot has never seen them."""
        last_job = (
            select(func.max(jobs.c.created_at)).where(jobs.c.user_id == users.c.id).correlate(users)
            .scalar_subquery()
        )
        with self.db.transaction() as conn:
            rows = conn.execute(
                select(users, last_job.label("last_job_at"))
                .where(users.c.platform == platform, users.c.external_id == external_id)
            ).mappings().all()
            found = self._user_rows(conn, rows, now)
        return found[0] if found else None

    def _user_rows(self, conn: Connection, rows: Any, now: datetime) -> list[UserRow]:
        """The numbers of these users' jobs, counted in one pass over their own jobs."""
        day, month = self.calendar.day_start(now), self.calendar.month_start(now)
        # As the daily limit counts (storage/statements.py count_since): a failed or cancelled job counts
        # only when a provider billed for it.
        counted = or_(and_(jobs.c.state != "failed", jobs.c.state != "cancelled"), jobs.c.charged_micros > 0)
        # As the monthly allowance counts (reserve - refund + extra): the charge of a closed job, the hold
        # of an open one.
        money = case((jobs.c.state.in_(OPEN_STATES), jobs.c.max_cost_micros), else_=jobs.c.charged_micros)
        numbers = {
            user_id: (int(total), int(today or 0), int(this_month or 0), int(micros or 0))
            for user_id, total, today, this_month, micros in conn.execute(
                select(
                    jobs.c.user_id,
                    func.count(),
                    func.sum(case((and_(jobs.c.created_at >= day, counted), 1), else_=0)),
                    func.sum(case((and_(jobs.c.created_at >= month, counted), 1), else_=0)),
                    func.sum(case((jobs.c.created_at >= month, money), else_=0)),
                )
                .where(jobs.c.user_id.in_([row["id"] for row in rows]))
                .group_by(jobs.c.user_id)
            )
        }
        out = []
        for row in rows:
            total, today, this_month, micros = numbers.get(row["id"], (0, 0, 0, 0))
            out.append(UserRow(
                platform=row["platform"], external_id=row["external_id"], name=row["name"], role=row["role"],
                max_running=row["max_running"], max_queued=row["max_queued"],
                max_jobs_per_day=row["max_jobs_per_day"], max_usd_per_month=row["max_usd_per_month"],
                created_at=row["created_at"], jobs_today=today, jobs_month=this_month, month_micros=micros,
                total_jobs=total, last_job_at=row["last_job_at"],
            ))
        return out


def _escape_like(text: str) -> str:
    e = _LIKE_ESCAPE
    return text.replace(e, e + e).replace("%", e + "%").replace("_", e + "_")

"""The tables, the prepared statements of the hot path, and :class:`Store`, the base every part of the
repository builds on (the database handle, the statements, the two per-user counts that both admission and
usage read, and the calendar they count days and months by)."""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime
from typing import Any

from sqlalchemy import Connection, Integer, and_, bindparam, case, func, insert, or_, select, update
from sqlalchemy.dialects import postgresql, sqlite

from storage.calendar import Calendar
from storage.db import Database
from storage.models import (
    Attempt,
    BlockedWord,
    BudgetMonth,
    Delivery,
    Job,
    LedgerEntry,
    SQLModel,
    User,
    Worker,
)

users = SQLModel.metadata.tables[User.__tablename__]
jobs = SQLModel.metadata.tables[Job.__tablename__]
attempts = SQLModel.metadata.tables[Attempt.__tablename__]
ledger = SQLModel.metadata.tables[LedgerEntry.__tablename__]
deliveries = SQLModel.metadata.tables[Delivery.__tablename__]
budget = SQLModel.metadata.tables[BudgetMonth.__tablename__]
workers = SQLModel.metadata.tables[Worker.__tablename__]
blocked_words = SQLModel.metadata.tables[BlockedWord.__tablename__]

OPEN_STATES = ("queued", "running")
USER_FIELDS = ("id", "role", "name", "max_running", "max_queued", "max_jobs_per_day", "max_usd_per_month",
               "account_id")
TERMINAL_STATES = ("succeeded", "failed", "cancelled")


def account_members(account: Any) -> Any:
    """The ids of the identities of an account (``account``: its row's id, a value or a bind parameter): the
    account's own row and every row linked into it (storage/links.py)."""
    return select(users.c.id).where(or_(users.c.id == account, users.c.account_id == account))


def account_of(row: Mapping[str, Any]) -> int:
    """The account a user row belongs to: the row it was linked into, else its own."""
    return int(row["account_id"] if row.get("account_id") is not None else row["id"])


class Statements:
    """The hot path's statements, built once: SQLAlchemy then reuses their cache keys and compiled SQL,
    which is most of the cost of a small statement."""

    def __init__(self, dialect_insert: Any) -> None:
        b = bindparam
        when = users.c.created_at.type
        self.budget_get = (
            select(budget.c.committed_micros).where(budget.c.month == b("b_month")).with_for_update()
        )
        self.budget_new = dialect_insert(budget).values(month=b("b_month"), committed_micros=0)
        self.budget_new = self.budget_new.on_conflict_do_nothing()
        self.budget_add = (
            update(budget)
            .where(budget.c.month == b("b_month"))
            .values(committed_micros=budget.c.committed_micros + b("b_amount", type_=Integer()))
        )
        self.user_get = (
            select(*(users.c[name] for name in USER_FIELDS))
            .where(users.c.platform == b("b_platform"), users.c.external_id == b("b_ext"))
            .with_for_update()
        )
        self.user_by_id = select(*(users.c[name] for name in USER_FIELDS)).where(users.c.id == b("b_id")).with_for_update()
        self.user_new = dialect_insert(users).values(
            platform=b("b_platform"), external_id=b("b_ext"), name=b("b_name"), role=b("b_role"),
            created_at=b("b_now", type_=when),
        ).on_conflict_do_nothing()
        # The per-user counts are the account's (b_uid: the account's row, see storage/links.py): the jobs of
        # every identity linked into it, whichever platform each was sent from.
        self.open_count = (
            select(func.count())
            .select_from(jobs)
            .where(jobs.c.user_id.in_(account_members(b("b_uid"))),
                   or_(jobs.c.state == "queued", jobs.c.state == "running"))
        )
        self.count_since = (
            select(func.count())
            .select_from(jobs)
            .where(
                jobs.c.user_id.in_(account_members(b("b_uid"))),
                jobs.c.created_at >= b("b_since", type_=when),
                # A failed or cancelled job counts when a provider billed for it: cancelling at 90 % is no
                # way around the daily limit.
                or_(and_(jobs.c.state != "failed", jobs.c.state != "cancelled"), jobs.c.charged_micros > 0),
            )
        )
        # reserve - refund + extra: what the user's jobs of the month were charged, plus what is still held
        # (what the operator absorbed for failed attempts is not the user's).
        signed = case((ledger.c.kind == "refund", -ledger.c.amount_micros), (ledger.c.kind == "absorbed", 0),
                      else_=ledger.c.amount_micros)
        self.month_micros = (
            select(func.coalesce(func.sum(signed), 0))
            .select_from(ledger.join(jobs, jobs.c.id == ledger.c.job_id))
            .where(
                jobs.c.user_id.in_(account_members(b("b_uid"))),
                jobs.c.created_at >= b("b_since", type_=when),
                ledger.c.kind != "settle",
            )
        )
        self.job_new = insert(jobs)
        self.ledger_new = insert(ledger)
        self.job_running = (
            update(jobs)
            .where(jobs.c.id == b("b_id"))
            .values(
                state="running",
                started_at=func.coalesce(jobs.c.started_at, b("b_now", type_=when)),
                backend=b("b_backend"),
                model=b("b_model"),
                prompt_used=b("b_prompt_used"),
            )
        )
        self.attempt_new = insert(attempts).returning(attempts.c.id)
        self.attempt_end = (
            update(attempts)
            .where(attempts.c.id == b("b_id"))
            .values(
                outcome=b("b_outcome"), ended_at=b("b_now", type_=when), error_code=b("b_code"),
                error_message=b("b_message"), gpu_seconds=b("b_gpu"), cost_micros=b("b_cost"),
                user_pays=b("b_user_pays"),
                notes=b("b_notes", type_=attempts.c.notes.type),
            )
        )
        self.attempt_end_model = self.attempt_end.values(model=b("b_model"))
        self.job_for_close = (
            select(jobs.c.state, jobs.c.user_id, jobs.c.max_cost_micros, jobs.c.created_at,
                   jobs.c.origin_platform)
            .where(jobs.c.id == b("b_id"))
            .with_for_update()
        )
        self.attempts_cost = select(func.coalesce(func.sum(attempts.c.cost_micros), 0)).where(
            attempts.c.job_id == b("b_id"), attempts.c.user_pays.is_(True)
        )
        self.job_of_attempt = (
            select(jobs.c.id, jobs.c.state, jobs.c.user_id, jobs.c.created_at)
            .join(attempts, attempts.c.job_id == jobs.c.id)
            .where(attempts.c.id == b("b_id"))
            .with_for_update(of=jobs)
        )
        self.job_charge_more = (
            update(jobs)
            .where(jobs.c.id == b("b_id"))
            .values(charged_micros=jobs.c.charged_micros + b("b_amount", type_=Integer()))
        )
        self.job_close = (
            update(jobs)
            .where(jobs.c.id == b("b_id"))
            .values(
                state=b("b_state"), finished_at=b("b_now", type_=when), charged_micros=b("b_charge"),
                result_path=b("b_result"), error_code=b("b_code"), error_message=b("b_message"),
                error_text=b("b_text", type_=jobs.c.error_text.type),
            )
        )
        self.delivery_new = insert(deliveries).returning(deliveries.c.id)


class Store:
    """The database and the prepared statements, shared by every part of the repository.

    Each part (admission, jobs, deliveries, workers, reports, files) is a subclass holding its queries;
    :class:`storage.repo.Repository` is all of them together.
    """

    def __init__(self, db: Database, calendar: Calendar | None = None) -> None:
        self.db = db
        self.calendar = calendar or Calendar()  # where "today" and "this month" start (TIMEZONE)
        self._insert = sqlite.insert if db.is_sqlite else postgresql.insert
        self._q = Statements(self._insert)

    def _jobs_since(self, conn: Connection, user_id: int, since: datetime) -> int:
        """Jobs counted against the daily limit since ``since``, of the account ``user_id`` (its row's id)."""
        return self.db.execute(conn, self._q.count_since, {"b_uid": user_id, "b_since": since}).fetchone()[0]

    def _user_month_micros(self, conn: Connection, user_id: int, now: datetime) -> int:
        """Reserved minus refunded for jobs created this month: charges plus money still on hold."""
        return self.db.execute(
            conn, self._q.month_micros, {"b_uid": user_id, "b_since": self.calendar.month_start(now)}
        ).fetchone()[0]

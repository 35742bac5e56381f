"""Every query reelbot makes. Methods are blocking SQLAlchemy Core, run on the DB thread via ``@threaded``.

Storage knows nothing of the engine's rules: admission gets the limits as numbers and answers with the job
or a :class:`Refusal`; the engine turns that into words.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from sqlalchemy import Connection, Integer, and_, bindparam, case, func, insert, or_, select, update
from sqlalchemy.dialects import postgresql, sqlite

from storage.db import Database, threaded
from storage.models import Attempt, BudgetMonth, Delivery, Job, LedgerEntry, SQLModel, User, Worker

users = SQLModel.metadata.tables[User.__tablename__]
jobs = SQLModel.metadata.tables[Job.__tablename__]
attempts = SQLModel.metadata.tables[Attempt.__tablename__]
ledger = SQLModel.metadata.tables[LedgerEntry.__tablename__]
deliveries = SQLModel.metadata.tables[Delivery.__tablename__]
budget = SQLModel.metadata.tables[BudgetMonth.__tablename__]
workers = SQLModel.metadata.tables[Worker.__tablename__]

OPEN_STATES = ("queued", "running")
USER_FIELDS = ("id", "role", "name", "max_running", "max_queued", "max_jobs_per_day", "max_usd_per_month")
TERMINAL_STATES = ("succeeded", "failed", "cancelled")


@dataclass(frozen=True, slots=True)
class Limits:
    """Per-user defaults from settings (None: no limit) and the global monthly budget."""

    max_running: int | None
    max_queued: int | None
    max_jobs_per_day: int | None
    max_usd_per_month: float | None
    global_budget_micros: int | None


@dataclass(frozen=True, slots=True)
class NewJob:
    id: str
    kind: str
    prompt: str
    options: dict[str, Any]
    seed: int
    image_path: str | None
    origin_platform: str
    origin: dict[str, Any]
    scope: str | None = None


@dataclass(frozen=True, slots=True)
class ScopeCounts:
    """One server's or group's own jobs: what its managers may see (no names, no money)."""

    queued: int
    running: int
    succeeded_today: int
    failed_today: int


@dataclass(frozen=True, slots=True)
class Refusal:
    """Why admission said no. ``limit`` names the rule; ``used`` and ``allowed`` are its numbers."""

    limit: str  # banned | max_queued | max_jobs_per_day | max_usd_per_month | global_budget
    used: float
    allowed: float


@dataclass(frozen=True, slots=True)
class Admitted:
    job_id: str
    user_id: int
    reserved_micros: int
    priority: int
    max_running: int | None


@dataclass(frozen=True, slots=True)
class AttemptEnd:
    """How an attempt ended, written in the same transaction that closes its job."""

    attempt_id: int
    outcome: str
    gpu_seconds: float = 0.0
    cost_micros: int = 0
    notes: Sequence[str] = ()
    model: str | None = None
    user_pays: bool = True  # False: the bill is the operator's (the provider failed), not the user's


@dataclass(frozen=True, slots=True)
class Usage:
    user_id: int | None
    role: str
    open_jobs: int
    jobs_today: int
    month_micros: int
    limits: Limits


@dataclass(frozen=True, slots=True)
class RecoveryReport:
    requeued: list[str] = field(default_factory=list)  # were running when the process died; run again
    failed: list[str] = field(default_factory=list)  # died too often; failed with a refund
    queued: list[str] = field(default_factory=list)  # every job to drive now, oldest first


def day_start(now: datetime) -> datetime:
    return now.replace(hour=0, minute=0, second=0, microsecond=0)


def month_start(now: datetime) -> datetime:
    return day_start(now).replace(day=1)


def month_key(when: datetime | str) -> str:
    """"2026-11" for a time; SQLite's fast path hands back stored times as text ("2026-11-22 ...")."""
    return when[:7] if isinstance(when, str) else when.strftime("%Y-%m")


class _Statements:
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
        self.user_new = dialect_insert(users).values(
            platform=b("b_platform"), external_id=b("b_ext"), name=b("b_name"), role=b("b_role"),
            created_at=b("b_now", type_=when),
        ).on_conflict_do_nothing()
        self.open_count = (
            select(func.count())
            .select_from(jobs)
            .where(jobs.c.user_id == b("b_uid"), or_(jobs.c.state == "queued", jobs.c.state == "running"))
        )
        self.count_since = (
            select(func.count())
            .select_from(jobs)
            .where(
                jobs.c.user_id == b("b_uid"),
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
                jobs.c.user_id == b("b_uid"),
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
            )
        )
        self.delivery_new = insert(deliveries).returning(deliveries.c.id)


class Repository:
    def __init__(self, db: Database) -> None:
        self.db = db
        self._insert = sqlite.insert if db.is_sqlite else postgresql.insert
        self._q = _Statements(self._insert)

    # --- admission ----------------------------------------------------------------------------------------

    @threaded
    def admit(
        self,
        *,
        platform: str,
        external_id: str,
        name: str,
        is_admin: bool,
        job: NewJob,
        costs_micros: Sequence[int],
        limits: Limits,
        now: datetime,
    ) -> Admitted | Refusal:
        """Store the job and reserve its cost in one transaction, or refuse it and store nothing.

        ``costs_micros`` lists acceptable reservations, most capable first (whole chain, then cheaper
        prefixes of it); the first one the user's and the installation's budgets allow is taken.
        ``is_admin`` is the engine's decision for this request; it is never stored.
        """
        q, x = self._q, self.db.execute
        with self.db.transaction() as conn:
            committed = self._lock_budget_month(conn, month_key(now))
            user = self._lock_user(conn, platform, external_id, name, now)
            effective = _effective_limits(user, limits)
            refusal, month_micros = self._user_refusal(conn, user, effective, is_admin, max(costs_micros), now)
            if refusal is not None:
                return refusal
            reserve = None
            for cost in costs_micros:
                if (
                    not is_admin
                    and effective.max_usd_per_month is not None
                    and month_micros + cost > round(effective.max_usd_per_month * 1e6)
                ):
                    continue
                if limits.global_budget_micros is not None and committed + cost > limits.global_budget_micros:
                    continue
                reserve = cost
                break
            if reserve is None:
                cheapest = min(costs_micros)
                if (
                    limits.global_budget_micros is not None
                    and committed + cheapest > limits.global_budget_micros
                ):
                    return Refusal("global_budget", committed / 1e6, limits.global_budget_micros / 1e6)
                return Refusal(
                    "max_usd_per_month", month_micros / 1e6, effective.max_usd_per_month or 0.0
                )
            priority = 10 if is_admin else 0
            x(
                conn,
                q.job_new,
                {
                    "id": job.id, "user_id": user["id"], "kind": job.kind, "prompt": job.prompt,
                    "options": job.options, "seed": job.seed, "image_path": job.image_path,
                    "state": "queued", "priority": priority, "origin_platform": job.origin_platform,
                    "origin": job.origin, "scope": job.scope, "max_cost_micros": reserve, "charged_micros": 0,
                    "interruptions": 0, "created_at": now,
                },
            )
            x(
                conn,
                q.ledger_new,
                {"job_id": job.id, "user_id": user["id"], "kind": "reserve", "amount_micros": reserve,
                 "created_at": now},
            )
            if reserve:
                x(conn, q.budget_add, {"b_month": month_key(now), "b_amount": reserve})
            return Admitted(
                job.id, user["id"], reserve, priority, None if is_admin else effective.max_running
            )

    def _user_refusal(
        self, conn: Connection, user: dict[str, Any], effective: Limits, is_admin: bool, cost_micros: int,
        now: datetime,
    ) -> tuple[Refusal | None, int]:
        """The per-user rules in the order users hear them: ban, open jobs, jobs today, money this month.
        Returns the refusal (or None) and the user's money this month (0 when it did not matter)."""
        if is_admin:
            return None, 0
        if user["role"] == "banned":
            return Refusal("banned", 0, 0), 0
        open_jobs = self.db.execute(conn, self._q.open_count, {"b_uid": user["id"]}).fetchone()[0]
        if effective.max_queued is not None and open_jobs >= effective.max_queued:
            return Refusal("max_queued", open_jobs, effective.max_queued), 0
        if effective.max_jobs_per_day is not None:
            today = self._jobs_since(conn, user["id"], day_start(now))
            if today >= effective.max_jobs_per_day:
                return Refusal("max_jobs_per_day", today, effective.max_jobs_per_day), 0
        month_micros = 0
        if effective.max_usd_per_month is not None and cost_micros > 0:
            month_micros = self._user_month_micros(conn, user["id"], now)
        return None, month_micros

    @threaded
    def precheck(
        self, *, platform: str, external_id: str, is_admin: bool, cheapest_micros: int, limits: Limits,
        now: datetime,
    ) -> Refusal | None:
        """Would admission refuse this user whatever the picture? A read, no locks, nothing stored: the
        cheap look before an upload is downloaded and decoded. ``admit`` decides for real."""
        with self.db.transaction() as conn:
            row = conn.execute(
                select(*(users.c[name] for name in USER_FIELDS))
                .where(users.c.platform == platform, users.c.external_id == external_id)
            ).fetchone()
            user = dict(zip(USER_FIELDS, row, strict=True)) if row is not None else None
            if user is None:  # a first request: nothing of theirs to count, only the budgets
                user = {"id": -1, "role": "user"}
            effective = _effective_limits(user, limits)
            refusal, month_micros = self._user_refusal(conn, user, effective, is_admin, cheapest_micros, now)
            if refusal is not None:
                return refusal
            if (
                not is_admin
                and effective.max_usd_per_month is not None
                and month_micros + cheapest_micros > round(effective.max_usd_per_month * 1e6)
            ):
                return Refusal("max_usd_per_month", month_micros / 1e6, effective.max_usd_per_month)
            if limits.global_budget_micros is not None:
                committed = conn.execute(
                    select(budget.c.committed_micros).where(budget.c.month == month_key(now))
                ).scalar_one_or_none() or 0
                if committed + cheapest_micros > limits.global_budget_micros:
                    return Refusal("global_budget", committed / 1e6, limits.global_budget_micros / 1e6)
        return None

    def _lock_budget_month(self, conn: Connection, month: str) -> int:
        row = self.db.execute(conn, self._q.budget_get, {"b_month": month}).fetchone()
        if row is None:
            self.db.execute(conn, self._q.budget_new, {"b_month": month})
            row = self.db.execute(conn, self._q.budget_get, {"b_month": month}).fetchone()
        return int(row[0])

    def _lock_user(
        self, conn: Connection, platform: str, external_id: str, name: str, now: datetime
    ) -> dict[str, Any]:
        key = {"b_platform": platform, "b_ext": external_id}
        row = self.db.execute(conn, self._q.user_get, key).fetchone()
        if row is None:
            self.db.execute(conn, self._q.user_new, {**key, "b_name": name[:128], "b_role": "user", "b_now": now})
            row = self.db.execute(conn, self._q.user_get, key).fetchone()
        user = dict(zip(USER_FIELDS, row, strict=True))
        if name and user["name"] != name[:128]:
            conn.execute(update(users).where(users.c.id == user["id"]).values(name=name[:128]))
        return user

    def _jobs_since(self, conn: Connection, user_id: int, since: datetime) -> int:
        return self.db.execute(conn, self._q.count_since, {"b_uid": user_id, "b_since": since}).fetchone()[0]

    def _user_month_micros(self, conn: Connection, user_id: int, now: datetime) -> int:
        """Reserved minus refunded for jobs created this month: charges plus money still on hold."""
        return self.db.execute(
            conn, self._q.month_micros, {"b_uid": user_id, "b_since": month_start(now)}
        ).fetchone()[0]

    # --- running ------------------------------------------------------------------------------------------

    @threaded
    def start_attempt(
        self, job_id: str, *, backend: str, model: str | None, lane: str | None, now: datetime
    ) -> int:
        with self.db.transaction() as conn:
            self.db.execute(
                conn, self._q.job_running,
                {"b_id": job_id, "b_now": now, "b_backend": backend, "b_model": model},
            )
            return self.db.execute(
                conn,
                self._q.attempt_new,
                {
                    "job_id": job_id, "backend": backend, "model": model, "lane": lane, "started_at": now,
                    "outcome": "running", "gpu_seconds": 0.0, "cost_micros": 0, "notes": [], "user_pays": True,
                },
            ).fetchone()[0]

    @threaded
    def end_attempt(
        self,
        attempt_id: int,
        *,
        outcome: str,
        now: datetime,
        error_code: str | None = None,
        error_message: str | None = None,
        gpu_seconds: float = 0.0,
        cost_micros: int = 0,
        notes: Iterable[str] = (),
        user_pays: bool = True,
    ) -> None:
        """Close an attempt with what its backend billed for it (``cost_micros``, also when it failed).

        ``user_pays``: the bill is the user's (their video, their cancel, their content refused), settled
        with the job; else it is the operator's (the provider failed) and goes to the month's budget now, as
        an "absorbed" entry. A user's bill that arrives after the job was closed (a worker that ended its
        attempt after a cancel gave up waiting for it) is charged to the job at once, as an "extra" entry, so
        that no billed dollar is left off the books.
        """
        end = AttemptEnd(attempt_id, outcome, gpu_seconds, cost_micros, tuple(notes), user_pays=user_pays)
        with self.db.transaction() as conn:
            self._end_attempt(conn, end, now, error_code, error_message)
            self._book_late(conn, end, now)

    def _book_late(self, conn: Connection, end: AttemptEnd, now: datetime) -> None:
        """Charge a user's bill to its job if the job was already closed (its settlement missed it)."""
        if end.cost_micros > 0 and end.user_pays:
            row = self.db.execute(conn, self._q.job_of_attempt, {"b_id": end.attempt_id}).fetchone()
            if row is not None and row[1] in TERMINAL_STATES:
                job_id, _, user_id, created_at = row
                self._charge_extra(conn, job_id, user_id, created_at, end.cost_micros, now)

    def _end_attempt(
        self, conn: Connection, end: AttemptEnd, now: datetime, code: str | None, message: str | None
    ) -> None:
        params = {
            "b_id": end.attempt_id, "b_outcome": end.outcome, "b_now": now, "b_code": code,
            "b_message": message, "b_gpu": end.gpu_seconds, "b_cost": end.cost_micros,
            "b_notes": list(end.notes), "b_user_pays": end.user_pays,
        }
        if end.model:
            self.db.execute(conn, self._q.attempt_end_model, {**params, "b_model": end.model})
        else:
            self.db.execute(conn, self._q.attempt_end, params)
        if end.cost_micros > 0 and not end.user_pays:  # the operator's money: on the books and the budget now
            row = self.db.execute(conn, self._q.job_of_attempt, {"b_id": end.attempt_id}).fetchone()
            if row is not None:
                job_id, _, user_id, created_at = row
                self.db.execute(conn, self._q.ledger_new, {
                    "job_id": job_id, "user_id": user_id, "kind": "absorbed", "amount_micros": end.cost_micros,
                    "created_at": now})
                self.db.execute(conn, self._q.budget_add,
                                {"b_month": month_key(created_at), "b_amount": end.cost_micros})

    @threaded
    def finish(
        self,
        job_id: str,
        *,
        state: str,
        now: datetime,
        result_path: str | None = None,
        error_code: str | None = None,
        error_message: str | None = None,
        deliver: bool = True,
        attempt: AttemptEnd | None = None,
    ) -> int | None:
        """Close the job: charge what its attempts were billed, refund the rest of the hold, queue its
        delivery. Once only.

        The charge is the sum of the job's attempt costs, whatever the job's end (a cancelled or failed
        job pays for the cloud work that was done for it). The books, per job: reserve = settle + refund,
        and settle + extra = charge = the sum of its attempts' costs, where "extra" is what the providers
        billed beyond the reservation; the month's global budget gets the extra too.

        Returns None if the job was already closed, else the delivery's id (0 when none was queued).
        """
        with self.db.transaction() as conn:
            if attempt is not None:
                self._end_attempt(conn, attempt, now, None, None)
            closed = self._finish(
                conn, job_id, state=state, now=now, result_path=result_path,
                error_code=error_code, error_message=error_message, deliver=deliver,
            )
            if closed is None and attempt is not None:  # someone closed it first: the bill still stands
                self._book_late(conn, attempt, now)
            return closed

    def _finish(
        self,
        conn: Connection,
        job_id: str,
        *,
        state: str,
        now: datetime,
        result_path: str | None,
        error_code: str | None,
        error_message: str | None,
        deliver: bool,
    ) -> int | None:
        q, x = self._q, self.db.execute
        row = x(conn, q.job_for_close, {"b_id": job_id}).fetchone()
        if row is None or row[0] in TERMINAL_STATES:
            return None
        _, user_id, reserved, created_at, platform = row
        charge = max(0, int(x(conn, q.attempts_cost, {"b_id": job_id}).fetchone()[0]))
        settle = min(charge, reserved)
        refund, extra = reserved - settle, charge - settle
        x(
            conn,
            q.job_close,
            {
                "b_id": job_id, "b_state": state, "b_now": now, "b_charge": charge, "b_result": result_path,
                "b_code": error_code, "b_message": error_message,
            },
        )
        entries = [{"job_id": job_id, "user_id": user_id, "kind": "settle", "amount_micros": settle,
                    "created_at": now}]
        if refund:
            entries.append({**entries[0], "kind": "refund", "amount_micros": refund})
            x(conn, q.budget_add, {"b_month": month_key(created_at), "b_amount": -refund})
        x(conn, q.ledger_new, entries)
        if extra:
            self._charge_extra(conn, job_id, user_id, created_at, extra, now, closing=True)
        if not deliver:
            return 0
        return x(
            conn,
            q.delivery_new,
            {"job_id": job_id, "platform": platform, "state": "pending", "tries": 0, "created_at": now},
        ).fetchone()[0]

    def _charge_extra(
        self, conn: Connection, job_id: str, user_id: int, created_at: datetime | str, amount: int,
        now: datetime, *, closing: bool = False,
    ) -> None:
        """Book what a provider billed beyond what was settled: its own ledger entry ("extra"), in the user's
        month (as the job's creation month counts) and in the global budget of that month."""
        q, x = self._q, self.db.execute
        x(conn, q.ledger_new, {"job_id": job_id, "user_id": user_id, "kind": "extra", "amount_micros": amount,
                               "created_at": now})
        x(conn, q.budget_add, {"b_month": month_key(created_at), "b_amount": amount})
        if not closing:  # a job being closed gets its whole charge written by the close itself
            x(conn, q.job_charge_more, {"b_id": job_id, "b_amount": amount})

    @threaded
    def recover(self, *, now: datetime, max_interruptions: int) -> RecoveryReport:
        """After a crash: close the attempts that died, re-queue their jobs (or fail them if they keep dying)."""
        report = RecoveryReport()
        with self.db.transaction() as conn:
            conn.execute(
                update(attempts)
                .where(attempts.c.outcome == "running")
                .values(outcome="interrupted", ended_at=now, error_code="interrupted",
                        error_message="reelbot stopped while this attempt ran")
            )
            running = conn.execute(
                select(jobs.c.id, jobs.c.interruptions).where(jobs.c.state == "running")
            ).all()
            for job_id, interruptions in running:
                if interruptions + 1 > max_interruptions:
                    self._finish(
                        conn, job_id, state="failed", now=now, result_path=None,
                        error_code="crashed",
                        error_message=f"The worker stopped {interruptions + 1} times while running this job.",
                        deliver=True,
                    )
                    report.failed.append(job_id)
                else:
                    conn.execute(
                        update(jobs)
                        .where(jobs.c.id == job_id)
                        .values(state="queued", interruptions=interruptions + 1)
                    )
                    report.requeued.append(job_id)
            report.queued.extend(
                conn.execute(
                    select(jobs.c.id).where(jobs.c.state == "queued").order_by(jobs.c.created_at)
                ).scalars()
            )
        return report

    @threaded
    def interrupt(self, job_id: str, *, now: datetime, max_interruptions: int, why: str) -> str | None:
        """One job's worker died while it ran (distributed mode): close its running attempt, then queue the
        job again ("requeued") or, past ``max_interruptions``, fail and refund it ("failed"); None when the
        job had already ended."""
        with self.db.transaction() as conn:
            row = conn.execute(
                select(jobs.c.state, jobs.c.interruptions).where(jobs.c.id == job_id).with_for_update()
            ).one_or_none()
            if row is None or row[0] in TERMINAL_STATES:
                return None
            conn.execute(
                update(attempts)
                .where(attempts.c.job_id == job_id, attempts.c.outcome == "running")
                .values(outcome="interrupted", ended_at=now, error_code="interrupted", error_message=why)
            )
            interruptions = row[1] + (1 if row[0] == "running" else 0)
            if interruptions > max_interruptions:
                self._finish(
                    conn, job_id, state="failed", now=now, result_path=None, error_code="crashed",
                    error_message=f"The worker running this job stopped {interruptions} times; it was not "
                                  "tried again.",
                    deliver=True,
                )
                return "failed"
            conn.execute(update(jobs).where(jobs.c.id == job_id).values(state="queued", interruptions=interruptions))
            return "requeued"

    @threaded
    def open_jobs_of(self, user_id: int) -> int:
        """How many of a user's jobs wait or run (fair order across users in distributed mode)."""
        with self.db.transaction() as conn:
            return int(conn.execute(select(func.count()).select_from(jobs).where(
                jobs.c.user_id == user_id, jobs.c.state.in_(OPEN_STATES))).scalar_one())

    @threaded
    def queued_job_ids(self) -> list[str]:
        with self.db.transaction() as conn:
            return list(conn.execute(
                select(jobs.c.id).where(jobs.c.state == "queued").order_by(jobs.c.created_at)).scalars())

    # --- workers (distributed mode) -------------------------------------------------------------------------

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

    @threaded
    def requeue(self, job_id: str) -> None:
        """Put a running job back in the queue after a clean stop (recovery counts only crashes)."""
        with self.db.transaction() as conn:
            conn.execute(update(jobs).where(jobs.c.id == job_id, jobs.c.state == "running").values(state="queued"))

    # --- reading ------------------------------------------------------------------------------------------

    @threaded
    def job(self, job_id: str) -> tuple[Job, User, list[Attempt]] | None:
        with self.db.transaction() as conn:
            row = conn.execute(select(jobs).where(jobs.c.id == job_id)).mappings().one_or_none()
            if row is None:
                return None
            user = conn.execute(select(users).where(users.c.id == row["user_id"])).mappings().one()
            tries = conn.execute(
                select(attempts).where(attempts.c.job_id == job_id).order_by(attempts.c.id)
            ).mappings().all()
        return (
            Job(**row),
            User(**user),
            [Attempt(**a) for a in tries],
        )

    @threaded
    def latest_open_job(self, platform: str, external_id: str) -> str | None:
        with self.db.transaction() as conn:
            return conn.execute(
                select(jobs.c.id)
                .join(users, users.c.id == jobs.c.user_id)
                .where(
                    users.c.platform == platform,
                    users.c.external_id == external_id,
                    jobs.c.state.in_(OPEN_STATES),
                )
                .order_by(jobs.c.created_at.desc())
                .limit(1)
            ).scalar_one_or_none()

    @threaded
    def usage(self, platform: str, external_id: str, limits: Limits, now: datetime) -> Usage:
        with self.db.transaction() as conn:
            user = conn.execute(
                select(users).where(users.c.platform == platform, users.c.external_id == external_id)
            ).mappings().one_or_none()
            if user is None:
                return Usage(None, "user", 0, 0, 0, limits)
            open_jobs = self.db.execute(conn, self._q.open_count, {"b_uid": user["id"]}).fetchone()[0]
            return Usage(
                user["id"],
                user["role"],
                open_jobs,
                self._jobs_since(conn, user["id"], day_start(now)),
                self._user_month_micros(conn, user["id"], now),
                _effective_limits(dict(user), limits),
            )

    @threaded
    def scope_counts(self, scope: str, today: datetime) -> ScopeCounts:
        """The jobs of one server or group: waiting and running now, made and failed today."""
        with self.db.transaction() as conn:
            rows: dict[str, int] = dict(conn.execute(  # type: ignore[arg-type]
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

    # --- files on disk ------------------------------------------------------------------------------------

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

    # --- the outbox ---------------------------------------------------------------------------------------

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


def _effective_limits(user: dict[str, Any], limits: Limits) -> Limits:
    def pick(override: Any, default: Any) -> Any:
        return default if override is None else override

    return Limits(
        max_running=pick(user.get("max_running"), limits.max_running),
        max_queued=pick(user.get("max_queued"), limits.max_queued),
        max_jobs_per_day=pick(user.get("max_jobs_per_day"), limits.max_jobs_per_day),
        max_usd_per_month=pick(user.get("max_usd_per_month"), limits.max_usd_per_month),
        global_budget_micros=limits.global_budget_micros,
    )


"""A job's life after admission: its attempts, closing it once with its books settled, recovery after a
crash, a worker that died (interrupt), a clean stop (requeue), and reading a job back."""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime
from typing import Any

from sqlalchemy import Connection, func, select, update

from storage.db import threaded
from storage.models import Attempt, Job, User
from storage.records import AttemptEnd, RecoveryReport
from storage.statements import OPEN_STATES, TERMINAL_STATES, Store, account_members, attempts, jobs, users


class JobQueries(Store):
    """Attempts, settlement, recovery and reading a job."""

    @threaded
    def start_attempt(
        self, job_id: str, *, backend: str, model: str | None, lane: str | None, now: datetime,
        prompt_used: str | None = None,
    ) -> int:
        """Start an attempt; the job is running on ``backend`` now, its model getting ``prompt_used`` (when
        that is not the user's prompt: translated) or the user's prompt (None)."""
        with self.db.transaction() as conn:
            self.db.execute(
                conn, self._q.job_running,
                {"b_id": job_id, "b_now": now, "b_backend": backend, "b_model": model,
                 "b_prompt_used": prompt_used},
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
                                {"b_month": self.calendar.month_key(created_at), "b_amount": end.cost_micros})

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
        error_text: dict[str, Any] | None = None,
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
                error_code=error_code, error_message=error_message, error_text=error_text, deliver=deliver,
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
        error_text: dict[str, Any] | None = None,
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
                "b_code": error_code, "b_message": error_message, "b_text": error_text,
            },
        )
        entries = [{"job_id": job_id, "user_id": user_id, "kind": "settle", "amount_micros": settle,
                    "created_at": now}]
        if refund:
            entries.append({**entries[0], "kind": "refund", "amount_micros": refund})
            x(conn, q.budget_add, {"b_month": self.calendar.month_key(created_at), "b_amount": -refund})
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
        x(conn, q.budget_add, {"b_month": self.calendar.month_key(created_at), "b_amount": amount})
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
        """How many of a user's jobs wait or run (fair order across users in distributed mode): their
        account's, with the identities linked with them."""
        with self.db.transaction() as conn:
            account = conn.execute(select(func.coalesce(users.c.account_id, users.c.id))
                                   .where(users.c.id == user_id)).scalar_one_or_none() or user_id
            return int(conn.execute(select(func.count()).select_from(jobs).where(
                jobs.c.user_id.in_(account_members(account)), jobs.c.state.in_(OPEN_STATES))).scalar_one())

    @threaded
    def queued_job_ids(self) -> list[str]:
        with self.db.transaction() as conn:
            return list(conn.execute(
                select(jobs.c.id).where(jobs.c.state == "queued").order_by(jobs.c.created_at)).scalars())

    @threaded
    def requeue(self, job_id: str) -> None:
        """Put a running job back in the queue after a clean stop (recovery counts only crashes)."""
        with self.db.transaction() as conn:
            conn.execute(update(jobs).where(jobs.c.id == job_id, jobs.c.state == "running").values(state="queued"))

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
        """The user's latest job waiting or running: their account's, whichever linked identity sent it."""
        with self.db.transaction() as conn:
            account = conn.execute(
                select(func.coalesce(users.c.account_id, users.c.id))
                .where(users.c.platform == platform, users.c.external_id == external_id)
            ).scalar_one_or_none()
            if account is None:
                return None
            return conn.execute(
                select(jobs.c.id)
                .where(
                    jobs.c.user_id.in_(account_members(account)),
                    jobs.c.state.in_(OPEN_STATES),
                )
                .order_by(jobs.c.created_at.desc())
                .limit(1)
            ).scalar_one_or_none()

"""Admission: a job is stored with its cost reserved in one transaction, or refused with the rule it broke.

Storage knows nothing of the engine's rules: admission gets the limits as numbers and answers with the job
or a :class:`Refusal`; the engine turns that into words.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Any

from sqlalchemy import Connection, select, update

from storage.db import threaded
from storage.records import Admitted, Limits, NewJob, Refusal, effective_limits
from storage.statements import USER_FIELDS, Store, account_of, budget, users

# What a linked identity takes from its account's row (they are kept the same on every identity of the
# account as well: storage/users.py).
ACCOUNT_FIELDS = ("role", "max_running", "max_queued", "max_jobs_per_day", "max_usd_per_month")


class AdmissionQueries(Store):
    """Admit, or refuse before anything is stored; the cheap look before an upload (precheck)."""

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
            committed = self._lock_budget_month(conn, self.calendar.month_key(now))
            user = self._lock_user(conn, platform, external_id, name, now)
            effective = effective_limits(user, limits)
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
                x(conn, q.budget_add, {"b_month": self.calendar.month_key(now), "b_amount": reserve})
            return Admitted(
                job.id, user["id"], reserve, priority, None if is_admin else effective.max_running,
                account_key=user["account_key"],
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
        account = account_of(user)  # linked identities share one quota (storage/links.py)
        open_jobs = self.db.execute(conn, self._q.open_count, {"b_uid": account}).fetchone()[0]
        if effective.max_queued is not None and open_jobs >= effective.max_queued:
            return Refusal("max_queued", open_jobs, effective.max_queued), 0
        if effective.max_jobs_per_day is not None:
            today = self._jobs_since(conn, account, self.calendar.day_start(now))
            if today >= effective.max_jobs_per_day:
                return Refusal("max_jobs_per_day", today, effective.max_jobs_per_day), 0
        month_micros = 0
        if effective.max_usd_per_month is not None and cost_micros > 0:
            month_micros = self._user_month_micros(conn, account, now)
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
            effective = effective_limits(user, limits)
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
                    select(budget.c.committed_micros).where(budget.c.month == self.calendar.month_key(now))
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
        user["account_key"] = f"{platform}:{external_id}"
        if user["account_id"] is not None:
            # A linked identity: the account's row is locked too (every identity's admission of the account
            # waits here), and its role and limits are the ones that apply.
            account = self.db.execute(conn, self._q.user_by_id, {"b_id": user["account_id"]}).fetchone()
            if account is not None:
                owner = dict(zip(USER_FIELDS, account, strict=True))
                user.update({k: owner[k] for k in ACCOUNT_FIELDS})
                user["account_key"] = self._identity_key(conn, user["account_id"])
        return user

    def _identity_key(self, conn: Connection, user_id: int) -> str:
        platform, external_id = conn.execute(
            select(users.c.platform, users.c.external_id).where(users.c.id == user_id)).one()
        return f"{platform}:{external_id}"

"""One person, one account: identities on several platforms linked with ``/link`` and separated with
``/unlink``.

An identity is a ``users`` row (one per platform id). Linked identities point with ``account_id`` at the row
of the account (the first identity of the code's giver); that row's role, language, limits and settings are
the account's, and they are written to every identity of the account as well (storage/users.py). Jobs stay
with the identity that sent them (``jobs.user_id``), and every per-user count (daily jobs, open jobs, the
month's money, the history) is taken over all the account's identities (``statements.account_members``).

Unlinking moves nothing: each identity takes back the jobs it sent, their charges and holds with them, so the
books stay exact (every ledger entry stays on its job); each keeps the account's role, language, limits and
settings as they were at that moment (a ban stays on both).

Codes are stored as their sha256, for one identity, and used once; codes typed that match none are counted
(``link_tries``) and after a few per identity, or many in all, typing codes waits.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import Connection, delete, func, insert, select, update

from storage.db import threaded
from storage.models import LinkCode, LinkTry, SQLModel
from storage.statements import Store, users

link_codes = SQLModel.metadata.tables[LinkCode.__tablename__]
link_tries = SQLModel.metadata.tables[LinkTry.__tablename__]

# Not the account's but the identity's own: who it is on its platform, and which account it is in.
IDENTITY_FIELDS = ("id", "platform", "external_id", "name", "created_at", "account_id")
LIMIT_FIELDS = ("max_running", "max_queued", "max_jobs_per_day", "max_usd_per_month")


@dataclass(frozen=True, slots=True)
class Identity:
    platform: str
    external_id: str
    name: str


@dataclass(frozen=True, slots=True)
class LinkAnswer:
    """What a /link or /unlink did. ``refused`` names why nothing was done (None: done); ``identities`` are
    the account's after a link, or before an unlink; ``retry_after_s`` is how long typing codes waits."""

    refused: str | None  # banned | unknown | expired | own_code | already_linked | platform_taken
    # | too_many_tries | not_linked
    identities: list[Identity] = field(default_factory=list)
    retry_after_s: float = 0.0


@dataclass(frozen=True, slots=True)
class TryLimits:
    """How many codes that match none may be typed in ``window``: by one identity, and by everyone."""

    per_user: int
    everyone: int
    window: timedelta


class LinkQueries(Store):
    @threaded
    def new_link_code(self, platform: str, external_id: str, name: str, code_hash: str, expires_at: datetime,
                      now: datetime) -> LinkAnswer:
        """Keep a new code for this identity (its earlier one no longer works); refused for a banned
        account. ``identities``: those already linked (the account as it is)."""
        with self.db.transaction() as conn:
            me = self._identity(conn, platform, external_id, name, now)
            account = self._account_rows(conn, me)
            if any(row["role"] == "banned" for row in account):
                return LinkAnswer("banned")
            conn.execute(delete(link_codes).where(link_codes.c.user_id == me["id"]))
            conn.execute(delete(link_codes).where(link_codes.c.expires_at < now))  # the forgotten ones
            conn.execute(insert(link_codes).values(code_hash=code_hash, user_id=me["id"], expires_at=expires_at))
            return LinkAnswer(None, _identities(account))

    @threaded
    def redeem_link_code(self, platform: str, external_id: str, name: str, code_hash: str, now: datetime,
                         tries: TryLimits) -> LinkAnswer:
        """Link this identity's account with the account of the code's giver, in one transaction; or say
        why not. A code that matches none is counted against this identity (and everyone)."""
        with self.db.transaction() as conn:
            self._one_at_a_time(conn, now)
            me = self._identity(conn, platform, external_id, name, now)
            since = now - tries.window
            conn.execute(delete(link_tries).where(link_tries.c.at < since))
            mine = conn.execute(select(func.count(), func.min(link_tries.c.at))
                                .where(link_tries.c.user_id == me["id"], link_tries.c.at >= since)).one()
            everyone = conn.execute(select(func.count(), func.min(link_tries.c.at))
                                    .where(link_tries.c.at >= since)).one()
            for count, first, limit in ((mine[0], mine[1], tries.per_user), (everyone[0], everyone[1], tries.everyone)):
                if count >= limit:  # not even looked up: a guess must not learn whether it was right
                    wait = (_aware(first, now) + tries.window - now).total_seconds() if first is not None else 60.0
                    return LinkAnswer("too_many_tries", retry_after_s=max(1.0, wait))
            code = conn.execute(select(link_codes).where(link_codes.c.code_hash == code_hash)
                                .with_for_update()).mappings().one_or_none()
            if code is None:
                conn.execute(insert(link_tries).values(user_id=me["id"], at=now))
                return LinkAnswer("unknown")
            if code["user_id"] == me["id"]:  # typed where it was given: it still waits for the other platform
                return LinkAnswer("own_code")
            conn.execute(delete(link_codes).where(link_codes.c.code_hash == code_hash))  # used once, whatever comes
            if _aware(code["expires_at"], now) <= now:
                return LinkAnswer("expired")
            giver = conn.execute(select(users).where(users.c.id == code["user_id"])).mappings().one()
            theirs, mine_rows = self._account_rows(conn, dict(giver)), self._account_rows(conn, me)
            if theirs[0]["id"] == mine_rows[0]["id"]:
                return LinkAnswer("already_linked", _identities(theirs))
            if any(row["role"] == "banned" for row in theirs + mine_rows):
                return LinkAnswer("banned")
            if {r["platform"] for r in theirs} & {r["platform"] for r in mine_rows}:
                return LinkAnswer("platform_taken", _identities(mine_rows))
            account = theirs[0]
            merged = _merged(account, mine_rows[0])
            everyone_ids = [r["id"] for r in theirs + mine_rows]
            conn.execute(update(users).where(users.c.id.in_(everyone_ids)).values(**merged))
            conn.execute(update(users).where(users.c.id.in_([r["id"] for r in mine_rows]))
                         .values(account_id=account["id"]))
            return LinkAnswer(None, _identities(self._account_rows(conn, dict(giver))))

    @threaded
    def account_key(self, account_id: int) -> str | None:
        """The user key ("discord:123") of an account's own row: the scheduler's name for the account."""
        with self.db.transaction() as conn:
            row = conn.execute(select(users.c.platform, users.c.external_id)
                               .where(users.c.id == account_id)).one_or_none()
            return f"{row[0]}:{row[1]}" if row is not None else None

    @threaded
    def burn_link_code(self, code_hash: str) -> None:
        """A code typed where others could read it no longer works."""
        with self.db.transaction() as conn:
            conn.execute(delete(link_codes).where(link_codes.c.code_hash == code_hash))

    @threaded
    def unlink(self, platform: str, external_id: str, now: datetime) -> LinkAnswer:
        """Take this identity out of its account; it keeps the account's values as they are now, and the jobs
        it sent. ``identities``: the account before. The rest of the account stays linked."""
        with self.db.transaction() as conn:
            self._one_at_a_time(conn, now)
            row = conn.execute(select(users).where(users.c.platform == platform,
                                                   users.c.external_id == external_id)).mappings().one_or_none()
            if row is None:
                return LinkAnswer("not_linked")
            account = self._account_rows(conn, dict(row))
            if len(account) < 2:
                return LinkAnswer("not_linked", _identities(account))
            values = {k: v for k, v in account[0].items() if k not in IDENTITY_FIELDS}
            rest = [r for r in account if r["id"] != row["id"]]
            conn.execute(update(users).where(users.c.id == row["id"]).values(account_id=None, **values))
            if row["id"] == account[0]["id"]:  # the account's own row leaves: the next identity holds it now
                holder = rest[0]["id"]
                conn.execute(update(users).where(users.c.id == holder).values(account_id=None, **values))
                conn.execute(update(users).where(users.c.id.in_([r["id"] for r in rest[1:]]))
                             .values(account_id=holder))
            return LinkAnswer(None, _identities(account))

    @threaded
    def linked_identities(self, platform: str, external_id: str) -> list[Identity]:
        """The identities of this one's account, the account's own first (just itself if not linked; none if
        the bot has never seen it)."""
        with self.db.transaction() as conn:
            row = conn.execute(select(users).where(users.c.platform == platform,
                                                   users.c.external_id == external_id)).mappings().one_or_none()
            return _identities(self._account_rows(conn, dict(row))) if row is not None else []

    def _one_at_a_time(self, conn: Connection, now: datetime) -> None:
        """Take the lock every admission takes first (the month's budget row), so that a link and a job of
        the same account never wait on each other's rows in opposite orders (PostgreSQL; SQLite writes one
        transaction at a time anyway)."""
        month = {"b_month": self.calendar.month_key(now)}
        self.db.execute(conn, self._q.budget_new, month)
        self.db.execute(conn, self._q.budget_get, month).fetchone()

    def _identity(self, conn: Connection, platform: str, external_id: str, name: str, now: datetime
                  ) -> dict[str, Any]:
        key = {"b_platform": platform, "b_ext": external_id}
        self.db.execute(conn, self._q.user_new, {**key, "b_name": name[:128], "b_role": "user", "b_now": now})
        row = dict(conn.execute(select(users).where(users.c.platform == platform, users.c.external_id == external_id)
                                .with_for_update()).mappings().one())
        if name and row["name"] != name[:128]:
            conn.execute(update(users).where(users.c.id == row["id"]).values(name=name[:128]))
            row["name"] = name[:128]
        return row

    def _account_rows(self, conn: Connection, row: dict[str, Any]) -> list[dict[str, Any]]:
        """Every identity of ``row``'s account, locked, the account's own row first."""
        account = row["account_id"] if row["account_id"] is not None else row["id"]
        rows = [dict(r) for r in conn.execute(
            select(users).where((users.c.id == account) | (users.c.account_id == account))
            .order_by(users.c.id).with_for_update()).mappings()]
        return sorted(rows, key=lambda r: (r["id"] != account, r["id"]))


def _merged(account: dict[str, Any], joining: dict[str, Any]) -> dict[str, Any]:
    """The account's values once ``joining``'s account joins it: the account's own, where it has them, else
    the joiner's; of the limits an admin set, the stricter (linking is no way around a limit)."""
    out: dict[str, Any] = {}
    for key, value in account.items():
        if key in IDENTITY_FIELDS or key == "role":
            continue
        other = joining.get(key)
        if key in LIMIT_FIELDS and value is not None and other is not None:
            out[key] = min(value, other)
        else:
            out[key] = value if value is not None else other
    return out


def _identities(rows: list[dict[str, Any]]) -> list[Identity]:
    return [Identity(r["platform"], r["external_id"], r["name"]) for r in rows]


def _aware(when: datetime, now: datetime) -> datetime:
    return when if when.tzinfo is not None else when.replace(tzinfo=now.tzinfo)

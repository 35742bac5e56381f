"""What a user chose for themselves (their language, ``/settings language``; their defaults, ``/settings``)
and what the bot's admins set for them (a ban, their own limits).

These are the account's, not one platform identity's: identities linked with ``/link`` (storage/links.py)
are one account whose row is :func:`account_row_id`'s answer, and every value here is written to all of the
account's identities at once (so a ban of any of them bans the person, and each identity keeps the values
if they are unlinked again). Read per-user values through :func:`account_row_id`.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import Connection, func, select, update

from storage.db import threaded
from storage.statements import Store, account_members, users

ROLES = ("user", "banned")  # admins are never stored: they are the ids in the settings (engine/access.py)


class UserQueries(Store):
    @threaded
    def chosen_languages(self) -> dict[str, str]:
        """Every language a user chose: "platform:id" -> language (users who chose none are not listed)."""
        with self.db.transaction() as conn:
            rows = conn.execute(select(users.c.platform, users.c.external_id, users.c.language)
                                .where(users.c.language.is_not(None)))
            return {f"{platform}:{external_id}": language for platform, external_id, language in rows}

    @threaded
    def set_user_language(self, platform: str, external_id: str, name: str, language: str | None,
                          now: datetime) -> None:
        """Keep the user's choice (None: back to their app's language); a user new to the bot gets a row."""
        with self.db.transaction() as conn:
            self._set(conn, platform, external_id, name, now, language=language)

    @threaded
    def set_user_role(self, platform: str, external_id: str, role: str, now: datetime) -> None:
        """Ban a user ("banned") or lift the ban ("user"). Admission reads the role on every submit, so it applies from the user's
        next request; what they have waiting or running is left as it is. A user the bot has not seen yet
        gets a row (their name fills in when they first ask for something)."""
        if role not in ROLES:
            raise ValueError(f"unknown role {role!r}")
        with self.db.transaction() as conn:
            self._set(conn, platform, external_id, "", now, role=role)

    @threaded
    def set_user_limits(
        self,
        platform: str,
        external_id: str,
        *,
        max_running: int | None,
        max_queued: int | None,
        max_jobs_per_day: int | None,
        max_usd_per_month: float | None,
        now: datetime,
    ) -> None:
        """The user's own limits, all four at once; None: the setting applies to them again. A user the bot
        has not seen yet gets a row."""
        with self.db.transaction() as conn:
            self._set(conn, platform, external_id, "", now, max_running=max_running, max_queued=max_queued,
                      max_jobs_per_day=max_jobs_per_day, max_usd_per_month=max_usd_per_month)

    @threaded
    def user_settings(self, platform: str, external_id: str) -> dict[str, Any]:
        """What the user chose with /settings besides their language ({} if nothing, or never seen)."""
        with self.db.transaction() as conn:
            row_id = self._settings_row(conn, platform, external_id)
            if row_id is None:
                return {}
            found = conn.execute(select(users.c.settings).where(users.c.id == row_id)).scalar_one_or_none()
            return dict(found or {})

    @threaded
    def change_user_settings(self, platform: str, external_id: str, name: str, changes: dict[str, Any],
                             now: datetime, *, reset: bool = False) -> dict[str, Any]:
        """Set each of ``changes`` (a value of None takes that setting back to the bot's default), or with
        ``reset`` forget every setting first; returns what the user has chosen now. A user new to the bot
        gets a row."""
        with self.db.transaction() as conn:
            row_id = self._settings_row(conn, platform, external_id)
            if row_id is None:
                self.db.execute(conn, self._q.user_new, {"b_platform": platform, "b_ext": external_id,
                                                         "b_name": name[:128], "b_role": "user", "b_now": now})
                row_id = self._settings_row(conn, platform, external_id)
            assert row_id is not None
            found = conn.execute(select(users.c.settings).where(users.c.id == row_id).with_for_update())
            kept = {} if reset else dict(found.scalar_one_or_none() or {})
            for key, value in changes.items():
                if value is None:
                    kept.pop(key, None)
                else:
                    kept[key] = value
            # the account's: every identity linked with them keeps the same settings
            conn.execute(update(users).where(users.c.id.in_(account_members(row_id))).values(settings=kept or None))
            return kept

    def _settings_row(self, conn: Connection, platform: str, external_id: str) -> int | None:
        """The users row whose settings apply to this platform user: their account's (storage/links.py)."""
        return account_row_id(conn, platform, external_id)

    def _set(self, conn: Connection, platform: str, external_id: str, name: str, now: datetime,
             **values: Any) -> None:
        """Set ``values`` on the user's account: on every identity linked with them too."""
        key = {"b_platform": platform, "b_ext": external_id}
        self.db.execute(conn, self._q.user_new, {**key, "b_name": name[:128], "b_role": "user", "b_now": now})
        account = account_row_id(conn, platform, external_id)
        conn.execute(update(users).where(users.c.id.in_(account_members(account))).values(**values))


def account_row_id(conn: Connection, platform: str, external_id: str) -> int | None:
    """The row that holds the account of the identity ``platform:external_id``: the row it was linked into
    with /link, else its own; None if the bot has never seen them. Per-user values (quota, history,
    settings, language, ban, limits) are read from, and counted over, this account."""
    return conn.execute(
        select(func.coalesce(users.c.account_id, users.c.id))
        .where(users.c.platform == platform, users.c.external_id == external_id)
    ).scalar_one_or_none()

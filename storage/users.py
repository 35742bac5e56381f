"""What a user chose for themselves: the language the bot speaks to them (``/settings language``)."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import select, update

from storage.db import threaded
from storage.statements import Store, users


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
        key = {"b_platform": platform, "b_ext": external_id}
        with self.db.transaction() as conn:
            self.db.execute(conn, self._q.user_new, {**key, "b_name": name[:128], "b_role": "user", "b_now": now})
            conn.execute(update(users).where(users.c.platform == platform, users.c.external_id == external_id)
                         .values(language=language))

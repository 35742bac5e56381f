"""What admins use to run a community: the words no prompt may contain, and results deleted on request."""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime

from sqlalchemy import delete, select, update

from storage.db import threaded
from storage.statements import Store, blocked_words, jobs


class ModerationQueries(Store):
    @threaded
    def blocked_words(self) -> list[str]:
        """The stored blocked words, in order (the settings' BLOCKED_WORDS are not stored)."""
        with self.db.transaction() as conn:
            return list(conn.execute(select(blocked_words.c.word).order_by(blocked_words.c.word)).scalars())

    @threaded
    def block_words(self, words: Iterable[str], added_by: str, now: datetime) -> list[str]:
        """Store words (already normalized); returns those that were not stored before."""
        added = []
        with self.db.transaction() as conn:
            have = set(conn.execute(select(blocked_words.c.word)).scalars())
            for word in dict.fromkeys(words):
                if word not in have:
                    conn.execute(blocked_words.insert().values(word=word, added_by=added_by[:100], added_at=now))
                    added.append(word)
        return added

    @threaded
    def unblock_words(self, words: Iterable[str]) -> list[str]:
        """Remove words; returns those that were stored."""
        wanted = list(dict.fromkeys(words))
        with self.db.transaction() as conn:
            have = set(conn.execute(select(blocked_words.c.word).where(blocked_words.c.word.in_(wanted))).scalars())
            if have:
                conn.execute(delete(blocked_words).where(blocked_words.c.word.in_(list(have))))
        return [word for word in wanted if word in have]

    @threaded
    def mark_deleted(self, job_id: str, now: datetime) -> None:
        """The job's result was deleted on request: its files are gone; the row and its books stay."""
        with self.db.transaction() as conn:
            conn.execute(update(jobs).where(jobs.c.id == job_id)
                         .values(deleted_at=now, result_path=None, image_path=None))

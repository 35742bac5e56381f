"""What users chose for themselves (``/settings language``), kept in memory: every reply asks for it.

The choices are read from the database once and kept; a platform's users are served by one process (the
one that stores their choices), so the copy here stays right.
"""

from __future__ import annotations

import asyncio

from engine.clock import utcnow
from engine.types import UserRef
from engine.validation import clean_text
from storage.repo import Repository


class ChosenLanguages:
    def __init__(self, repo: Repository) -> None:
        self.repo = repo
        self._chosen: dict[str, str] | None = None  # user key -> the language they chose
        self._loading = asyncio.Lock()

    async def of(self, user: UserRef) -> str | None:
        """The language the user chose; None: they did not (their app's applies)."""
        return (await self._all()).get(user.key)

    async def choose(self, user: UserRef, language: str | None) -> None:
        """Keep the user's choice (None: back to their app's)."""
        await self.repo.set_user_language(user.platform, user.user_id, clean_text(user.name).strip(), language,
                                          utcnow())
        # Read again at the next reply: the choice is the account's, so every identity linked with this one
        # (/link) has it too.
        self.forget()

    def forget(self) -> None:
        """Read every choice again at the next reply (after /link or /unlink changed whose they are)."""
        self._chosen = None

    async def _all(self) -> dict[str, str]:
        async with self._loading:  # one read, and no choice made meanwhile overwritten by it
            if self._chosen is None:
                self._chosen = await self.repo.chosen_languages()
        return self._chosen

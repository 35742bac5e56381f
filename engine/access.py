"""Who may do what: decided here, on every request, from settings alone.

A chat platform tells us who someone is (their id) and, at most, that they manage the server or group they
are typing in. Neither makes them an admin of reelbot: anyone can create a Discord server and add a public
bot, and a Telegram group's owner is a stranger to the bot's operator. Admins are the ids the operator listed
(``DISCORD_ADMIN_IDS``, ``TELEGRAM_ADMIN_IDS``) and whoever runs the CLI on the machine itself. Nothing about
being an admin is ever stored, so removing an id from the settings takes the powers away at once.
"""

from __future__ import annotations

from dataclasses import dataclass

from engine.errors import NotAllowed
from engine.types import OPERATOR_PLATFORM, UserRef
from engine.words import N_


@dataclass(frozen=True, slots=True)
class Access:
    admins: frozenset[str] = frozenset()  # user keys, "discord:123", "telegram:456"

    @classmethod
    def from_ids(cls, ids_by_platform: dict[str, list[str] | frozenset[str]]) -> Access:
        return cls(frozenset(f"{platform}:{uid}" for platform, ids in ids_by_platform.items() for uid in ids))

    def is_admin(self, user: UserRef) -> bool:
        # Someone at the machine's own terminal already owns everything on it.
        return user.platform == OPERATOR_PLATFORM or user.key in self.admins

    def check_owner_or_admin(self, by: UserRef, owner_key: str, doing: str) -> None:
        """Cancel, look up, move to the cloud: the job's owner may, and so may an admin."""
        if by.key != owner_key and not self.is_admin(by):
            raise NotAllowed(N_("That job is someone else's; only they or an admin can {doing} it.", doing=doing),
                             reason="not_owner_or_admin", action=doing)

    def check_owner(self, by: UserRef, owner_key: str, doing: str) -> None:
        """Retry and Same seed make a new job from the old one's prompt and picture: the owner's alone (an
        admin pressing them would animate someone's private photo as their own job)."""
        if by.key != owner_key:
            raise NotAllowed(N_("Only the person who asked for that video can {doing} it.", doing=doing),
                             reason="not_owner", action=doing, hint=N_("Make your own video instead."))

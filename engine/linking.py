"""One person, one account: ``/link`` on one platform gives a code to type as ``/link CODE`` on another
(Discord, Telegram, or the web console signed in with either); from then on they have one quota, one history,
one language and one set of settings everywhere. ``/unlink`` separates them again (storage/links.py says
what each identity keeps).

What a link never does: make anyone an admin (admins are ids in the settings, per platform: engine/access.py
asks about the identity that acts, never its account), lift a ban (a banned account cannot link, and a ban
of any identity is the whole account's), or let a stranger in: a code is 8 characters of 31 (about 10^12
codes), lives 10 minutes, works once, only for another platform's identity, and is kept only as its sha256;
after a few codes that match none, typing codes waits (per identity, and for everyone after many).
"""

from __future__ import annotations

import hashlib
import secrets
from dataclasses import dataclass
from datetime import timedelta

from engine.chosen import ChosenLanguages
from engine.clock import utcnow
from engine.errors import InvalidInput, NotAllowed, QuotaExceeded, ReelbotError
from engine.types import UserRef
from engine.validation import clean_text
from engine.words import N_, Seconds, Text
from storage.repo import Identity, LinkAnswer, Repository, TryLimits

CODE_ALPHABET = "ABCDEFGHJKMNPQRSTUVWXYZ23456789"  # no 0/O, 1/I/L: nothing to misread when typing it
CODE_LENGTH = 8
CODE_TTL = timedelta(minutes=10)
TRIES = TryLimits(per_user=5, everyone=50, window=timedelta(minutes=15))
LINKABLE = ("discord", "telegram")  # the web console signs people in with one of these
PLATFORM_NAMES = {"discord": "Discord", "telegram": "Telegram"}


@dataclass(frozen=True, slots=True)
class LinkCode:
    """A code to type on the other platform: ``code`` as shown ("ABCD-EFGH"), valid for ``expires_s``."""

    code: str
    expires_s: float
    identities: tuple[Identity, ...]  # the account as it is now (just the asker if not linked)


@dataclass(frozen=True, slots=True)
class Linked:
    """The account's identities after /link, or before /unlink (the asker's own among them)."""

    identities: tuple[Identity, ...]


def new_code() -> str:
    return "".join(secrets.choice(CODE_ALPHABET) for _ in range(CODE_LENGTH))


def shown(code: str) -> str:
    return f"{code[:4]}-{code[4:]}"


def normalized(typed: str) -> str | None:
    """The code as typed, in any case, with or without spaces and dashes; None if it cannot be one."""
    code = "".join(ch for ch in clean_text(typed).upper() if ch not in " -_")
    if len(code) != CODE_LENGTH or any(ch not in CODE_ALPHABET for ch in code):
        return None
    return code


def digest(code: str) -> str:
    return hashlib.sha256(code.encode()).hexdigest()


def identities_text(identities: tuple[Identity, ...] | list[Identity]) -> str:
    """"Discord Alice, Telegram Bob": the same in every language (platform names and people's names)."""
    return ", ".join(f"{PLATFORM_NAMES.get(i.platform, i.platform)} {i.name or i.external_id}".strip()
                     for i in identities)


class Linking:
    def __init__(self, repo: Repository, languages: ChosenLanguages) -> None:
        self.repo = repo
        self.languages = languages

    async def code(self, by: UserRef) -> LinkCode:
        self._check_platform(by)
        code = new_code()
        now = utcnow()
        answer = await self.repo.new_link_code(by.platform, by.user_id, _name(by), digest(code), now + CODE_TTL,
                                               now)
        if answer.refused is not None:
            raise _refusal(answer)
        return LinkCode(shown(code), CODE_TTL.total_seconds(), tuple(answer.identities))

    async def redeem(self, by: UserRef, typed: str) -> Linked:
        self._check_platform(by)
        code = normalized(typed)
        answer = await self.repo.redeem_link_code(by.platform, by.user_id, _name(by),
                                                  digest(code) if code else "not a code", utcnow(), TRIES)
        if answer.refused is not None:
            raise _refusal(answer)
        self.languages.forget()  # the account's language is every identity's now
        return Linked(tuple(answer.identities))

    async def burn(self, typed: str) -> None:
        """A code typed where others could read it (a group chat) no longer works."""
        code = normalized(typed)
        if code is not None:
            await self.repo.burn_link_code(digest(code))

    async def unlink(self, by: UserRef) -> Linked:
        answer = await self.repo.unlink(by.platform, by.user_id, utcnow())
        if answer.refused is not None:
            raise _refusal(answer)
        self.languages.forget()
        return Linked(tuple(answer.identities))

    async def identities(self, by: UserRef) -> tuple[Identity, ...]:
        return tuple(await self.repo.linked_identities(by.platform, by.user_id))

    def _check_platform(self, by: UserRef) -> None:
        if by.platform not in LINKABLE:
            raise NotAllowed(N_("Only Discord and Telegram accounts can be linked."), reason="not_linkable",
                             action="link", hint=N_("Sign in to the web console with Discord or Telegram to link."))


def _name(by: UserRef) -> str:
    return clean_text(by.name).strip()


def _refusal(answer: LinkAnswer) -> ReelbotError:
    reason = answer.refused
    if reason == "banned":
        return NotAllowed(N_("A banned account cannot be linked."), reason="banned_link", action="link")
    if reason == "too_many_tries":
        wait = Seconds(answer.retry_after_s)
        return QuotaExceeded("link_tries", N_("Too many wrong codes were typed; linking is paused for a while."),
                             retry_after=answer.retry_after_s, hint=N_("Try again in {wait}.", wait=wait))
    if reason == "not_linked":
        return InvalidInput("link", N_("This account is not linked with any other."), reason="not_linked",
                            hint=N_("Use /link to link it with your account on another platform."))
    said: dict[str, tuple[Text, Text]] = {
        "unknown": (N_("That code is not right, or it was already used."),
                    N_("Type /link on the other platform for a new code, then type it here: /link CODE.")),
        "expired": (N_("That code has expired (codes work for 10 minutes)."),
                    N_("Type /link on the other platform for a new code.")),
        "own_code": (N_("That code is for your other account: type it on the other platform, not here."),
                     N_("On Discord or Telegram (or the web console), type /link CODE.")),
        "already_linked": (N_("These accounts are already linked: {accounts}.",
                              accounts=identities_text(answer.identities)),
                           N_("Nothing more to do.")),
        "platform_taken": (N_("One account can have one Discord and one Telegram account; linking these would "
                              "give it two of one (this side: {accounts}).",
                              accounts=identities_text(answer.identities)),
                           N_("Use /unlink first, then link again.")),
    }
    message, hint = said.get(reason or "unknown", said["unknown"])
    return InvalidInput("link", message, reason=reason or "", hint=hint)

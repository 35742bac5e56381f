"""``/admin``: the bot's admins run their community from chat, the same way on Discord and Telegram.

    /admin ban @user            /admin unban @user
    /admin limit @user jobs=3 usd=1.5 queued=2 running=1   (a number; 0: none allowed; default: the setting's)
    /admin block word, another phrase     /admin unblock word     /admin blocklist

Each front end finds the user its own way (Discord: a user option; Telegram: a reply to their message, a
mention, or their id) and hands over a :class:`~engine.types.UserRef`; what is allowed, and to whom, is the
engine's call (``Service.ban``, ``change_limits``, ``block``...), which refuses anyone who is not an admin.
This module reads the arguments and words the answers.
"""

from __future__ import annotations

import re

from bot.i18n import Words
from engine.blocklist import BlockedWords
from engine.errors import InvalidInput
from engine.service import Service
from engine.status import UserSummary
from engine.types import UserRef
from engine.words import N_

BAN, UNBAN, LIMIT, BLOCK, UNBLOCK, BLOCKLIST = "ban", "unban", "limit", "block", "unblock", "blocklist"
ON_USERS = (BAN, UNBAN, LIMIT)
SUBCOMMANDS = (BAN, UNBAN, LIMIT, BLOCK, UNBLOCK, BLOCKLIST)
# What ``limit`` takes, as people type it -> the engine's field. Korean keys work too.
LIMIT_KEYS = {
    "jobs": "max_jobs_per_day", "usd": "max_usd_per_month", "queued": "max_queued", "running": "max_running",
    "하루": "max_jobs_per_day", "달러": "max_usd_per_month", "대기": "max_queued", "동시": "max_running",
}
DEFAULTS = ("default", "기본", "기본값")
_PAIR = re.compile(r"^([^\s=]+)=(\S*)$")


def parse_limits(text: str) -> dict[str, int | float | None]:
    """``jobs=3 usd=1.5`` -> {"max_jobs_per_day": 3, "max_usd_per_month": 1.5}; ``jobs=default`` -> None
    (the setting applies again). Raises :class:`InvalidInput` naming what is wrong."""
    changes: dict[str, int | float | None] = {}
    for part in text.replace(",", " ").split():
        match = _PAIR.match(part)
        key = match.group(1).lower() if match else ""
        if match is None or key not in LIMIT_KEYS:
            raise InvalidInput("limits", N_("“{part}” is not a limit I know.", part=part[:40]),
                               hint=N_("Write them as jobs=3 usd=1.5 queued=2 running=1 (a number, 0 for none, or "
                                       "default for the setting's)."))
        field, value = LIMIT_KEYS[key], match.group(2).strip().lower()
        if value in DEFAULTS:
            changes[field] = None
            continue
        try:
            number = float(value) if field == "max_usd_per_month" else int(value)
        except ValueError:
            raise InvalidInput("limits", N_("{key}={value} is not a number.", key=key, value=value[:20]),
                               hint=N_("Use a number like {key}=3, or {key}=default.", key=key)) from None
        changes[field] = number
    if not changes:
        raise InvalidInput("limits", N_("Say which limits to set, like: jobs=3 usd=1.5"), reason="missing",
                           hint=N_("jobs: videos a day, usd: dollars a month, queued: waiting at a time, running: "
                                   "in progress at a time; default: back to the setting's."))
    return changes


async def perform(service: Service, w: Words, by: UserRef, sub: str, target: UserRef | None, rest: str) -> str:
    """Run one ``/admin`` subcommand for ``by`` and word the outcome; raises the engine's refusals
    (:class:`~engine.errors.ReelbotError`) for the front end to word as it words every other."""
    if sub in ON_USERS and target is None:
        raise InvalidInput("user", N_("Say which user, like: /admin {sub} @name.", sub=sub), reason="missing")
    if sub == BAN:
        assert target is not None
        return banned_text(w, await service.ban(by, target.key), target)
    if sub == UNBAN:
        assert target is not None
        return banned_text(w, await service.unban(by, target.key), target)
    if sub == LIMIT:
        assert target is not None
        return limits_text(w, await service.change_limits(by, target.key, parse_limits(rest)), target)
    if sub == BLOCK:
        added = await service.block(by, rest)
        listed = await service.blocked_words(by)
        return (w._("Blocked from now on: {words}.", words=_quoted(w, added)) if added else
                w._("Those words were already blocked.")) + "\n" + blocklist_text(w, listed)
    if sub == UNBLOCK:
        removed = await service.unblock(by, rest)
        listed = await service.blocked_words(by)
        return (w._("No longer blocked: {words}.", words=_quoted(w, removed)) if removed else
                w._("Those words were not blocked.")) + "\n" + blocklist_text(w, listed)
    if sub == BLOCKLIST:
        return blocklist_text(w, await service.blocked_words(by))
    return help_text(w)


def _who(summary: UserSummary, target: UserRef) -> str:
    return target.name or summary.user.name or summary.user.key


def banned_text(w: Words, summary: UserSummary, target: UserRef) -> str:
    who = _who(summary, target)
    if summary.banned:
        return w._("{user} is banned: the bot refuses their next requests. What they have waiting still runs; "
                   "cancel it with /cancel and its id if needed.", user=who)
    return w._("{user} is not banned: they can make videos again.", user=who)


def limits_text(w: Words, summary: UserSummary, target: UserRef) -> str:
    limits = summary.limits

    def shown(value: float | None, money: bool = False) -> str:
        if value is None:
            return w._("no limit")
        return w.dollars(value) if money else str(round(value))

    return w._("{user}'s limits now: {jobs} videos a day, {usd} a month, {queued} waiting and {running} in "
               "progress at a time.", user=_who(summary, target), jobs=shown(limits.max_jobs_per_day),
               usd=shown(limits.max_usd_per_month, money=True), queued=shown(limits.max_queued),
               running=shown(limits.max_running))


def blocklist_text(w: Words, words: BlockedWords) -> str:
    if not words.all:
        return w._("No words are blocked.")
    lines = []
    if words.added:
        lines.append(w._("Blocked words: {words}", words=_quoted(w, words.added)))
    if words.configured:
        lines.append(w._("From the BLOCKED_WORDS setting: {words}", words=_quoted(w, words.configured)))
    return "\n".join(lines)


def _quoted(w: Words, words: tuple[str, ...] | list[str]) -> str:
    return w.join(f"“{word}”" for word in words)


def help_text(w: Words) -> str:
    return "\n".join([
        w._("Admin commands:"),
        w._("/admin ban @user, /admin unban @user: refuse or allow their requests"),
        w._("/admin limit @user jobs=3 usd=1.5 queued=2 running=1: their own limits (0: none, default: the "
            "setting's)"),
        w._("/admin block word, phrase; /admin unblock word; /admin blocklist: words no prompt may contain"),
    ])

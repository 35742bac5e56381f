"""``/link`` and ``/unlink`` in words, the same on every front end (Discord, Telegram, the web console): the
code to type on the other platform, which accounts are linked now, and which were separated."""

from __future__ import annotations

from bot.i18n import Words
from engine.linking import LinkCode, Linked, identities_text
from engine.types import UserRef


def code_text(w: Words, given: LinkCode) -> str:
    lines = [
        w._("Your code: {code}", code=given.code),
        w._("On your other platform (Discord, Telegram or the web console), type /link {code} within {wait}. "
            "The code works once; do not share it with anyone.", code=given.code, wait=w.duration(given.expires_s)),
        w._("Then both accounts have one quota, one history, one language and the same settings everywhere."),
    ]
    if len(given.identities) > 1:
        lines.append(w._("Linked now: {accounts}.", accounts=identities_text(given.identities)))
    return "\n".join(lines)


def linked_text(w: Words, linked: Linked) -> str:
    return w._("Linked: {accounts} are now one account, with one quota, one history and the same settings "
               "everywhere. /unlink separates them again.", accounts=identities_text(linked.identities))


def unlinked_text(w: Words, by: UserRef, before: Linked) -> str:
    mine = tuple(i for i in before.identities if (i.platform, i.external_id) == (by.platform, by.user_id))
    rest = tuple(i for i in before.identities if (i.platform, i.external_id) != (by.platform, by.user_id))
    return w._("Unlinked: {account} is on its own again, apart from {others}. Each keeps the videos it made and "
               "what they cost; quotas and history are separate from now on.",
               account=identities_text(mine), others=identities_text(rest))


def private_only_text(w: Words) -> str:
    return w._("Link codes are only given and typed in our private chat, so nobody else can see them. Open a "
               "chat with me and send /link there.")


def burned_text(w: Words) -> str:
    return w._("Codes are typed only in our private chat: that code was seen here, so it no longer works. "
               "Get a new one with /link on your other platform, then send /link CODE to me privately.")

"""``/admin`` on Telegram: the bot's admins run the community from the chat (see :mod:`bot.core.admin`).

Telegram does not tell a bot who ``@name`` is, so the user is named by replying to one of their messages
with ``/admin ban``, by a mention Telegram links to the person (picked from the member list), or by their
numeric id (or a ``platform:id`` key, for someone on another platform). Subcommands have Korean names too
(``/admin 차단``).
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable

from telegram import InlineKeyboardMarkup, Message, MessageEntity, Update
from telegram.ext import Application, CommandHandler, ContextTypes, filters

from bot import render
from bot.core import admin
from bot.telegram import who
from bot.telegram.config import TelegramConfig
from engine.errors import InvalidInput, ReelbotError
from engine.service import Service
from engine.types import UserRef
from engine.validation import parse_user_key
from engine.words import N_

Reply = Callable[[Message, str, InlineKeyboardMarkup | None], Awaitable[Message | None]]
# How to name a person, since Telegram does not resolve @name for bots.
HOW_TO_NAME = N_("Reply to one of their messages with /admin and the command, or give their numeric id.")
ALIASES = {"차단": admin.BAN, "차단해제": admin.UNBAN, "한도": admin.LIMIT, "금지": admin.BLOCK,
           "금지해제": admin.UNBLOCK, "금지어": admin.BLOCKLIST}


class AdminCommand:
    def __init__(self, service: Service, config: TelegramConfig, reply: Reply) -> None:
        self.service = service
        self.config = config
        self.reply = reply

    def install(self, application: Application) -> None:  # type: ignore[type-arg]
        application.add_handler(CommandHandler("admin", self.admin, filters=filters.UpdateType.MESSAGE))

    async def admin(self, update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
        message = update.effective_message
        if message is None:
            return
        w = await who.words_of(self.service, self.config.languages, message)
        _command, _, args = (message.text or "").partition(" ")
        sub, _, rest = args.strip().partition(" ")
        sub = ALIASES.get(sub, sub.lower())
        if sub not in admin.SUBCOMMANDS:
            await self.reply(message, admin.help_text(w), None)
            return
        try:
            by = who.sender(message)
            target, rest = (_target(message, rest) if sub in admin.ON_USERS else (None, rest))
            text = await admin.perform(self.service, w, by, sub, target, rest)
        except ReelbotError as exc:
            text = render.describe_error(w, exc)
        await self.reply(message, text, None)


def _target(message: Message, rest: str) -> tuple[UserRef | None, str]:
    """Whom the command is about, and what follows: the author of the message it replies to, else the first
    word (a linked mention, an id or a platform:id key)."""
    replied = message.reply_to_message
    if replied is not None and replied.from_user is not None and not replied.from_user.is_bot:
        return who.user_of(replied.from_user), rest
    first, _, after = rest.strip().partition(" ")
    if not first:
        return None, after
    for entity, said in (message.parse_entities([MessageEntity.TEXT_MENTION]) or {}).items():
        if entity.user is not None and said == first:
            return who.user_of(entity.user), after
    if first.isdecimal():
        return UserRef(who.PLATFORM, first), after
    if ":" in first:
        return parse_user_key(first), after
    if first.startswith("@"):
        raise InvalidInput("user", N_("Telegram does not tell bots who {name} is.", name=first[:40]),
                           hint=HOW_TO_NAME)
    raise InvalidInput("user", N_("{name} is not a user I can find.", name=first[:40]),
                       hint=HOW_TO_NAME)

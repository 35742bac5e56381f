"""Who an update comes from, and the words they read.

A person is their Telegram account; a group's anonymous admins and channel posts all come from one shared
account (@GroupAnonymousBot, @Channel_Bot) with the real sender in ``sender_chat``, so they are that chat,
with its own quota and jobs, never one user shared by every group.

Their language, most wanted first (:mod:`bot.core.language`): what they chose with ``/settings language``,
then their Telegram app's (``from_user.language_code``), then ``DEFAULT_LANGUAGE``.
"""

from __future__ import annotations

from telegram import Message
from telegram import User as TgUser

from bot.core.language import words_for
from bot.i18n import Languages, Words
from engine.errors import NotAllowed, ReelbotError
from engine.service import Service
from engine.types import UserRef
from engine.words import N_

PLATFORM = "telegram"


def user_of(user: TgUser | None) -> UserRef:
    if user is None:
        raise NotAllowed(N_("Anonymous messages cannot make videos; send it from your own account."))
    return UserRef(PLATFORM, str(user.id), user.full_name or user.username or "")


def sender(message: Message) -> UserRef:
    """Who sent a message: its chat for anonymous admins and channel posts, else its author."""
    chat = message.sender_chat
    if chat is not None:
        return UserRef(PLATFORM, str(chat.id), chat.title or chat.username or "")
    return user_of(message.from_user)


def app_language(user: TgUser | None) -> str | None:
    """The language of the person's Telegram app ("ko", "en-US"), when Telegram says it."""
    return user.language_code if user is not None else None


async def words_of(service: Service, speech: Languages, message: Message) -> Words:
    """The words for whoever sent ``message``."""
    code = app_language(message.from_user)
    try:
        person = sender(message)
    except ReelbotError:
        return speech.words(code)
    return await words_for(service, speech, person, code)


async def words_of_user(service: Service, speech: Languages, user: TgUser) -> Words:
    """The words for the person who pressed a button."""
    return await words_for(service, speech, user_of(user), app_language(user))

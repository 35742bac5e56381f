"""``/link`` and ``/unlink`` on Telegram: one person's Telegram and Discord (and the web console) as one
account (engine/linking.py).

Codes are given and typed in the private chat only: a code shown in a group could be typed by anyone there
first. A code typed in a group is taken out of the chat where the bot may delete it, and stops working.
"""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable

from telegram import InlineKeyboardMarkup, Message, Update
from telegram.error import TelegramError
from telegram.ext import Application, CommandHandler, ContextTypes, filters

from bot.core.linking import burned_text, code_text, linked_text, private_only_text, unlinked_text
from bot.render import describe_error
from bot.telegram import who
from bot.telegram.config import TelegramConfig
from bot.telegram.flood import patiently
from engine.errors import ReelbotError
from engine.service import Service

log = logging.getLogger(__name__)
Reply = Callable[[Message, str, InlineKeyboardMarkup | None], Awaitable[Message | None]]


class LinkCommands:
    def __init__(self, service: Service, config: TelegramConfig, reply: Reply) -> None:
        self.service = service
        self.speech = config.languages
        self.reply = reply

    def install(self, application: Application) -> None:  # type: ignore[type-arg]
        application.add_handler(CommandHandler("link", self.link, filters=filters.UpdateType.MESSAGE))
        application.add_handler(CommandHandler("unlink", self.unlink, filters=filters.UpdateType.MESSAGE))

    async def link(self, update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
        message = update.effective_message
        if message is None:
            return
        w = await who.words_of(self.service, self.speech, message)
        typed = " ".join(context.args or []).strip()
        if message.chat.type != "private" or message.sender_chat is not None:
            if typed:  # seen by the group: it must not work for anyone now
                await self.service.forget_link_code(typed)
                try:
                    await patiently(lambda: message.delete())
                except TelegramError as exc:  # not an admin of the group: the code is dead anyway
                    log.info("could not delete a link code typed in chat %s: %s", message.chat_id, exc)
                await self.reply(message, burned_text(w), None)
            else:
                await self.reply(message, private_only_text(w), None)
            return
        try:
            person = who.sender(message)
            text = (linked_text(w, await self.service.link(person, typed)) if typed
                    else code_text(w, await self.service.link_code(person)))
        except ReelbotError as exc:
            text = describe_error(w, exc)
        await self.reply(message, text, None)

    async def unlink(self, update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
        message = update.effective_message
        if message is None:
            return
        w = await who.words_of(self.service, self.speech, message)
        if message.chat.type != "private" or message.sender_chat is not None:
            await self.reply(message, private_only_text(w), None)
            return
        try:
            person = who.sender(message)
            text = unlinked_text(w, person, await self.service.unlink(person))
        except ReelbotError as exc:
            text = describe_error(w, exc)
        await self.reply(message, text, None)

"""``/preview on|off`` on Telegram: one preview picture half-way through each job in this chat, for the bot's
admins to switch (the engine checks who may); ``/preview`` alone says how it is set here now."""

from __future__ import annotations

from collections.abc import Awaitable, Callable

from telegram import InlineKeyboardMarkup, Message, Update
from telegram.ext import Application, CommandHandler, ContextTypes, filters

from bot.core import previews
from bot.render import describe_error
from bot.telegram import who
from bot.telegram.config import TelegramConfig
from bot.telegram.who import PLATFORM
from engine.errors import ReelbotError
from engine.service import Service
from engine.types import Origin

Reply = Callable[[Message, str, InlineKeyboardMarkup | None], Awaitable[Message | None]]


class PreviewSwitch:
    def __init__(self, service: Service, config: TelegramConfig, reply: Reply) -> None:
        self.service = service
        self.speech = config.languages
        self.reply = reply

    def install(self, application: Application) -> None:  # type: ignore[type-arg]
        application.add_handler(CommandHandler("preview", self.command, filters=filters.UpdateType.MESSAGE))

    async def command(self, update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
        message = update.effective_message
        if message is None:
            return
        w = await who.words_of(self.service, self.speech, message)
        chat = message.chat
        place = Origin(PLATFORM, str(chat.id), scope=f"telegram:chat:{chat.id}")
        on = previews.parse_switch(" ".join(context.args or []))
        try:
            if on is None:
                said = previews.usage_text(w, "/preview", await self.service.preview_wanted(place))
            else:
                await self.service.set_preview(who.sender(message), place, on)
                said = previews.switched_text(w, on)
        except ReelbotError as exc:
            said = describe_error(w, exc)
        await self.reply(message, said, None)

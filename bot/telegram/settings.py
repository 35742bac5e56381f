"""``/settings language`` on Telegram: the language the bot answers a person in, whatever their app says.

``/settings language ko`` (or ``한국어``, ``English``, ``auto`` to follow the app again) keeps the choice;
``/settings`` alone shows the language in use, why, and a button per choice (``lang:<code>``, see
:mod:`bot.telegram.keyboards`). The confirmation is said in the language just chosen. A press in a group
changes the presser's own language only, and only a private chat's settings message is edited to match.
"""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable

from telegram import InlineKeyboardMarkup, Message, Update
from telegram.error import TelegramError
from telegram.ext import Application, CallbackQueryHandler, CommandHandler, ContextTypes, filters

from bot.core.language import choose, chosen_text
from bot.i18n import Words, language_name, supported
from bot.render import describe_error
from bot.telegram import keyboards, who
from bot.telegram.config import TelegramConfig
from bot.telegram.flood import patiently
from engine.errors import ReelbotError
from engine.service import Service

log = logging.getLogger(__name__)
NAMES = ("language", "lang", "언어")  # the one setting there is, as people may type it
Reply = Callable[[Message, str, InlineKeyboardMarkup | None], Awaitable[Message | None]]


class LanguageSettings:
    def __init__(self, service: Service, config: TelegramConfig, reply: Reply) -> None:
        self.service = service
        self.speech = config.languages
        self.reply = reply

    def install(self, application: Application) -> None:  # type: ignore[type-arg]
        """The command, and the buttons' handler (before the job buttons' catch-all)."""
        application.add_handler(CommandHandler("settings", self.command, filters=filters.UpdateType.MESSAGE))
        application.add_handler(CallbackQueryHandler(self.pressed, pattern=rf"^{keyboards.LANGUAGE}:"))

    async def command(self, update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
        message = update.effective_message
        if message is None:
            return
        w = await who.words_of(self.service, self.speech, message)
        args = list(context.args or [])
        if args and args[0].lower() not in NAMES:
            await self.reply(message, w._("There is one setting: /settings language shows the language I answer you "
                                          "in and lets you change it; /settings language ko (or en, auto) sets it."),
                             None)
            return
        choice = " ".join(args[1:]).strip()
        app = who.app_language(message.from_user)
        try:
            person = who.sender(message)
            if choice:
                await self.reply(message, chosen_text(await choose(self.service, self.speech, person, choice, app)),
                                 None)
                return
            chosen = await self.service.language_of(person)
        except ReelbotError as exc:
            await self.reply(message, describe_error(w, exc), None)
            return
        await self.reply(message, current_text(w, chosen, app), keyboards.languages(w, chosen))

    async def pressed(self, update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
        query = update.callback_query
        if query is None:
            return
        w = await who.words_of_user(self.service, self.speech, query.from_user)
        person, app = who.user_of(query.from_user), who.app_language(query.from_user)
        try:
            now = await choose(self.service, self.speech, person, keyboards.parse_language(query.data) or "", app)
            chosen = await self.service.language_of(person)
        except ReelbotError as exc:
            await query.answer(describe_error(w, exc), show_alert=True)  # a forged choice: short by design
            return
        await query.answer(chosen_text(now))
        message = query.message
        if isinstance(message, Message) and message.chat.type == "private":
            try:
                await patiently(lambda: message.edit_text(current_text(now, chosen, app),
                                                          reply_markup=keyboards.languages(now, chosen)))
            except TelegramError as exc:  # "not modified": the same choice pressed again
                log.debug("settings message not edited: %s", exc)


def current_text(w: Words, chosen: str | None, app: str | None) -> str:
    """The language a person reads (``w``'s) and why: their choice, their app's, or the bot's default."""
    language = language_name(w.lang)
    if chosen is not None and supported(chosen) == w.lang:
        why = w._("I answer you in {language}, as you chose.", language=language)
    elif supported(app) == w.lang:
        why = w._("I answer you in {language}, the language of your Telegram app.", language=language)
    else:
        why = w._("I answer you in {language}, this bot's default language.", language=language)
    return why + "\n" + w._("Choose another one below, or send /settings language ko (or en, auto).")

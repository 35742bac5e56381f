"""``/settings`` on Telegram: a person's defaults for their videos, where results go, and their language.

``/settings`` alone shows every setting, its value and whether it is the person's choice, with buttons for
the language (``lang:<code>``), the delivery (``set:delivery:private``) and a reset (``set:reset``; see
:mod:`bot.telegram.keyboards`). ``/settings frames 14``, ``/settings model svd-xt``, ``/settings delivery
private``, ``/settings language ko`` (or the Korean names: ``/settings 프레임 14``) set one;
``/settings frames default`` takes one back to the default, ``/settings reset`` all of them. The engine
checks each value as it checks the flag. A language is confirmed in the language just chosen. A press in a
group changes the presser's own settings only, and only a private chat's settings message is edited.
"""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable

from telegram import InlineKeyboardMarkup, Message, Update
from telegram.error import TelegramError
from telegram.ext import Application, CallbackQueryHandler, CommandHandler, ContextTypes, filters

from bot.core import settings as core
from bot.core.language import choose, chosen_text
from bot.i18n import Words, language_name, supported
from bot.render import describe_error
from bot.telegram import keyboards, who
from bot.telegram.config import TelegramConfig
from bot.telegram.flood import patiently
from engine.errors import ReelbotError
from engine.service import Service
from engine.types import UserRef

log = logging.getLogger(__name__)
Reply = Callable[[Message, str, InlineKeyboardMarkup | None], Awaitable[Message | None]]


class Settings:
    def __init__(self, service: Service, config: TelegramConfig, reply: Reply) -> None:
        self.service = service
        self.speech = config.languages
        self.reply = reply

    def install(self, application: Application) -> None:  # type: ignore[type-arg]
        """The command, and the buttons' handlers (before the job buttons' catch-all)."""
        application.add_handler(CommandHandler("settings", self.command, filters=filters.UpdateType.MESSAGE))
        application.add_handler(CallbackQueryHandler(self.pressed, pattern=rf"^{keyboards.LANGUAGE}:"))
        application.add_handler(CallbackQueryHandler(self.pressed_setting, pattern=rf"^{keyboards.SETTING}:"))

    async def command(self, update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
        message = update.effective_message
        if message is None:
            return
        w = await who.words_of(self.service, self.speech, message)
        asked = core.parse(list(context.args or []))
        app = who.app_language(message.from_user)
        try:
            person = who.sender(message)
            if asked.unknown:
                await self.reply(message, core.unknown_text(w, asked.unknown), None)
                return
            if asked.reset:
                _, said = await core.reset(self.service, self.speech, person, app)
                await self.reply(message, said, None)
                return
            if asked.name == core.LANGUAGE and not asked.value:  # the language alone, with its buttons
                chosen = await self.service.language_of(person)
                await self.reply(message, current_text(w, chosen, app), keyboards.languages(w, chosen))
                return
            if asked.name and asked.value:
                _, said = await core.change(self.service, self.speech, person, asked.name, asked.value, app)
                await self.reply(message, said, None)
                return
            text, markup = await self._shown(w, person)
        except ReelbotError as exc:
            await self.reply(message, describe_error(w, exc), None)
            return
        await self.reply(message, text, markup)

    async def pressed(self, update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
        """A language button."""
        query = update.callback_query
        if query is None:
            return
        w = await who.words_of_user(self.service, self.speech, query.from_user)
        person, app = who.user_of(query.from_user), who.app_language(query.from_user)
        try:
            now = await choose(self.service, self.speech, person, keyboards.parse_language(query.data) or "", app)
        except ReelbotError as exc:
            await query.answer(describe_error(w, exc), show_alert=True)  # a forged choice: short by design
            return
        await query.answer(chosen_text(now))
        await self._edit(query.message, now, person)

    async def pressed_setting(self, update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
        """A delivery button, or Reset."""
        query = update.callback_query
        if query is None:
            return
        w = await who.words_of_user(self.service, self.speech, query.from_user)
        person, app = who.user_of(query.from_user), who.app_language(query.from_user)
        name, value = keyboards.parse_setting(query.data)
        try:
            if name == core.RESET:
                now, said = await core.reset(self.service, self.speech, person, app)
            else:
                now, said = await core.change(self.service, self.speech, person, name, value, app)
        except ReelbotError as exc:
            await query.answer(describe_error(w, exc)[:200], show_alert=True)  # a forged button
            return
        await query.answer(said[:200])
        await self._edit(query.message, now, person)

    async def _shown(self, w: Words, person: UserRef) -> tuple[str, InlineKeyboardMarkup]:
        shown = await self.service.settings_of(person)
        how = w._("Change one with /settings frames 14, /settings model svd-xt, /settings delivery private or "
                  "/settings language ko; /settings frames default takes one back to its default, /settings reset "
                  "all of them.")
        return core.settings_text(w, shown, how=how), keyboards.settings(w, shown)

    async def _edit(self, message: object, w: Words, person: UserRef) -> None:
        """The settings message shows what was just chosen (in a private chat: a group's is everyone's)."""
        if not isinstance(message, Message) or message.chat.type != "private":
            return
        text, markup = await self._shown(w, person)
        try:
            await patiently(lambda: message.edit_text(text, reply_markup=markup))
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

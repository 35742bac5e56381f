"""What the bot does with each update: pictures and /video become jobs; buttons and commands act on them.

Every handler answers in words from ``bot/render.py``, in the language of whoever sent the update
(:mod:`bot.telegram.who`); a request that is refused (bad flags, a picture too big to download, a quota)
gets one reply saying why and what to do, and nothing is queued or charged.
"""

from __future__ import annotations

import asyncio
import logging
import re
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from functools import partial

from telegram import Bot, InlineKeyboardMarkup, Message, Update
from telegram.error import BadRequest, Forbidden, TelegramError
from telegram.ext import (
    Application,
    CallbackQueryHandler,
    CommandHandler,
    ContextTypes,
    MessageHandler,
    filters,
)

from bot import render
from bot.chart import status_chart
from bot.core import actions
from bot.core.feed import JobFeed
from bot.core.models import models_text
from bot.i18n import Words
from bot.parse import parse_prompt
from bot.render import header
from bot.telegram import keyboards, limits, live, who
from bot.telegram.admin import AdminCommand
from bot.telegram.config import TelegramConfig
from bot.telegram.flood import patiently
from bot.telegram.linking import LinkCommands
from bot.telegram.previews import PreviewSwitch
from bot.telegram.settings import Settings
from bot.telegram.texts import help_text, hint_text
from bot.telegram.who import PLATFORM
from engine.errors import InvalidImage, InvalidInput, ReelbotError
from engine.service import Service
from engine.status import StatusReport
from engine.types import Again, JobView, Options, Origin, SubmitRequest, UserRef
from engine.words import N_

log = logging.getLogger(__name__)
_NEW = filters.UpdateType.MESSAGE  # edits of old messages must not start jobs again


@dataclass(frozen=True, slots=True)
class Picture:
    file_id: str
    size: int | None


class Handlers:
    def __init__(self, service: Service, feed: JobFeed[live.ChatMessage, InlineKeyboardMarkup],
                 config: TelegramConfig) -> None:
        self.service = service
        self.feed = feed
        self.config = config
        self.max_download_bytes = config.max_download_bytes
        self.settings = Settings(service, config, self._reply)
        self.admin = AdminCommand(service, config, self._reply)
        self.previews = PreviewSwitch(service, config, self._reply)

    async def _words(self, message: Message) -> Words:
        """The words of whoever sent ``message``."""
        return await who.words_of(self.service, self.config.languages, message)

    def install(self, application: Application) -> None:  # type: ignore[type-arg]
        application.add_handler(CommandHandler(["start", "help"], self.help, filters=_NEW))
        application.add_handler(CommandHandler("video", self.video, filters=_NEW))
        application.add_handler(CommandHandler("usage", self.usage, filters=_NEW))
        application.add_handler(CommandHandler("cancel", self.cancel, filters=_NEW))
        application.add_handler(CommandHandler("job", self.job, filters=_NEW))
        application.add_handler(CommandHandler("status", self.status, filters=_NEW))
        self.admin.install(application)
        application.add_handler(CommandHandler("models", self.models, filters=_NEW))
        self.settings.install(application)  # /settings and its buttons, before the job buttons below
        self.previews.install(application)
        LinkCommands(self.service, self.config, self._reply).install(application)  # /link, /unlink
        application.add_handler(MessageHandler(_NEW & (filters.PHOTO | filters.Document.ALL), self.picture))
        application.add_handler(
            MessageHandler(_NEW & filters.TEXT & ~filters.COMMAND & filters.ChatType.PRIVATE, self.hint)
        )
        application.add_handler(CallbackQueryHandler(self.button))
        application.add_error_handler(self.on_error)

    # --- making videos ---

    async def picture(self, update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
        message = update.effective_message
        if message is None or not self._addressed(message, context):
            return
        w = await self._words(message)
        text = self._strip_address(message.caption or "", context)
        try:
            picture = self._picture_of(message)
        except ReelbotError as exc:
            await self._reply(message, render.describe_error(w, exc))
            return
        await self._make(message, w, text, picture, context)

    async def video(self, update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
        """/video <prompt>; as a reply to a picture it animates that picture."""
        message = update.effective_message
        if message is None:
            return
        w = await self._words(message)
        text = self._strip_address(message.text or "", context)
        picture = None
        replied = message.reply_to_message
        if replied is not None and (replied.photo or replied.document):
            try:
                picture = self._picture_of(replied)
            except ReelbotError as exc:
                await self._reply(message, render.describe_error(w, exc))
                return
        if not text.strip() and picture is None:
            await self._reply(message, w._("Tell me what to show, like: /video a cat surfing at sunset\n"
                                           "Or send me a photo to animate it."))
            return
        await self._make(message, w, text, picture, context)

    async def _make(
        self, message: Message, w: Words, text: str, picture: Picture | None, context: ContextTypes.DEFAULT_TYPE
    ) -> None:
        try:
            user = who.sender(message)
            parsed = parse_prompt(text)
            if picture is not None:
                self._check_size(picture.size)
        except ReelbotError as exc:
            await self._reply(message, render.describe_error(w, exc))
            return
        note = await self._reply(message, "⏳ " + w._("Queuing…"))
        if note is None:
            return
        image = self._fetcher(picture, context) if picture is not None else None
        await self._submit(note, w, message.message_id, user, parsed.prompt, parsed.options, image)

    async def _submit(
        self, note: Message, w: Words, reply_to: int, user: UserRef, prompt: str, options: Options,
        image: bytes | Callable[[], Awaitable[bytes]] | None,
    ) -> JobView | None:
        """Queue a job whose progress ``note`` (the bot's own message) will show, in ``w``'s language (the
        asker's). A picture to fetch is fetched by the engine once the cheap checks (rate, quota) passed."""
        chat = note.chat
        # A message to a group in the asker's absence is in the bot's default language: Telegram does not
        # say a group's language.
        place = w.lang if chat.type == "private" else self.config.languages.words().lang
        origin = Origin(PLATFORM, str(chat.id), {
            "message_id": note.message_id, "request_message_id": reply_to, "chat_type": chat.type,
            "user_id": user.user_id,  # where a private delivery goes (/settings delivery private)
        }, scope=f"telegram:chat:{chat.id}" if chat.type != "private" else "", language=w.lang, place_language=place)
        try:
            view = await self.service.submit(SubmitRequest(user, prompt, origin, options, image))
        except Exception as exc:  # a refusal, or a bug: the note says so, it never stays at "Queuing…"
            if not isinstance(exc, ReelbotError):
                log.error("Telegram job request failed", exc_info=exc)
            await self._edit(note, render.describe_error(w, exc))
            return None
        self.feed.follow(view, live.where(self.config, chat.id, note.message_id, chat.type))
        return view

    # --- buttons ---

    async def button(self, update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
        query = update.callback_query
        if query is None:
            return
        w = await who.words_of_user(self.service, self.config.languages, query.from_user)
        press = keyboards.parse_press(query.data)
        if press is None:
            await query.answer(w._("This button no longer works; send your request again."))
            return
        user = who.user_of(query.from_user)
        try:
            outcome = await actions.perform(self.service, user, press.action, press.job_id)
            if outcome.deleted is not None:
                answer = await self._remove(context.bot, query.message, outcome.deleted, w)
            elif outcome.again is not None:
                answer = await self._again(query.message, w, user, outcome.again, same_seed=outcome.same_seed,
                                           extending=outcome.extending)
            else:
                answer = render.outcome_text(w, outcome, brief=True)
        except ReelbotError as exc:
            await query.answer(_short(render.describe_error(w, exc)), show_alert=True)
            return
        await query.answer(_short(answer))

    async def _remove(self, bot: Bot, message: object, job: JobView, w: Words) -> str:
        """After Delete: the video's message and the job's own message go too (Telegram lets a bot delete
        its messages for 48 hours); what the presser reads in the popup."""
        kept = False
        ids = {getattr(message, "message_id", None), job.origin.data.get("message_id")}
        for message_id in sorted(i for i in ids if isinstance(i, int)):
            try:
                await bot.delete_message(int(job.origin.chat_id), message_id)
            except TelegramError as exc:
                log.info("could not remove message %s of deleted job %s: %s", message_id, job.id, exc)
                kept = True
        return (w._("Deleted the video's files, but Telegram would not let me remove the message.") if kept
                else w._("Deleted."))

    async def _again(self, message: object, w: Words, user: UserRef, again: Again, *, same_seed: bool,
                     extending: bool = False) -> str:
        """Retry, Same seed and Extend: the owner's request (again), as a new job, in reply to the button's
        message."""
        if not isinstance(message, Message):
            raise InvalidInput("message", N_("That message is too old to reply to; send your request again."))
        note = await self._reply(message, "⏳ " + w._("Queuing it again…"))
        if note is None:
            raise InvalidInput("message", N_("Telegram did not let me reply here; try again in a moment."))
        view = await self._submit(note, w, message.message_id, user, again.prompt, again.options, again.image)
        if view is None:
            return w._("Could not queue it; see the message below.")
        if extending:
            return w._("Making it longer: the new part starts from its last frame.")
        return w._("Queued again with seed {seed}.", seed=view.seed) if same_seed else w._(
            "Queued again with a new seed.")

    # --- commands ---

    async def help(self, update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
        if update.effective_message is not None:
            await self._reply(update.effective_message, help_text(await self._words(update.effective_message)))

    async def hint(self, update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
        if update.effective_message is not None:
            await self._reply(update.effective_message, hint_text(await self._words(update.effective_message)))

    async def models(self, update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
        """/models: what can run now, with its time and price (the engine's one list)."""
        message = update.effective_message
        if message is not None:
            await self._reply(message, models_text(await self._words(message), self.service.models_now()))

    async def usage(self, update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
        message = update.effective_message
        if message is not None:
            w = await self._words(message)
            try:
                usage = await self.service.usage(who.sender(message))
            except ReelbotError as exc:
                await self._reply(message, render.describe_error(w, exc))
                return
            await self._reply(message, render.usage_text(w, usage))

    async def cancel(self, update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
        message = update.effective_message
        if message is None:
            return
        w = await self._words(message)
        try:
            view = await self.service.cancel(who.sender(message), _arg(context))
        except ReelbotError as exc:
            await self._reply(message, render.describe_error(w, exc))
            return
        await self._reply(message, render.cancelled_text(w, view))

    async def job(self, update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
        message = update.effective_message
        if message is None:
            return
        w = await self._words(message)
        job_id = _arg(context)
        if job_id is None:
            await self._reply(message, w._("Which job? Use /job followed by the id from the bot's message."))
            return
        try:
            view = await self.service.job_for(who.sender(message), job_id)
        except ReelbotError as exc:
            await self._reply(message, render.describe_error(w, exc))
            return
        await self._reply(message, f"{header(w, view.id, view.prompt, view.kind)}\n{render.job_line(w, view)}")

    async def status(self, update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
        message = update.effective_message
        if message is None:
            return
        w = await self._words(message)  # the admin's: in a group too, the report goes to them alone
        try:
            report = await self.service.status(who.sender(message))
        except ReelbotError as exc:
            await self._reply(message, render.describe_error(w, exc))
            return
        assert isinstance(report, StatusReport)  # only admins get here: Telegram names no group managers
        # Spend, users and GPUs are for the admin's eyes: in a group they go to the admin's private chat.
        chat_id = message.chat_id if message.chat.type == "private" else message.from_user.id  # type: ignore[union-attr]
        text = render.status_text(w, report)
        chart = await asyncio.to_thread(partial(status_chart, report, words=w, font=self.config.chart_font))
        fits = limits.utf16_len(text) <= limits.CAPTION
        try:
            await patiently(lambda: context.bot.send_photo(chat_id, chart, caption=text if fits else None))
            if not fits:
                await patiently(lambda: context.bot.send_message(chat_id, limits.fit(text, limits.MESSAGE)))
        except Forbidden:
            await self._reply(message, w._("I can only send /status privately: open a chat with me, press Start, "
                                           "and send /status there."))
            return
        if chat_id != message.chat_id:
            await self._reply(message, w._("I sent you /status in our private chat."))

    async def on_error(self, update: object, context: ContextTypes.DEFAULT_TYPE) -> None:
        """Anything unexpected: logged for the admin, a plain apology for the user, never a traceback."""
        log.error("Telegram update failed", exc_info=context.error)
        if isinstance(update, Update) and update.effective_message is not None:
            message = update.effective_message
            try:
                w = await self._words(message)
            except Exception:  # the fault may be the very lookup of their language
                w = self.config.languages.words(who.app_language(message.from_user))
            try:
                await message.reply_text(render.describe_error(w, context.error or Exception()))
            except TelegramError:
                pass

    # --- helpers ---

    def _addressed(self, message: Message, context: ContextTypes.DEFAULT_TYPE) -> bool:
        """In groups the bot answers only when spoken to: a mention, /video, or a reply to its message."""
        if message.chat.type == "private":
            return True
        caption = (message.caption or "").lower()
        if f"@{context.bot.username}".lower() in caption or caption.lstrip().startswith("/video"):
            return True
        replied = message.reply_to_message
        return bool(replied and replied.from_user and replied.from_user.id == context.bot.id)

    def _strip_address(self, text: str, context: ContextTypes.DEFAULT_TYPE) -> str:
        text = re.sub(rf"^\s*/video(@{re.escape(context.bot.username)})?\b", "", text, flags=re.IGNORECASE)
        return re.sub(rf"@{re.escape(context.bot.username)}\b", "", text, flags=re.IGNORECASE).strip()

    def _picture_of(self, message: Message) -> Picture:
        if message.photo:
            largest = max(message.photo, key=lambda size: size.width * size.height)
            return Picture(largest.file_id, largest.file_size)
        document = message.document
        if document is None or not (document.mime_type or "").startswith("image/"):
            raise InvalidImage(
                N_("That file is not a picture I can animate."),
                hint=N_("Send a photo, or a JPEG, PNG or WebP image as a file."),
            )
        return Picture(document.file_id, document.file_size)

    def _check_size(self, size: int | None) -> None:
        if size is not None and size > self.max_download_bytes:
            raise self._too_big(size)

    def _too_big(self, size: int | None = None) -> InvalidImage:
        limit = round(self.max_download_bytes / 1024**2)
        hint = N_("Send it as a photo instead of a file (Telegram shrinks it), or send a smaller file.")
        if size is None:
            return InvalidImage(N_("That picture is too big; Telegram lets bots download at most {limit} MB.",
                                   limit=limit), hint=hint)
        return InvalidImage(N_("That picture is {size} MB; Telegram lets bots download at most {limit} MB.",
                               size=round(size / 1024**2), limit=limit), hint=hint)

    def _fetcher(self, picture: Picture, context: ContextTypes.DEFAULT_TYPE) -> Callable[[], Awaitable[bytes]]:
        async def fetch() -> bytes:
            try:
                file = await patiently(lambda: context.bot.get_file(picture.file_id))
                self._check_size(file.file_size)
                return bytes(await file.download_as_bytearray())
            except BadRequest as exc:
                if "too big" in exc.message.lower():
                    raise self._too_big() from exc
                raise InvalidImage(
                    N_("Telegram would not give me that picture."), hint=N_("Send it again, or as a photo.")
                ) from exc

        return fetch

    async def _reply(self, message: Message, text: str, markup: InlineKeyboardMarkup | None = None) -> Message | None:
        try:
            return await patiently(lambda: message.reply_text(text, do_quote=True, reply_markup=markup))
        except TelegramError as exc:
            log.warning("could not reply in chat %s: %s", message.chat_id, exc)
            return None

    async def _edit(self, note: Message, text: str) -> None:
        try:
            await patiently(lambda: note.edit_text(text))
        except TelegramError as exc:
            log.warning("could not edit message %s in chat %s: %s", note.message_id, note.chat_id, exc)


def _arg(context: ContextTypes.DEFAULT_TYPE) -> str | None:
    return context.args[0].strip() if context.args else None


def _short(text: str) -> str:
    """Callback answers are cut by Telegram at 200 characters (UTF-16 units); cut them at a word instead."""
    return limits.fit(text, limits.ANSWER, at_word=True)


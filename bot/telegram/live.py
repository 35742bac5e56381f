"""One message per job, edited as the job moves, never faster than Telegram allows in that chat.

Telegram limits how often a bot may write to one chat (about once a second in a private chat, 20 times a
minute in a group), so every job in a chat shares that chat's pace (:class:`bot.core.editor.Where`), and
``RetryAfter`` moves the chat's next slot as far as Telegram says. The newest text wins and the final text
is never dropped: that is the core's editor (:mod:`bot.core.editor`); this module only makes the edit.
"""

from __future__ import annotations

from dataclasses import dataclass

from telegram import Bot, InlineKeyboardMarkup, InputFile, ReplyParameters
from telegram.error import BadRequest, Forbidden, RetryAfter

from bot.core.editor import MessageGone, PacedEditor, SlowDown, Where
from bot.telegram.config import TelegramConfig
from bot.telegram.flood import retry_seconds
from engine.types import JobView

Editor = PacedEditor["ChatMessage", InlineKeyboardMarkup]


@dataclass(frozen=True, slots=True)
class ChatMessage:
    chat_id: int
    message_id: int


def where(config: TelegramConfig, chat_id: int, message_id: int, chat_type: str) -> Where[ChatMessage]:
    """A job's message, paced with every other edit in its chat."""
    interval = config.edit_interval_private_s if chat_type == "private" else config.edit_interval_group_s
    return Where(ChatMessage(chat_id, message_id), chat_id, interval)


def where_of(config: TelegramConfig, job: JobView) -> Where[ChatMessage] | None:
    """The message a job's origin names (the bot's own "Queuing…" message), if it names one."""
    data = job.origin.data
    if "message_id" not in data:
        return None
    return where(config, int(job.origin.chat_id), int(data["message_id"]), str(data.get("chat_type", "")))


def editor(bot: Bot) -> Editor:
    async def edit(message: ChatMessage, text: str, markup: InlineKeyboardMarkup | None) -> None:
        try:
            await bot.edit_message_text(text, chat_id=message.chat_id, message_id=message.message_id,
                                        reply_markup=markup)
        except RetryAfter as exc:
            raise SlowDown(retry_seconds(exc)) from exc
        except BadRequest as exc:
            if "not modified" in exc.message.lower():
                return  # it already reads so
            # The message is gone or the text is refused: no later edit of it can work.
            raise MessageGone(exc.message) from exc
        except Forbidden as exc:
            raise MessageGone(exc.message) from exc

    async def attach(message: ChatMessage, jpeg: bytes, caption: str) -> None:
        """A job's preview: a text message cannot take a picture, so it comes as a photo in reply to it."""
        try:
            await bot.send_photo(message.chat_id, InputFile(jpeg, filename="preview.jpg"), caption="👀 " + caption,
                                 reply_parameters=ReplyParameters(message.message_id,
                                                                  allow_sending_without_reply=True),
                                 disable_notification=True)
        except RetryAfter as exc:
            raise SlowDown(retry_seconds(exc)) from exc

    return PacedEditor(edit, markup_key=lambda markup: markup.to_dict(), backoff_s=2.0, name="tg-edit",
                       attach=attach)

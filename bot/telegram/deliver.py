"""Finished jobs to Telegram: the video with ``sendVideo``, then the job's message edited to its end.

The outbox calls :meth:`TelegramDeliverer.deliver` for each finished job, also after a restart, and marks it
delivered once it returns. The video goes first: if the edit after it fails, the user still has the video and
the delivery is not repeated.

A person who chose ``/settings delivery private`` gets a video asked for in a group in their private chat with
the bot, and the group's message says so. Telegram lets a bot write to a person only once they started it:
if they never did (or blocked it), the video goes to the group after all, with a note saying how to get it
privately next time; a result is never lost for want of a private chat.
"""

from __future__ import annotations

import asyncio
import logging
from pathlib import Path

from telegram import Bot, InputFile, ReplyParameters
from telegram.error import BadRequest, Forbidden

from bot.i18n import Words
from bot.render import header, result_caption
from bot.telegram import keyboards, limits, live
from bot.telegram.config import TelegramConfig
from bot.telegram.flood import patiently
from bot.telegram.texts import last_line
from engine.defaults import PRIVATE
from engine.outbox import Undeliverable
from engine.types import JobState, JobView
from engine.video import probe

log = logging.getLogger(__name__)
_GONE = ("chat not found", "bot was kicked", "bot is not a member", "user is deactivated", "have no rights")


class TelegramDeliverer:
    def __init__(self, bot: Bot, editor: live.Editor, config: TelegramConfig, *,
                 upload_timeout_s: float = 300.0) -> None:
        self.bot = bot
        self.editor = editor
        self.config = config
        self.upload_timeout_s = upload_timeout_s

    async def deliver(self, job: JobView) -> None:
        data = job.origin.data
        chat_id = int(job.origin.chat_id)
        w = self.config.languages.words(job.origin.language)
        try:
            line = last_line(w, job)
            if job.state is JobState.SUCCEEDED and job.result_path is not None:
                note = None
                if self._private(job):
                    if await self._send_privately(w, job, job.result_path):
                        line = "✅ " + w._("Done. I sent you the video in our private chat.")
                    else:
                        note = w._("I could not send this to you privately: open a chat with me and press Start "
                                   "to get the next one there.")
                if note is not None or not self._private(job):
                    await self._send_video(w, job, chat_id, job.result_path, data.get("request_message_id"),
                                           note=note)
            markup = keyboards.finished(w, job.id) if job.state is JobState.FAILED else None
            where = live.where_of(self.config, job)
            if where is not None:
                self.editor.track(job.id, where, header(w, job.id, job.prompt, job.kind))
                if await self.editor.finish(job.id, line, markup):
                    return
            if job.state is not JobState.SUCCEEDED or job.result_path is None:
                # No message to edit (it was deleted): the news still has to reach the user.
                text = f"{header(w, job.id, job.prompt, job.kind)}\n{line}"
                await patiently(lambda: self.bot.send_message(chat_id, text, reply_markup=markup))
        except Forbidden as exc:
            raise Undeliverable(f"Telegram refuses messages to chat {chat_id}: {exc.message}") from exc
        except BadRequest as exc:
            if any(reason in exc.message.lower() for reason in _GONE):
                raise Undeliverable(f"Telegram chat {chat_id} is gone: {exc.message}") from exc
            raise

    def _private(self, job: JobView) -> bool:
        """Whether the video goes to the asker alone: they chose it, and they asked somewhere else."""
        return job.origin.delivery == PRIVATE and job.origin.data.get("chat_type") != "private"

    async def _send_privately(self, w: Words, job: JobView, path: Path) -> bool:
        """The video in the asker's private chat; False when Telegram will not let the bot write to them."""
        person = int(job.origin.data.get("user_id") or job.user.user_id)
        try:
            await self._send_video(w, job, person, path, None)
        except Forbidden as exc:  # never started the bot, or blocked it
            log.info("job %s: no private chat with %s (%s); sending it to the group", job.id, person, exc.message)
            return False
        except BadRequest as exc:
            if "chat not found" not in exc.message.lower():
                raise
            log.info("job %s: no private chat with %s; sending it to the group", job.id, person)
            return False
        return True

    async def _send_video(self, w: Words, job: JobView, chat_id: int, path: Path, reply_to: int | None, *,
                          note: str | None = None) -> None:
        info, data = await asyncio.to_thread(lambda: (probe(path), path.read_bytes()))
        said = result_caption(w, job) if note is None else f"{note}\n{result_caption(w, job)}"
        caption = limits.fit(said, limits.CAPTION)  # in UTF-16 units, as Telegram counts
        await patiently(
            lambda: self.bot.send_video(
                chat_id,
                InputFile(data, filename=f"reelbot-{job.id}.mp4"),
                caption=caption,
                duration=max(1, round(info.duration_s)),
                width=info.width,
                height=info.height,
                supports_streaming=True,
                reply_parameters=(
                    ReplyParameters(int(reply_to), allow_sending_without_reply=True) if reply_to else None
                ),
                reply_markup=keyboards.finished(w, job.id, video=True),
                write_timeout=self.upload_timeout_s,
            ),
            max_wait_s=60.0,
        )

"""Finished jobs to Telegram: the video with ``sendVideo``, then the job's message edited to its end.

The outbox calls :meth:`TelegramDeliverer.deliver` for each finished job, also after a restart, and marks it
delivered once it returns. The video goes first: if the edit after it fails, the user still has the video and
the delivery is not repeated.
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
            if job.state is JobState.SUCCEEDED and job.result_path is not None:
                await self._send_video(w, job, chat_id, job.result_path, data.get("request_message_id"))
            markup = keyboards.finished(w, job.id) if job.state is JobState.FAILED else None
            line = last_line(w, job)
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

    async def _send_video(self, w: Words, job: JobView, chat_id: int, path: Path, reply_to: int | None) -> None:
        info, data = await asyncio.to_thread(lambda: (probe(path), path.read_bytes()))
        caption = limits.fit(result_caption(w, job), limits.CAPTION)  # in UTF-16 units, as Telegram counts
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

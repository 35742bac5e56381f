"""Finished jobs to Discord: the job's reply is edited one last time, with the mp4 attached.

An interaction's token lives 15 minutes. A job that ends later (a long queue, a restart) is posted as a new
message in the channel, mentioning the user; where the bot cannot post there, it goes to the user's DMs.
The reply and the DM are in the asker's language; a message posted in the channel is the place's (the
server's language): the asker may be gone, and everyone there reads it.
The outbox marks the delivery done once :meth:`DiscordDeliverer.deliver` returns, and retries it otherwise.

A person who chose ``/settings delivery private`` gets a video asked for in a server by DM, and the job's
reply in the channel says so, without the video. If their DMs are closed, the video is delivered in the
channel after all, with a note saying why: a result is never lost for want of a DM.
"""

from __future__ import annotations

import asyncio
import logging
from pathlib import Path

import discord

from bot.discord import views
from bot.discord.live import NO_MENTIONS, Editor, Reply, only_user, webhook
from bot.discord.texts import last_line
from bot.i18n import Languages, Words
from bot.render import header
from engine.defaults import PRIVATE
from engine.outbox import Undeliverable
from engine.types import JobState, JobView
from engine.video import fit_to_size

log = logging.getLogger(__name__)


class DiscordDeliverer:
    def __init__(self, client: discord.Client, editor: Editor, languages: Languages) -> None:
        self.client = client
        self.editor = editor
        self.languages = languages

    async def deliver(self, job: JobView) -> None:
        data = job.origin.data
        self.editor.forget(job.id)  # progress still waiting to be shown would only come after the end
        video = await self._video(job, int(data.get("limit") or 0))
        reply = Reply.of(data)
        dm_closed = False
        if video is not None and job.origin.delivery == PRIVATE and data.get("guild_id"):
            if await self._dm(job, video):
                await self._sent_by_dm(job, reply)
                return
            dm_closed = True
        if reply is not None and reply.fresh():
            text, view = _said(self.languages.words(job.origin.language), job, dm_closed=dm_closed)
            try:
                await webhook(self.client, reply).edit_message(
                    reply.message_id, content=text, attachments=[_file(video, job.id)] if video else [],
                    view=view, allowed_mentions=NO_MENTIONS,
                )
                return
            except discord.NotFound:
                log.info("the reply of job %s is gone; posting the result as a new message", job.id)
            except discord.HTTPException as exc:
                if exc.status not in (401, 403):
                    raise  # Discord had a bad moment: the outbox tries again
        await self._post(job, video, dm_closed=dm_closed)

    async def _dm(self, job: JobView, video: Path) -> bool:
        """The result in the asker's DMs; False when Discord will not let the bot write to them there."""
        user_id = job.origin.data.get("user_id") or job.user.user_id
        text, view = _said(self.languages.words(job.origin.language), job)
        try:
            user = await self.client.fetch_user(int(user_id))
            await user.send(text, file=_file(video, job.id), view=view or discord.utils.MISSING,
                            allowed_mentions=NO_MENTIONS)
        except (discord.Forbidden, discord.NotFound) as exc:
            log.info("cannot DM job %s to user %s (%s); delivering it in the channel", job.id, user_id, exc.status)
            return False
        return True

    async def _sent_by_dm(self, job: JobView, reply: Reply | None) -> None:
        """The job's reply in the channel says where the video went (if Discord still lets it be edited)."""
        if reply is None or not reply.fresh():
            return
        w = self.languages.words(job.origin.language)
        text = f"{header(w, job.id, job.prompt, job.kind)}\n✅ " + w._("Done. I sent you the video by DM.")
        try:
            await webhook(self.client, reply).edit_message(reply.message_id, content=text, attachments=[],
                                                           view=None, allowed_mentions=NO_MENTIONS)
        except discord.HTTPException as exc:  # the video is with its owner: this line is a courtesy
            log.info("could not tell the channel that job %s went by DM: %s", job.id, exc)

    async def _post(self, job: JobView, video: Path | None, *, dm_closed: bool = False) -> None:
        user_id = job.origin.data.get("user_id") or job.user.user_id
        mention = f"<@{user_id}> "
        channel_id = job.origin.chat_id
        if channel_id:
            text, view = _said(self.languages.words(job.origin.place_language), job, dm_closed=dm_closed)
            try:
                channel = self.client.get_partial_messageable(int(channel_id))
                await channel.send(mention + text, file=_file(video, job.id) if video else discord.utils.MISSING,
                                   view=view or discord.utils.MISSING,
                                   allowed_mentions=only_user(int(user_id)))
                return
            except (discord.Forbidden, discord.NotFound) as exc:
                log.info("cannot post job %s in channel %s (%s); trying a DM", job.id, channel_id, exc.status)
        text, view = _said(self.languages.words(job.origin.language), job)
        try:
            user = await self.client.fetch_user(int(user_id))
            await user.send(text, file=_file(video, job.id) if video else discord.utils.MISSING,
                            view=view or discord.utils.MISSING, allowed_mentions=NO_MENTIONS)
        except (discord.Forbidden, discord.NotFound) as exc:
            raise Undeliverable(f"Discord lets me reach user {user_id} neither in the channel nor by DM") from exc

    async def _video(self, job: JobView, limit: int) -> Path | None:
        """The result, re-encoded once more if this server's own upload limit is below the bot-wide one."""
        path = job.result_path
        if job.state is not JobState.SUCCEEDED or path is None:
            return None
        if limit and path.stat().st_size > limit:
            fitted = await asyncio.to_thread(fit_to_size, path, limit, path.with_name(f"{path.stem}.{limit}.mp4"))
            return fitted.path
        return path


def _said(w: Words, job: JobView, *, dm_closed: bool = False) -> tuple[str, discord.ui.View | None]:
    """The job's last message in ``w``'s words, and its buttons (none for a cancelled job); ``dm_closed``:
    with a note that it was meant for the asker's DMs."""
    text = f"{header(w, job.id, job.prompt, job.kind)}\n{last_line(w, job)}"
    if dm_closed:
        text += "\n" + w._("I could not send it to you by DM (Discord says your DMs are closed to me), so it is "
                           "here. Open your DMs to get the next one privately, or choose /settings delivery: public.")
    video = job.state is JobState.SUCCEEDED
    return text, views.finished(w, job.id, video=video) if job.state is not JobState.CANCELLED else None


def _file(path: Path | None, job_id: str) -> discord.File:
    assert path is not None
    return discord.File(path, filename=f"reelbot-{job_id}.mp4")

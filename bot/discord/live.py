"""One message per job (the deferred reply to the command), edited as the job moves.

The message is edited through the interaction's webhook (application id + token), which needs no gateway
state and works the same after a restart. Only the newest wanted text is kept: while an edit waits for the
job's next slot (``DISCORD_EDIT_INTERVAL_S``), newer progress replaces older. discord.py itself waits out
429s. The token lives 15 minutes; after that the message can no longer be edited and is left as it was.
"""

from __future__ import annotations

import asyncio
import logging
import time
from dataclasses import dataclass

import discord

log = logging.getLogger(__name__)
# Prompts are typed by strangers and end up in the bot's messages: "@everyone" or "<@&role>" in a prompt must
# not ping anyone. Every message goes out with this, except the one that calls a job's owner back.
NO_MENTIONS = discord.AllowedMentions.none()


def only_user(user_id: int) -> discord.AllowedMentions:
    """Mentions that reach the job's owner and nobody else."""
    return discord.AllowedMentions(everyone=False, roles=False, replied_user=False,
                                   users=[discord.Object(user_id)])
TOKEN_LIFETIME_S = 15 * 60
TOKEN_MARGIN_S = 30  # stop using a token this long before Discord does
_TRIES = 3  # edits in a row that Discord refuses before the job's message is left as it is


@dataclass
class Reply:
    """Where a job's message is: the interaction's webhook, its message id, and when the token was made."""

    app_id: int
    token: str
    message_id: int
    created: float  # wall-clock time of the interaction

    def fresh(self) -> bool:
        return time.time() - self.created < TOKEN_LIFETIME_S - TOKEN_MARGIN_S


@dataclass
class _Live:
    reply: Reply
    header: str
    text: str = ""
    view: discord.ui.View | None = None
    version: int = 0
    shown: int = -1
    final: bool = False
    gone: bool = False
    task: asyncio.Task[None] | None = None
    last_edit: float = 0.0  # monotonic time of the last edit: the next waits for the interval


class LiveReplies:
    def __init__(self, client: discord.Client, *, interval_s: float) -> None:
        self.client = client
        self.interval_s = interval_s
        self._live: dict[str, _Live] = {}

    def tracks(self, job_id: str) -> bool:
        return job_id in self._live

    def track(self, job_id: str, reply: Reply, header: str) -> None:
        if job_id not in self._live:
            self._live[job_id] = _Live(reply, header)

    def show(self, job_id: str, line: str, view: discord.ui.View | None = None) -> None:
        live = self._live.get(job_id)
        if live is None or live.final or live.gone:
            return
        live.text, live.view, live.version = f"{live.header}\n{line}", view, live.version + 1
        self._kick(job_id, live)

    def forget(self, job_id: str) -> None:
        live = self._live.pop(job_id, None)
        if live is not None and live.task is not None:
            live.task.cancel()

    async def aclose(self) -> None:
        tasks = [live.task for live in self._live.values() if live.task is not None]
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)
        self._live.clear()

    def webhook(self, reply: Reply) -> discord.Webhook:
        """The interaction's webhook; every message sent through it mentions nobody (see NO_MENTIONS)."""
        return discord.Webhook.partial(reply.app_id, reply.token, client=self.client)

    def _kick(self, job_id: str, live: _Live) -> None:
        if live.task is None or live.task.done():
            live.task = asyncio.get_running_loop().create_task(self._flush(job_id, live), name=f"dc-edit-{job_id}")

    async def _flush(self, job_id: str, live: _Live) -> None:
        failures = 0
        while not live.gone and live.shown != live.version:
            wait = live.last_edit + self.interval_s - time.monotonic()
            if wait > 0:
                await asyncio.sleep(wait)
                continue  # newer text may have arrived while waiting
            if not live.reply.fresh():
                live.gone = True  # the token is about to expire: the result will come as a new message
                break
            version, live.last_edit = live.version, time.monotonic()
            try:
                await self.webhook(live.reply).edit_message(live.reply.message_id, content=live.text,
                                                            view=live.view, allowed_mentions=NO_MENTIONS)
            except discord.NotFound:
                live.gone = True  # the message was deleted
                break
            except discord.HTTPException as exc:
                failures += 1
                log.warning("cannot edit the message of job %s (%s): %s", job_id, exc.status, exc.text)
                live.gone = exc.status in (401, 403) or failures >= _TRIES
                continue
            failures = 0
            live.shown = version

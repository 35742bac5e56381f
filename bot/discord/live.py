"""One message per job (the deferred reply to the command), edited as the job moves.

The message is edited through the interaction's webhook (application id + token), which needs no gateway
state and works the same after a restart. The pacing is the core's (:mod:`bot.core.editor`): one edit per
``DISCORD_EDIT_INTERVAL_S`` per job, newest text wins; discord.py itself waits out 429s. The token lives
15 minutes; after that the message can no longer be edited and is left as it was.
"""

from __future__ import annotations

import io
import time
from dataclasses import dataclass
from typing import Any

import discord

from bot.core.editor import MessageGone, PacedEditor, Where
from engine.types import JobView

# Prompts are typed by strangers and end up in the bot's messages: "@everyone" or "<@&role>" in a prompt must
# not ping anyone. Every message goes out with this, except the one that calls a job's owner back.
NO_MENTIONS = discord.AllowedMentions.none()
TOKEN_LIFETIME_S = 15 * 60
TOKEN_MARGIN_S = 30  # stop using a token this long before Discord does

Editor = PacedEditor["Reply", discord.ui.View]


def only_user(user_id: int) -> discord.AllowedMentions:
    """Mentions that reach the job's owner and nobody else."""
    return discord.AllowedMentions(everyone=False, roles=False, replied_user=False,
                                   users=[discord.Object(user_id)])


@dataclass(frozen=True)
class Reply:
    """Where a job's message is: the interaction's webhook, its message id, and when the token was made."""

    app_id: int
    token: str
    message_id: int
    created: float  # wall-clock time of the interaction

    def fresh(self) -> bool:
        return time.time() - self.created < TOKEN_LIFETIME_S - TOKEN_MARGIN_S

    @classmethod
    def of(cls, data: dict[str, Any]) -> Reply | None:
        """The reply a job's origin names, if it names one."""
        try:
            return cls(int(data["app_id"]), str(data["token"]), int(data["message_id"]), float(data["created"]))
        except (KeyError, TypeError, ValueError):
            return None


def webhook(client: discord.Client, reply: Reply) -> discord.Webhook:
    """The interaction's webhook; every message sent through it mentions nobody (see NO_MENTIONS)."""
    return discord.Webhook.partial(reply.app_id, reply.token, client=client)


def where(reply: Reply, interval_s: float) -> Where[Reply]:
    """A job's reply, paced on its own (each interaction has its own webhook)."""
    return Where(reply, reply.message_id, interval_s)


def where_of(job: JobView, interval_s: float) -> Where[Reply] | None:
    """The reply a job's origin names, while its token can still edit it."""
    reply = Reply.of(job.origin.data)
    return where(reply, interval_s) if reply is not None and reply.fresh() else None


PREVIEW_NAME = "preview.jpg"


def editor(client: discord.Client) -> Editor:
    async def edit(reply: Reply, text: str, view: discord.ui.View | None) -> None:
        if not reply.fresh():
            raise MessageGone("its token is about to expire")  # the result will come as a new message
        try:
            await webhook(client, reply).edit_message(reply.message_id, content=text, view=view,
                                                      allowed_mentions=NO_MENTIONS)
        except discord.NotFound as exc:
            raise MessageGone("it was deleted") from exc
        except discord.HTTPException as exc:
            if exc.status in (401, 403):
                raise MessageGone(f"Discord refuses it ({exc.status})") from exc
            raise

    async def attach(reply: Reply, jpeg: bytes, caption: str) -> None:
        """A job's preview, attached to its message (the result's video replaces it)."""
        if reply.fresh():
            await webhook(client, reply).edit_message(
                reply.message_id, attachments=[discord.File(io.BytesIO(jpeg), filename=PREVIEW_NAME)],
                allowed_mentions=NO_MENTIONS)

    return PacedEditor(edit, markup_key=lambda view: view.to_components(), name="dc-edit", attach=attach)

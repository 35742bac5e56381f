"""Slash commands, the "Animate image" context menu and the job buttons: parse, call the engine, render.

Every command that starts a job is deferred first (Discord gives 3 seconds), so "The application did not
respond" never shows. A refusal (bad flags, a picture that is not one, a quota) is told only to the user who
asked (ephemeral), with when they can try again, and the public "thinking…" reply is removed.
"""

from __future__ import annotations

import asyncio
import io
import logging
from collections.abc import Awaitable, Callable
from functools import partial

import discord
from discord import app_commands

from bot import render
from bot.chart import status_chart
from bot.core import actions
from bot.core.feed import JobFeed
from bot.discord import live
from bot.discord.config import DiscordConfig
from bot.discord.live import Reply
from bot.discord.texts import HELP, status_embed
from bot.i18n import Words
from bot.parse import parse_prompt
from engine.errors import InvalidImage, InvalidInput, ReelbotError
from engine.service import Service
from engine.status import ScopeStatus
from engine.types import Options, Origin, SubmitRequest, UserRef
from engine.validation import MAX_SEED

log = logging.getLogger(__name__)
PLATFORM = "discord"
EPHEMERAL_LIMIT = 2000


class Commands:
    def __init__(self, service: Service, feed: JobFeed[Reply, discord.ui.View], config: DiscordConfig) -> None:
        self.service = service
        self.feed = feed
        self.config = config
        self._public: set[int] = set()  # interactions whose "thinking…" reply is public until the job is queued

    def install(self, tree: app_commands.CommandTree) -> None:  # type: ignore[type-arg]
        """Register every command on ``tree``; each one only hands over to a method of this object."""
        commands = self

        @app_commands.command(name="video", description="Make a video from words, or animate a picture")
        @app_commands.describe(
            prompt="What to show; options work inline too: --seed 7 --frames 25 --fps 7 --portrait --neg blurry",
            image="A picture to animate (image-to-video)", frames="How many frames", fps="Frames per second",
            seed="Same seed, same video", portrait="Tall video (9:16)", model="A model by name, e.g. svd-xt",
            provider="Run it on this backend, e.g. local or replicate",
            raw="Send the prompt as typed, never translated to English",
        )
        async def video(
            interaction: discord.Interaction, prompt: str = "", image: discord.Attachment | None = None,
            frames: app_commands.Range[int, 1, 1000] | None = None, fps: app_commands.Range[int, 1, 240] | None = None,
            seed: app_commands.Range[int, 0, MAX_SEED] | None = None, portrait: bool | None = None,
            model: str | None = None, provider: str | None = None, raw: bool | None = None,
        ) -> None:
            base = Options(frames=frames, fps=fps, seed=seed, portrait=bool(portrait), model=model,
                           provider=provider, raw_prompt=raw or None)
            await commands.make(interaction, prompt, base, image)

        @app_commands.context_menu(name="Animate image")
        async def animate(interaction: discord.Interaction, message: discord.Message) -> None:
            await commands.animate(interaction, message)

        @app_commands.command(name="usage", description="What you have used and what is left")
        async def usage(interaction: discord.Interaction) -> None:
            await commands.usage(interaction)

        @app_commands.command(name="cancel", description="Cancel your latest job, or one by id")
        @app_commands.describe(job="The job id from the bot's message (leave empty for your latest)")
        async def cancel(interaction: discord.Interaction, job: str | None = None) -> None:
            await commands.cancel(interaction, job)

        @app_commands.command(name="job", description="Look up a job by its id")
        @app_commands.describe(job="The job id from the bot's message")
        async def job(interaction: discord.Interaction, job: str) -> None:
            await commands.job(interaction, job)

        @app_commands.command(name="status", description="GPUs, queues, providers and spend (admins); this "
                                                          "server's jobs (its managers)")
        async def status(interaction: discord.Interaction) -> None:
            await commands.status(interaction)

        @app_commands.command(name="help", description="How to use this bot")
        async def help_(interaction: discord.Interaction) -> None:
            await commands.help(interaction)

        tree.add_command(video)
        tree.add_command(animate)
        tree.add_command(usage)
        tree.add_command(cancel)
        tree.add_command(job)
        tree.add_command(status)
        tree.add_command(help_)
        tree.on_error = self.on_error  # type: ignore[method-assign]

    # --- making videos ---

    async def animate(self, interaction: discord.Interaction, message: discord.Message) -> None:
        """Context menu on any message: animate its first picture, with the message's text as the prompt."""
        picture = next((a for a in message.attachments if (a.content_type or "").startswith("image/")), None)
        if picture is None:
            await self._tell(interaction, "That message has no picture to animate. Use it on a message with an "
                                          "image attached.")
            return
        await self.make(interaction, message.content or "", Options(), picture)

    async def make(self, interaction: discord.Interaction, text: str, base: Options,
                   picture: discord.Attachment | bytes | None) -> None:
        """Defer, then queue the job; ``picture`` is an attachment (fetched by the engine once the cheap checks
        passed), or the bytes of a kept one."""
        callback = await interaction.response.defer(thinking=True)
        self._public.add(interaction.id)
        try:
            user = self._user(interaction)
            parsed = parse_prompt(text, base=base)
            if picture is None and not parsed.prompt:
                raise InvalidInput("prompt", "Tell me what to show, like: /video prompt: a cat surfing at sunset.",
                                   hint="Or attach a picture to animate it.")
            image = picture if isinstance(picture, bytes | None) else self._fetcher(picture)
            message_id = callback.message_id if callback and callback.message_id else \
                (await interaction.original_response()).id
            reply = Reply(interaction.application_id, interaction.token, message_id,
                          interaction.created_at.timestamp())
            origin = Origin(PLATFORM, str(interaction.channel_id or ""), {
                "app_id": str(reply.app_id), "token": reply.token, "message_id": str(message_id),
                "created": reply.created, "user_id": str(interaction.user.id),
                "guild_id": str(interaction.guild_id or ""), "limit": interaction.filesize_limit,
            }, scope=_scope(interaction))
            view = await self.service.submit(SubmitRequest(user, parsed.prompt, origin, parsed.options, image))
        except Exception as exc:  # a refusal, or a bug: either way said privately, never in public
            if not isinstance(exc, ReelbotError):
                log.error("Discord job request failed", exc_info=exc)
            await self._refuse(interaction, exc)
            return
        self._public.discard(interaction.id)
        self.feed.follow(view, live.where(reply, self.config.edit_interval_s))

    # --- buttons ---

    async def press(self, interaction: discord.Interaction, action: str, job_id: str) -> None:
        try:
            user = self._user(interaction)
            if action == actions.CANCEL:
                # A job on a remote worker can take a few seconds to stop: acknowledge first.
                await interaction.response.defer(ephemeral=True, thinking=True)
            outcome = await actions.perform(self.service, user, action, job_id)
            if outcome.again is not None:  # Retry and Same seed: the request again, as a new job, in a new reply
                await self.make(interaction, outcome.again.prompt, outcome.again.options, outcome.again.image)
                return
            await self._tell(interaction, render.outcome_text(self._words(), outcome))
        except ReelbotError as exc:
            await self._refuse(interaction, exc)

    # --- the other commands ---

    async def usage(self, interaction: discord.Interaction) -> None:
        usage = await self.service.usage(self._user(interaction))
        await self._tell(interaction, render.usage_text(self._words(), usage))

    async def cancel(self, interaction: discord.Interaction, job: str | None = None) -> None:
        await interaction.response.defer(ephemeral=True, thinking=True)
        try:
            view = await self.service.cancel(self._user(interaction), job.strip() if job else None)
        except ReelbotError as exc:
            await self._refuse(interaction, exc)
            return
        await self._tell(interaction, render.cancelled_text(self._words(), view))

    async def job(self, interaction: discord.Interaction, job: str) -> None:
        try:
            view = await self.service.job_for(self._user(interaction), job.strip())
        except ReelbotError as exc:
            await self._refuse(interaction, exc)
            return
        await self._tell(interaction, f"{render.header(self._words(), view.id, view.prompt, view.kind)}\n{render.job_line(self._words(), view)}")

    async def status(self, interaction: discord.Interaction) -> None:
        """GPUs, queues, providers and spend for the bot's admins; this server's own jobs for its managers."""
        await interaction.response.defer(ephemeral=True, thinking=True)
        try:
            report = await self.service.status(self._user(interaction))
        except ReelbotError as exc:
            await self._refuse(interaction, exc)
            return
        if isinstance(report, ScopeStatus):
            await self._tell(interaction, render.scope_status_text(self._words(), report, "This server"))
            return
        words = self._words()
        chart = await asyncio.to_thread(partial(status_chart, report, words=words, font=self.config.chart_font))
        embed = status_embed(words, report).set_image(url="attachment://status.png")
        await interaction.followup.send(embed=embed, file=discord.File(io.BytesIO(chart), "status.png"),
                                        ephemeral=True)

    async def help(self, interaction: discord.Interaction) -> None:
        await self._tell(interaction, HELP)

    async def on_error(self, interaction: discord.Interaction, error: app_commands.AppCommandError) -> None:
        """Anything unexpected: logged for the admin, a plain apology for the user, never a traceback."""
        cause = error.original if isinstance(error, app_commands.CommandInvokeError) else error
        if isinstance(cause, ReelbotError):
            await self._refuse(interaction, cause)
            return
        if isinstance(error, app_commands.TransformerError | app_commands.CommandSignatureMismatch):
            await self._tell(interaction, f"That option is not right: {error}")
            return
        log.error("Discord command failed", exc_info=cause)
        await self._tell(interaction, render.describe_error(self._words(), cause))

    # --- helpers ---

    def _words(self) -> Words:
        return self.config.languages.words()

    def _user(self, interaction: discord.Interaction) -> UserRef:
        """Who pressed or typed. Manage Server opens this server's own /status view, nothing more: whether
        someone is an admin of the bot is the engine's call, from DISCORD_ADMIN_IDS."""
        who = interaction.user
        manager = bool(interaction.guild_id and interaction.permissions.manage_guild)
        return UserRef(PLATFORM, str(who.id), who.display_name or who.name,
                       manages=_scope(interaction) if manager else None)

    def _fetcher(self, picture: discord.Attachment) -> Callable[[], Awaitable[bytes]]:
        async def fetch() -> bytes:
            if not (picture.content_type or "").startswith("image/"):
                raise InvalidImage(f"{picture.filename} is not a picture I can animate.",
                                   hint="Attach a JPEG, PNG or WebP image.")
            if picture.size > self.config.max_image_bytes:
                raise InvalidImage(f"That picture is {picture.size / 1024**2:.1f} MB; the limit is "
                                   f"{self.config.max_image_bytes / 1024**2:.0f} MB.", hint="Attach a smaller picture.")
            try:
                return await picture.read()
            except discord.HTTPException as exc:
                raise InvalidImage("Discord would not give me that picture.", hint="Attach it again.") from exc

        return fetch

    async def _tell(self, interaction: discord.Interaction, text: str) -> None:
        """A reply only the user sees."""
        text = text if len(text) <= EPHEMERAL_LIMIT else text[: EPHEMERAL_LIMIT - 1] + "…"
        if interaction.response.is_done():
            await interaction.followup.send(text, ephemeral=True)
        else:
            await interaction.response.send_message(text, ephemeral=True)

    async def _refuse(self, interaction: discord.Interaction, error: BaseException) -> None:
        """Say why, to the user alone; take away the public "thinking…" reply if there is one."""
        if interaction.id in self._public:
            # First the public placeholder goes: a follow-up sent while it is there would replace it, in public.
            self._public.discard(interaction.id)
            try:
                await interaction.delete_original_response()
            except discord.HTTPException as exc:
                log.info("could not remove the placeholder reply: %s", exc)
        await self._tell(interaction, render.describe_error(self._words(), error))


def _scope(interaction: discord.Interaction) -> str:
    """The server a request comes from (its managers' /status counts its jobs); empty in DMs."""
    return f"discord:guild:{interaction.guild_id}" if interaction.guild_id else ""

"""Slash commands, the "Animate image" context menu and the job buttons: parse, call the engine, render.

Every interaction is acknowledged first (Discord gives 3 seconds), before anything is read from the
database, so "The application did not respond" never shows; only then are the user's words found (their
``/settings language``, else their Discord app's language, else their server's, else ``DEFAULT_LANGUAGE``).
A refusal (bad flags, a picture that is not one, a quota) is told only to the user who asked (ephemeral),
with when they can try again, and the public "thinking…" reply is removed.
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
from bot.core.language import choices, choose, chosen_text, words_for
from bot.core.models import autocomplete, models_text
from bot.discord import live
from bot.discord.config import DiscordConfig
from bot.discord.live import Reply
from bot.discord.texts import help_text, status_embed
from bot.discord.translator import COMMANDS, command_name, localized
from bot.i18n import Words
from bot.parse import parse_prompt
from engine.controls import ASPECTS, PORTRAIT
from engine.errors import InvalidImage, InvalidInput, ReelbotError
from engine.service import Service
from engine.status import ScopeStatus
from engine.types import Options, Origin, SubmitRequest, UserRef
from engine.validation import MAX_SEED
from engine.words import N_

log = logging.getLogger(__name__)
PLATFORM = "discord"
EPHEMERAL_LIMIT = 2000
AUTO = "auto"  # /settings language: back to the Discord app's language
QUALITY_NAMES = (("fast", N_("fast")), ("normal", N_("normal")), ("best", N_("best")))  # /video quality


class Commands:
    def __init__(self, service: Service, feed: JobFeed[Reply, discord.ui.View], config: DiscordConfig) -> None:
        self.service = service
        self.feed = feed
        self.config = config
        self._public: set[int] = set()  # interactions whose "thinking…" reply is public until the job is queued

    def install(self, tree: app_commands.CommandTree) -> None:  # type: ignore[type-arg]
        """Register every command on ``tree``; each one only hands over to a method of this object. Their
        words are the catalog's (see bot/discord/translator.py): Korean clients see Korean descriptions and help."""
        commands = self

        @app_commands.command(name=command_name(COMMANDS["video"]),
                              description=localized(N_("Make a video from words, or animate a picture")))
        @app_commands.describe(
            prompt=localized(N_("What to show; options work inline too: --seed 7 --frames 25 --fps 7 --portrait "
                                "--neg blurry")),
            image=localized(N_("A picture to animate (image-to-video)")), frames=localized(N_("How many frames")),
            fps=localized(N_("Frames per second")), seed=localized(N_("Same seed, same video")),
            portrait=localized(N_("Tall video (9:16)")), model=localized(N_("A model by name, e.g. svd-xt")),
            provider=localized(N_("Run it on this backend, e.g. local or replicate")),
            raw=localized(N_("Send the prompt as typed, never translated to English")),
            negative=localized(N_("What the video should not show, e.g. blurry, text (like --neg)")),
            aspect=localized(N_("The shape: 16:9, 9:16, 1:1, 4:5 or 21:9 (like --ar)")),
            motion=localized(N_("How much moves: 1 almost still, 10 a lot (like --motion)")),
            quality=localized(N_("fast, normal or best: fewer or more steps (like --quality)")),
        )
        @app_commands.choices(
            aspect=[app_commands.Choice(name=name, value=name) for name in ASPECTS],
            quality=[app_commands.Choice(name=localized(word), value=value) for value, word in QUALITY_NAMES],
        )
        async def video(
            interaction: discord.Interaction, prompt: str = "", image: discord.Attachment | None = None,
            frames: app_commands.Range[int, 1, 1000] | None = None, fps: app_commands.Range[int, 1, 240] | None = None,
            seed: app_commands.Range[int, 0, MAX_SEED] | None = None, portrait: bool | None = None,
            model: str | None = None, provider: str | None = None, raw: bool | None = None,
            negative: str | None = None, aspect: app_commands.Choice[str] | None = None,
            motion: app_commands.Range[int, 1, 10] | None = None, quality: app_commands.Choice[str] | None = None,
        ) -> None:
            shape = aspect.value if aspect else PORTRAIT if portrait else None  # portrait: the older switch
            base = Options(frames=frames, fps=fps, seed=seed, aspect=shape, model=model, provider=provider,
                           raw_prompt=raw or None, negative_prompt=negative, motion=motion,
                           quality=quality.value if quality else None)
            await commands.make(interaction, prompt, base, image)

        @video.autocomplete("model")
        async def model_names(interaction: discord.Interaction, typed: str) -> list[app_commands.Choice[str]]:
            return await commands.model_autocomplete(interaction, typed)

        @app_commands.command(name=command_name(COMMANDS["models"]),
                              description=localized(N_("The models you can use now, with speed and price")))
        async def models(interaction: discord.Interaction) -> None:
            await commands.models(interaction)

        @app_commands.context_menu(name=localized(COMMANDS["animate"]))
        async def animate(interaction: discord.Interaction, message: discord.Message) -> None:
            await commands.animate(interaction, message)

        @app_commands.command(name=command_name(COMMANDS["usage"]),
                              description=localized(N_("What you have used and what is left")))
        async def usage(interaction: discord.Interaction) -> None:
            await commands.usage(interaction)

        @app_commands.command(name=command_name(COMMANDS["cancel"]),
                              description=localized(N_("Cancel your latest job, or one by id")))
        @app_commands.describe(job=localized(N_("The job id from the bot's message (leave empty for your latest)")))
        async def cancel(interaction: discord.Interaction, job: str | None = None) -> None:
            await commands.cancel(interaction, job)

        @app_commands.command(name=command_name(COMMANDS["job"]), description=localized(N_("Look up a job by its id")))
        @app_commands.describe(job=localized(N_("The job id from the bot's message")))
        async def job(interaction: discord.Interaction, job: str) -> None:
            await commands.job(interaction, job)

        @app_commands.command(name=command_name(COMMANDS["status"]), description=localized(
            N_("GPUs, queues, providers and spend (admins); this server's jobs (its managers)")))
        async def status(interaction: discord.Interaction) -> None:
            await commands.status(interaction)

        @app_commands.command(name=command_name(COMMANDS["help"]), description=localized(N_("How to use this bot")))
        async def help_(interaction: discord.Interaction) -> None:
            await commands.help(interaction)

        @app_commands.command(name=command_name(COMMANDS["settings"]),
                              description=localized(N_("Your settings: the language I answer you in")))
        @app_commands.describe(language=localized(N_("The language I answer you in")))
        @app_commands.choices(language=[
            *(app_commands.Choice(name=name, value=code) for code, name in choices()),  # each in its own words
            app_commands.Choice(name=localized(N_("Automatic (your Discord app's language)")), value=AUTO),
        ])
        async def settings(interaction: discord.Interaction, language: app_commands.Choice[str]) -> None:
            await commands.settings(interaction, language.value)

        tree.add_command(video)
        tree.add_command(animate)
        tree.add_command(usage)
        tree.add_command(cancel)
        tree.add_command(job)
        tree.add_command(status)
        tree.add_command(help_)
        tree.add_command(settings)
        tree.add_command(models)
        tree.on_error = self.on_error  # type: ignore[method-assign]

    # --- making videos ---

    async def animate(self, interaction: discord.Interaction, message: discord.Message) -> None:
        """Context menu on any message: animate its first picture, with the message's text as the prompt."""
        picture = next((a for a in message.attachments if (a.content_type or "").startswith("image/")), None)
        if picture is None:
            await self._ack(interaction)
            w = await self._words(interaction)
            await self._tell(interaction, w._("That message has no picture to animate. Use it on a message with "
                                              "an image attached."))
            return
        await self.make(interaction, message.content or "", Options(), picture)

    async def make(self, interaction: discord.Interaction, text: str, base: Options,
                   picture: discord.Attachment | bytes | None) -> None:
        """Defer, then queue the job; ``picture`` is an attachment (fetched by the engine once the cheap checks
        passed), or the bytes of a kept one."""
        await self._ack_in_public(interaction)
        try:
            user = self._user(interaction)
            w = await self._words(interaction)
            parsed = parse_prompt(text, base=base)
            if picture is None and not parsed.prompt:
                raise InvalidInput("prompt", N_("Tell me what to show, like: /video prompt: a cat surfing at sunset."),
                                   hint=N_("Or attach a picture to animate it."))
            image = picture if isinstance(picture, bytes | None) else self._fetcher(picture)
            message_id = interaction.extras.get("reply_id") or (await interaction.original_response()).id
            reply = Reply(interaction.application_id, interaction.token, message_id,
                          interaction.created_at.timestamp())
            origin = Origin(PLATFORM, str(interaction.channel_id or ""), {
                "app_id": str(reply.app_id), "token": reply.token, "message_id": str(message_id),
                "created": reply.created, "user_id": str(interaction.user.id),
                "guild_id": str(interaction.guild_id or ""), "limit": interaction.filesize_limit,
            }, scope=_scope(interaction), language=w.lang, place_language=self._place_language(interaction, w))
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
        if action in (actions.RETRY, actions.SAME_SEED):
            await self._ack_in_public(interaction)  # the new job gets its own public reply
        else:
            await self._ack(interaction)  # a job on a remote worker can take a few seconds to stop
        try:
            outcome = await actions.perform(self.service, self._user(interaction), action, job_id)
            if outcome.again is not None:  # Retry and Same seed: the request again, as a new job, in a new reply
                await self.make(interaction, outcome.again.prompt, outcome.again.options, outcome.again.image)
                return
            await self._tell(interaction, render.outcome_text(await self._words(interaction), outcome))
        except ReelbotError as exc:
            await self._refuse(interaction, exc)

    # --- the other commands ---

    async def models(self, interaction: discord.Interaction) -> None:
        """/models: what can run now, with its time and price (the engine's one list)."""
        await self._ack(interaction)
        await self._tell(interaction, models_text(await self._words(interaction), self.service.models_now()))

    async def model_autocomplete(self, interaction: discord.Interaction, typed: str) -> list[app_commands.Choice[str]]:
        """The /video ``model`` option as the user types: the same list as /models."""
        try:
            w = await self._words(interaction)
        except Exception as exc:  # suggestions must come within 3 s, in some language
            log.warning("could not find the words for model suggestions: %s", exc)
            w = self.config.languages.words()
        return [app_commands.Choice(name=label, value=name)
                for label, name in autocomplete(w, self.service.models_now(), typed)]

    async def usage(self, interaction: discord.Interaction) -> None:
        await self._ack(interaction)
        usage = await self.service.usage(self._user(interaction))
        await self._tell(interaction, render.usage_text(await self._words(interaction), usage))

    async def cancel(self, interaction: discord.Interaction, job: str | None = None) -> None:
        await self._ack(interaction)
        try:
            view = await self.service.cancel(self._user(interaction), job.strip() if job else None)
        except ReelbotError as exc:
            await self._refuse(interaction, exc)
            return
        await self._tell(interaction, render.cancelled_text(await self._words(interaction), view))

    async def job(self, interaction: discord.Interaction, job: str) -> None:
        await self._ack(interaction)
        try:
            view = await self.service.job_for(self._user(interaction), job.strip())
        except ReelbotError as exc:
            await self._refuse(interaction, exc)
            return
        w = await self._words(interaction)
        await self._tell(interaction, f"{render.header(w, view.id, view.prompt, view.kind)}\n{render.job_line(w, view)}")

    async def status(self, interaction: discord.Interaction) -> None:
        """GPUs, queues, providers and spend for the bot's admins; this server's own jobs for its managers."""
        await self._ack(interaction)
        try:
            report = await self.service.status(self._user(interaction))
        except ReelbotError as exc:
            await self._refuse(interaction, exc)
            return
        w = await self._words(interaction)
        if isinstance(report, ScopeStatus):
            await self._tell(interaction, render.scope_status_text(w, report, w._("This server")))
            return
        chart = await asyncio.to_thread(partial(status_chart, report, words=w, font=self.config.chart_font))
        embed = status_embed(w, report).set_image(url="attachment://status.png")
        await interaction.followup.send(embed=embed, file=discord.File(io.BytesIO(chart), "status.png"),
                                        ephemeral=True)

    async def help(self, interaction: discord.Interaction) -> None:
        await self._ack(interaction)
        await self._tell(interaction, help_text(await self._words(interaction)))

    async def settings(self, interaction: discord.Interaction, language: str) -> None:
        """/settings language: keep the user's choice and confirm it in the language chosen."""
        await self._ack(interaction)
        try:
            w = await choose(self.service, self.config.languages, self._user(interaction), language,
                             *_codes(interaction))
        except ReelbotError as exc:
            await self._refuse(interaction, exc)
            return
        interaction.extras["words"] = w
        await self._tell(interaction, chosen_text(w))

    async def on_error(self, interaction: discord.Interaction, error: app_commands.AppCommandError) -> None:
        """Anything unexpected: logged for the admin, a plain apology for the user, never a traceback."""
        cause = error.original if isinstance(error, app_commands.CommandInvokeError) else error
        if isinstance(cause, ReelbotError):
            await self._refuse(interaction, cause)
            return
        wrong_option = isinstance(error, app_commands.TransformerError | app_commands.CommandSignatureMismatch)
        if not wrong_option:
            log.error("Discord command failed", exc_info=cause)
        await self._ack(interaction)
        try:
            w = await self._words(interaction)
        except Exception as exc:  # the apology must not fail for want of the user's words (a database down)
            log.warning("could not find the words of a failed interaction: %s", exc)
            w = self.config.languages.words()
        if wrong_option:
            await self._tell(interaction, w._("That option is not right: {error}", error=str(error)))
            return
        await self._tell(interaction, render.describe_error(w, cause))

    # --- helpers ---

    async def _ack(self, interaction: discord.Interaction) -> None:
        """Acknowledge at once, privately (what follows is for the user alone): before any database read."""
        if not interaction.response.is_done():
            await interaction.response.defer(ephemeral=True, thinking=True)

    async def _ack_in_public(self, interaction: discord.Interaction) -> None:
        """Acknowledge at once with a public "thinking…" reply: the job's message, once it is queued."""
        if interaction.response.is_done():
            return
        callback = await interaction.response.defer(thinking=True)
        self._public.add(interaction.id)
        if callback is not None and callback.message_id:
            interaction.extras["reply_id"] = callback.message_id

    async def _words(self, interaction: discord.Interaction) -> Words:
        """The words of whoever acts (read once per interaction; acknowledge it first)."""
        w = interaction.extras.get("words")
        if not isinstance(w, Words):
            w = interaction.extras["words"] = await words_for(self.service, self.config.languages,
                                                             self._user(interaction), *_codes(interaction))
        return w

    def _place_language(self, interaction: discord.Interaction, asker: Words) -> str:
        """What is said to the place in the asker's absence (a late result): the server's language; in a DM
        the asker's own."""
        if not interaction.guild_id:
            return asker.lang
        return self.config.languages.words(_server_locale(interaction)).lang

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
                raise InvalidImage(N_("{filename} is not a picture I can animate.", filename=picture.filename),
                                   hint=N_("Attach a JPEG, PNG or WebP image."))
            if picture.size > self.config.max_image_bytes:
                raise InvalidImage(N_("That picture is {size:.1f} MB; the limit is {limit:.0f} MB.",
                                      size=picture.size / 1024**2, limit=self.config.max_image_bytes / 1024**2),
                                   hint=N_("Attach a smaller picture."))
            try:
                return await picture.read()
            except discord.HTTPException as exc:
                raise InvalidImage(N_("Discord would not give me that picture."), hint=N_("Attach it again.")) from exc

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
        await self._ack(interaction)
        await self._tell(interaction, render.describe_error(await self._words(interaction), error))


def _scope(interaction: discord.Interaction) -> str:
    """The server a request comes from (its managers' /status counts its jobs); empty in DMs."""
    return f"discord:guild:{interaction.guild_id}" if interaction.guild_id else ""


def _server_locale(interaction: discord.Interaction) -> str | None:
    """The language the server chose, if it chose one: only a Community server can (Discord says en-US for
    every other), so elsewhere ``DEFAULT_LANGUAGE`` speaks for the place."""
    if interaction.guild_locale is None:
        return None
    guild = interaction.guild
    if guild is not None and "COMMUNITY" not in guild.features:
        return None
    return str(interaction.guild_locale)


def _codes(interaction: discord.Interaction) -> tuple[str | None, ...]:
    """The languages an interaction names, most specific first: the user's Discord app's, then the server's."""
    return str(interaction.locale), _server_locale(interaction)

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
from bot.core import actions, admin, previews
from bot.core import settings as core
from bot.core.feed import JobFeed
from bot.core.language import choices, words_for
from bot.core.linking import code_text, linked_text, unlinked_text
from bot.core.models import autocomplete, models_text
from bot.discord import live
from bot.discord.config import DiscordConfig
from bot.discord.live import Reply
from bot.discord.texts import help_text, status_embed
from bot.discord.translator import COMMANDS, command_name, localized
from bot.i18n import Words
from bot.parse import parse_prompt
from engine.controls import ASPECTS, PORTRAIT
from engine.defaults import DELIVERY, PRIVATE, PUBLIC
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

        @app_commands.command(name=command_name(COMMANDS["settings"]), description=localized(
            N_("Your settings: model, frames, fps, language, and where your videos go")))
        @app_commands.describe(
            model=localized(N_("The model for your videos, unless a job names one")),
            frames=localized(N_("How many frames, unless a job says otherwise")),
            fps=localized(N_("Frames per second, unless a job says otherwise")),
            aspect=localized(N_("The shape: 16:9, 9:16, 1:1, 4:5 or 21:9 (like --ar)")),
            motion=localized(N_("How much moves, 1 to 10 (like --motion)")),
            language=localized(N_("The language I answer you in")),
            delivery=localized(N_("Where your videos go: in the channel, or to you by DM")),
            reset=localized(N_("Take a setting back to its default, or all of them")),
        )
        @app_commands.choices(
            aspect=[app_commands.Choice(name=name, value=name) for name in ASPECTS],
            language=[
                *(app_commands.Choice(name=name, value=code) for code, name in choices()),  # each in its own words
                app_commands.Choice(name=localized(N_("Automatic (your Discord app's language)")), value=AUTO),
            ],
            delivery=[
                app_commands.Choice(name=localized(N_("Public: in the channel where you asked")), value=PUBLIC),
                app_commands.Choice(name=localized(N_("Private: to you by DM")), value=PRIVATE),
            ],
            reset=[
                app_commands.Choice(name=localized(N_("All settings")), value=core.RESET),
                app_commands.Choice(name=localized(N_("model")), value="model"),
                app_commands.Choice(name=localized(N_("frames")), value="frames"),
                app_commands.Choice(name=localized(N_("fps")), value="fps"),
                app_commands.Choice(name=localized(N_("aspect ratio")), value="aspect"),
                app_commands.Choice(name=localized(N_("motion")), value="motion"),
                app_commands.Choice(name=localized(N_("language")), value=core.LANGUAGE),
                app_commands.Choice(name=localized(N_("delivery")), value=DELIVERY),
            ],
        )
        async def settings(
            interaction: discord.Interaction, model: str | None = None,
            frames: app_commands.Range[int, 1, 1000] | None = None, fps: app_commands.Range[int, 1, 240] | None = None,
            aspect: app_commands.Choice[str] | None = None, motion: app_commands.Range[int, 1, 10] | None = None,
            language: app_commands.Choice[str] | None = None, delivery: app_commands.Choice[str] | None = None,
            reset: app_commands.Choice[str] | None = None,
        ) -> None:
            given = {"model": model, "frames": frames, "fps": fps, "aspect": aspect.value if aspect else None,
                     "motion": motion, core.LANGUAGE: language.value if language else None,
                     DELIVERY: delivery.value if delivery else None}
            await commands.settings(interaction, {k: str(v) for k, v in given.items() if v is not None},
                                    reset.value if reset else None)

        @settings.autocomplete("model")
        async def settings_models(interaction: discord.Interaction, current: str) -> list[app_commands.Choice[str]]:
            return [app_commands.Choice(name=name, value=name) for name in commands.model_names()
                    if current.strip().lower() in name.lower()][:25]

        @app_commands.command(name=command_name(COMMANDS["link"]), description=localized(
            N_("One account on Discord, Telegram and the web: get a code, or type one")))
        @app_commands.describe(code=localized(N_("The code /link gave you on Telegram or the web console")))
        async def link(interaction: discord.Interaction, code: str | None = None) -> None:
            await commands.link(interaction, code)

        @app_commands.command(name=command_name(COMMANDS["unlink"]),
                              description=localized(N_("Separate your linked accounts again")))
        async def unlink(interaction: discord.Interaction) -> None:
            await commands.unlink(interaction)

        tree.add_command(video)
        tree.add_command(animate)
        tree.add_command(usage)
        tree.add_command(cancel)
        tree.add_command(job)
        tree.add_command(status)
        tree.add_command(help_)
        tree.add_command(settings)
        tree.add_command(self._admin_group())

        @app_commands.command(name=command_name(COMMANDS["preview"]), description=localized(
            N_("Bot admins: one preview picture half-way through each job in this server (on or off)")))
        @app_commands.describe(state=localized(N_("on: show the preview here; off: stop")))
        @app_commands.choices(state=[app_commands.Choice(name="on", value=previews.ON),
                                     app_commands.Choice(name="off", value=previews.OFF)])
        async def preview(interaction: discord.Interaction, state: app_commands.Choice[str]) -> None:
            await commands.preview(interaction, state.value)

        tree.add_command(preview)
        tree.add_command(link)
        tree.add_command(unlink)
        tree.add_command(models)
        tree.on_error = self.on_error  # type: ignore[method-assign]

    def _admin_group(self) -> app_commands.Group:
        """/admin ban|unban|limit|block|unblock|blocklist: visible to all, refused by the engine to anyone
        who is not one of the bot's admins (DISCORD_ADMIN_IDS)."""
        commands = self
        group = app_commands.Group(name=command_name(COMMANDS["admin"]),
                                   description=localized(N_("Run this community: bans, limits, blocked words (admins)")))
        who = localized(N_("The user"))

        @group.command(name=admin.BAN, description=localized(N_("Refuse this user's requests")))
        @app_commands.describe(user=who)
        async def ban(interaction: discord.Interaction, user: discord.User) -> None:
            await commands.admin(interaction, admin.BAN, user, "")

        @group.command(name=admin.UNBAN, description=localized(N_("Allow this user's requests again")))
        @app_commands.describe(user=who)
        async def unban(interaction: discord.Interaction, user: discord.User) -> None:
            await commands.admin(interaction, admin.UNBAN, user, "")

        @group.command(name=admin.LIMIT, description=localized(N_("Set this user's own limits")))
        @app_commands.describe(user=who, limits=localized(N_("Like jobs=3 usd=1.5 queued=2 running=1 (default: the "
                                                              "setting's)")))
        async def limit(interaction: discord.Interaction, user: discord.User, limits: str) -> None:
            await commands.admin(interaction, admin.LIMIT, user, limits)

        @group.command(name=admin.BLOCK, description=localized(N_("Words no prompt may contain")))
        @app_commands.describe(words=localized(N_("Words or phrases, separated by commas")))
        async def block(interaction: discord.Interaction, words: str) -> None:
            await commands.admin(interaction, admin.BLOCK, None, words)

        @group.command(name=admin.UNBLOCK, description=localized(N_("Allow blocked words again")))
        @app_commands.describe(words=localized(N_("Words or phrases, separated by commas")))
        async def unblock(interaction: discord.Interaction, words: str) -> None:
            await commands.admin(interaction, admin.UNBLOCK, None, words)

        @group.command(name=admin.BLOCKLIST, description=localized(N_("The blocked words")))
        async def blocklist(interaction: discord.Interaction) -> None:
            await commands.admin(interaction, admin.BLOCKLIST, None, "")

        return group

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
        if action in actions.AGAIN:
            await self._ack_in_public(interaction)  # the new job gets its own public reply
        else:
            await self._ack(interaction)  # a job on a remote worker can take a few seconds to stop
        try:
            outcome = await actions.perform(self.service, self._user(interaction), action, job_id)
            if outcome.deleted is not None:
                await self._tell(interaction, await self._remove(interaction))
                return
            if outcome.again is not None:  # Retry, Same seed, Extend: a new job, in a new reply
                await self.make(interaction, outcome.again.prompt, outcome.again.options, outcome.again.image)
                return
            await self._tell(interaction, render.outcome_text(await self._words(interaction), outcome))
        except ReelbotError as exc:
            await self._refuse(interaction, exc)

    async def _remove(self, interaction: discord.Interaction) -> str:
        """After Delete: the message goes too (the bot may always delete its own); what the presser reads."""
        w = await self._words(interaction)
        try:
            if interaction.message is not None:
                await interaction.message.delete()
        except discord.HTTPException as exc:
            log.info("could not remove a deleted job's message: %s", exc)
            return w._("Deleted the video's files, but Discord would not let me remove the message.")
        return w._("Deleted.")

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

    async def settings(self, interaction: discord.Interaction, changes: dict[str, str], reset: str | None) -> None:
        """/settings: with no option, every setting and its value; else keep each option given (checked by
        the engine as the flags are), ``reset`` first, and confirm (a language in the language chosen)."""
        await self._ack(interaction)
        user, codes = self._user(interaction), _codes(interaction)
        said = []
        try:
            if reset == core.RESET:
                interaction.extras["words"], line = await core.reset(self.service, self.config.languages, user,
                                                                     *codes)
                said.append(line)
            elif reset:
                changes = {reset: core.DEFAULT_WORDS[0], **changes}
            for name, value in changes.items():
                interaction.extras["words"], line = await core.change(self.service, self.config.languages, user,
                                                                      name, value, *codes)
                said.append(line)
            if not said:
                w = await self._words(interaction)
                how = w._("Change one with the options of /settings (model, frames, fps, language, delivery); "
                          "reset: takes one back to its default, or all of them.")
                said.append(core.settings_text(w, await self.service.settings_of(user), how=how))
        except ReelbotError as exc:
            if said:
                await self._tell(interaction, "\n".join(said))
            await self._refuse(interaction, exc)
            return
        await self._tell(interaction, "\n".join(said))

    def model_names(self) -> list[str]:
        """The models /settings offers: every one a user may pick that something here can run now."""
        return core.model_names(self.service)

    async def admin(self, interaction: discord.Interaction, sub: str, user: discord.abc.User | None,
                    rest: str) -> None:
        """One /admin subcommand, answered to the admin alone."""
        await self._ack(interaction)
        target = UserRef(PLATFORM, str(user.id), user.display_name or user.name) if user is not None else None
        try:
            text = await admin.perform(self.service, await self._words(interaction), self._user(interaction), sub,
                                       target, rest)
        except ReelbotError as exc:
            await self._refuse(interaction, exc)
            return
        await self._tell(interaction, text)

    async def preview(self, interaction: discord.Interaction, state: str) -> None:
        """/preview on|off: this server's (or DM's) preview switch; the engine checks the presser is an admin."""
        await self._ack(interaction)
        on = previews.parse_switch(state)
        place = Origin(PLATFORM, str(interaction.channel_id or ""), scope=_scope(interaction))
        try:
            if on is None:
                raise InvalidInput("state", N_("Say on or off."))
            await self.service.set_preview(self._user(interaction), place, on)
        except ReelbotError as exc:
            await self._refuse(interaction, exc)
            return
        await self._tell(interaction, previews.switched_text(await self._words(interaction), on))

    async def link(self, interaction: discord.Interaction, code: str | None) -> None:
        """/link: a code to type on the other platform; /link code: link with the account that got it. Both
        answered to the user alone (ephemeral), so nobody else sees a code."""
        await self._ack(interaction)
        try:
            user = self._user(interaction)
            text = (linked_text(await self._words(interaction), await self.service.link(user, code)) if code
                    else code_text(await self._words(interaction), await self.service.link_code(user)))
        except ReelbotError as exc:
            await self._refuse(interaction, exc)
            return
        interaction.extras.pop("words", None)  # the account's language may have changed with the link
        await self._tell(interaction, text)

    async def unlink(self, interaction: discord.Interaction) -> None:
        await self._ack(interaction)
        try:
            user = self._user(interaction)
            before = await self.service.unlink(user)
        except ReelbotError as exc:
            await self._refuse(interaction, exc)
            return
        await self._tell(interaction, unlinked_text(await self._words(interaction), user, before))

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

"""The Discord front end's life cycle: build the client, log in, follow the engine's events, connect, stop.

:meth:`DiscordFrontend.prepare` checks the token over REST before the engine starts (the composition root
then registers its deliverer, so results finished while the bot was down are delivered at once);
:meth:`DiscordFrontend.start` connects to the gateway and syncs the slash commands, globally or to
``DISCORD_COMMAND_GUILDS`` at once. The API and gateway addresses come from the config (a proxy, or the
tests' local Discord).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Callable

import aiohttp
import discord
import yarl
from discord import app_commands
from discord.gateway import DiscordWebSocket
from discord.http import Route

from bot.core.feed import JobFeed
from bot.discord import live, views
from bot.discord.commands import PLATFORM, Commands
from bot.discord.config import DiscordConfig
from bot.discord.deliver import DiscordDeliverer
from bot.discord.live import NO_MENTIONS
from bot.discord.translator import CatalogTranslator
from bot.i18n import Words
from engine.errors import ReelbotError
from engine.service import Service
from engine.types import UserRef
from engine.words import N_

log = logging.getLogger(__name__)
READY_TIMEOUT_S = 60.0


class DiscordSetupError(ReelbotError):
    code = "discord_setup"


class ReelbotClient(discord.Client):
    """discord.py's client with reelbot's command tree and persistent job buttons."""

    def __init__(self) -> None:
        intents = discord.Intents.none()
        intents.guilds = True  # server names and channels; no privileged intent is needed
        super().__init__(intents=intents, allowed_mentions=NO_MENTIONS)  # a prompt never pings anyone
        self.tree: app_commands.CommandTree[ReelbotClient] = app_commands.CommandTree(self)
        self.reelbot_press: views.Press | None = None
        self.ready = asyncio.Event()

    async def setup_hook(self) -> None:
        self.add_dynamic_items(views.JobButton)
        await self.tree.set_translator(CatalogTranslator())  # the commands' words in each client's language

    async def on_ready(self) -> None:
        self.ready.set()


class DiscordFrontend:
    """The Discord adapter (a :class:`bot.core.frontend.FrontEnd`): slash commands in, job replies out."""

    platform = PLATFORM

    def __init__(self, service: Service, config: DiscordConfig) -> None:
        # discord.py reads both addresses from class attributes: one Discord per process.
        Route.BASE = config.api_base_url.rstrip("/")
        DiscordWebSocket.DEFAULT_GATEWAY = yarl.URL(config.gateway_url)
        self.service = service
        self.config = config
        self.client = ReelbotClient()
        editor = live.editor(self.client)
        self.feed = JobFeed(service, PLATFORM, editor, where_of=lambda job: live.where_of(job, config.edit_interval_s),
                            buttons=views.waiting, tell_admins=self._tell_admins, languages=config.languages)
        self.commands = Commands(service, self.feed, config)
        self.commands.install(self.client.tree)
        self.client.reelbot_press = self.commands.press
        self.deliverer = DiscordDeliverer(self.client, editor, config.languages)
        self.max_video_bytes: int | None = config.max_upload_bytes
        self._task: asyncio.Task[None] | None = None

    async def prepare(self) -> None:
        """Check the token with Discord and follow the engine's events."""
        try:
            await self.client.login(self.config.token)
        except discord.LoginFailure as exc:
            await self.client.close()
            raise DiscordSetupError(
                N_("Discord refused DISCORD_TOKEN."),
                hint=N_("Copy the token again from the Developer Portal (your app → Bot → Reset Token) into .env."),
            ) from exc
        except (aiohttp.ClientError, discord.HTTPException, OSError) as exc:
            await self.client.close()
            raise DiscordSetupError(
                N_("Could not reach Discord at {url}: {error}.", url=self.config.api_base_url, error=str(exc)),
                hint=N_("Check the network (or DISCORD_API_BASE_URL)."),
            ) from exc
        self.feed.open()

    async def start(self) -> str:
        """Connect to the gateway, wait for READY and sync the commands; returns a line for the console."""
        self._task = asyncio.get_running_loop().create_task(self._connect(), name="discord-gateway")
        ready = asyncio.ensure_future(self.client.ready.wait())
        done, _ = await asyncio.wait({ready, self._task}, timeout=READY_TIMEOUT_S,
                                     return_when=asyncio.FIRST_COMPLETED)
        if ready not in done:
            ready.cancel()
            if self._task in done and self._task.exception() is not None:
                raise DiscordSetupError(N_("Discord's gateway refused the connection: {error}.",
                                           error=str(self._task.exception())),
                                        hint=N_("Check DISCORD_TOKEN (and DISCORD_GATEWAY_URL)."))
            raise DiscordSetupError(N_("Discord's gateway did not answer within {seconds:.0f} s.",
                                       seconds=READY_TIMEOUT_S), hint=N_("Check the network (or DISCORD_GATEWAY_URL)."))
        where = await self._sync()
        user = self.client.user
        return f"Discord: running as {user} in {len(self.client.guilds)} servers (commands {where})."

    async def _connect(self) -> None:
        await self.client.connect(reconnect=True)

    async def _sync(self) -> str:
        tree = self.client.tree
        if not self.config.command_guilds:
            await tree.sync()
            return "registered globally: Discord may take up to an hour to show them"
        for guild_id in self.config.command_guilds:
            guild = discord.Object(int(guild_id))
            tree.copy_global_to(guild=guild)
            await tree.sync(guild=guild)
        return f"registered in {len(self.config.command_guilds)} servers"

    async def stop(self) -> None:
        await self.feed.close()
        await self.client.close()
        if self._task is not None:
            with contextlib.suppress(Exception, asyncio.CancelledError):
                await asyncio.wait_for(self._task, 10)

    async def _tell_admins(self, say: Callable[[Words], str]) -> None:
        """A DM to each admin in DISCORD_ADMIN_IDS, in the language they chose (else the default)."""
        for admin in sorted(self.config.admin_ids):
            try:
                w = self.config.languages.words(await self.service.language_of(UserRef(PLATFORM, admin)))
                user = await self.client.fetch_user(int(admin))
                await user.send(say(w))
            except (discord.HTTPException, ValueError) as exc:
                log.warning("could not tell admin %s on Discord: %s", admin, type(exc).__name__)

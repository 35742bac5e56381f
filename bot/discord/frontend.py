"""The Discord front end's life cycle: build the client, log in, follow the engine's events, connect, stop.

:meth:`DiscordFrontend.prepare` checks the token over REST and registers the deliverer before the engine
starts (results finished while the bot was down are delivered at once); :meth:`DiscordFrontend.start`
connects to the gateway and syncs the slash commands, globally or to ``DISCORD_COMMAND_GUILDS`` at once.
The API and gateway addresses come from settings (a proxy, or the tests' local Discord).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging

import aiohttp
import discord
import yarl
from discord import app_commands
from discord.gateway import DiscordWebSocket
from discord.http import Route

from bot.discord import views
from bot.discord.commands import PLATFORM, Commands
from bot.discord.deliver import DiscordDeliverer
from bot.discord.live import NO_MENTIONS, LiveReplies, Reply
from bot.progress import JobLines, alert_text
from bot.render import header
from engine.errors import NotFound, ReelbotError
from engine.events import Event, ProviderAlert, Queued, Subscription
from engine.service import Service
from reelbot.settings import Settings

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

    async def on_ready(self) -> None:
        self.ready.set()


class DiscordFrontend:
    def __init__(self, service: Service, settings: Settings) -> None:
        if settings.discord_token is None:
            raise DiscordSetupError("DISCORD_TOKEN is not set.",
                                    hint="Create a bot at https://discord.com/developers/applications.")
        # discord.py reads both addresses from class attributes: one Discord per process.
        Route.BASE = settings.discord_api_base_url.rstrip("/")
        DiscordWebSocket.DEFAULT_GATEWAY = yarl.URL(settings.discord_gateway_url)
        self.service = service
        self.settings = settings
        self.client = ReelbotClient()
        self.live = LiveReplies(self.client, interval_s=settings.discord_edit_interval_s)
        self.commands = Commands(service, self.live,
                                 max_image_bytes=settings.max_image_bytes)
        self.commands.install(self.client.tree)
        self.client.reelbot_press = self.commands.press
        self.lines = JobLines()
        self._subscription: Subscription | None = None
        self._task: asyncio.Task[None] | None = None

    async def prepare(self) -> None:
        """Check the token with Discord and take over this platform's deliveries."""
        assert self.settings.discord_token is not None
        try:
            await self.client.login(self.settings.discord_token.get_secret_value())
        except discord.LoginFailure as exc:
            await self.client.close()
            raise DiscordSetupError(
                "Discord refused DISCORD_TOKEN.",
                hint="Copy the token again from the Developer Portal (your app → Bot → Reset Token) into .env.",
            ) from exc
        except (aiohttp.ClientError, discord.HTTPException, OSError) as exc:
            await self.client.close()
            raise DiscordSetupError(
                f"Could not reach Discord at {self.settings.discord_api_base_url}: {exc}.",
                hint="Check the network (or DISCORD_API_BASE_URL).",
            ) from exc
        self.service.register_deliverer(
            PLATFORM, DiscordDeliverer(self.client, self.live),
            max_video_bytes=round(self.settings.discord_max_upload_mb * 1024 * 1024),
        )
        self._subscription = self.service.subscribe(self.on_event)

    async def start(self) -> str:
        """Connect to the gateway, wait for READY and sync the commands; returns a line for the console."""
        self._task = asyncio.get_running_loop().create_task(self._connect(), name="discord-gateway")
        ready = asyncio.ensure_future(self.client.ready.wait())
        done, _ = await asyncio.wait({ready, self._task}, timeout=READY_TIMEOUT_S,
                                     return_when=asyncio.FIRST_COMPLETED)
        if ready not in done:
            ready.cancel()
            if self._task in done and self._task.exception() is not None:
                raise DiscordSetupError(f"Discord's gateway refused the connection: {self._task.exception()}.",
                                        hint="Check DISCORD_TOKEN (and DISCORD_GATEWAY_URL).")
            raise DiscordSetupError(f"Discord's gateway did not answer within {READY_TIMEOUT_S:.0f} s.",
                                    hint="Check the network (or DISCORD_GATEWAY_URL).")
        where = await self._sync()
        user = self.client.user
        return f"Discord: running as {user} in {len(self.client.guilds)} servers (commands {where})."

    async def _connect(self) -> None:
        await self.client.connect(reconnect=True)

    async def _sync(self) -> str:
        tree = self.client.tree
        if not self.settings.discord_command_guilds:
            await tree.sync()
            return "registered globally: Discord may take up to an hour to show them"
        for guild_id in self.settings.discord_command_guilds:
            guild = discord.Object(int(guild_id))
            tree.copy_global_to(guild=guild)
            await tree.sync(guild=guild)
        return f"registered in {len(self.settings.discord_command_guilds)} servers"

    async def stop(self) -> None:
        if self._subscription is not None:
            await self._subscription.close()
        await self.live.aclose()
        await self.client.close()
        if self._task is not None:
            with contextlib.suppress(Exception, asyncio.CancelledError):
                await asyncio.wait_for(self._task, 10)

    # --- engine events -> the job's reply ---

    async def on_event(self, event: Event) -> None:
        if isinstance(event, ProviderAlert):
            await self._tell_admins(alert_text(event))
            return
        if event.platform != PLATFORM:
            return
        line = self.lines.line(event)
        if line is None or (not self.live.tracks(event.job_id) and not await self._follow(event.job_id)):
            return
        offer = self.service.cloud_offer(event.job_id) if isinstance(event, Queued) else None
        self.live.show(event.job_id, line, views.waiting(event.job_id, offer))

    async def _follow(self, job_id: str) -> bool:
        """A job this process did not queue (resumed after a restart): find its reply from its origin."""
        try:
            view = await self.service.get(job_id)
        except NotFound:
            return False
        data = view.origin.data
        if view.state.terminal or "token" not in data:
            return False
        reply = Reply(int(data["app_id"]), str(data["token"]), int(data["message_id"]), float(data["created"]))
        if not reply.fresh():
            return False
        self.live.track(job_id, reply, header(view.id, view.prompt, view.kind))
        return True

    async def _tell_admins(self, text: str) -> None:
        """A DM to each admin in DISCORD_ADMIN_IDS."""
        for admin in sorted(self.settings.admin_ids(PLATFORM)):
            try:
                user = await self.client.fetch_user(int(admin))
                await user.send(text)
            except (discord.HTTPException, ValueError) as exc:
                log.warning("could not tell admin %s on Discord: %s", admin, type(exc).__name__)

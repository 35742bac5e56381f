"""The Telegram front end's life cycle: build the PTB application, follow the engine's events, start, stop.

Order matters at start-up: :meth:`TelegramFrontend.prepare` checks the token and registers the deliverer
before the engine starts (so results finished while the bot was down are delivered at once); updates are
only taken in :meth:`TelegramFrontend.start`, after the engine has resumed its jobs.
"""

from __future__ import annotations

import functools
import logging
import secrets
from urllib.parse import urlsplit

from telegram import BotCommand
from telegram.error import InvalidToken, TelegramError
from telegram.ext import Application, ApplicationBuilder

from bot.progress import JobLines, alert_text
from bot.render import header
from bot.telegram import keyboards
from bot.telegram.deliver import TelegramDeliverer
from bot.telegram.flood import FloodWait, patiently
from bot.telegram.handlers import PLATFORM, Handlers
from bot.telegram.live import LiveMessages
from bot.telegram.texts import COMMANDS
from bot.telegram.webhook import WebhookServer
from engine.errors import NotFound, ReelbotError
from engine.events import Event, ProviderAlert, Queued, Subscription
from engine.service import Service
from reelbot.settings import Settings

log = logging.getLogger(__name__)
UPDATES = ["message", "callback_query"]


class TelegramSetupError(ReelbotError):
    code = "telegram_setup"


class TelegramFrontend:
    def __init__(self, service: Service, settings: Settings) -> None:
        if settings.telegram_token is None:
            raise TelegramSetupError("TELEGRAM_TOKEN is not set.", hint="Get a token from @BotFather.")
        self.service = service
        self.settings = settings
        self.app: Application = (  # type: ignore[type-arg]
            ApplicationBuilder()
            .token(settings.telegram_token.get_secret_value())
            .base_url(settings.telegram_api_base_url)
            .base_file_url(settings.telegram_file_base_url)
            .concurrent_updates(True)
            .media_write_timeout(300.0)
            .build()
        )
        self.live = LiveMessages(
            self.app.bot,
            private_interval_s=settings.telegram_edit_interval_private_s,
            group_interval_s=settings.telegram_edit_interval_group_s,
        )
        self.handlers = Handlers(
            service, self.live,
            max_download_bytes=round(settings.telegram_max_download_mb * 1024 * 1024),
        )
        self.handlers.install(self.app)
        self.lines = JobLines()
        self._subscription: Subscription | None = None
        self._webhook: WebhookServer | None = None
        self.username = ""

    async def prepare(self) -> None:
        """Check the token with Telegram and take over this platform's deliveries."""
        try:
            await self.app.initialize()
        except InvalidToken as exc:
            raise TelegramSetupError(
                "Telegram refused TELEGRAM_TOKEN.",
                hint="Copy the token again from @BotFather (/mybots → API Token) into .env.",
            ) from exc
        except TelegramError as exc:
            raise TelegramSetupError(
                f"Could not reach Telegram at {self.settings.telegram_api_base_url}: {exc}.",
                hint="Check the network, or TELEGRAM_API_BASE_URL if you run your own Bot API server.",
            ) from exc
        self.username = self.app.bot.username
        self.service.register_deliverer(
            PLATFORM, TelegramDeliverer(self.app.bot, self.live),
            max_video_bytes=round(self.settings.telegram_max_upload_mb * 1024 * 1024),
        )
        self._subscription = self.service.subscribe(self.on_event)

    async def start(self) -> str:
        """Take updates (polling or webhook); returns a line saying how, for the console."""
        try:
            await patiently(lambda: self.app.bot.set_my_commands([BotCommand(n, d) for n, d in COMMANDS]))
        except TelegramError as exc:  # the menu is a nicety; the bot works without it
            log.warning("could not set the Telegram command menu: %s", exc)
        await self.app.start()
        updater = self.app.updater
        assert updater is not None
        if self.settings.telegram_mode == "webhook":
            given = self.settings.telegram_webhook_secret
            secret = given.get_secret_value() if given else secrets.token_urlsafe(32)
            self._webhook = WebhookServer(
                self.app, path=urlsplit(self.settings.telegram_webhook_url).path, secret=secret,
                listen=self.settings.telegram_webhook_listen, port=self.settings.telegram_webhook_port,
            )
            await self._webhook.start()
            await patiently(lambda: self.app.bot.set_webhook(
                self.settings.telegram_webhook_url, secret_token=secret, allowed_updates=UPDATES))
            how = f"webhook at {self.settings.telegram_webhook_url}"
        else:
            await updater.start_polling(
                timeout=self.settings.telegram_poll_timeout_s, allowed_updates=UPDATES,
                error_callback=self._polling_error,
            )
            how = "polling"
        return f"Telegram: running as @{self.username} ({how})."

    async def stop(self) -> None:
        if self._webhook is not None:
            await self._webhook.stop()
        updater = self.app.updater
        if updater is not None and updater.running:
            await updater.stop()
        if self.app.running:
            await self.app.stop()
        if self._subscription is not None:
            await self._subscription.close()
        await self.live.aclose()
        await self.app.shutdown()

    def _polling_error(self, exc: TelegramError) -> None:
        # PTB keeps polling with backoff; say it once per failure, without the token-bearing URL.
        log.warning("Telegram polling failed (retrying): %s", type(exc).__name__)

    # --- engine events -> the job's message ---

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
        self.live.show(event.job_id, line, keyboards.waiting(event.job_id, offer))

    async def _tell_admins(self, text: str) -> None:
        """A private message to each admin (TELEGRAM_ADMIN_IDS) who has started a chat with the bot."""
        for admin in sorted(self.settings.admin_ids(PLATFORM)):
            try:
                await patiently(functools.partial(self.app.bot.send_message, int(admin), text))
            except (TelegramError, FloodWait, ValueError) as exc:
                log.warning("could not tell admin %s on Telegram: %s", admin, type(exc).__name__)

    async def _follow(self, job_id: str) -> bool:
        """A job this process did not queue (resumed after a restart): find its message from its origin."""
        try:
            view = await self.service.get(job_id)
        except NotFound:
            return False
        data = view.origin.data
        if view.state.terminal or "message_id" not in data:
            return False
        self.live.track(job_id, int(view.origin.chat_id), int(data["message_id"]), str(data.get("chat_type", "")),
                        header(view.id, view.prompt, view.kind))
        return True

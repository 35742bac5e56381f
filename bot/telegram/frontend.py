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

from bot.render import header, queued_line, retrying_line, running_line
from bot.telegram import keyboards
from bot.telegram.deliver import TelegramDeliverer
from bot.telegram.flood import FloodWait, patiently
from bot.telegram.handlers import PLATFORM, Handlers
from bot.telegram.live import LiveMessages
from bot.telegram.texts import COMMANDS
from engine.errors import NotFound, ReelbotError
from engine.events import Ended, Event, Progress, ProviderAlert, Queued, Retrying, Started, Subscription
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
            service, self.live, admin_ids=settings.admin_ids(PLATFORM),
            max_download_bytes=round(settings.telegram_max_download_mb * 1024 * 1024),
        )
        self.handlers.install(self.app)
        # job id -> (backend, model, estimated cost) once started
        self._running_on: dict[str, tuple[str | None, str | None, float]] = {}
        self._subscription: Subscription | None = None
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
            secret = self.settings.telegram_webhook_secret
            await updater.start_webhook(
                listen=self.settings.telegram_webhook_listen,
                port=self.settings.telegram_webhook_port,
                url_path=urlsplit(self.settings.telegram_webhook_url).path.lstrip("/"),
                webhook_url=self.settings.telegram_webhook_url,
                secret_token=secret.get_secret_value() if secret else secrets.token_urlsafe(32),
                allowed_updates=UPDATES,
            )
            how = f"webhook at {self.settings.telegram_webhook_url}"
        else:
            await updater.start_polling(
                timeout=self.settings.telegram_poll_timeout_s, allowed_updates=UPDATES,
                error_callback=self._polling_error,
            )
            how = "polling"
        return f"Telegram: running as @{self.username} ({how})."

    async def stop(self) -> None:
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
            await self._tell_admins(f"⚠ {event.backend} is out of the fallback chain: {event.message}")
            return
        if event.platform != PLATFORM:
            return
        if isinstance(event, Ended):
            self._running_on.pop(event.job_id, None)
            return  # the deliverer writes the last word, also after a restart
        if not self.live.tracks(event.job_id) and not await self._follow(event.job_id):
            return
        if isinstance(event, Queued):
            offer = self.service.cloud_offer(event.job_id)
            self.live.show(event.job_id, queued_line(event.position, event.eta_s),
                           keyboards.waiting(event.job_id, offer))
        elif isinstance(event, Started):
            self._running_on[event.job_id] = (event.backend, event.model, event.estimate_usd)
            self.live.show(event.job_id, running_line(event.backend, None, event.model, event.estimate_usd),
                           keyboards.waiting(event.job_id))
        elif isinstance(event, Progress):
            backend, model, cost = self._running_on.get(event.job_id, (None, None, 0.0))
            self.live.show(event.job_id, running_line(backend, (event.step, event.total), model, cost),
                           keyboards.waiting(event.job_id))
        elif isinstance(event, Retrying):
            self.live.show(event.job_id, retrying_line(event.failed_backend, event.reason, event.next_backend),
                           keyboards.waiting(event.job_id))

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

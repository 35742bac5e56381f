"""The Telegram front end's life cycle: build the PTB application, follow the engine's events, start, stop.

Order matters at start-up: :meth:`TelegramFrontend.prepare` checks the token before the engine starts (the
composition root then registers its deliverer, so results finished while the bot was down are delivered at
once); updates are only taken in :meth:`TelegramFrontend.start`, after the engine has resumed its jobs.
"""

from __future__ import annotations

import functools
import logging
import secrets
from collections.abc import Callable
from urllib.parse import urlsplit

from telegram import BotCommand
from telegram.error import InvalidToken, TelegramError
from telegram.ext import Application, ApplicationBuilder

from bot.core.feed import JobFeed
from bot.i18n import Words, languages, words
from bot.telegram import keyboards, live
from bot.telegram.config import TelegramConfig
from bot.telegram.deliver import TelegramDeliverer
from bot.telegram.flood import FloodWait, patiently
from bot.telegram.handlers import Handlers
from bot.telegram.texts import commands
from bot.telegram.webhook import WebhookServer
from bot.telegram.who import PLATFORM
from engine.errors import ReelbotError
from engine.service import Service
from engine.types import UserRef
from engine.words import N_

log = logging.getLogger(__name__)
UPDATES = ["message", "callback_query"]


class TelegramSetupError(ReelbotError):
    code = "telegram_setup"


class TelegramFrontend:
    """The Telegram adapter (a :class:`bot.core.frontend.FrontEnd`): updates in, job messages out."""

    platform = PLATFORM

    def __init__(self, service: Service, config: TelegramConfig) -> None:
        self.service = service
        self.config = config
        self.app: Application = (  # type: ignore[type-arg]
            ApplicationBuilder()
            .token(config.token)
            .base_url(config.api_base_url)
            .base_file_url(config.file_base_url)
            .concurrent_updates(True)
            .media_write_timeout(300.0)
            .build()
        )
        editor = live.editor(self.app.bot)
        self.feed = JobFeed(service, PLATFORM, editor, where_of=functools.partial(live.where_of, config),
                            buttons=keyboards.waiting, tell_admins=self._tell_admins, languages=config.languages)
        self.handlers = Handlers(service, self.feed, config)
        self.handlers.install(self.app)
        self.deliverer = TelegramDeliverer(self.app.bot, editor, config)
        self.max_video_bytes: int | None = config.max_upload_bytes
        self._webhook: WebhookServer | None = None
        self.username = ""

    async def prepare(self) -> None:
        """Check the token with Telegram and follow the engine's events."""
        try:
            await self.app.initialize()
        except InvalidToken as exc:
            raise TelegramSetupError(
                N_("Telegram refused TELEGRAM_TOKEN."),
                hint=N_("Copy the token again from @BotFather (/mybots → API Token) into .env."),
            ) from exc
        except TelegramError as exc:
            raise TelegramSetupError(
                N_("Could not reach Telegram at {url}: {detail}.", url=self.config.api_base_url, detail=str(exc)),
                hint=N_("Check the network, or TELEGRAM_API_BASE_URL if you run your own Bot API server."),
            ) from exc
        self.username = self.app.bot.username
        self.feed.open()

    async def start(self) -> str:
        """Take updates (polling or webhook); returns a line saying how, for the console."""
        await self._set_menus()
        await self.app.start()
        updater = self.app.updater
        assert updater is not None
        config = self.config
        if config.mode == "webhook":
            secret = config.webhook_secret or secrets.token_urlsafe(32)
            self._webhook = WebhookServer(
                self.app, path=urlsplit(config.webhook_url).path, secret=secret,
                listen=config.webhook_listen, port=config.webhook_port,
            )
            await self._webhook.start()
            await patiently(lambda: self.app.bot.set_webhook(
                config.webhook_url, secret_token=secret, allowed_updates=UPDATES))
            how = f"webhook at {config.webhook_url}"
        else:
            await updater.start_polling(
                timeout=config.poll_timeout_s, allowed_updates=UPDATES, error_callback=self._polling_error,
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
        await self.feed.close()
        await self.app.shutdown()

    async def _set_menus(self) -> None:
        """The command menu in the default language for everyone, and in each other language reelbot speaks
        for the people whose Telegram app is in that language."""
        default = self.config.languages.words()
        menus = [(None, default)] + [(lang, words(lang)) for lang in languages() if lang != default.lang]
        for code, w in menus:
            menu = [BotCommand(name, description) for name, description in commands(w)]
            try:
                await patiently(functools.partial(self.app.bot.set_my_commands, menu, language_code=code))
            except (TelegramError, FloodWait) as exc:  # the menu is a nicety; the bot works without it
                log.warning("could not set the Telegram command menu (%s): %s", code or "default", exc)

    def _polling_error(self, exc: TelegramError) -> None:
        # PTB keeps polling with backoff; say it once per failure, without the token-bearing URL.
        log.warning("Telegram polling failed (retrying): %s", type(exc).__name__)

    async def _tell_admins(self, say: Callable[[Words], str]) -> None:
        """A private message to each admin (TELEGRAM_ADMIN_IDS) who has started a chat with the bot, in the
        language they chose (else the default)."""
        for admin in sorted(self.config.admin_ids):
            try:
                w = self.config.languages.words(await self.service.language_of(UserRef(PLATFORM, admin)))
                await patiently(functools.partial(self.app.bot.send_message, int(admin), say(w)))
            except (TelegramError, FloodWait, ValueError) as exc:
                log.warning("could not tell admin %s on Telegram: %s", admin, type(exc).__name__)

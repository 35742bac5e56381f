"""The front ends the settings ask for (the chats, the web console), each given a small config of its own (bot/
never reads Settings).

A new front end plugs in here: a config from the settings, and its adapter (a ``bot.core.frontend.FrontEnd``)
in :func:`build_frontends`; ``App.start`` then prepares, starts and stops it with the others.
"""

from __future__ import annotations

import asyncio
import os
import secrets
from collections.abc import Sequence

from bot.core.frontend import FrontEnd
from bot.discord.config import DiscordConfig
from bot.telegram.config import TelegramConfig
from bot.web.config import CheckLine, Checkup, DiscordSignIn, WebConfig
from engine.service import Service
from engine.words import N_, Text
from reelbot.languages import languages
from reelbot.settings import Settings

MB = 1024 * 1024


def discord_config(settings: Settings) -> DiscordConfig | None:
    if settings.discord_token is None:
        return None
    return DiscordConfig(
        token=settings.discord_token.get_secret_value(),
        api_base_url=settings.discord_api_base_url,
        gateway_url=settings.discord_gateway_url,
        command_guilds=tuple(settings.discord_command_guilds),
        edit_interval_s=settings.discord_edit_interval_s,
        max_upload_bytes=round(settings.discord_max_upload_mb * MB),
        max_image_bytes=settings.max_image_bytes,
        admin_ids=settings.admin_ids("discord"),
        chart_font=_path(settings),
        languages=languages(settings),
    )


def telegram_config(settings: Settings) -> TelegramConfig | None:
    if settings.telegram_token is None:
        return None
    secret = settings.telegram_webhook_secret
    return TelegramConfig(
        token=settings.telegram_token.get_secret_value(),
        api_base_url=settings.telegram_api_base_url,
        file_base_url=settings.telegram_file_base_url,
        mode=settings.telegram_mode,
        poll_timeout_s=settings.telegram_poll_timeout_s,
        webhook_url=settings.telegram_webhook_url,
        webhook_listen=settings.telegram_webhook_listen,
        webhook_port=settings.telegram_webhook_port,
        webhook_secret=secret.get_secret_value() if secret else None,
        edit_interval_private_s=settings.telegram_edit_interval_private_s,
        edit_interval_group_s=settings.telegram_edit_interval_group_s,
        max_upload_bytes=round(settings.telegram_max_upload_mb * MB),
        max_download_bytes=round(settings.telegram_max_download_mb * MB),
        admin_ids=settings.admin_ids("telegram"),
        chart_font=_path(settings),
        languages=languages(settings),
    )


def web_config(settings: Settings, *, checkup: Checkup | None = None, demo: Text | None = None) -> WebConfig | None:
    if not settings.web_enabled:
        return None
    discord = None
    if settings.discord_client_id and settings.discord_client_secret is not None:
        discord = DiscordSignIn(settings.discord_client_id, settings.discord_client_secret.get_secret_value(),
                                api_base_url=settings.discord_api_base_url, oauth_url=settings.discord_oauth_url)
    password = settings.web_password.get_secret_value() if settings.web_password else None
    return WebConfig(
        host=settings.web_host, port=settings.web_port, public_url=settings.web_public_url,
        secret_key=web_secret(settings), password=password or None, session_days=settings.web_session_days,
        languages=languages(settings), max_image_bytes=settings.max_image_bytes, discord=discord,
        telegram_token=settings.telegram_token.get_secret_value() if settings.telegram_token else None,
        telegram_login_url=settings.telegram_login_url, checkup=checkup, chart_font=_path(settings), demo=demo,
    )


def web_secret(settings: Settings) -> str:
    """WEB_SECRET_KEY, else the key made once and kept in DATA_DIR/web-secret (readable by reelbot alone), so
    people stay signed in across restarts."""
    if settings.web_secret_key is not None and settings.web_secret_key.get_secret_value():
        return settings.web_secret_key.get_secret_value()
    path = settings.data_dir / "web-secret"
    try:
        kept = path.read_text().strip()
        if len(kept) >= 32:
            return kept
    except FileNotFoundError:
        pass
    key = secrets.token_urlsafe(48)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w") as out:
        out.write(key)
    return key


def _checkup(settings: Settings) -> Checkup:
    """The doctor's checks, run when an admin opens the check-up page (the doctor is imported only then)."""

    async def checkup() -> Sequence[CheckLine]:
        from reelbot.doctor import run_checks

        return await asyncio.to_thread(run_checks, settings)

    return checkup


def _path(settings: Settings) -> str | None:
    return str(settings.chart_font) if settings.chart_font is not None else None


def build_frontends(service: Service, settings: Settings, *, demo: Text | None = None) -> list[FrontEnd]:
    """Every chat front end whose token is set. Each platform's library is imported only when its front end
    runs: importing python-telegram-bot alone made the Discord-only burst of bench/interactions.py
    acknowledge about twice as slowly."""
    frontends: list[FrontEnd] = []
    if (discord := discord_config(settings)) is not None:
        from bot.discord.frontend import DiscordFrontend

        frontends.append(DiscordFrontend(service, discord))
    if (telegram := telegram_config(settings)) is not None:
        from bot.telegram.frontend import TelegramFrontend

        frontends.append(TelegramFrontend(service, telegram))
    if (web := web_config(settings, checkup=_checkup(settings), demo=demo)) is not None:
        from bot.web.frontend import WebFrontend

        frontends.append(WebFrontend(service, web))
    return frontends


def not_started(settings: Settings) -> list[Text]:
    """Say plainly which front ends do not start, and why (the running ones say so when started); with no
    chat bot at all, the web console is the way in."""
    lines = []
    if settings.discord_token is None:
        lines.append(N_("{platform}: not started ({setting} is not set).", platform="Discord", setting="DISCORD_TOKEN"))
    if settings.telegram_token is None:
        lines.append(N_("{platform}: not started ({setting} is not set).", platform="Telegram",
                        setting="TELEGRAM_TOKEN"))
    if not settings.web_enabled:
        lines.append(N_("Web console: off (WEB_ENABLED=false)."))
    elif settings.discord_token is None and settings.telegram_token is None:
        lines.append(N_("No chat bot is set up yet: open the web console below to make videos, or set "
                        "DISCORD_TOKEN or TELEGRAM_TOKEN in .env."))
    return lines

"""The chat front ends the settings ask for, each given a small config of its own (bot/ never reads Settings).

A new front end plugs in here: a config from the settings, and its adapter (a ``bot.core.frontend.FrontEnd``)
in :func:`build_frontends`; ``App.start`` then prepares, starts and stops it with the others.
"""

from __future__ import annotations

from bot.core.frontend import FrontEnd
from bot.discord.config import DiscordConfig
from bot.telegram.config import TelegramConfig
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
        languages=languages(settings),
    )


def build_frontends(service: Service, settings: Settings) -> list[FrontEnd]:
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
    return frontends


def not_started(settings: Settings) -> list[Text]:
    """Say plainly which chat front ends do not start, and why (the running ones say so when started)."""
    lines = []
    if settings.discord_token is None:
        lines.append(N_("{platform}: not started ({setting} is not set).", platform="Discord", setting="DISCORD_TOKEN"))
    if settings.telegram_token is None:
        lines.append(N_("{platform}: not started ({setting} is not set).", platform="Telegram",
                        setting="TELEGRAM_TOKEN"))
    return lines

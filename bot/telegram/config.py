"""What the Telegram front end needs to know, filled by the composition root from the operator's settings."""

from __future__ import annotations

from dataclasses import dataclass, field

from bot.i18n import Languages


@dataclass(frozen=True, slots=True)
class TelegramConfig:
    token: str = field(repr=False)  # TELEGRAM_TOKEN
    api_base_url: str = "https://api.telegram.org/bot"  # a self-hosted Bot API server: its /bot
    file_base_url: str = "https://api.telegram.org/file/bot"
    mode: str = "polling"  # or "webhook"
    poll_timeout_s: int = 10
    webhook_url: str = ""  # the public https address Telegram posts updates to
    webhook_listen: str = "0.0.0.0"
    webhook_port: int = 8443
    webhook_secret: str | None = field(default=None, repr=False)  # None: a random one per start
    edit_interval_private_s: float = 1.0  # Telegram allows about one edit a second in a private chat
    edit_interval_group_s: float = 3.0  # and 20 a minute in a group
    max_upload_bytes: int = 50 * 1024 * 1024  # Telegram's cap for bots; up to 2000 MB on your own server
    max_download_bytes: int = 20 * 1024 * 1024  # what bots may download; no cap on your own server
    admin_ids: frozenset[str] = frozenset()  # user ids told about provider trouble in a private chat
    languages: Languages = Languages()  # DEFAULT_LANGUAGE and TIMEZONE: who hears what, and the clock

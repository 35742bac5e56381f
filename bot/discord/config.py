"""What the Discord front end needs to know, filled by the composition root from the operator's settings."""

from __future__ import annotations

from dataclasses import dataclass, field

from bot.i18n import Languages


@dataclass(frozen=True, slots=True)
class DiscordConfig:
    token: str = field(repr=False)  # DISCORD_TOKEN
    api_base_url: str = "https://discord.com/api/v10"  # DISCORD_API_BASE_URL
    gateway_url: str = "wss://gateway.discord.gg/"  # DISCORD_GATEWAY_URL
    command_guilds: tuple[str, ...] = ()  # commands appear there at once; empty: registered globally
    edit_interval_s: float = 1.5  # least time between two edits of one job's message
    max_upload_bytes: int = 10 * 1024 * 1024  # videos are fitted under this (servers without boosts)
    max_image_bytes: int = 20 * 1024 * 1024  # pictures to animate: larger ones are refused before download
    admin_ids: frozenset[str] = frozenset()  # user ids told about provider trouble by DM
    languages: Languages = Languages()  # DEFAULT_LANGUAGE and TIMEZONE: who hears what, and the clock

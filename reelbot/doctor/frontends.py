"""Chat front ends: whether each bot token is set and has the shape its platform gives out, and whether the
/status chart has a font that draws Hangul."""

from __future__ import annotations

import re
from collections.abc import Callable
from typing import TYPE_CHECKING

from reelbot.doctor.base import Check, secret

if TYPE_CHECKING:
    from reelbot.settings import Settings


def front_ends(settings: Settings) -> list[Check]:
    return [
        _front_end(
            "Discord token",
            secret(settings.discord_token),
            "DISCORD_TOKEN",
            "Discord",
            lambda token: token.count(".") == 2 and all(token.split(".")) and " " not in token,
            "three parts joined by dots",
            "https://discord.com/developers/applications > your app > Bot > Reset Token",
        ),
        _front_end(
            "Telegram token",
            secret(settings.telegram_token),
            "TELEGRAM_TOKEN",
            "Telegram",
            lambda token: re.fullmatch(r"\d+:[\w-]+", token) is not None,
            "digits, a colon, then letters",
            "@BotFather in Telegram, /newbot or /token",
        ),
        chart_font(settings),
    ]


def chart_font(settings: Settings) -> Check:
    """The /status chart's font (bot/fonts.py): one with Hangul, or why Korean would show as boxes."""
    from PIL import ImageFont

    from bot.fonts import INSTALL
    from bot.fonts import chart_font as find

    override = str(settings.chart_font) if settings.chart_font is not None else None
    found = find(override)
    if found.path is None:
        return Check("Chart font", None, "no font with Hangul: Korean in the /status chart shows as boxes",
                     fix=INSTALL)
    family, style = ImageFont.truetype(found.path, 14, index=found.index).getname()
    if override is not None and found.path != override:
        return Check("Chart font", False, f"CHART_FONT={override} cannot be read or has no Hangul; using "
                     f"{family} ({found.path})", fix="Point CHART_FONT at a .ttf, .otf or .ttc with Hangul.")
    return Check("Chart font", True, f"{family} {style} ({found.path})")


def _front_end(
    name: str,
    token: str | None,
    env: str,
    platform_name: str,
    looks_right: Callable[[str], bool],
    shape: str,
    where: str,
) -> Check:
    if not token:
        return Check(
            name,
            None,
            f"not set (the {platform_name} front end will not start)",
            fix=f"Set {env} in .env to start it; get one from {where}.",
        )
    if token.lower().startswith("bot "):
        return Check(
            name,
            False,
            f"set ({len(token)} characters), but starts with 'Bot '",
            fix=f"Put only the token itself in {env}, without 'Bot '.",
        )
    if not looks_right(token):
        return Check(
            name,
            False,
            f"set ({len(token)} characters), but it does not look like a {platform_name} bot token ({shape})",
            fix=f"Copy the token again from {where} into {env}.",
        )
    return Check(name, True, "set")

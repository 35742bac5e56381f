"""Chat front ends: whether each bot token is set and has the shape its platform gives out, and whether the
/status chart has a font that draws Hangul."""

from __future__ import annotations

import re
from collections.abc import Callable
from typing import TYPE_CHECKING

from engine.words import N_, Text
from reelbot.doctor.base import Check, secret

if TYPE_CHECKING:
    from reelbot.settings import Settings


def front_ends(settings: Settings) -> list[Check]:
    return [
        _front_end(
            N_("{platform} token", platform="Discord"),
            secret(settings.discord_token),
            "DISCORD_TOKEN",
            "Discord",
            lambda token: token.count(".") == 2 and all(token.split(".")) and " " not in token,
            N_("three parts joined by dots"),
            N_("https://discord.com/developers/applications > your app > Bot > Reset Token"),
        ),
        _front_end(
            N_("{platform} token", platform="Telegram"),
            secret(settings.telegram_token),
            "TELEGRAM_TOKEN",
            "Telegram",
            lambda token: re.fullmatch(r"\d+:[\w-]+", token) is not None,
            N_("digits, a colon, then letters"),
            N_("@BotFather in Telegram, /newbot or /token"),
        ),
        chart_font(settings),
        web_console(settings),
    ]


def web_console(settings: Settings) -> Check:
    """Where the console listens, and whether anyone can sign in to it there, safely."""
    name = N_("Web console")
    if not settings.web_enabled:
        return Check(name, None, N_("off (WEB_ENABLED=false)"))
    host = settings.web_host
    url = settings.web_public_url or f"http://{host}:{settings.web_port}"
    if bool(settings.discord_client_id) != bool(secret(settings.discord_client_secret)):
        return Check(name, False, N_("Discord sign-in needs both DISCORD_CLIENT_ID and DISCORD_CLIENT_SECRET"),
                     fix=N_("Copy both from https://discord.com/developers/applications > your app > OAuth2."))
    if host in ("127.0.0.1", "localhost", "::1"):
        return Check(name, True, N_("{url}, this computer only (sign in with the link `reelbot run` prints)",
                                    url=url))
    ways = [way for way, on in (("WEB_PASSWORD", secret(settings.web_password)),
                                ("Discord", settings.discord_client_id), ("Telegram", secret(settings.telegram_token)))
            if on]
    if not ways:
        return Check(name, False, N_("{url} is open to the network, but nobody can sign in", url=url),
                     fix=N_("Set WEB_PASSWORD (and, for your members, DISCORD_CLIENT_ID and DISCORD_CLIENT_SECRET), "
                            "or set WEB_HOST=127.0.0.1."))
    if not url.startswith("https://"):
        return Check(name, False, N_("{url} is open to the network without https: passwords and sign-ins cross it "
                                     "unencrypted", url=url),
                     fix=N_("Serve it behind an https proxy (Caddy, nginx) and set WEB_PUBLIC_URL=https://..., or "
                            "set WEB_HOST=127.0.0.1."))
    return Check(name, True, N_("{url}, sign-in: {ways}", url=url, ways=", ".join(ways)))


def chart_font(settings: Settings) -> Check:
    """The /status chart's font (bot/fonts.py): one with Hangul, or why Korean would show as boxes."""
    from PIL import ImageFont

    from bot.fonts import chart_font as find

    name = N_("Chart font")
    override = str(settings.chart_font) if settings.chart_font is not None else None
    found = find(override)
    if found.path is None:
        return Check(name, None, N_("no font with Hangul: Korean in the /status chart shows as boxes"),
                     fix=N_("Install Noto Sans CJK (Debian/Ubuntu: apt-get install fonts-noto-cjk; Fedora: dnf "
                            "install google-noto-sans-cjk-fonts) or set CHART_FONT to a .ttf, .otf or .ttc file "
                            "with Hangul."))
    family, style = ImageFont.truetype(found.path, 14, index=found.index).getname()
    font = f"{family} {style} ({found.path})"
    if override is not None and found.path != override:
        return Check(name, False, N_("CHART_FONT={path} cannot be read or has no Hangul; using {font}",
                                     path=override, font=font),
                     fix=N_("Point CHART_FONT at a .ttf, .otf or .ttc file with Hangul."))
    return Check(name, True, font)


def _front_end(
    name: Text,
    token: str | None,
    env: str,
    platform_name: str,
    looks_right: Callable[[str], bool],
    shape: Text,
    where: Text,
) -> Check:
    if not token:
        return Check(
            name,
            None,
            N_("not set (the {platform} front end will not start)", platform=platform_name),
            fix=N_("Set {setting} in .env to start it; get one from {where}.", setting=env, where=where),
        )
    if token.lower().startswith("bot "):
        return Check(
            name,
            False,
            N_("set ({length} characters), but starts with 'Bot '", length=len(token)),
            fix=N_("Put only the token itself in {setting}, without 'Bot '.", setting=env),
        )
    if not looks_right(token):
        return Check(
            name,
            False,
            N_("set ({length} characters), but it does not look like a {platform} bot token ({shape})",
               length=len(token), platform=platform_name, shape=shape),
            fix=N_("Copy the token again from {where} into {setting}.", where=where, setting=env),
        )
    return Check(name, True, N_("set"))

"""Chat front ends: whether each bot token is set and has the shape its platform gives out."""

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
    ]


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

"""Languages: which ones reelbot speaks here (English, and each language with a catalog), and the
installation's choices, DEFAULT_LANGUAGE and TIMEZONE."""

from __future__ import annotations

from typing import TYPE_CHECKING

from engine.words import N_, Text
from reelbot.doctor.base import Check, both

if TYPE_CHECKING:
    from reelbot.settings import Settings

NAME = N_("Languages")


def languages(settings: Settings) -> Check:
    from bot.i18n import language_name
    from bot.i18n import languages as spoken

    available = ", ".join(f"{language_name(lang)} ({lang})" for lang in spoken())
    default = settings.default_language
    chosen: Text | str = (
        f"DEFAULT_LANGUAGE={default}" if default
        else N_("DEFAULT_LANGUAGE is not set: chat users get their app's language (else English), the "
                "terminal its LANG")
    )
    detail = both(available, chosen)
    zone = getattr(settings, "timezone", None)  # TIMEZONE: times are shown (and days counted) there
    if zone:
        detail = both(detail, f"TIMEZONE={zone}")
    return Check(NAME, True, detail)

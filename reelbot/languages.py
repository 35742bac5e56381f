"""Which language reelbot speaks where, from the settings: ``DEFAULT_LANGUAGE`` for chat users whose app
says nothing reelbot speaks, and the terminal's own language (``LANG``) for the CLI; times in TIMEZONE."""

from __future__ import annotations

import locale
import os
from collections.abc import Mapping

from bot.i18n import Languages, Words, pick, prepare, words
from reelbot.settings import Settings


def languages(settings: Settings) -> Languages:
    """DEFAULT_LANGUAGE; the catalogs are compiled here, at start."""
    prepare()
    return Languages(settings.default_language or "en")


def terminal_words(settings: Settings, environ: Mapping[str, str] = os.environ) -> Words:
    """The CLI's language: ``DEFAULT_LANGUAGE`` when the operator set it, else the terminal's (``LC_ALL``,
    ``LC_MESSAGES``, ``LANG``; Windows' own locale name), else English."""
    return languages(settings).words(settings.default_language or None, _terminal(environ))


def unsettled_words(environ: Mapping[str, str] = os.environ) -> Words:
    """The CLI's language when the settings cannot be read (to say what is wrong with them): a
    ``DEFAULT_LANGUAGE`` in the environment if reelbot speaks it, else the terminal's, else English."""
    return words(pick(environ.get("DEFAULT_LANGUAGE"), _terminal(environ)))


def _terminal(environ: Mapping[str, str]) -> str | None:
    terminal = next((environ[name] for name in ("LC_ALL", "LC_MESSAGES", "LANG") if environ.get(name)), None)
    if terminal is None and os.name == "nt":
        terminal = locale.getlocale()[0]
    return terminal

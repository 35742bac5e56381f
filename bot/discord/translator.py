"""The slash commands in each Discord user's language: names, descriptions and choices from the catalog.

A command's words are written ``localized(N_("How to use this bot"))`` (descriptions, option descriptions,
choice names) and its name ``command_name(N_("/video"))``: English is what Discord shows by default, and
when the commands are synced discord.py asks :class:`CatalogTranslator` for each of Discord's locales; a
locale reelbot has a catalog for (``ko``) gets the catalog's words: a Korean client shows Korean descriptions
and the "사진을 영상으로" menu. The Korean catalog keeps the slash commands' English names ("/video"): every
reply, on Discord and Telegram alike, names them so, and Discord's clients match typed names in English
(discord-api-docs#5001); a name the catalog leaves as it is goes unlocalized. Typed options keep their English names: they are the prompt's ``--flags`` too.

Discord refuses the whole sync over one bad string, so a translation that breaks its rules (a name that is
not one lowercase word, a description over 100 characters) is logged and left out: that string stays in
English. The catalog tests check that none does.
"""

from __future__ import annotations

import logging
import unicodedata

import discord
from discord import app_commands
from discord.app_commands import TranslationContextLocation as Where

from bot.i18n import SOURCE_LANGUAGE, supported, words
from engine.words import N_, Text

log = logging.getLogger(__name__)

# The commands' names as users type them: a language's catalog may name them its own way, in Discord's menus
# and in /help alike (Korean keeps the English names).
COMMANDS = {
    "video": N_("/video"), "usage": N_("/usage"), "cancel": N_("/cancel"), "job": N_("/job"),
    "status": N_("/status"), "help": N_("/help"), "settings": N_("/settings"), "animate": N_("Animate image"),
    "admin": N_("/admin"),
    "link": N_("/link"), "unlink": N_("/unlink"),
    "models": N_("/models"),
}
COMMANDS["preview"] = N_("/preview")

NAME_LIMIT = 32  # slash command, option and context menu names
TEXT_LIMIT = 100  # descriptions and choice names


def localized(text: Text) -> app_commands.locale_str:
    """A description or a choice name, shown in each client's language."""
    return app_commands.locale_str(text.template, text=text)


def command_name(text: Text) -> app_commands.locale_str:
    """A slash command's name, written as users type it ("/video"); each language names it its own way."""
    return app_commands.locale_str(text.template.removeprefix("/"), text=text)


def slash_name(name: str) -> bool:
    """Whether Discord takes ``name`` as a slash command or option name: 1-32 letters (of any script),
    digits, "-" or "_", lowercase where the script has cases."""
    return 0 < len(name) <= NAME_LIMIT and name == name.lower() and all(
        char in "-_" or unicodedata.category(char)[0] in "LN" for char in name)


def fits(said: str, location: Where, on_slash_command: bool) -> bool:
    """Whether Discord takes ``said`` where it goes."""
    if location in (Where.command_name, Where.group_name, Where.parameter_name):
        return slash_name(said) if on_slash_command else 0 < len(said) <= NAME_LIMIT
    return 0 < len(said) <= TEXT_LIMIT


class CatalogTranslator(app_commands.Translator):
    """Commands' words for Discord's locales, from reelbot's catalogs (``bot/locale``)."""

    def __init__(self) -> None:
        self._languages: dict[discord.Locale, str | None] = {}

    def language(self, locale: discord.Locale) -> str | None:
        """The catalog language for a Discord locale ("ko" for ko); None for English and what reelbot does
        not speak (those clients see the English words)."""
        if locale not in self._languages:
            lang = supported(locale.value)
            self._languages[locale] = None if lang == SOURCE_LANGUAGE else lang
        return self._languages[locale]

    async def translate(self, string: app_commands.locale_str, locale: discord.Locale,
                        context: app_commands.TranslationContextTypes) -> str | None:
        text = string.extras.get("text")
        lang = self.language(locale)
        if not isinstance(text, Text) or lang is None:
            return None
        said = words(lang).text(text)
        if context.location in (Where.command_name, Where.group_name):
            said = said.removeprefix("/")
        if said == string.message:
            return None  # no translation: Discord shows the English
        if not fits(said, context.location, not isinstance(context.data, app_commands.ContextMenu)):
            log.error("the %s catalog's %r for a Discord command does not fit Discord's rules: %r; Discord will "
                      "show the English", lang, text.template, said)
            return None
        return said

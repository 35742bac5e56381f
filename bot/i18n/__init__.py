"""Every word a person reads, in their language: gettext catalogs (``bot/locale``), numbers, money, times.

A front end picks the reader's language (:func:`pick`) and asks :func:`words` for a :class:`Words`, then says
everything through it: ``w._("Queued #{position}", position=3)`` looks the English template up in the
language's catalog and fills it in; ``w.text(error.text)`` does the same for a message the engine built
(:class:`engine.words.Text`); ``w.duration``, ``w.money`` and ``w.number`` format values the way
that language writes them (through Babel).

The catalogs are the ``.po`` files in ``bot/locale/<lang>/LC_MESSAGES/reelbot.po``, made and kept current
with ``pybabel extract``/``update`` (see ``babel.cfg``). They are compiled in memory the first time a
language is used, so no compiled file can drift from its source. English is the message ids themselves.
A translation that does not fit its values (a placeholder renamed by mistake) is never an error a user
sees: the English sentence is used and the fault is logged.
"""

from __future__ import annotations

import functools
import gettext
import io
import logging
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from babel import Locale
from babel.messages.mofile import write_mo
from babel.messages.pofile import read_po
from babel.numbers import format_decimal

from engine.words import Seconds, Text, english_duration

log = logging.getLogger(__name__)

LOCALE_DIR = Path(__file__).resolve().parent.parent / "locale"
DOMAIN = "reelbot"
SOURCE_LANGUAGE = "en"  # the language of the message ids


@functools.cache
def languages() -> tuple[str, ...]:
    """The languages reelbot speaks: English, and each language with a catalog."""
    found = sorted(p.parent.parent.name for p in LOCALE_DIR.glob(f"*/LC_MESSAGES/{DOMAIN}.po"))
    return (SOURCE_LANGUAGE, *[lang for lang in found if lang != SOURCE_LANGUAGE])


def language_name(lang: str) -> str:
    """"한국어", "English": a language as its speakers write it (for /settings language)."""
    return Locale.parse(lang).get_display_name(lang) or lang


# Windows names its locales in words ("Korean_Korea.949"); these are the ones reelbot has catalogs for.
_WINDOWS_NAMES = {"english": "en", "korean": "ko"}


def supported(code: str | None) -> str | None:
    """The language reelbot speaks for a platform's locale code, or None: "ko", "ko-KR", "ko_KR.UTF-8" and
    "Korean_Korea.949" are Korean, "en-US" English; "C", "POSIX" and languages without a catalog are None."""
    if not code:
        return None
    base = code.replace("-", "_").split(".")[0].split("@")[0].split("_")[0].lower()
    base = _WINDOWS_NAMES.get(base, base)
    return base if base in languages() else None


def pick(*codes: str | None, default: str = SOURCE_LANGUAGE) -> str:
    """The first of ``codes`` that reelbot speaks (most wanted first: a user's own choice, their app's
    language, their server's), else ``default``."""
    for code in codes:
        lang = supported(code)
        if lang is not None:
            return lang
    return supported(default) or SOURCE_LANGUAGE


@functools.cache
def _translations(lang: str) -> gettext.NullTranslations:
    po = LOCALE_DIR / lang / "LC_MESSAGES" / f"{DOMAIN}.po"
    if lang == SOURCE_LANGUAGE or not po.exists():
        return gettext.NullTranslations()
    with po.open("rb") as source:
        catalog = read_po(source, locale=lang, domain=DOMAIN)
    compiled = io.BytesIO()
    write_mo(compiled, catalog, use_fuzzy=False)
    compiled.seek(0)
    return gettext.GNUTranslations(compiled)


class Words:
    """Everything said in one language."""

    def __init__(self, lang: str = SOURCE_LANGUAGE) -> None:
        self.lang = supported(lang) or SOURCE_LANGUAGE
        self._catalog = _translations(self.lang)

    def __repr__(self) -> str:
        return f"Words({self.lang!r})"

    # --- sentences ---

    def _(self, template: str, /, **args: Any) -> str:
        """``template`` (an English message id) in this language, filled in with ``args``."""
        return self._fill(template, self._catalog.gettext(template), args)

    def n_(self, singular: str, plural: str, n: int, /, **args: Any) -> str:
        """A sentence that changes with a count (English "1 video", "2 videos"; one form in Korean);
        ``n`` is also a value the template may show."""
        chosen = self._catalog.ngettext(singular, plural, n)
        return self._fill(singular if n == 1 else plural, chosen, {"n": n, **args})

    def text(self, message: Text | str | None) -> str:
        """A message the engine built (or a plain string, shown as it is)."""
        if message is None:
            return ""
        if isinstance(message, str):
            return message
        return self._fill(message.template, self._catalog.gettext(message.template), dict(message.args))

    def join(self, parts: Iterable[str]) -> str:
        """"a, b, c" with this language's separator."""
        return self._(", ").join(parts)

    def _fill(self, english: str, template: str, args: dict[str, Any]) -> str:
        values = {key: self._value(value) for key, value in args.items()}
        try:
            return template.format(**values)
        except (KeyError, IndexError, ValueError) as exc:
            log.error("the %s catalog's %r does not fit its values (%s); showing English", self.lang, english, exc)
            return english.format(**values)

    def _value(self, value: Any) -> Any:
        if isinstance(value, Text):
            return self.text(value)
        if isinstance(value, Seconds):
            return self.duration(value.seconds)
        return value

    # --- values ---

    def number(self, value: float, digits: int = 0) -> str:
        pattern = "#,##0" + ("." + "0" * digits if digits else "")
        return format_decimal(value, format=pattern, locale=self.lang)

    def money(self, usd: float) -> str:
        """Dollars, as the providers bill them (no conversion): "$0.25", "$0.004"; nothing is "free"."""
        if usd == 0:
            return self._("free")
        return "$" + self.number(usd, 2 if usd >= 0.1 else 3)

    def dollars(self, usd: float) -> str:
        """An amount of a limit or a budget, always with cents: "$0.00", "$50.00"."""
        return "$" + self.number(usd, 2)

    def duration(self, seconds: float | None) -> str:
        """"45 s", "3 min 20 s", "2 h 05 min", "3 days" (Korean "45초", "3분 20초", "2시간 5분", "3일")."""
        if seconds is None:
            return "?"
        if self.lang == SOURCE_LANGUAGE:
            return english_duration(seconds)
        seconds = max(0.0, seconds)
        if seconds < 60:
            return self._("{s} s", s=round(seconds))
        minutes, secs = divmod(round(seconds), 60)
        if minutes < 60:
            if minutes >= 10 or secs == 0:
                return self._("{m} min", m=minutes)
            return self._("{m} min {s} s", m=minutes, s=secs)
        hours, minutes = divmod(minutes, 60)
        if hours >= 48:
            return self._("{d} days", d=round(hours / 24))
        if minutes == 0:
            return self._("{h} h", h=hours)
        return self._("{h} h {m} min", h=hours, m=minutes)



@functools.cache
def words(lang: str = SOURCE_LANGUAGE) -> Words:
    return Words(lang)


def prepare() -> None:
    """Compile every catalog and load each language's number formats now (at start), not in the middle of
    the first burst of replies."""
    for lang in languages():
        words(lang).money(1.25)


@dataclass(frozen=True, slots=True)
class Languages:
    """The installation's language choice: ``DEFAULT_LANGUAGE``, for whoever says nothing of theirs. Front
    ends get one from the composition root. (Clocks are shown in ``TIMEZONE`` by the engine's reports.)"""

    default: str = SOURCE_LANGUAGE

    def words(self, *codes: str | None) -> Words:
        """The words for the first of ``codes`` reelbot speaks (see :func:`pick`), else the default's."""
        return words(pick(*codes, default=self.default))


ENGLISH = words(SOURCE_LANGUAGE)

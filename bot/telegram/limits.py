"""Telegram's length limits, counted the way Telegram counts them: in UTF-16 code units.

A Hangul syllable is one unit, an emoji outside the Basic Multilingual Plane (🐱, 🎬) is two, so a caption
of 1,000 Python characters can be 1,100 units and be refused. Text is cut between characters only (never
inside a surrogate pair), and not just before a mark that belongs to the character before it: a combining
mark, a variation selector, a skin tone, a zero-width joiner, a Hangul jamo that completes a syllable.
"""

from __future__ import annotations

import unicodedata

CAPTION = 1024  # a photo's or video's caption
MESSAGE = 4096  # a message's text
ANSWER = 200  # a callback query's answer (the toast a button press shows)

ELLIPSIS = "…"


def utf16_len(text: str) -> int:
    """The length Telegram sees: UTF-16 code units."""
    return len(text) + sum(1 for char in text if ord(char) > 0xFFFF)


def fit(text: str, limit: int, *, at_word: bool = False) -> str:
    """``text`` if it fits in ``limit`` UTF-16 units, else cut to fit with "…" at the end. ``at_word``: cut
    at the last space before the limit (when the kept part has one), as a toast reads better whole words."""
    if utf16_len(text) <= limit:
        return text
    room = limit - utf16_len(ELLIPSIS)
    used = cut = 0
    for index, char in enumerate(text):
        used += 2 if ord(char) > 0xFFFF else 1
        if used > room:
            break
        cut = index + 1
    while cut > 0 and (_joins_previous(text[cut]) or text[cut - 1] == "\u200d"):
        cut -= 1  # keep a cluster whole: back off to its start
    kept = text[:cut]
    if at_word and " " in kept.strip():
        kept = kept.rstrip().rsplit(" ", 1)[0]
    return kept.rstrip() + ELLIPSIS


def _joins_previous(char: str) -> bool:
    """Whether ``char`` is drawn as part of the character before it."""
    code = ord(char)
    return (
        unicodedata.category(char) in ("Mn", "Mc", "Me")  # combining marks (accents, Indic vowel signs)
        or code == 0x200D  # zero-width joiner (👩‍💻)
        or 0xFE00 <= code <= 0xFE0F or 0xE0100 <= code <= 0xE01EF  # variation selectors (❤️)
        or 0x1F3FB <= code <= 0x1F3FF  # skin tones (👍🏽)
        or 0xE0020 <= code <= 0xE007F  # tag characters (subdivision flags)
        or 0x1160 <= code <= 0x11FF or 0xD7B0 <= code <= 0xD7FF  # Hangul medial vowels and final consonants
    )

"""Whose language a reply is in, the same on every front end, and ``/settings language``.

Most wanted first: the language the user chose (``/settings language``, stored), then what their app says
(Discord's client locale, Telegram's ``language_code``), then the place's (Discord's server locale), then
``DEFAULT_LANGUAGE``. A front end passes its platform's codes, most specific first.
"""

from __future__ import annotations

from bot.i18n import Languages, Words, language_name, languages, supported
from engine.errors import InvalidInput
from engine.service import Service
from engine.types import UserRef
from engine.words import N_

AUTO = ("auto", "default", "자동", "기본")  # back to the app's language


async def words_for(service: Service, speech: Languages, user: UserRef, *codes: str | None) -> Words:
    return speech.words(await service.language_of(user), *codes)


def choices() -> list[tuple[str, str]]:
    """(code, name in that language) for every language reelbot speaks: [("en", "English"), ("ko", "한국어")]."""
    return [(lang, language_name(lang)) for lang in languages()]


async def choose(service: Service, speech: Languages, user: UserRef, choice: str, *codes: str | None) -> Words:
    """Keep the user's choice ("ko", "한국어", "English", or "auto" to follow their app again) and return the
    words they will hear from now on (to confirm in); an unknown choice is refused with the choices."""
    wanted = choice.strip().lower()
    names = {name.lower(): code for code, name in choices()}
    if wanted in AUTO:
        await service.set_language(user, None)
        return speech.words(*codes)
    lang = names.get(wanted) or supported(wanted)
    if lang is None:
        raise InvalidInput("language", N_("I don't speak {choice}. Choose one of: {choices}, or auto.",
                                          choice=choice.strip()[:40], choices=", ".join(code for code, _ in choices())))
    await service.set_language(user, lang)
    return speech.words(lang)


def chosen_text(w: Words) -> str:
    return w._("From now on I'll answer you in {language}.", language=language_name(w.lang))

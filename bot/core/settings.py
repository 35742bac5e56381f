"""``/settings`` on every front end: a person's defaults (model, frames, fps, delivery) and their language.

The engine keeps and checks the values (``engine.defaults``); here are the words: the names people may type
for each setting (English and Korean: ``/settings frames 14``, ``/settings 프레임 14``), the words for "back
to the default", the text that shows every setting with its value and whether it was chosen, and the
confirmations. Telegram reads its arguments with :func:`parse`; Discord's slash options and the web
console's form give the canonical names and call :func:`change` the same way.
"""

from __future__ import annotations

from dataclasses import dataclass

from bot.core.language import choose, chosen_text, words_for
from bot.i18n import Languages, Words, language_name
from engine.defaults import DELIVERY, NAMES, PRIVATE, PUBLIC, SETTABLE, Setting, UserSettings
from engine.service import Service
from engine.types import JobKind, UserRef

LANGUAGE = "language"
RESET = "reset"
# What people may type for each setting, as the engine names it (a new setting: one line here).
ALIASES: dict[str, tuple[str, ...]] = {
    "model": ("model", "모델"),
    "frames": ("frames", "frame", "프레임"),
    "fps": ("fps", "초당프레임"),
    "aspect": ("aspect", "ar", "비율"),
    "motion": ("motion", "움직임"),
    LANGUAGE: ("language", "lang", "언어"),
    DELIVERY: ("delivery", "deliver", "전달", "받기"),
}
RESET_WORDS = ("reset", "초기화")
DEFAULT_WORDS = ("default", "auto", "기본", "기본값", "자동")  # "/settings frames default": back to the default
DELIVERY_WORDS = {"public": PUBLIC, "공개": PUBLIC, "private": PRIVATE, "비공개": PRIVATE, "개인": PRIVATE}
ORDER = (*SETTABLE, LANGUAGE, DELIVERY)  # as /settings shows them
assert set(ORDER) == {*NAMES, LANGUAGE}, "every setting the engine keeps needs its names here"


@dataclass(frozen=True, slots=True)
class Asked:
    """What ``/settings ...`` asked for: ``show`` everything, ``reset`` everything, set ``name`` to
    ``value`` (empty: show that one's value), or an ``unknown`` word."""

    show: bool = False
    reset: bool = False
    name: str = ""
    value: str = ""
    unknown: str = ""


def parse(args: list[str]) -> Asked:
    """``[]``, ``["reset"]``, ``["frames", "14"]``, ``["프레임", "기본"]``, ``["language", "한국어"]``."""
    if not args:
        return Asked(show=True)
    word = args[0].strip().lower()
    if word in RESET_WORDS:
        return Asked(reset=True)
    name = next((name for name, aliases in ALIASES.items() if word in aliases), None)
    if name is None:
        return Asked(unknown=args[0][:40])
    return Asked(name=name, value=" ".join(args[1:]).strip())


async def change(service: Service, speech: Languages, user: UserRef, name: str, value: str,
                 *codes: str | None) -> tuple[Words, str]:
    """Keep one setting as the person typed or picked it; returns the words to confirm in (a new language's,
    for a language) and the confirmation. A refusal is the engine's :class:`~engine.errors.InvalidInput`."""
    if name == LANGUAGE:
        w = await choose(service, speech, user, value, *codes)
        return w, chosen_text(w)
    wanted: str | None = value.strip()
    if wanted is not None and wanted.lower() in DEFAULT_WORDS:
        wanted = None
    elif name == DELIVERY and wanted is not None:
        wanted = DELIVERY_WORDS.get(wanted.lower(), wanted)
    shown = await service.set_setting(user, name, wanted)
    w = await words_for(service, speech, user, *codes)
    return w, changed_text(w, shown.get(name))


async def reset(service: Service, speech: Languages, user: UserRef, *codes: str | None) -> tuple[Words, str]:
    """Every setting back to its default, the language too (the app's again)."""
    await service.reset_settings(user)
    w = speech.words(*codes)
    return w, w._("All your settings are back to their defaults.")


def label(w: Words, name: str) -> str:
    """A setting's name as the reader knows it."""
    return {
        "model": w._("model"), "frames": w._("frames"), "fps": w._("fps"), "aspect": w._("aspect ratio"),
        "motion": w._("motion"), LANGUAGE: w._("language"),
        DELIVERY: w._("delivery"),
    }.get(name, name)


def value_text(w: Words, setting: Setting) -> str:
    if setting.name == DELIVERY:
        return w._("private, sent to you alone") if setting.value == PRIVATE else \
            w._("public, in the chat where you asked")
    if setting.value is None:
        return w._("automatic") if setting.name == "model" else w._("the model's default")
    return str(setting.value)


def changed_text(w: Words, setting: Setting) -> str:
    if not setting.chosen:
        return w._("Back to the default — {setting}: {value}.", setting=label(w, setting.name),
                   value=value_text(w, setting))
    return w._("Saved — {setting}: {value}. Your next videos use it unless a flag says otherwise.",
               setting=label(w, setting.name), value=value_text(w, setting))


def settings_text(w: Words, shown: UserSettings, *, how: str = "") -> str:
    """Every setting, its value and whether it is the person's choice or the default; then ``how`` to
    change them (the front end's own words)."""
    lines = [w._("Your settings:")]
    for name in ORDER:
        if name == LANGUAGE:
            value, chosen = language_name(w.lang), shown.language is not None
        else:
            setting = shown.get(name)
            value, chosen = value_text(w, setting), setting.chosen
        lines.append("• " + (w._("{setting}: {value} (your choice)", setting=label(w, name), value=value) if chosen
                             else w._("{setting}: {value} (default)", setting=label(w, name), value=value)))
    if how:
        lines.append(how)
    return "\n".join(lines)


def unknown_text(w: Words, word: str) -> str:
    return w._("{word} is not a setting. The settings are: model, frames, fps, aspect, motion, language, delivery; "
               "/settings alone shows them.", word=word)



def model_names(service: Service) -> list[str]:
    """The models a person may choose as their default: every one they may pick that can run here now."""
    return sorted({name for kind in JobKind for name, _ in service.model_choices(kind)})

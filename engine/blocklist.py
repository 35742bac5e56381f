"""Words no prompt may contain: the BLOCKED_WORDS setting plus what admins add from chat or the web console.

A prompt is compared in a normal form that undoes the cheap ways round a list: Unicode compatibility forms
(full-width ｎｕｄｅ, ligatures), case, invisible characters (zero-width spaces and joiners) and runs of
spaces. A word in Latin letters or digits matches as a whole word ("ass" does not block "class"); any other
word (Korean, Japanese, ...) matches anywhere, since those languages glue particles to words ("고양이가"
holds "고양이"). The negative prompt is checked too: it reaches the model as well.
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Iterable
from dataclasses import dataclass

from engine.errors import InvalidInput
from engine.words import N_

MAX_WORD = 100
_SPACES = re.compile(r"\s+")
_LATIN = re.compile(r"[0-9a-z][0-9a-z '\-]*")


@dataclass(frozen=True, slots=True)
class BlockedWords:
    configured: tuple[str, ...]  # from the BLOCKED_WORDS setting: changed there, not from chat
    added: tuple[str, ...]  # added by admins from chat or the web console

    @property
    def all(self) -> tuple[str, ...]:
        return tuple(dict.fromkeys((*self.configured, *self.added)))


def normalize(text: str) -> str:
    """The form prompts and words are compared in."""
    folded = unicodedata.normalize("NFKC", text).casefold()
    visible = "".join(ch for ch in folded if unicodedata.category(ch) != "Cf")
    return _SPACES.sub(" ", visible).strip()


def parse_words(raw: str) -> list[str]:
    """Words as an admin types them: separated by commas (or new lines), each normalized; a phrase with
    spaces is one entry. Raises :class:`InvalidInput` when there is none or one is too long."""
    words = [normalize(part) for part in re.split(r"[,\n]", raw)]
    words = [word for word in words if word]
    if not words:
        raise InvalidInput("words", N_("Name at least one word."), reason="missing",
                           hint=N_("Separate several words with commas, like: word1, word2"))
    for word in words:
        if len(word) > MAX_WORD:
            raise InvalidInput("words", N_("“{word}…” is too long for a blocked word (at most {limit} characters).",
                                           word=word[:20], limit=MAX_WORD))
    return list(dict.fromkeys(words))


def _pattern(word: str) -> re.Pattern[str]:
    if _LATIN.fullmatch(word):
        return re.compile(rf"(?<![0-9a-z]){re.escape(word)}(?![0-9a-z])")
    return re.compile(re.escape(word))


def first_blocked(texts: Iterable[str | None], words: Iterable[str]) -> str | None:
    """The first blocked word found in any of ``texts``, or None."""
    seen = [normalize(text) for text in texts if text]
    for word in words:
        pattern = _pattern(word)
        if any(pattern.search(text) for text in seen):
            return word
    return None


def refuse(word: str) -> InvalidInput:
    return InvalidInput("prompt", N_("Your prompt contains “{word}”, which this bot does not allow.", word=word),
                        reason="blocked_word", hint=N_("Change the prompt and send it again."))

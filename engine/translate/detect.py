"""Which language a prompt is written in, told from the scripts of its letters.

A prompt mixes scripts all the time: an English prompt names a Korean cat ("a cat named 나비 surfing"), a Korean
one keeps an English word or two ("서핑하는 고양이 in the rain"). So every letter counts, weighted by how much
it says: a Hangul syllable or a Chinese character is a whole syllable, about two Latin letters, and the
script with the most weight is the prompt's. Latin letters count as English, the language the models read;
a ``"zh"`` or ``"ru"`` answer is a script's usual language, good enough to decide whether to translate.

Digits, punctuation and emoji say nothing; a prompt without letters is ``"und"`` (undetermined) and is never
translated. New scripts are one line in ``_SCRIPTS``.
"""

from __future__ import annotations

from collections import defaultdict

UNDETERMINED = "und"
# (first, last code point, script, weight): a syllable-sized character weighs two Latin letters.
_SCRIPTS: tuple[tuple[int, int, str, float], ...] = (
    (0x0041, 0x005A, "latin", 1.0), (0x0061, 0x007A, "latin", 1.0),
    (0x00C0, 0x024F, "latin", 1.0), (0x1E00, 0x1EFF, "latin", 1.0),
    (0xAC00, 0xD7A3, "hangul", 2.0),  # syllable blocks
    (0x1100, 0x11FF, "hangul", 1.0), (0x3130, 0x318F, "hangul", 1.0),  # jamo (ㅋㅋ)
    (0xA960, 0xA97F, "hangul", 1.0), (0xD7B0, 0xD7FF, "hangul", 1.0),
    (0x3040, 0x30FF, "kana", 2.0), (0x31F0, 0x31FF, "kana", 2.0), (0xFF66, 0xFF9D, "kana", 2.0),
    (0x4E00, 0x9FFF, "han", 2.0), (0x3400, 0x4DBF, "han", 2.0), (0xF900, 0xFAFF, "han", 2.0),
    (0x0400, 0x04FF, "cyrillic", 1.0),
)
_LANGUAGE = {"latin": "en", "hangul": "ko", "kana": "ja", "han": "zh", "cyrillic": "ru"}


def _script(ch: str) -> tuple[str, float] | None:
    code = ord(ch)
    if code in (0xD7, 0xF7):  # × and ÷ sit among the Latin letters
        return None
    for first, last, script, weight in _SCRIPTS:
        if first <= code <= last:
            return script, weight
    return None


def detect_language(text: str) -> str:
    """The prompt's language as a code: ``"en"``, ``"ko"``, ``"ja"``, ``"zh"``, ``"ru"``, or ``"und"``.

    A tie goes to English: a prompt left as written is the safe mistake.
    """
    weights: defaultdict[str, float] = defaultdict(float)
    for ch in text:
        found = _script(ch)
        if found is not None:
            weights[found[0]] += found[1]
    if "kana" in weights:  # Japanese writes with kana and kanji together
        weights["kana"] += weights.pop("han", 0.0)
    if not weights:
        return UNDETERMINED
    best = max(weights.values())
    if weights.get("latin") == best:
        return "en"
    return _LANGUAGE[max(weights, key=lambda script: weights[script])]

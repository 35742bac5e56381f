"""Which language a prompt is in: the one its letters mostly are, so names and loanwords do not decide."""

from __future__ import annotations

import pytest

from engine.translate.detect import detect_language


@pytest.mark.parametrize(("prompt", "language"), [
    ("a cat surfing", "en"),
    ("서핑하는 고양이", "ko"),
    # a Korean name in an English prompt is still English; English words in a Korean prompt, still Korean
    ("a cat named 나비 surfing", "en"),
    ("Korean idol 지수 dancing in Seoul", "en"),
    ("서핑하는 고양이 in the rain", "ko"),
    ("BTS 뷔가 춤추는 영상, 4k", "ko"),
    ("ㅋㅋ 고양이", "ko"),  # bare jamo are Hangul too
    ("café au lait, crème brûlée", "en"),  # Latin letters with accents: left as written
    ("猫がサーフィンしている", "ja"),  # kana decide Japanese, with the kanji
    ("冲浪的猫", "zh"),
    ("кошка на доске", "ru"),
    ("🐱🏄 4K 60fps!!", "en"),  # "K", "fps": Latin
    ("🐱🏄 !!", "und"),  # no letters: nothing to translate
    ("", "und"),
    ("1920×1080", "und"),  # the multiplication sign is not a letter
])
def test_the_prompts_language_is_the_script_most_of_its_letters_are(prompt: str, language: str) -> None:
    assert detect_language(prompt) == language

"""Telegram counts its limits in UTF-16 code units: a Hangul syllable is one, most emoji are two. Cuts fit
that count, fall between characters, and keep a character's marks with it."""

from __future__ import annotations

import unicodedata

import pytest

from bot.telegram.limits import CAPTION, fit, utf16_len


def whole(text: str) -> bool:
    """Encodable as UTF-8: no lone surrogate (half an emoji) in it."""
    text.encode("utf-8")  # raises on half a surrogate pair
    return True


def test_hangul_counts_one_unit_a_syllable_and_emoji_two() -> None:
    assert utf16_len("서핑하는 고양이") == 8
    assert utf16_len("🐱🎬") == 4 == len("🐱🎬".encode("utf-16-le")) // 2
    assert utf16_len("❤️") == 2  # heart + variation selector, both in the BMP


def test_a_caption_that_fits_is_left_alone() -> None:
    text = "가" * CAPTION
    assert fit(text, CAPTION) is text


def test_a_long_hangul_caption_is_cut_to_exactly_the_limit() -> None:
    cut = fit("한글 캡션 " * 300, CAPTION)
    assert utf16_len(cut) <= CAPTION and cut.endswith("…")
    assert utf16_len(cut) >= CAPTION - 2  # only the space before "…" may go


def test_emoji_are_never_cut_in_half() -> None:
    """1,000 Python characters, 1,100 units: a cut by len() would be refused, a cut by units mid-pair would
    leave half an emoji."""
    text = "a" * 900 + "🐱" * 100
    assert len(text) < 1024 < utf16_len(text)
    cut = fit(text, CAPTION)
    assert utf16_len(cut) <= CAPTION and whole(cut)
    assert cut == "a" * 900 + "🐱" * 61 + "…"  # 900 + 122 + 1 = 1023: a 62nd cat would need 1025
    odd = fit("a" * 1022 + "🐱" + "b", CAPTION)  # the cat would straddle unit 1023/1024
    assert odd == "a" * 1022 + "…"


@pytest.mark.parametrize("cluster", ["👩‍💻", "👍🏽", "❤️", "e\u0301"])
def test_a_cluster_is_kept_whole_or_dropped_whole(cluster: str) -> None:
    for pad in range(1015, 1024):
        cut = fit("x" * pad + cluster * 10, CAPTION).removesuffix("…")
        rest = cut.removeprefix("x" * pad)
        assert rest == cluster * (len(rest) // len(cluster)), (pad, rest)


def test_decomposed_hangul_keeps_its_syllables_whole() -> None:
    """A prompt typed on some systems arrives as jamo (NFD): 한 is three characters, one syllable."""
    jamo = unicodedata.normalize("NFD", "한글" * 600)
    for pad in range(1015, 1024):
        rest = fit("x" * pad + jamo, CAPTION).removesuffix("…").removeprefix("x" * pad)
        assert len(rest) % 3 == 0 and jamo.startswith(rest), pad  # whole syllables only


def test_a_toast_is_cut_after_a_whole_word() -> None:
    text = "이 작업은 다른 사람의 것이라서 취소할 수 없어요. " * 10
    cut = fit(text, 200, at_word=True)
    kept = cut.removesuffix("…")
    assert cut.endswith("…") and utf16_len(cut) <= 200
    assert text.startswith(kept) and text[len(kept)] == " "

"""Whose language a reply is in, and /settings language: the same rules for every front end."""

from __future__ import annotations

import pytest

from bot.core.language import choose, chosen_text, words_for
from bot.i18n import Languages
from bot.render import describe_error
from engine.errors import InvalidInput
from engine.types import UserRef

ADA = UserRef("telegram", "42", "ada")


async def test_the_app_language_then_the_place_then_the_default(app_factory) -> None:
    app = await app_factory()
    speech = Languages(default="ko")
    assert (await words_for(app.service, speech, ADA, "en-US", "ko")).lang == "en"  # her app says English
    assert (await words_for(app.service, speech, ADA, "ja", "ko")).lang == "ko"  # no Japanese: her server's
    assert (await words_for(app.service, speech, ADA, None)).lang == "ko"  # nothing said: DEFAULT_LANGUAGE
    assert (await words_for(app.service, Languages(), ADA, "fr")).lang == "en"


async def test_a_chosen_language_wins_over_the_app_and_auto_gives_it_back(app_factory) -> None:
    app = await app_factory()
    speech = Languages()
    w = await choose(app.service, speech, ADA, "한국어", "en-US")
    assert w.lang == "ko" and chosen_text(w) == "이제부터 한국어로 답할게요."
    assert (await words_for(app.service, speech, ADA, "en-US")).lang == "ko"  # kept, across requests
    assert await app.service.language_of(ADA) == "ko"
    assert (await choose(app.service, speech, ADA, "English")).lang == "en"
    back = await choose(app.service, speech, ADA, "auto", "ko-KR")
    assert back.lang == "ko" and await app.service.language_of(ADA) is None  # following the app again
    assert (await words_for(app.service, speech, ADA, "en-GB")).lang == "en"


async def test_a_language_reelbot_does_not_speak_is_refused_with_the_choices(app_factory) -> None:
    app = await app_factory()
    with pytest.raises(InvalidInput) as refused:
        await choose(app.service, Languages(), ADA, "klingon")
    assert await app.service.language_of(ADA) is None
    said = describe_error((await words_for(app.service, Languages(), ADA, "ko")), refused.value)
    assert said == "klingon은(는) 지원하지 않는 언어예요. en, ko 중에서 고르거나 auto를 입력해 주세요."

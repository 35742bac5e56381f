"""The translator on tiny random models, loaded by the real loading code: off the event loop, loaded once, each
text translated once, and a model that cannot load said in words that say what to do (and not retried for
every prompt)."""

from __future__ import annotations

import threading
from pathlib import Path
from typing import Any

import pytest

from engine.translate.model import TranslationModel, TranslationUnavailable, load_translation_model
from engine.translate.translator import PromptTranslator


class Counting:
    """``load_translation_model`` that counts loads, translations and the threads they ran on."""

    def __init__(self) -> None:
        self.loads = 0
        self.translations: list[tuple[str, str]] = []
        self.threads: set[str] = set()

    def __call__(self, source: str, **kwargs: Any) -> TranslationModel:
        self.loads += 1
        self.threads.add(threading.current_thread().name)
        model = load_translation_model(source, **kwargs)
        translate = model.translate

        def counted(text: str, language: str) -> str:
            self.translations.append((text, language))
            self.threads.add(threading.current_thread().name)
            return translate(text, language)

        model.translate = counted  # type: ignore[method-assign]
        return model


async def test_a_korean_prompt_comes_back_as_the_models_text_translated_once_off_the_event_loop(tiny_marian):
    counting = Counting()
    translator = PromptTranslator(str(tiny_marian), load=counting)
    try:
        first = await translator.translate("서핑하는 고양이", "ko")
        again = await translator.translate("서핑하는 고양이", "ko")
        other = await translator.translate("비 오는 날 우산을 쓴 강아지", "ko")
    finally:
        translator.close()
    # random weights write gibberish, but the same gibberish for the same text, and never the text itself
    assert first and first == again and first != "서핑하는 고양이" and other
    assert counting.loads == 1 and translator.loaded and translator.problem is None
    assert [text for text, _ in counting.translations] == ["서핑하는 고양이", "비 오는 날 우산을 쓴 강아지"]
    assert counting.threads and all(name.startswith("reelbot-translate") for name in counting.threads)


async def test_a_pair_model_translates_only_its_own_language(tiny_marian):
    translator = PromptTranslator(str(tiny_marian))  # the folder is named like opus-mt-ko-en
    try:
        with pytest.raises(TranslationUnavailable, match="does not translate 'ja'") as err:
            await translator.translate("猫がサーフィン", "ja")
    finally:
        translator.close()
    assert "nllb" in (err.value.hint or "")


async def test_a_many_language_model_is_told_the_prompts_language_and_that_english_is_wanted(tiny_nllb):
    model = load_translation_model(str(tiny_nllb))
    assert model.codes is not None and model.codes["en"] == "eng_Latn" and {"ko", "ja"} <= model.sources
    korean = model.translate("서핑하는 고양이", "ko")
    assert korean and korean != "서핑하는 고양이"
    assert model.tokenizer.src_lang == "kor_Hang"
    model.translate("猫がサーフィン", "ja")
    assert model.tokenizer.src_lang == "jpn_Jpan"


async def test_a_model_that_cannot_load_is_explained_and_not_tried_again_for_every_prompt(tmp_path: Path):
    counting = Counting()
    missing = tmp_path / "no-such-model"
    translator = PromptTranslator(str(missing), load=counting)
    try:
        for text in ("서핑하는 고양이", "비 오는 날"):
            with pytest.raises(TranslationUnavailable) as err:
                await translator.translate(text, "ko")
    finally:
        translator.close()
    assert f"The translation model {missing} could not be loaded: the folder does not exist." == err.value.message
    assert "PROMPT_TRANSLATION_MODEL" in (err.value.hint or "")
    assert counting.loads == 1 and translator.problem is err.value and not translator.loaded


async def test_a_repo_that_is_not_downloaded_says_how_to_get_it_when_offline(tmp_path: Path):
    translator = PromptTranslator("Helsinki-NLP/opus-mt-ko-en", cache_dir=tmp_path / "hub", offline=True)
    try:
        with pytest.raises(TranslationUnavailable) as err:
            await translator.translate("서핑하는 고양이", "ko")
    finally:
        translator.close()
    assert "is not downloaded on this machine and HF_HUB_OFFLINE is set" in err.value.message
    assert err.value.hint == "Run `huggingface-cli download Helsinki-NLP/opus-mt-ko-en` once with internet access."

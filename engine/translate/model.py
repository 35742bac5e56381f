"""The translation model itself: loaded with transformers like the pipelines, run on one thread.

``PROMPT_TRANSLATION_MODEL`` is a Hugging Face repo id or a folder holding a sequence-to-sequence model that
translates into English: a pair model such as ``Helsinki-NLP/opus-mt-ko-en`` (MarianMT), or a many-language
one such as ``facebook/nllb-200-distilled-600M``, which is told the prompt's language and that English is
wanted through its language-code tokens. It loads with ``AutoTokenizer`` + ``AutoModelForSeq2SeqLM`` from the
same cache (``HF_HOME``) and with the same ``HF_HUB_OFFLINE`` rule as the video models, so once downloaded it
needs no network.

Everything here blocks (torch): :class:`~engine.translate.translator.PromptTranslator` calls it on its own
thread, never on the event loop.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from engine.errors import ReelbotError
from engine.local.pipelines import is_folder
from engine.translate.languages import ANY

MAX_INPUT_TOKENS = 512  # what MarianMT and NLLB read at most; a longer prompt is cut there
MAX_NEW_TOKENS = 256  # an English prompt is never longer; a model that rambles stops here
TOKENS_PER_INPUT_TOKEN = 3  # nor more than this many times the prompt's own tokens (plus a few)
NUM_BEAMS = 4  # beam search, as opus-mt's own generation config asks; deterministic (no sampling)

# Many-language models name languages with tokens of their own: (the style's English token, then the code
# of each language reelbot detects). NLLB and M2M100 (FLORES-200 codes, M2M100's __xx__), mBART-50.
_CODE_STYLES: tuple[dict[str, str], ...] = (
    {"en": "eng_Latn", "ko": "kor_Hang", "ja": "jpn_Jpan", "zh": "zho_Hans", "ru": "rus_Cyrl"},
    {"en": "en_XX", "ko": "ko_KR", "ja": "ja_XX", "zh": "zh_CN", "ru": "ru_RU"},
    {"en": "__en__", "ko": "__ko__", "ja": "__ja__", "zh": "__zh__", "ru": "__ru__"},
)
_PAIR_NAME = re.compile(r"opus-mt-([a-z]{2,3})-en\b", re.IGNORECASE)


class TranslationUnavailable(ReelbotError):
    """The prompt could not be translated; the job goes on with it as written. ``message`` and ``hint``
    are for the operator (logs, ``reelbot doctor``)."""

    code = "translation_unavailable"


@dataclass
class TranslationModel:
    """A loaded model and its tokenizer, with what it can translate from."""

    name: str
    tokenizer: Any
    model: Any
    device: str
    sources: frozenset[str]  # languages it translates into English ({"*"}: whatever it is given)
    codes: dict[str, str] | None  # a many-language model's language tokens; None: a pair model

    def translate(self, text: str, source: str) -> str:
        """``text`` (in ``source``) in English. Blocks; one call at a time."""
        import torch

        if ANY not in self.sources and source not in self.sources:
            raise TranslationUnavailable(f"The translation model {self.name} does not translate {source!r}.",
                                         hint="Set PROMPT_TRANSLATION_MODEL to a model that does, such as "
                                              "facebook/nllb-200-distilled-600M.")
        extra: dict[str, Any] = {}
        if self.codes is not None:
            self.tokenizer.src_lang = self.codes[source]
            extra["forced_bos_token_id"] = self.tokenizer.convert_tokens_to_ids(self.codes["en"])
        inputs = self.tokenizer([text], return_tensors="pt", truncation=True, max_length=MAX_INPUT_TOKENS)
        longest = min(MAX_NEW_TOKENS, TOKENS_PER_INPUT_TOKEN * inputs["input_ids"].shape[1] + 16)
        with torch.inference_mode():  # max_length, not max_new_tokens: it replaces the model's own (512)
            out = self.model.generate(**inputs.to(self.device), num_beams=NUM_BEAMS, do_sample=False,
                                      max_length=longest + 1, **extra)
        english = " ".join(self.tokenizer.decode(out[0], skip_special_tokens=True).split())
        if not english:
            raise TranslationUnavailable(f"The translation model {self.name} gave no text for the prompt.")
        return english


def load_translation_model(
    source: str, *, device: str = "cpu", token: str | None = None, cache_dir: Path | None = None,
    offline: bool = False,
) -> TranslationModel:
    """Load ``source`` (a repo id or a folder) on ``device``; :class:`TranslationUnavailable` says why not."""
    try:
        from transformers import AutoModelForSeq2SeqLM, AutoTokenizer
    except ImportError as exc:
        raise TranslationUnavailable(f"transformers is not installed ({exc.name}).",
                                     hint="pip install 'reelbot[local]'") from None
    kwargs: dict[str, Any] = {"token": token, "local_files_only": offline}
    if cache_dir is not None:
        kwargs["cache_dir"] = str(cache_dir)
    try:
        tokenizer = AutoTokenizer.from_pretrained(source, **kwargs)
        model = AutoModelForSeq2SeqLM.from_pretrained(source, **kwargs).to(device).eval()
    except Exception as exc:
        raise explain(exc, source, offline) from exc
    codes = _code_style(tokenizer)
    return TranslationModel(source, tokenizer, model, device, _sources(source, codes), codes)


def explain(exc: Exception, source: str, offline: bool) -> TranslationUnavailable:
    """A loading failure in words that say what to do (the pipelines' own explanations, for this model)."""
    from huggingface_hub.errors import GatedRepoError, LocalEntryNotFoundError, RepositoryNotFoundError

    what = f"The translation model {source}"
    if is_folder(source):
        folder = Path(source).expanduser()
        why = "the folder does not exist" if not folder.is_dir() else f"{type(exc).__name__}: {exc}"
        return TranslationUnavailable(f"{what} could not be loaded: {why}.",
                                      hint="Save a translation model there (save_pretrained), or set "
                                           "PROMPT_TRANSLATION_MODEL to another one.")
    if isinstance(exc, ImportError) or "sentencepiece" in str(exc).lower():
        return TranslationUnavailable(f"{what} needs a library that is not installed: {exc}",
                                      hint="pip install 'reelbot[local]' (it brings sentencepiece).")
    if isinstance(exc, GatedRepoError):
        return TranslationUnavailable(f"{what} is gated and this machine has no access.",
                                      hint=f"Accept its licence on https://huggingface.co/{source} and set "
                                           "HF_TOKEN, or set PROMPT_TRANSLATION_MODEL to another model.")
    if isinstance(exc, RepositoryNotFoundError):
        return TranslationUnavailable(f"{what} does not exist on the Hugging Face Hub (or is private).",
                                      hint="Check PROMPT_TRANSLATION_MODEL.")
    if isinstance(exc, LocalEntryNotFoundError) or offline:
        return TranslationUnavailable(
            f"{what} is not downloaded on this machine"
            + (" and HF_HUB_OFFLINE is set." if offline else " and the Hugging Face Hub cannot be reached."),
            hint=f"Run `huggingface-cli download {source}` once with internet access.")
    return TranslationUnavailable(f"{what} could not be loaded: {type(exc).__name__}: {exc}",
                                  hint="Check PROMPT_TRANSLATION_MODEL, or turn translation off with "
                                       "PROMPT_TRANSLATION=off.")


def _code_style(tokenizer: Any) -> dict[str, str] | None:
    """The language tokens of a many-language tokenizer (the style whose English token it knows)."""
    if not hasattr(tokenizer, "src_lang"):
        return None
    unknown = tokenizer.unk_token_id
    for style in _CODE_STYLES:
        known = {lang: code for lang, code in style.items() if tokenizer.convert_tokens_to_ids(code) != unknown}
        if "en" in known:
            return known
    return None


def _sources(name: str, codes: dict[str, str] | None) -> frozenset[str]:
    """What a model translates from: a many-language model's languages; an ``opus-mt-XX-en`` pair model's XX
    (``mul``: many); any other model, whatever it is given (the operator chose it for their prompts)."""
    if codes is not None:
        return frozenset(codes) - {"en"}
    pair = _PAIR_NAME.search(name)
    if pair is None or pair.group(1).lower() == "mul":
        return frozenset({ANY})
    return frozenset({pair.group(1).lower()})

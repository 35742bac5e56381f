"""What one attempt's model gets: the user's prompt and negative prompt, or their English translation.

A text is translated when the model does not understand its language but understands English, unless the
job was sent with ``--raw``; a text without letters (emoji, numbers) goes as written. Translations are kept
per job (``memo``), so a fallback to another model that needs English reuses them, and a translation that
failed is not tried again for the same job.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from typing import Any, Protocol

from engine.translate.detect import UNDETERMINED, detect_language
from engine.translate.languages import understands
from engine.translate.model import TranslationUnavailable
from engine.translate.translator import PromptTranslator
from engine.types import JobKind, JobSpec, Options
from engine.words import N_

Memo = dict[str, "str | TranslationUnavailable"]
# The notes on an attempt whose model got a prompt it does not understand, because it could not be translated:
# what the user is told, and (followed by why) what the operator reads.
UNTRANSLATED_TOLD = N_("your prompt could not be translated to English, so the model got it as written")
UNTRANSLATED = "prompt not translated: "


@dataclass(frozen=True, slots=True)
class ModelPrompts:
    prompt: str
    negative_prompt: str | None
    used: str | None = None  # the prompt the model gets, when it is not the user's (their words translated)
    problem: TranslationUnavailable | None = None  # why a prompt it does not understand goes as written

    def given_to(self, job: JobSpec) -> JobSpec:
        """The job as the model sees it: with the prompts it gets."""
        return replace(job, prompt=self.prompt, options=replace(job.options, negative_prompt=self.negative_prompt))

    def notes(self) -> list[Any]:
        """The attempt's first notes (as ``RunContext.notes`` keeps them): when the model got a prompt it does
        not understand, what the user is told, and why for the operator."""
        if self.problem is None:
            return []
        return [UNTRANSLATED_TOLD.to_json(), UNTRANSLATED + self.problem.message]


class _Job(Protocol):
    spec: JobSpec
    translations: Memo  # this job's texts in English, or why not (kept for its next attempts)


class _Model(Protocol):
    def prompt_languages(self, kind: JobKind, options: Options) -> frozenset[str]: ...


async def prompts_for(translator: PromptTranslator | None, active: _Job, backend: _Model) -> ModelPrompts:
    """The prompts for ``backend``'s model of this job; ``translator`` None: translation is off."""
    job, memo = active.spec, active.translations
    languages = backend.prompt_languages(job.kind, job.options)
    negative = job.options.negative_prompt
    if translator is None or job.options.raw_prompt:
        return ModelPrompts(job.prompt, negative)
    prompt, problem = await _english(translator, job.prompt, languages, memo)
    if negative:
        negative, negative_problem = await _english(translator, negative, languages, memo)
        problem = problem or negative_problem
    return ModelPrompts(prompt, negative, prompt if prompt != job.prompt else None, problem)


async def _english(
    translator: PromptTranslator, text: str, languages: frozenset[str], memo: Memo
) -> tuple[str, TranslationUnavailable | None]:
    if not text.strip():
        return text, None
    language = detect_language(text)
    if language == UNDETERMINED or understands(languages, language) or not understands(languages, "en"):
        return text, None
    if text not in memo:
        try:
            memo[text] = await translator.translate(text, language)
        except TranslationUnavailable as exc:
            memo[text] = exc
    done = memo[text]
    return (text, done) if isinstance(done, TranslationUnavailable) else (done, None)

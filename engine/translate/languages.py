"""Prompt languages as models declare them: ISO 639-1 codes (``"en"``, ``"ko"``), ``"*"`` for any language."""

from __future__ import annotations

from typing import Any

ENGLISH = frozenset({"en"})
ANY = "*"


def understands(languages: frozenset[str], language: str) -> bool:
    """Whether a model that reads ``languages`` understands a prompt in ``language``."""
    return ANY in languages or language in languages


def language_codes(value: Any, where: str) -> frozenset[str]:
    """A ``prompt_languages`` list from JSON settings (``["en", "ko"]``, or ``["*"]``) as a set."""
    if isinstance(value, str) or not isinstance(value, list | tuple) or not value or not all(
            isinstance(code, str) and code.strip() for code in value):
        raise ValueError(f'{where}: prompt_languages must be a list of language codes, like ["en", "ko"]')
    return frozenset(code.strip().lower() for code in value)

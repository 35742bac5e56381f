"""Tiny random translation models, built offline once per test module and loaded through the real code."""

from __future__ import annotations

from pathlib import Path

import pytest

from engine.translate.tiny import make_tiny_marian, make_tiny_nllb


@pytest.fixture(scope="module")
def tiny_marian(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Laid out and named like the default model (Helsinki-NLP/opus-mt-ko-en): it translates Korean only."""
    return make_tiny_marian(tmp_path_factory.mktemp("models") / "opus-mt-ko-en")


@pytest.fixture(scope="module")
def tiny_nllb(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return make_tiny_nllb(tmp_path_factory.mktemp("models") / "nllb-200-tiny")

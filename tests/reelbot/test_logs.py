"""Secrets never reach the logs, whoever logs them."""

from __future__ import annotations

import io
import logging
from pathlib import Path

from reelbot.logs import redact_secrets
from tests.conftest import make_settings


def test_tokens_are_masked_in_messages_arguments_and_tracebacks(tmp_path: Path) -> None:
    settings = make_settings(tmp_path, telegram_token="123456:AAE-telegram-secret", fal_key="fal-key-9f8e7d")
    stream = io.StringIO()
    handler = logging.StreamHandler(stream)
    root = logging.getLogger()
    root.addHandler(handler)
    try:
        redact_secrets(settings)
        log = logging.getLogger("httpx")
        log.warning("HTTP Request: POST https://api.telegram.org/bot123456:AAE-telegram-secret/getMe")
        log.warning("key %s in use", "fal-key-9f8e7d")
        try:
            raise RuntimeError("upstream said: bad key fal-key-9f8e7d")
        except RuntimeError:
            log.exception("call failed")
    finally:
        root.removeHandler(handler)
    text = stream.getvalue()
    assert "AAE-telegram-secret" not in text and "fal-key-9f8e7d" not in text
    assert "https://api.telegram.org/bot***/getMe" in text
    assert "key *** in use" in text
    assert "RuntimeError: upstream said: bad key ***" in text

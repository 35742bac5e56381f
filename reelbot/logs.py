"""Secrets never reach the logs: every line is scrubbed of the tokens and keys the settings hold.

Libraries log what they see (httpx logs request URLs, and Telegram's URLs contain the bot token), so
scrubbing at the handlers catches what no single call site can promise.
"""

from __future__ import annotations

import logging

from pydantic import SecretStr

from reelbot.settings import Settings

MASK = "***"


class Redactor(logging.Filter):
    def __init__(self, secrets: list[str]) -> None:
        super().__init__()
        self.secrets = sorted({s for s in secrets if len(s) >= 6}, key=len, reverse=True)

    def _scrub(self, text: str) -> str:
        for secret in self.secrets:
            text = text.replace(secret, MASK)
        return text

    def filter(self, record: logging.LogRecord) -> bool:
        message = record.getMessage()
        scrubbed = self._scrub(message)
        if scrubbed != message:
            record.msg, record.args = scrubbed, None
        if record.exc_info and not record.exc_text:
            record.exc_text = logging.Formatter().formatException(record.exc_info)
        if record.exc_text:
            record.exc_text = self._scrub(record.exc_text)
        return True


def secret_values(settings: Settings) -> list[str]:
    values = []
    for name in type(settings).model_fields:
        value = getattr(settings, name)
        if isinstance(value, SecretStr):
            values.append(value.get_secret_value())
    return values


def redact_secrets(settings: Settings) -> Redactor:
    """Scrub the settings' secrets from everything the root logger's handlers write."""
    redactor = Redactor(secret_values(settings))
    for handler in logging.getLogger().handlers:
        handler.addFilter(redactor)
    return redactor

"""Settings that hold JSON (LOCAL_MODELS, CLOUD_MODELS): parsed with errors that name the setting."""

from __future__ import annotations

import json
from typing import Any


def json_object(setting: str, text: str, example: str) -> dict[str, Any]:
    """``text`` as a JSON object; a ValueError naming ``setting`` (and showing ``example``) otherwise."""
    try:
        value = json.loads(text)
    except json.JSONDecodeError as exc:
        raise ValueError(f"{setting} is not valid JSON: {exc}") from None
    if not isinstance(value, dict):
        raise ValueError(f"{setting} must be a JSON object: {example}")
    return value

"""Every answer a provider gives that is not a result becomes one of the engine's errors, here.

The classes decide what happens next (``engine/router.py``, ``engine/runner.py``): a transient error moves
the job to the next provider and rests this one for as long as its Retry-After asks; an unavailable provider
or a refused key rests it for an hour (admins are told once); rejected input and moderation are explained
to the user and not tried elsewhere, because every provider would answer the same.
"""

from __future__ import annotations

import json
import re
from email.utils import parsedate_to_datetime
from typing import Any

from engine.clock import utcnow
from engine.errors import (
    AuthFailed,
    BackendError,
    BackendUnavailable,
    Moderated,
    RejectedInput,
    TransientError,
)
from engine.words import N_, Text

_SECONDS_IN_TEXT = re.compile(r"(?:in|after)\s+(\d+(?:\.\d+)?)\s*(?:s\b|sec|second)", re.I)
_MODERATION_WORDS = re.compile(r"nsfw|safety|moderat|content[ _-]?(?:policy|filter)|flagged|sensitive", re.I)


def retry_after(headers: Any, text: str = "") -> float | None:
    """Seconds from a Retry-After header (seconds or an HTTP date), or from 'available in N seconds'."""
    value = headers.get("Retry-After") if headers is not None else None
    if value:
        try:
            return max(0.0, float(value))
        except ValueError:
            try:
                return max(0.0, (parsedate_to_datetime(value) - utcnow()).total_seconds())
            except (TypeError, ValueError):
                pass
    match = _SECONDS_IN_TEXT.search(text or "")
    return float(match.group(1)) if match else None


def detail_of(body: str) -> str:
    """The provider's own words from an error body, whatever its shape; short, never the whole page."""
    try:
        data = json.loads(body)
    except (json.JSONDecodeError, TypeError):
        data = None
    found = _find_message(data) if data is not None else None
    text = found if found else (body or "").strip()
    text = " ".join(text.split())
    return text[:300] + ("…" if len(text) > 300 else "")


def _find_message(data: Any) -> str | None:
    if isinstance(data, str):
        return data
    if isinstance(data, list):
        parts = [m for item in data if (m := _find_message(item))]
        return "; ".join(parts) if parts else None
    if isinstance(data, dict):
        for key in ("detail", "message", "error", "errors", "msg", "failure", "title", "name"):
            if key in data and (found := _find_message(data[key])):
                return found
    return None


def looks_moderated(text: str) -> bool:
    return bool(_MODERATION_WORDS.search(text or ""))


def moderated(provider: str, detail: Text | str) -> Moderated:
    return Moderated(
        N_("{provider} refused this prompt or picture under its content rules ({detail}).", provider=provider,
           detail=detail),
        backend=provider, hint=N_("Change the prompt or the picture."),  # what it cost is told with the result
    )


def classify(provider: str, key_setting: str, status: int, body: str, headers: Any = None) -> BackendError:
    """An HTTP error answer (status >= 400) as the engine's error."""
    detail = detail_of(body)
    if status == 429:
        wait = retry_after(headers, detail)
        return TransientError(N_("{provider} is rate-limiting us (HTTP 429: {detail}).", provider=provider,
                                 detail=detail), backend=provider, retry_after=wait)
    if status in (401, 403):
        return AuthFailed(
            N_("{provider} refused the API key (HTTP {status}: {detail}).", provider=provider, status=status,
               detail=detail), backend=provider,
            hint=N_("An admin should check {setting}.", setting=key_setting),
        )
    if status == 402:
        return BackendUnavailable(N_("{provider} says the account is out of credit (HTTP 402: {detail}).",
                                     provider=provider, detail=detail),
                                  backend=provider, hint=N_("An admin should top up the account."))
    if status == 404:
        return BackendUnavailable(N_("{provider} answered 404 Not Found: the endpoint or model is gone "
                                     "({detail}).", provider=provider, detail=detail), backend=provider)
    if status in (400, 413, 415, 422):
        if looks_moderated(detail):
            return moderated(provider, detail)
        return rejected(provider, f"HTTP {status}: {detail}")
    return TransientError(N_("{provider} failed (HTTP {status}: {detail}).", provider=provider, status=status,
                             detail=detail), backend=provider,
                          retry_after=retry_after(headers, "") if status in (502, 503, 504) else None)


# google.rpc.Code -> the HTTP status Google's own APIs answer with it (google/rpc/code.proto).
GRPC_TO_HTTP = {1: 499, 2: 500, 3: 400, 4: 504, 5: 404, 6: 409, 7: 403, 8: 429, 9: 400, 10: 409, 11: 400,
                12: 501, 13: 500, 14: 503, 15: 500, 16: 401}
GRPC_NAMES = {1: "CANCELLED", 2: "UNKNOWN", 3: "INVALID_ARGUMENT", 4: "DEADLINE_EXCEEDED", 5: "NOT_FOUND",
              6: "ALREADY_EXISTS", 7: "PERMISSION_DENIED", 8: "RESOURCE_EXHAUSTED", 9: "FAILED_PRECONDITION",
              10: "ABORTED", 11: "OUT_OF_RANGE", 12: "UNIMPLEMENTED", 13: "INTERNAL", 14: "UNAVAILABLE",
              15: "DATA_LOSS", 16: "UNAUTHENTICATED"}


def classify_grpc(provider: str, key_setting: str, code: int, message: str) -> BackendError:
    """A failed long-running operation's ``error`` (a google.rpc.Status: gRPC code, not HTTP status)."""
    name = GRPC_NAMES.get(code, f"code {code}")
    detail = f"{name}: {' '.join((message or 'no message').split())[:300]}"
    if code == 9:  # FAILED_PRECONDITION: billing not enabled, region not served: nothing a retry changes
        return BackendUnavailable(N_("{provider} cannot run jobs for this account ({detail}).", provider=provider,
                                     detail=detail), backend=provider,
                                  hint=N_("An admin should check the account's billing and region."))
    if code in (3, 11) and looks_moderated(message):
        return moderated(provider, detail)
    if code in (3, 11):
        return rejected(provider, detail)
    status = GRPC_TO_HTTP.get(code, 500)
    return classify(provider, key_setting, status, json.dumps({"error": {"message": detail}}), None)


def rejected(provider: str, detail: str) -> RejectedInput:
    """The provider refused the request's inputs; ``detail``: its own words (with the HTTP status)."""
    return RejectedInput(N_("{provider} rejected the request ({detail}).", provider=provider, detail=detail),
                         backend=provider, hint=N_("Check the options; nothing was charged."))


def not_json(provider: str, status: int, body: str) -> TransientError:
    return TransientError(
        N_("{provider} sent an answer that is not valid JSON (HTTP {status}: {body}).", provider=provider,
           status=status, body=repr(body[:80])), backend=provider,
    )

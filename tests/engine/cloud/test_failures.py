"""HTTP answers to engine errors: what moves on, what rests a provider, what is explained to the user."""

from __future__ import annotations

from datetime import timedelta
from email.utils import format_datetime

import pytest

from engine.clock import utcnow
from engine.cloud.failures import classify, detail_of, retry_after
from engine.errors import AuthFailed, BackendUnavailable, Moderated, RejectedInput, TransientError


def test_retry_after_reads_seconds_dates_and_words() -> None:
    assert retry_after({"Retry-After": "12"}) == 12.0
    later = format_datetime(utcnow() + timedelta(seconds=90), usegmt=True)
    assert 80 <= retry_after({"Retry-After": later}) <= 91  # type: ignore[operator]
    assert retry_after({}, "Request was throttled. Expected available in 3 seconds.") == 3.0
    assert retry_after({}, "slow down") is None


@pytest.mark.parametrize(
    ("body", "words"),
    [
        ('{"detail": "Invalid token"}', "Invalid token"),
        ('{"error": {"code": 429, "message": "Resource has been exhausted"}}', "Resource has been exhausted"),
        ('{"id": "x", "name": "bad_request", "errors": ["image: too small", "seed: too big"]}',
         "image: too small; seed: too big"),
        ('{"detail": [{"loc": ["body"], "msg": "field required"}]}', "field required"),
        ("<html>" + "x" * 1000 + "</html>", "…"),
    ],
)
def test_detail_finds_the_providers_own_words(body: str, words: str) -> None:
    assert words in detail_of(body)
    assert len(detail_of(body)) <= 301


@pytest.mark.parametrize(
    ("status", "body", "kind", "retryable"),
    [
        (429, '{"detail": "Too many"}', TransientError, True),
        (503, "", TransientError, True),
        (401, '{"detail": "bad key"}', AuthFailed, True),
        (402, '{"detail": "no credit"}', BackendUnavailable, True),
        (404, "", BackendUnavailable, True),
        (400, '{"error": "ratio is wrong"}', RejectedInput, False),
        (400, '{"error": "prompt flagged by our safety system"}', Moderated, False),
    ],
)
def test_classes_decide_what_happens_next(status, body, kind, retryable) -> None:
    error = classify("runway", "RUNWAYML_API_SECRET", status, body, {"Retry-After": "5"})
    assert type(error) is kind
    assert error.retryable is retryable
    assert error.backend == "runway"
    if kind is AuthFailed:
        assert "RUNWAYML_API_SECRET" in str(error)
    if status == 429:
        assert error.retry_after == 5.0

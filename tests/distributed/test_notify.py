"""Events from GPU workers to the front ends' process: the words in them arrive as templates, so a Korean
user reads a worker's failure in Korean."""

from __future__ import annotations

from bot.i18n import Words
from engine.distributed.notify import decode, encode
from engine.events import Ended, ProviderAlert, Retrying
from engine.types import JobState
from engine.words import N_, Seconds


def test_a_retry_reason_crosses_the_channel_as_a_template() -> None:
    reason = N_("{message} {hint}", message=N_("The queue is full ({size} jobs waiting).", size=4),
                hint=N_("Try again in {wait}.", wait=Seconds(90)))
    event = decode(encode(Retrying("j1", "telegram", "local", "transient", reason, "replicate")))
    assert isinstance(event, Retrying) and event.reason == reason
    assert Words("ko").text(event.reason) == "대기열이 꽉 찼어요 (대기 중 4개). 1분 30초 후에 다시 시도해 주세요."
    assert str(event.reason) == "The queue is full (4 jobs waiting). Try again in 1 min 30 s."


def test_an_ended_job_and_an_alert_keep_their_words() -> None:
    ended = decode(encode(Ended("j1", "discord", JobState.CANCELLED, "cancelled", N_("Cancelled."))))
    assert isinstance(ended, Ended) and ended.state is JobState.CANCELLED
    assert Words("ko").text(ended.message) == "취소됐어요."
    plain = decode(encode(ProviderAlert("j1", "", "runway", "runway refused the key")))
    assert isinstance(plain, ProviderAlert) and plain.message == "runway refused the key"

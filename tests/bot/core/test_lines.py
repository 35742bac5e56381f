"""The running line of a job's message says what the model got when it was not the user's prompt."""

from __future__ import annotations

from bot.core.lines import JobLines
from bot.i18n import ENGLISH as EN
from bot.i18n import Words
from engine.events import Ended, Progress, Started
from engine.types import JobState


def test_a_translated_prompt_shows_above_the_running_line_until_the_job_ends():
    lines = JobLines()
    lines.follow("j1", "서핑하는 고양이")
    started = lines.line(EN, Started("j1", "test", "local", "zeroscope", "gpu0", prompt_used="a cat surfing"))
    assert started == ('서핑하는 고양이 → "a cat surfing"\n'
                       "This model understands only English, so your prompt was translated. To send it as written, "
                       "add --raw.\n"
                       "Running on local (zeroscope)…")
    progress = lines.line(Words("ko"), Progress("j1", "test", 5, 10))
    assert progress is not None and progress.splitlines() == [
        '서핑하는 고양이 → "a cat surfing"', "이 모델은 영어만 이해해서 번역했어요. 원문 그대로 쓰려면 --raw",
        "local에서 만드는 중 (zeroscope) [██████████░░░░░░░░░░] 50%"]
    # the next backend reads Korean: it gets the prompt as written, and the line says nothing of translation
    again = lines.line(EN, Started("j1", "test", "replicate", "minimax", None, 0.5))
    assert again == "Running on replicate (minimax, ≈ $0.50)…"
    assert lines.line(EN, Ended("j1", "test", JobState.SUCCEEDED)) is None


def test_a_prompt_that_could_not_be_translated_is_said_on_the_running_line():
    line = JobLines().line(Words("ko"), Started("j2", "test", "local", "zeroscope", "gpu0", translation_failed=True))
    assert line is not None
    assert line.splitlines() == ["참고: 프롬프트를 영어로 번역하지 못해서 원문 그대로 보냈어요.", "local에서 만드는 중 (zeroscope)…"]

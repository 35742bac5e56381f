"""What users read about jobs, errors and /status: the one renderer every front end shares."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from bot.i18n import ENGLISH as EN
from bot.render import (
    describe_error,
    failure_text,
    progress_bar,
    queued_line,
    result_caption,
    status_text,
)
from engine.errors import BudgetExhausted, InvalidInput, JobFailed, NotAllowed, QueueFull, QuotaExceeded
from engine.router import BackendHealth
from engine.status import GpuStats, LaneStatus, SpendLine, StatusReport, TopUser
from engine.types import JobKind, JobState, JobView, Options, Origin, UserRef
from engine.words import N_, Seconds

NOW = datetime(2026, 3, 14, 12, 0, tzinfo=UTC)


def job(**changes: object) -> JobView:
    values: dict[str, object] = dict(
        id="abc12345",
        user=UserRef("telegram", "42", "ada"),
        kind=JobKind.TEXT_TO_VIDEO,
        prompt="a cat surfing",
        options=Options(),
        state=JobState.FAILED,
        origin=Origin("telegram", "42"),
        seed=7,
        created_at=NOW,
    )
    values.update(changes)
    return JobView(**values)  # type: ignore[arg-type]


# --- progress and time ------------------------------------------------------------------------------------


def test_progress_bar_empty_half_and_full() -> None:
    assert progress_bar(0, 10) == "[" + "░" * 20 + "] 0%"
    assert progress_bar(5, 10) == "[" + "█" * 10 + "░" * 10 + "] 50%"
    assert progress_bar(10, 10) == "[" + "█" * 20 + "] 100%"


def test_progress_bar_never_overflows() -> None:
    assert progress_bar(15, 10) == progress_bar(10, 10)
    assert progress_bar(0, 0).endswith("] 0%")  # a backend that reports no total yet


@pytest.mark.parametrize(
    ("seconds", "text"),
    [
        (None, "?"),
        (-3, "0 s"),
        (0, "0 s"),
        (42.4, "42 s"),
        (90, "1 min 30 s"),
        (605, "10 min"),
        (3600, "1 h 00 min"),
        (2 * 3600 + 5 * 60, "2 h 05 min"),
        (3 * 86400 + 600, "3 days"),
    ],
)
def test_duration(seconds: float | None, text: str) -> None:
    assert EN.duration(seconds) == text


def test_queued_line_first_in_line() -> None:
    assert queued_line(EN, 1, 20) == "Queued #1 (you're next, starts in ≈ 20 s)"


def test_queued_line_behind_others() -> None:
    assert queued_line(EN, 3, 150) == "Queued #3 (2 ahead of you, starts in ≈ 2 min 30 s)"


def test_queued_line_without_a_position_says_starting() -> None:
    assert queued_line(EN, None, None) == "Starting…"


# --- errors -----------------------------------------------------------------------------------------------


def test_quota_with_retry_after_says_how_long_to_wait() -> None:
    error = QuotaExceeded("max_jobs_per_day", "You have made 20 videos today; the limit is 20 a day.",
                          retry_after=3 * 3600)
    text = describe_error(EN, error)
    assert text.startswith("You have made 20 videos today")
    assert "Try again in 3 h 00 min." in text


def test_quota_whose_hint_already_gives_the_wait_is_not_repeated() -> None:
    error = QuotaExceeded("max_jobs_per_day", "You have made 20 videos today.", retry_after=3600,
                          hint=N_("You can make more in {wait}.", wait=Seconds(3600)))
    text = describe_error(EN, error)
    assert text == "You have made 20 videos today. You can make more in 1 h 00 min."


def test_budget_exhausted_says_when_it_renews_and_who_can_raise_it() -> None:
    text = describe_error(EN, BudgetExhausted("This bot's budget for the month ($50.00) is used up.",
                                          retry_after=2 * 3600))
    assert "GLOBAL_MONTHLY_BUDGET_USD" in text
    assert "Try again in 2 h 00 min." in text


def test_queue_full_asks_to_come_back() -> None:
    assert describe_error(EN, QueueFull(500)) == "The queue is full (500 jobs waiting). Try again in a few minutes."


def test_invalid_input_shows_message_and_hint() -> None:
    error = InvalidInput("frames", "frames must be between 1 and 129.", hint="Ask for fewer.")
    assert describe_error(EN, error) == "frames must be between 1 and 129. Ask for fewer."


def test_job_failed_says_not_charged() -> None:
    text = describe_error(EN, JobFailed("Every GPU and provider failed.", refund=0.5))
    assert text == "Every GPU and provider failed. You were not charged."


def test_a_refusal_is_worded_from_its_numbers_with_the_chats_commands() -> None:
    error = QuotaExceeded("max_queued", "engine words", hint="engine hint", used=3, allowed=3)
    assert describe_error(EN, error) == ("You already have 3 videos waiting or in progress; the limit is 3 at a time. "
                                     "Wait for one to finish, or cancel one with /cancel.")
    monthly = QuotaExceeded("max_usd_per_month", "engine words", used=0.9, allowed=1.0, needed_usd=0.25,
                            retry_after=3 * 86400)
    assert describe_error(EN, monthly) == ("This video needs ≈ $0.25 and you have $0.10 of your $1.00 monthly "
                                       "allowance left. Your allowance renews in 3 days.")


def test_a_pressed_button_that_is_not_yours_points_to_video() -> None:
    error = NotAllowed("engine words", reason="not_owner", action="retry")
    assert describe_error(EN, error) == "Only the person who asked for that video can retry it. Make your own with /video."
    assert describe_error(EN, NotAllowed("engine words", reason="admins_only")) == (
        "Only the bot's admins can see /status. /usage shows your own numbers.")


def test_an_empty_prompt_is_answered_with_an_example_command() -> None:
    error = InvalidInput("prompt", "Describe the video you want.", reason="missing")
    assert "/video a cat surfing a wave at sunset" in describe_error(EN, error)


def test_unknown_exception_gets_a_generic_line_and_leaks_nothing() -> None:
    error = RuntimeError("psycopg: password authentication failed for user 'reelbot' hunter2")
    text = describe_error(EN, error)
    assert text == "Something went wrong on our side. Nothing was charged; please try again."
    assert "hunter2" not in text and "psycopg" not in text and "RuntimeError" not in text


# --- failures of jobs -------------------------------------------------------------------------------------


def test_failure_text_refunds_what_was_held() -> None:
    text = failure_text(EN, job(error_message="Every backend failed.", reserved_usd=0.25))
    assert text == "Every backend failed. The $0.25 held for it was refunded."
    assert "not charged" not in text


def test_failure_text_free_job_was_not_charged() -> None:
    text = failure_text(EN, job(error_message="Every backend failed.", reserved_usd=0.0))
    assert text == "Every backend failed. You were not charged."
    assert "refunded" not in text


def test_failure_text_without_a_message_and_for_cancelled_jobs() -> None:
    assert failure_text(EN, job()) == "The video could not be made. You were not charged."
    cancelled = failure_text(EN, job(state=JobState.CANCELLED, reserved_usd=0.012))
    assert cancelled == "Cancelled. The $0.012 held for it was refunded."


# --- /status ----------------------------------------------------------------------------------------------


def lane(name: str, **changes: object) -> LaneStatus:
    values: dict[str, object] = dict(
        name=name, label="NVIDIA H100", device=f"cuda:{name[-1]}", current_job=None, busy_s=0.0, queued=0,
        warm_models=(), jobs_done=0, broken=None, stats=None,
    )
    values.update(changes)
    return LaneStatus(**values)  # type: ignore[arg-type]


def report(**changes: object) -> StatusReport:
    values: dict[str, object] = dict(
        generated_at=NOW,
        lanes=(
            lane("gpu0", current_job="abc12345", busy_s=75, queued=2, warm_models=("zeroscope",),
                 stats=GpuStats(utilization_pct=97.4, memory_used_mib=20480, memory_total_mib=81920,
                                temperature_c=71)),
            lane("gpu1", broken="CUDA error: an illegal memory access was encountered"),
        ),
        backends=(
            BackendHealth("local", True, ("image-to-video", "text-to-video"), None, 0.0, 0, None),
            BackendHealth("replicate", False, ("text-to-video",), None, 42.0, 0, "HTTP 503 from Replicate"),
            BackendHealth("fal", False, (), "FAL_KEY is not set", 0.0, 0, None),
        ),
        queued=2,
        running=1,
        jobs_by_state={"queued": 2, "running": 1},
        spend=(
            SpendLine("local", 0.0, 0.0, 310.0),
            SpendLine("replicate", 1.5, 12.5, 0.0),
        ),
        budget_usd=50.0,
        committed_usd=12.5,
        top_users=(TopUser("telegram", "42", "ada", 9, 4.0), TopUser("discord", "7", "", 3, 1.0)),
    )
    values.update(changes)
    return StatusReport(**values)  # type: ignore[arg-type]


def test_status_text_shows_lanes_backends_spend_and_budget() -> None:
    lines = status_text(EN, report()).splitlines()
    assert lines[0] == "Jobs: 2 queued, 1 running"
    assert ("gpu0 (NVIDIA H100): busy with abc12345 for 1 min 15 s, 2 waiting, warm: zeroscope, 97% util, "
            "20.0/80 GiB, 71°C") in lines
    assert ("gpu1 (NVIDIA H100): BROKEN: CUDA error: an illegal memory access was encountered, 0 waiting, "
            "warm: none") in lines
    assert "  local: ok" in lines
    assert "  replicate: cooling down 42 s (HTTP 503 from Replicate)" in lines
    assert "  fal: unavailable: FAL_KEY is not set" in lines
    assert "Spend today $1.50, this month $12.50" in lines
    assert "  replicate: today $1.50, month $12.50, GPU today 0 s" in lines
    assert "  local: today free, month free, GPU today 5 min 10 s" in lines
    assert "Budget this month: $12.50 of $50.00 committed, $37.50 left" in lines
    assert "Top users this month: ada (9), 7 (3)" in lines


def test_status_text_cloud_only_without_budget() -> None:
    text = status_text(EN, report(lanes=(), spend=(), budget_usd=None, committed_usd=0.0, top_users=()))
    assert "GPUs: none (cloud only)" in text
    assert "Spend today free, this month free" in text
    assert "Budget" not in text
    assert "Top users" not in text


def test_status_text_cooling_backend_without_an_error_message() -> None:
    backends = (BackendHealth("runway", False, ("image-to-video",), None, 3600.0, 3, None),)
    assert "  runway: cooling down 1 h 00 min (failures)" in status_text(EN, report(backends=backends))


def test_the_caption_tells_the_user_what_the_memory_ladder_changed():
    from engine.types import AttemptView, Outcome

    now = NOW
    attempt = AttemptView("local", "svd-xt", now, now, Outcome.SUCCEEDED, None, None, 30.0, 0.0,
                          notes=("loaded svd-xt on gpu0", N_("out of GPU memory: {change}", change=N_(
                              "frames lowered from {before} to {after}", before=25, after=15))))
    job = JobView("abc", UserRef("test", "u"), JobKind.IMAGE_TO_VIDEO, "a cat", Options(), JobState.SUCCEEDED,
                  Origin("test"), 7, now, started_at=now, finished_at=now, backend="local", model="svd-xt",
                  attempts=(attempt,))
    caption = result_caption(EN, job)
    assert "Note: GPU memory was short, so frames lowered from 25 to 15." in caption
    assert "loaded svd-xt" not in caption


def test_job_line_says_where_a_job_stands_at_each_stage():
    from bot.render import job_line

    assert job_line(EN, job(state=JobState.QUEUED, position=2, eta_s=90)) == (
        "Queued #2 (1 ahead of you, starts in ≈ 1 min 30 s)")
    running = job_line(EN, job(state=JobState.RUNNING, backend="local", progress=(5, 10)))
    assert running.startswith("Running on local [") and running.endswith("50%")
    assert job_line(EN, job(state=JobState.RUNNING, backend="runway")) == "Running on runway…"
    assert job_line(EN, job(state=JobState.FAILED, error_message="Replicate refused the prompt.",
                        reserved_usd=0.25)) == "Replicate refused the prompt. The $0.25 held for it was refunded."


def test_usage_text_shows_each_limit_and_admins_have_none():
    from bot.render import usage_text
    from engine.status import UsageReport

    user = UsageReport(jobs_today=3, open_jobs=1, month_usd=0.75, max_jobs_per_day=20, max_open_jobs=3,
                       max_usd_per_month=2.0, is_admin=False)
    assert usage_text(EN, user) == "Today: 3 of 20 videos.\nIn progress: 1 of 3.\nThis month: $0.75 of $2.00."
    admin = UsageReport(5, 0, 0.0, None, None, None, is_admin=True)
    assert usage_text(EN, admin) == "Today: 5 videos. This month: free. As an admin you have no personal limits."


def test_status_lists_distributed_workers_and_flags_lost_ones() -> None:
    from engine.status import WorkerStatus

    workers = (
        WorkerStatus("box1:gpu0", "box1", "NVIDIA H100", ("svd-xt",), ("svd-xt",), "abc123", 12, 1.5),
        WorkerStatus("box2:gpu0", "box2", "NVIDIA L4", ("zeroscope",), (), None, 3, 300.0),
    )
    lines = status_text(EN, report(lanes=(), workers=workers)).splitlines()
    assert "Workers:" in lines and "GPUs: none (cloud only)" not in lines
    assert ("  box1:gpu0 (NVIDIA H100): busy with abc123, 12 done, warm: svd-xt, heartbeat 2 s ago") in lines
    assert any(line.startswith("  box2:gpu0 (NVIDIA L4): LOST (no heartbeat for 5 min 00 s)") for line in lines)


def test_the_caption_shows_the_prompt_the_model_got_when_it_was_translated():
    from bot.i18n import Words
    from engine.translate.prompts import UNTRANSLATED_TOLD
    from engine.types import AttemptView, Outcome

    translated = job(prompt="서핑하는 고양이", prompt_used="a cat surfing", state=JobState.SUCCEEDED,
                     backend="local", model="zeroscope")
    caption = result_caption(EN, translated)
    assert caption.splitlines() == [
        '서핑하는 고양이 → "a cat surfing"',
        "seed 7 · zeroscope · on local · free",
        "This model understands only English, so your prompt was translated. To send it as written, add --raw.",
    ]
    assert result_caption(Words("ko"), translated).splitlines()[2] == (
        "이 모델은 영어만 이해해서 번역했어요. 원문 그대로 쓰려면 --raw")
    # a translation model that could not load: the note once, however many attempts the job took
    attempts = tuple(AttemptView(b, "zeroscope", NOW, NOW, Outcome.FAILED, None, None, 0.0, 0.0,
                                 notes=(UNTRANSLATED_TOLD, "prompt not translated: the folder does not exist"))
                     for b in ("local", "replicate"))
    untranslated = job(prompt="서핑하는 고양이", state=JobState.SUCCEEDED, attempts=attempts)
    assert result_caption(Words("ko"), untranslated).splitlines()[0] == "“서핑하는 고양이”"
    assert result_caption(Words("ko"), untranslated).splitlines()[2:] == [
        "참고: 프롬프트를 영어로 번역하지 못해서 원문 그대로 보냈어요."]

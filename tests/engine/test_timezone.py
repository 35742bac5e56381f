"""TIMEZONE through the engine: when a refused user may try again, and what /status counts as today and this
month, and the clock it shows. The engine's clock is pinned (``engine.service.utcnow``, ``engine.status.utcnow``)
so "now" is a known instant on both sides of Seoul's midnight."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from engine.backends.simulated import SimulatedBackend
from engine.errors import BudgetExhausted, QuotaExceeded
from engine.status import SpendLine
from engine.types import Options, Origin, SubmitRequest, UserRef
from storage.repo import Limits, NewJob

SEOUL = {"timezone": "Asia/Seoul"}


def utc(day: int, hour: int, minute: int = 0, month: int = 11) -> datetime:
    return datetime(2026, month, day, hour, minute, tzinfo=UTC)


def req(user: str = "u1") -> SubmitRequest:
    return SubmitRequest(UserRef("test", user, user), "a cat surfing", Origin("test", chat_id="c"), Options(), None)


def clock(monkeypatch: pytest.MonkeyPatch, now: datetime) -> None:
    monkeypatch.setattr("engine.service.utcnow", lambda: now)
    monkeypatch.setattr("engine.status.utcnow", lambda: now)


@pytest.mark.parametrize(("settings", "wait_s"), [(SEOUL, 30 * 60), ({}, 9.5 * 3600)])
async def test_jobs_today_renew_at_local_midnight(app_factory, monkeypatch, settings, wait_s):
    """At 14:30 UTC it is 23:30 in Seoul: a Seoul user may make more in 30 min, a UTC one in 9 h 30 min."""
    app = await app_factory(settings={**settings, "max_jobs_per_day": 1})
    clock(monkeypatch, utc(22, 14))
    await app.service.wait((await app.service.submit(req())).id)
    clock(monkeypatch, utc(22, 14, 30))
    with pytest.raises(QuotaExceeded) as refused:
        await app.service.submit(req())
    assert refused.value.limit == "max_jobs_per_day" and refused.value.retry_after == wait_s
    if settings:
        clock(monkeypatch, utc(22, 15, 1))  # 00:01 on the 23rd in Seoul
        assert (await app.service.submit(req())).id


@pytest.mark.parametrize(("settings", "wait_s"), [(SEOUL, 3600), ({}, 10 * 3600)])
async def test_the_allowance_and_the_budget_renew_on_the_local_first(app_factory, monkeypatch, settings, wait_s):
    """14:00 UTC on 30 November is 23:00 in Seoul: December, and a fresh allowance, is an hour away."""
    app = await app_factory(
        backends={"runway": SimulatedBackend("runway", local=False, usd_per_run=0.75, seconds=0.02, steps=2)},
        settings={**settings, "chain_text_to_video": ["runway"], "max_usd_per_month": 1.0,
                  "global_monthly_budget_usd": 1.5},
    )
    clock(monkeypatch, utc(30, 14))
    await app.service.wait((await app.service.submit(req("a"))).id)
    with pytest.raises(QuotaExceeded) as allowance:
        await app.service.submit(req("a"))
    assert allowance.value.limit == "max_usd_per_month" and allowance.value.retry_after == wait_s
    await app.service.wait((await app.service.submit(req("b"))).id)
    with pytest.raises(BudgetExhausted) as budget:
        await app.service.submit(req("c"))
    assert budget.value.retry_after == wait_s


async def test_status_counts_spend_by_the_local_day_and_month_and_shows_the_local_clock(app_factory, monkeypatch):
    """Now is 10:00 on 1 December in Seoul. A bill at 00:30 that day (15:30 UTC on 30 November) is today's
    and December's; one at 23:30 the evening before is neither."""
    app = await app_factory(settings=SEOUL)
    repo = app.repo
    limits = Limits(None, None, None, None, None)
    for job_id, backend, at, cost in (("dec", "replicate", utc(30, 15, 30), 500_000),
                                      ("nov", "fal", utc(30, 14, 30), 250_000)):
        await repo.admit(platform="test", external_id="u1", name="U", is_admin=False,
                         job=NewJob(job_id, "text-to-video", "a cat", {}, 1, None, "test", {"chat_id": "c"}),
                         costs_micros=[cost], limits=limits, now=at)
        attempt = await repo.start_attempt(job_id, backend=backend, model=None, lane=None, now=at)
        await repo.end_attempt(attempt, outcome="succeeded", now=at, cost_micros=cost, gpu_seconds=3.0)
        await repo.finish(job_id, state="succeeded", now=at, deliver=False)
    clock(monkeypatch, utc(1, 1, month=12))
    report = await app.service.report()
    assert report.spend == (SpendLine("replicate", 0.5, 0.5, 3.0),)
    assert report.committed_usd == 0.5  # December's budget in Seoul
    shown = report.generated_at
    assert (shown.month, shown.day, shown.hour, shown.tzname()) == (12, 1, 10, "KST")
    assert [u.jobs for u in report.top_users] == [1]

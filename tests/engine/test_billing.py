"""Every dollar a provider bills reaches the books: the attempt, the global budget and /status, whether the
attempt made the video, was cancelled, timed out or failed. Who pays it: the user for their video, their
cancel and their refused content (then it counts in their month and their day too); the operator for a
provider's failure (a failure is never charged to the user).

The cloud backends here are simulated at the engine's seam: they set ``RunContext.billed_usd`` as soon as
their remote work starts, as the real providers' clients do, and report the same bill on success.
"""

from __future__ import annotations

import asyncio
from typing import Any

import pytest
from sqlalchemy import text

from bot.i18n import ENGLISH as EN
from bot.render import failure_text, status_text, usage_text
from engine.backends.base import Output
from engine.backends.simulated import SimulatedBackend
from engine.errors import BudgetExhausted, Moderated, QuotaExceeded, TransientError
from engine.events import Event, Progress
from engine.types import JobState, Options, Origin, Outcome, SubmitRequest, UserRef


async def rows(app: Any, sql: str) -> list[tuple]:
    def query() -> list[tuple]:
        with app.db.transaction() as conn:
            return [tuple(r) for r in conn.execute(text(sql))]
    return await asyncio.to_thread(query)


def req(user: str = "u1") -> SubmitRequest:
    return SubmitRequest(UserRef("test", user, user), "a cat surfing", Origin("test", "chat"), Options(), None)


def provider(name: str, *, estimate: float, bill: float, seconds: float = 0.02, steps: int = 2,
             **kwargs: Any) -> SimulatedBackend:
    """A cloud provider that reserves ``estimate`` and bills ``bill`` for every run it starts."""
    return SimulatedBackend(name, local=False, usd_per_run=estimate, billed_usd=bill, seconds=seconds,
                            steps=steps, **kwargs)


def running(app: Any) -> asyncio.Event:
    """Set once a job reports progress: the provider has started (and billed)."""
    started = asyncio.Event()

    async def on_event(event: Event) -> None:
        if isinstance(event, Progress):
            started.set()

    app.service.subscribe(on_event)
    return started


def attempts_of(view: Any) -> list[tuple[str, Outcome, float]]:
    return [(a.backend, a.outcome, a.cost_usd) for a in view.attempts]


async def test_cancelling_a_started_cloud_job_is_charged_and_counted(app_factory):
    app = await app_factory(
        backends={"runway": provider("runway", estimate=0.25, bill=0.04, seconds=30, steps=300)},
        settings={"chain_text_to_video": ["runway"], "max_jobs_per_day": 1},
    )
    started = running(app)
    view = await app.service.submit(req())
    await asyncio.wait_for(started.wait(), 10)
    cancelled = await app.service.cancel(UserRef("test", "u1"), view.id)

    assert cancelled.state is JobState.CANCELLED and cancelled.charged_usd == 0.04
    assert attempts_of(cancelled) == [("runway", Outcome.CANCELLED, 0.04)]
    assert failure_text(EN, cancelled) == ("Cancelled. The cloud provider had already started: $0.040 was charged. "
                                       "The rest of the $0.25 held for it was refunded.")
    # Cancel at 90 % and start again, for ever? The charged cancel was today's one video.
    with pytest.raises(QuotaExceeded) as err:
        await app.service.submit(req())
    assert err.value.limit == "max_jobs_per_day" and "You have made 1 videos today" in err.value.message
    usage = await app.service.usage(UserRef("test", "u1"))
    assert (usage.jobs_today, usage.month_usd) == (1, 0.04)
    report = await app.service.report()
    assert [(line.backend, line.month_usd) for line in report.spend] == [("runway", 0.04)]
    assert report.committed_usd == pytest.approx(0.04)
    assert await app.repo.ledger_balance() == {view.id: 0}


async def test_a_timed_out_cloud_attempt_is_on_the_books_but_not_the_users_bill(app_factory):
    app = await app_factory(
        backends={
            "replicate": provider("replicate", estimate=0.05, bill=0.03, seconds=30, steps=300),
            "runway": provider("runway", estimate=0.10, bill=0.10),
        },
        settings={"chain_text_to_video": ["replicate", "runway"], "job_timeout_s": 0.5},
    )
    view = await app.service.submit(req())
    done = await app.service.wait(view.id)

    assert done.state is JobState.SUCCEEDED and done.backend == "runway"
    assert attempts_of(done) == [("replicate", Outcome.TIMEOUT, 0.03), ("runway", Outcome.SUCCEEDED, 0.10)]
    assert (done.reserved_usd, done.charged_usd) == (0.10, 0.10)  # the user pays for their video only
    assert await rows(app, f"SELECT kind, amount_micros FROM ledger WHERE job_id = '{view.id}' ORDER BY id") == [
        ("reserve", 100_000), ("absorbed", 30_000), ("settle", 100_000)]
    assert (await app.service.usage(UserRef("test", "u1"))).month_usd == pytest.approx(0.10)
    report = await app.service.report()
    assert {line.backend: line.month_usd for line in report.spend} == {"replicate": 0.03, "runway": 0.10}
    assert report.committed_usd == pytest.approx(0.13)
    assert await app.repo.ledger_balance() == {view.id: 0}


async def test_a_provider_that_fails_after_starting_bills_the_operator_not_the_user(app_factory):
    app = await app_factory(
        backends={"replicate": provider(
            "replicate", estimate=0.05, bill=0.02,
            failure=lambda n, job: TransientError("Replicate's worker crashed.", backend="replicate"))},
        settings={"chain_text_to_video": ["replicate"]},
    )
    done = await app.service.wait((await app.service.submit(req())).id)

    assert done.state is JobState.FAILED and done.charged_usd == 0
    assert attempts_of(done) == [("replicate", Outcome.FAILED, 0.02)]
    assert failure_text(EN, done) == "Replicate's worker crashed. The $0.050 held for it was refunded."
    usage = await app.service.usage(UserRef("test", "u1"))
    assert (usage.jobs_today, usage.month_usd) == (0, 0)  # no charge, no count: the failure was not theirs
    report = await app.service.report()
    assert report.committed_usd == pytest.approx(0.02) and report.spend_month_usd == pytest.approx(0.02)
    assert await app.repo.ledger_balance() == {done.id: 0}


async def test_a_bill_over_the_estimate_reaches_the_global_budget(app_factory):
    app = await app_factory(
        backends={"replicate": provider("replicate", estimate=0.05, bill=0.80)},
        settings={"chain_text_to_video": ["replicate"], "global_monthly_budget_usd": 3.0},
    )
    jobs = []
    for user in ("a", "b", "c", "d"):
        done = await app.service.wait((await app.service.submit(req(user))).id)
        assert (done.state, done.reserved_usd, done.charged_usd) == (JobState.SUCCEEDED, 0.05, 0.80)
        jobs.append(done.id)

    report = await app.service.report()
    assert report.committed_usd == pytest.approx(3.20) and report.spend_month_usd == pytest.approx(3.20)
    text = status_text(EN, report)
    assert "Spend today $3.20, this month $3.20" in text
    assert "Budget this month: $3.20 of $3.00 committed, $0.00 left" in text
    with pytest.raises(BudgetExhausted) as err:
        await app.service.submit(req("e"))
    assert "budget for the month ($3.00) is used up" in err.value.message
    assert await rows(app, "SELECT kind, sum(amount_micros) FROM ledger GROUP BY kind ORDER BY kind") == [
        ("extra", 3_000_000), ("reserve", 200_000), ("settle", 200_000)]
    assert await app.repo.ledger_balance() == dict.fromkeys(jobs, 0)


async def test_a_bill_over_the_reservation_refuses_the_next_job(app_factory):
    app = await app_factory(
        backends={"replicate": provider("replicate", estimate=0.05, bill=1.20)},
        settings={"chain_text_to_video": ["replicate"], "max_usd_per_month": 1.0},
    )
    done = await app.service.wait((await app.service.submit(req())).id)
    assert (done.reserved_usd, done.charged_usd) == (0.05, 1.20)
    usage = await app.service.usage(UserRef("test", "u1"))
    assert "This month: $1.20 of $1.00." in usage_text(EN, usage)

    with pytest.raises(QuotaExceeded) as err:
        await app.service.submit(req())
    assert err.value.limit == "max_usd_per_month"
    assert err.value.message == ("This video needs ≈ $0.05 and you have $0.00 of your $1.00 monthly allowance "
                                 "left.")
    assert await rows(app, "SELECT count(*) FROM jobs") == [(1,)]
    assert await app.repo.ledger_balance() == {done.id: 0}


class NoVideo(SimulatedBackend):
    """A provider that bills and says it is done, but hands back nothing that can be stored."""

    async def run(self, ctx: Any) -> Output:
        ctx.billed_usd = self.billed_usd
        return Output(fps=7, cost_usd=self.billed_usd)


async def test_a_billed_result_that_cannot_be_stored_is_on_the_books_and_not_charged(app_factory):
    app = await app_factory(
        backends={"fal": NoVideo("fal", local=False, usd_per_run=0.05, billed_usd=0.05)},
        settings={"chain_text_to_video": ["fal"]},
    )
    done = await app.service.wait((await app.service.submit(req())).id)
    assert done.state is JobState.FAILED and done.error_message == "Internal error: TransientError."
    assert attempts_of(done) == [("fal", Outcome.FAILED, 0.05)] and done.charged_usd == 0
    assert (await app.service.report()).committed_usd == pytest.approx(0.05)
    assert await app.repo.ledger_balance() == {done.id: 0}


async def test_content_the_provider_refuses_is_billed_to_whoever_sent_it(app_factory):
    app = await app_factory(
        backends={"runway": provider(
            "runway", estimate=0.25, bill=0.05,
            failure=lambda n, job: Moderated("Runway refused the prompt (content policy).", backend="runway"))},
        settings={"chain_text_to_video": ["runway"], "max_jobs_per_day": 1},
    )
    done = await app.service.wait((await app.service.submit(req())).id)
    assert done.state is JobState.FAILED and done.charged_usd == 0.05
    assert failure_text(EN, done).startswith("Runway refused the prompt (content policy). The cloud provider had "
                                         "already started: $0.050 was charged.")
    with pytest.raises(QuotaExceeded):  # refused prompts are no way around the daily limit
        await app.service.submit(req())
    assert await app.repo.ledger_balance() == {done.id: 0}

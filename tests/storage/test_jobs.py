"""A job's life after admission: closing it once with balanced books, a free early cancel, and recovery."""

from __future__ import annotations

from sqlalchemy import text

from storage.repo import AttemptEnd, Repository
from tests.storage.conftest import LIMITS, NOW, admit


def attempt(repo: Repository, job_id: str, outcome: str | None = None, cost: int = 0) -> int:
    """An attempt at the job on a cloud provider; ended (with what the provider billed) unless outcome is None."""
    attempt_id = repo.start_attempt.sync(repo, job_id, backend="replicate", model="m", lane=None, now=NOW)
    if outcome is not None:
        repo.end_attempt.sync(repo, attempt_id, outcome=outcome, now=NOW, cost_micros=cost)
    return attempt_id


def test_every_billed_dollar_is_charged_once_and_the_ledger_balances(repo):
    """The books, per job: reserve = settle + refund (the hold is released once), and settle + extra = what
    its attempts were billed (extra: billed beyond the reservation, its own entry)."""
    # Within the hold: a failed attempt billed $0.05 and the one that made the video $0.10, of $0.40.
    admit(repo, "within", cost=400_000)
    attempt(repo, "within", "failed", 50_000)
    last = attempt(repo, "within")
    first = repo.finish.sync(repo, "within", state="succeeded", now=NOW,
                             attempt=AttemptEnd(last, "succeeded", cost_micros=100_000))
    again = repo.finish.sync(repo, "within", state="failed", now=NOW)
    assert first and again is None
    # Beyond it: $0.05 was reserved, the provider billed $0.80.
    admit(repo, "over", cost=50_000, user="u2")
    last = attempt(repo, "over")
    repo.finish.sync(repo, "over", state="succeeded", now=NOW, attempt=AttemptEnd(last, "succeeded",
                                                                                  cost_micros=800_000))
    # Cancelled after the provider started: $0.04 billed of $0.25 held.
    admit(repo, "cancelled", cost=250_000, user="u3")
    attempt(repo, "cancelled", "cancelled", 40_000)
    repo.finish.sync(repo, "cancelled", state="cancelled", now=NOW)
    # A bill that comes in after the job was closed (a remote worker ended its attempt late).
    admit(repo, "late", cost=100_000, user="u4")
    late = attempt(repo, "late")
    repo.finish.sync(repo, "late", state="cancelled", now=NOW)
    repo.end_attempt.sync(repo, late, outcome="cancelled", now=NOW, cost_micros=30_000)
    # A video finished after the job was closed (cancelled elsewhere): it is not closed twice, but it is billed.
    admit(repo, "raced", cost=100_000, user="u5")
    last = attempt(repo, "raced")
    repo.finish.sync(repo, "raced", state="cancelled", now=NOW)
    assert repo.finish.sync(repo, "raced", state="succeeded", now=NOW,
                            attempt=AttemptEnd(last, "succeeded", cost_micros=60_000)) is None

    assert repo.ledger_balance.sync(repo) == {"within": 0, "over": 0, "cancelled": 0, "late": 0, "raced": 0}
    with repo.db.transaction() as conn:
        books = conn.execute(text("SELECT job_id, kind, amount_micros FROM ledger ORDER BY id")).all()
        charged = dict(conn.execute(text("SELECT id, charged_micros FROM jobs")).all())
        committed = conn.execute(text("SELECT committed_micros FROM budget_months")).scalar_one()
        billed = conn.execute(text("SELECT sum(cost_micros) FROM attempts")).scalar_one()
    assert books == [
        ("within", "reserve", 400_000), ("within", "settle", 150_000), ("within", "refund", 250_000),
        ("over", "reserve", 50_000), ("over", "settle", 50_000), ("over", "extra", 750_000),
        ("cancelled", "reserve", 250_000), ("cancelled", "settle", 40_000), ("cancelled", "refund", 210_000),
        ("late", "reserve", 100_000), ("late", "settle", 0), ("late", "refund", 100_000),
        ("late", "extra", 30_000),
        ("raced", "reserve", 100_000), ("raced", "settle", 0), ("raced", "refund", 100_000),
        ("raced", "extra", 60_000),
    ]
    assert charged == {"within": 150_000, "over": 800_000, "cancelled": 40_000, "late": 30_000, "raced": 60_000}
    assert committed == billed == 1_080_000  # the global budget holds what the providers billed
    usage = repo.usage.sync(repo, "test", "u2", LIMITS, NOW)
    assert usage.month_micros == 800_000  # the user's month counts the bill, not the reservation
    assert repo.usage.sync(repo, "test", "u3", LIMITS, NOW).jobs_today == 1  # a charged cancel counts


def test_a_cancel_before_any_work_costs_nothing_and_does_not_count(repo):
    admit(repo, "early", cost=250_000)
    repo.finish.sync(repo, "early", state="cancelled", now=NOW)
    assert repo.ledger_balance.sync(repo) == {"early": 0}
    usage = repo.usage.sync(repo, "test", "u1", LIMITS, NOW)
    assert (usage.jobs_today, usage.month_micros) == (0, 0)


def test_recovery_requeues_a_running_job_and_fails_one_that_keeps_crashing(repo):
    admit(repo, "calm")
    admit(repo, "crashy", user="u2")
    admit(repo, "waiting", user="u3")
    for job_id in ("calm", "crashy"):
        repo.start_attempt.sync(repo, job_id, backend="local", model="m", lane="gpu0", now=NOW)
    with repo.db.transaction() as conn:
        conn.execute(text("UPDATE jobs SET interruptions = 2 WHERE id = 'crashy'"))
    report = repo.recover.sync(repo, now=NOW, max_interruptions=2)
    assert report.requeued == ["calm"] and report.failed == ["crashy"]
    assert sorted(report.queued) == ["calm", "waiting"]
    with repo.db.transaction() as conn:
        states = dict(conn.execute(text("SELECT id, state FROM jobs")).all())
        outcomes = conn.execute(text("SELECT DISTINCT outcome FROM attempts")).scalars().all()
        message = conn.execute(text("SELECT error_message FROM jobs WHERE id = 'crashy'")).scalar_one()
    assert states == {"calm": "queued", "crashy": "failed", "waiting": "queued"}
    assert outcomes == ["interrupted"] and "stopped 3 times" in message
    assert repo.pending_deliveries.sync(repo, ["test"])[0][1] == "crashy"


def test_each_attempt_records_the_prompt_its_model_got_when_it_is_not_the_users(repo):
    """A model that needed English got the translation (kept on the job); the next attempt, on a model that
    reads the user's language, got their prompt: the job says so (None)."""
    admit(repo, "translated")
    repo.start_attempt.sync(repo, "translated", backend="local", model="zeroscope", lane="gpu0", now=NOW,
                            prompt_used="a cat surfing")
    job, _, _ = repo.job.sync(repo, "translated")
    assert (job.prompt, job.prompt_used) == ("a cat", "a cat surfing")
    repo.start_attempt.sync(repo, "translated", backend="replicate", model="m", lane=None, now=NOW)
    job, _, _ = repo.job.sync(repo, "translated")
    assert job.prompt_used is None

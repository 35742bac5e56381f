"""Storage on its own: migrations, SQLite's WAL mode, closing a job once, and recovery's bookkeeping."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime

import pytest
from sqlalchemy import inspect, text

from storage.db import Database
from storage.repo import AttemptEnd, Limits, NewJob, Refusal, Repository

NOW = datetime(2026, 11, 22, 12, 0, tzinfo=UTC)
LIMITS = Limits(max_running=1, max_queued=5, max_jobs_per_day=10, max_usd_per_month=1.0,
                global_budget_micros=5_000_000)
TABLES = {"users", "jobs", "attempts", "ledger", "deliveries", "budget_months", "workers", "alembic_version"}


def new_job(job_id: str) -> NewJob:
    return NewJob(job_id, "text-to-video", "a cat", {"frames": 8}, 7, None, "test", {"chat_id": "c"})


@pytest.fixture(params=["sqlite", "postgresql"])
def repo(request, tmp_path):
    url = request.getfixturevalue("pg_url") if request.param == "postgresql" else f"sqlite:///{tmp_path}/r.db"
    db = Database(url)
    db.migrate()
    yield Repository(db)
    db.close()


def admit(repo: Repository, job_id: str, cost: int = 0, user: str = "u1", limits: Limits = LIMITS):
    return repo.admit.sync(repo, platform="test", external_id=user, name="U", is_admin=False,
                           job=new_job(job_id), costs_micros=[cost], limits=limits, now=NOW)


def test_migrations_create_every_table_and_run_again_harmlessly(repo):
    repo.db.migrate()
    assert TABLES <= set(inspect(repo.db.engine).get_table_names())
    with repo.db.transaction() as conn:
        assert conn.execute(text("SELECT version_num FROM alembic_version")).scalar_one() == "0003"


def test_sqlite_runs_in_wal_mode(tmp_path):
    db = Database(f"sqlite:///{tmp_path}/w.db")
    db.migrate()
    with db.transaction() as conn:
        assert conn.exec_driver_sql("PRAGMA journal_mode").scalar_one() == "wal"
    db.close()


def test_refusal_stores_nothing_and_says_which_limit(repo):
    assert admit(repo, "job1", cost=600_000).reserved_micros == 600_000
    refused = admit(repo, "job2", cost=600_000)
    assert refused == Refusal("max_usd_per_month", 0.6, 1.0)
    with repo.db.transaction() as conn:
        assert conn.execute(text("SELECT id FROM jobs")).scalars().all() == ["job1"]
        assert conn.execute(text("SELECT count(*) FROM ledger")).scalar_one() == 1


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


async def test_sqlite_group_commit_undoes_only_the_call_that_failed(tmp_path):
    db = Database(f"sqlite:///{tmp_path}/g.db")
    db.migrate()
    repo = Repository(db)

    def broken() -> None:
        with db.transaction() as conn:
            conn.execute(text("INSERT INTO budget_months (month, committed_micros) VALUES ('2099-01', 5)"))
            raise RuntimeError("boom")

    calls = [db.run(broken)] + [
        repo.admit(platform="test", external_id=f"u{i}", name="U", is_admin=False, job=new_job(f"job{i}"),
                   costs_micros=[0], limits=LIMITS, now=NOW)
        for i in range(20)
    ]
    results = await asyncio.gather(*calls, return_exceptions=True)
    assert isinstance(results[0], RuntimeError)
    assert all(r.job_id == f"job{i}" for i, r in enumerate(results[1:]))
    with db.transaction() as conn:
        assert conn.execute(text("SELECT count(*) FROM jobs")).scalar_one() == 20
        assert conn.execute(text("SELECT count(*) FROM budget_months WHERE month = '2099-01'")).scalar_one() == 0
    db.close()


def test_processes_starting_together_on_a_new_postgresql_database_migrate_once(pg_url):
    import concurrent.futures

    def start() -> str:
        db = Database(pg_url)
        try:
            db.migrate()
            with db.transaction() as conn:
                return conn.execute(text("SELECT version_num FROM alembic_version")).scalar_one()
        finally:
            db.close()

    with concurrent.futures.ThreadPoolExecutor(4) as pool:
        versions = list(pool.map(lambda _: start(), range(4)))
    assert versions == ["0003"] * 4


async def test_workers_beat_show_and_are_forgotten_after_going_silent(repo):
    from datetime import timedelta

    from engine.clock import utcnow

    now = utcnow()
    row = {"name": "box:gpu0", "host": "box", "gpu": "H100", "models": ["svd-xt"], "warm": [], "current_job": None,
           "jobs_done": 0, "started_at": now, "last_heartbeat": now - timedelta(hours=2)}
    await repo.worker_beat(row)
    await repo.worker_beat({**row, "name": "box:gpu1", "last_heartbeat": now, "current_job": "abc"})
    assert [w["name"] for w in await repo.workers()] == ["box:gpu0", "box:gpu1"]
    assert await repo.forget_workers(now - timedelta(hours=1)) == 1
    [left] = await repo.workers()
    assert left["name"] == "box:gpu1" and left["current_job"] == "abc"

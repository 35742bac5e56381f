"""Storage's test fixtures: a migrated repository on SQLite and on PostgreSQL, and a job admitted in one call."""

from __future__ import annotations

from datetime import UTC, datetime
from zoneinfo import ZoneInfo

import pytest

from storage.db import Database
from storage.repo import Calendar, Limits, NewJob, Repository

NOW = datetime(2026, 11, 22, 12, 0, tzinfo=UTC)
LIMITS = Limits(max_running=1, max_queued=5, max_jobs_per_day=10, max_usd_per_month=1.0,
                global_budget_micros=5_000_000)


def new_job(job_id: str) -> NewJob:
    return NewJob(job_id, "text-to-video", "a cat", {"frames": 8}, 7, None, "test", {"chat_id": "c"})


@pytest.fixture(params=["sqlite", "postgresql"])
def database(request, tmp_path):
    url = request.getfixturevalue("pg_url") if request.param == "postgresql" else f"sqlite:///{tmp_path}/r.db"
    db = Database(url)
    db.migrate()
    yield db
    db.close()


@pytest.fixture
def repo(database):
    """A repository counting days and months in UTC (TIMEZONE's default)."""
    return Repository(database)


@pytest.fixture
def seoul(database):
    """A repository of a community in Asia/Seoul (UTC+9, no daylight saving)."""
    return Repository(database, Calendar(ZoneInfo("Asia/Seoul")))


def admit(repo: Repository, job_id: str, cost: int = 0, user: str = "u1", limits: Limits = LIMITS,
          now: datetime = NOW):
    return repo.admit.sync(repo, platform="test", external_id=user, name="U", is_admin=False,
                           job=new_job(job_id), costs_micros=[cost], limits=limits, now=now)

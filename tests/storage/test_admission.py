"""Admission: a refused job leaves nothing behind."""

from __future__ import annotations

from sqlalchemy import text

from storage.repo import Refusal
from tests.storage.conftest import admit


def test_refusal_stores_nothing_and_says_which_limit(repo):
    assert admit(repo, "job1", cost=600_000).reserved_micros == 600_000
    refused = admit(repo, "job2", cost=600_000)
    assert refused == Refusal("max_usd_per_month", 0.6, 1.0)
    with repo.db.transaction() as conn:
        assert conn.execute(text("SELECT id FROM jobs")).scalars().all() == ["job1"]
        assert conn.execute(text("SELECT count(*) FROM ledger")).scalar_one() == 1

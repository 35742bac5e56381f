"""TIMEZONE: a community's day starts at its own midnight, its month on its own 1st; stored times stay UTC.

Seoul is UTC+9 all year: its day turns at 15:00 UTC, and its month at 15:00 UTC on the last day of the UTC
month. Each rule is shown both ways: what the Seoul repository does, and what a UTC one does at the same
instant, so a test fails if the zone is ignored.
"""

from __future__ import annotations

from datetime import UTC, datetime
from zoneinfo import ZoneInfo

import pytest
from sqlalchemy import text

from storage.repo import Calendar, Limits, Refusal, Repository
from tests.storage.conftest import admit

SEOUL = Calendar(ZoneInfo("Asia/Seoul"))
ONE_A_DAY = Limits(max_running=1, max_queued=50, max_jobs_per_day=1, max_usd_per_month=None,
                   global_budget_micros=None)
A_DOLLAR_A_MONTH = Limits(max_running=1, max_queued=50, max_jobs_per_day=None, max_usd_per_month=1.0,
                          global_budget_micros=None)


def utc(day: int, hour: int, minute: int = 0, month: int = 11) -> datetime:
    return datetime(2026, month, day, hour, minute, tzinfo=UTC)


def budget_months(repo: Repository) -> dict[str, int]:
    with repo.db.transaction() as conn:
        return dict(conn.execute(text("SELECT month, committed_micros FROM budget_months")).all())  # type: ignore[arg-type]


# --- the calendar itself --------------------------------------------------------------------------------


def test_the_seoul_day_turns_at_15_00_utc() -> None:
    before, after = utc(22, 14, 59), utc(22, 15, 1)
    assert SEOUL.day_start(before) == utc(21, 15)  # 22 Nov 00:00 in Seoul
    assert SEOUL.day_start(after) == utc(22, 15)  # 23 Nov 00:00 in Seoul
    assert SEOUL.next_day(before) == utc(22, 15)
    assert Calendar().day_start(before) == Calendar().day_start(after) == utc(22, 0)


def test_the_seoul_month_turns_at_15_00_utc_on_the_last_day() -> None:
    assert SEOUL.month_key(utc(30, 14, 59)) == "2026-11"
    assert SEOUL.month_key(utc(30, 15, 0)) == "2026-12"
    assert SEOUL.month_start(utc(30, 15, 0)) == utc(30, 15)
    assert SEOUL.month_start(utc(30, 14, 59)) == utc(31, 15, month=10)
    assert SEOUL.next_month(utc(30, 14, 59)) == utc(30, 15)
    assert Calendar().month_key(utc(30, 15, 0)) == "2026-11"


def test_stored_utc_text_is_read_as_utc() -> None:
    """SQLite's fast path hands created_at back as text, without its zone: it is UTC."""
    assert SEOUL.month_key("2026-11-30 15:30:00.000000") == "2026-12"
    assert SEOUL.month_key("2026-11-30 14:30:00") == "2026-11"
    assert Calendar().month_key("2026-11-30 15:30:00.000000") == "2026-11"


def test_shown_times_are_on_the_local_clock() -> None:
    local = SEOUL.local(utc(22, 23, 30))
    assert (local.day, local.hour, local.minute, local.tzname()) == (23, 8, 30, "KST")


@pytest.mark.parametrize(
    ("zone", "now", "start"),
    [
        # New York springs forward on 8 March 2026: that day starts at 05:00 UTC, the next at 04:00 UTC.
        ("America/New_York", datetime(2026, 3, 8, 12, tzinfo=UTC), datetime(2026, 3, 8, 5, tzinfo=UTC)),
        ("America/New_York", datetime(2026, 3, 9, 12, tzinfo=UTC), datetime(2026, 3, 9, 4, tzinfo=UTC)),
        # Havana skipped midnight on 10 March 2024 (00:00 became 01:00): the day starts at the change.
        ("America/Havana", datetime(2024, 3, 10, 12, tzinfo=UTC), datetime(2024, 3, 10, 5, tzinfo=UTC)),
    ],
)
def test_clock_changes_move_midnight_with_them(zone: str, now: datetime, start: datetime) -> None:
    calendar = Calendar(ZoneInfo(zone))
    assert calendar.day_start(now) == start
    assert calendar.local(calendar.day_start(now)).hour in (0, 1)


# --- quotas, on SQLite and PostgreSQL -------------------------------------------------------------------


def test_a_user_in_seoul_gets_a_fresh_day_at_seoul_midnight(seoul: Repository, repo: Repository) -> None:
    """23:00 on the 22nd in Seoul, then 08:30 on the 23rd in Seoul (still the 22nd in UTC)."""
    assert not isinstance(admit(seoul, "late", limits=ONE_A_DAY, now=utc(22, 14)), Refusal)
    assert not isinstance(admit(seoul, "morning", limits=ONE_A_DAY, now=utc(22, 23, 30)), Refusal)
    # The same two requests counted in UTC fall on one day: the second is refused.
    assert not isinstance(admit(repo, "late-utc", user="u2", limits=ONE_A_DAY, now=utc(22, 14)), Refusal)
    assert admit(repo, "morning-utc", user="u2", limits=ONE_A_DAY, now=utc(22, 23, 30)) == Refusal(
        "max_jobs_per_day", 1, 1)


def test_the_seoul_day_turns_between_14_59_and_15_01_utc(seoul: Repository) -> None:
    assert not isinstance(admit(seoul, "first", limits=ONE_A_DAY, now=utc(22, 1)), Refusal)  # 10:00 KST
    assert admit(seoul, "at-14-59", limits=ONE_A_DAY, now=utc(22, 14, 59)) == Refusal("max_jobs_per_day", 1, 1)
    assert not isinstance(admit(seoul, "at-15-01", limits=ONE_A_DAY, now=utc(22, 15, 1)), Refusal)
    usage = seoul.usage.sync(seoul, "test", "u1", ONE_A_DAY, utc(22, 15, 2))
    assert usage.jobs_today == 1  # the 23rd in Seoul has one job so far


def test_the_monthly_allowance_renews_at_15_00_utc_on_the_last_day(seoul: Repository, repo: Repository) -> None:
    assert not isinstance(admit(seoul, "nov", cost=600_000, limits=A_DOLLAR_A_MONTH, now=utc(30, 14)), Refusal)
    assert admit(seoul, "nov-again", cost=600_000, limits=A_DOLLAR_A_MONTH, now=utc(30, 14, 59)) == Refusal(
        "max_usd_per_month", 0.6, 1.0)
    assert not isinstance(admit(seoul, "dec", cost=600_000, limits=A_DOLLAR_A_MONTH, now=utc(30, 15)), Refusal)
    assert seoul.usage.sync(seoul, "test", "u1", A_DOLLAR_A_MONTH, utc(30, 16)).month_micros == 600_000
    # In UTC, 15:00 on the 30th is still November: refused.
    assert not isinstance(admit(repo, "nov-u", cost=600_000, user="u2", limits=A_DOLLAR_A_MONTH, now=utc(30, 14)),
                          Refusal)
    assert isinstance(admit(repo, "dec-u", cost=600_000, user="u2", limits=A_DOLLAR_A_MONTH, now=utc(30, 15)),
                      Refusal)


def test_the_global_budget_is_booked_in_the_local_month_and_refunded_to_it(seoul: Repository) -> None:
    """The budget table is keyed "YYYY-MM": a job made at 00:30 on 1 December in Seoul (15:30 UTC on 30
    November) reserves from December's budget, and its refund, read back from the stored UTC creation time,
    goes back to December, not November."""
    budget = Limits(max_running=1, max_queued=50, max_jobs_per_day=None, max_usd_per_month=None,
                    global_budget_micros=1_000_000)
    assert not isinstance(admit(seoul, "nov", cost=900_000, limits=budget, now=utc(30, 14)), Refusal)
    assert not isinstance(admit(seoul, "dec", cost=900_000, user="u2", limits=budget, now=utc(30, 15, 30)), Refusal)
    assert budget_months(seoul) == {"2026-11": 900_000, "2026-12": 900_000}
    seoul.finish.sync(seoul, "dec", state="failed", now=utc(30, 16), error_code="internal")
    assert budget_months(seoul) == {"2026-11": 900_000, "2026-12": 0}
    assert seoul.ledger_balance.sync(seoul) == {"dec": 0}


def test_precheck_reads_the_local_month_of_the_global_budget(seoul: Repository) -> None:
    budget = Limits(max_running=1, max_queued=50, max_jobs_per_day=None, max_usd_per_month=None,
                    global_budget_micros=1_000_000)
    assert not isinstance(admit(seoul, "nov", cost=900_000, limits=budget, now=utc(30, 14)), Refusal)

    def precheck(now: datetime) -> Refusal | None:
        return seoul.precheck.sync(seoul, platform="test", external_id="u2", is_admin=False,
                                   cheapest_micros=500_000, limits=budget, now=now)

    assert precheck(utc(30, 14, 59)) == Refusal("global_budget", 0.9, 1.0)
    assert precheck(utc(30, 15)) is None  # December in Seoul: a fresh budget

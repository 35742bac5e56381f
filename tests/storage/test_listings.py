"""The admins' listings: every job under a filter, newest first, a page at a time; users with their numbers;
bans and per-user limits set from outside the chat. On SQLite and PostgreSQL."""

from __future__ import annotations

from datetime import datetime, timedelta

from sqlalchemy import event, insert

from storage.db import Database
from storage.repo import AttemptEnd, Limits, NewJob, Refusal, Repository
from storage.statements import jobs, users
from tests.storage.conftest import LIMITS, NOW, admit

NO_LIMITS = Limits(None, None, None, None, None)


def ask(repo: Repository, job_id: str, *, user: str = "u1", platform: str = "test", origin: str = "test",
        cost: int = 0, now: datetime = NOW, name: str = "U", limits: Limits = NO_LIMITS):
    """A job admitted for ``user`` (no per-user limits unless given), sent from ``origin``."""
    admitted = repo.admit.sync(
        repo, platform=platform, external_id=user, name=name, is_admin=False,
        job=NewJob(job_id, "text-to-video", f"prompt of {job_id}", {}, 7, None, origin, {"chat_id": "c"}),
        costs_micros=[cost], limits=limits, now=now,
    )
    assert limits is not NO_LIMITS or not isinstance(admitted, Refusal), admitted
    return admitted


def run(repo: Repository, job_id: str, backend: str, state: str, *, cost: int = 0, now: datetime = NOW) -> None:
    """One attempt on ``backend`` billed ``cost``, and the job closed in ``state``."""
    attempt = repo.start_attempt.sync(repo, job_id, backend=backend, model="m", lane=None, now=now)
    repo.finish.sync(repo, job_id, state=state, now=now,
                     attempt=AttemptEnd(attempt, "succeeded" if state == "succeeded" else "failed",
                                        cost_micros=cost))


def page_ids(repo: Repository, **filters) -> tuple[list[str], int]:
    query = {"user_key": None, "state": None, "backend": None, "origin_platform": None, "offset": 0,
             "limit": 50, **filters}
    found = repo.jobs_page.sync(repo, **query)
    return [job.id for job, _user, _tries in found.rows], found.total


# --- jobs -------------------------------------------------------------------------------------------------


def test_every_job_comes_newest_first_a_page_at_a_time_with_the_total(repo):
    for n in range(23):  # a minute apart, Ann's and Bob's in turn; the last three made in the same instant
        made = NOW - timedelta(minutes=min(n, 20))
        ask(repo, f"j{n:02d}", user="ann" if n % 2 else "bob", name="Ann" if n % 2 else "Bob", now=made)
    newest_first = [f"j{n:02d}" for n in range(20)] + ["j22", "j21", "j20"]  # same instant: the larger id first
    pages = [page_ids(repo, offset=offset, limit=10) for offset in (0, 10, 20)]
    assert [ids for ids, _ in pages] == [newest_first[:10], newest_first[10:20], newest_first[20:]]
    assert {total for _, total in pages} == {23}
    assert page_ids(repo, offset=23, limit=10) == ([], 23)  # past the end: nothing, and still the total

    run(repo, "j00", "replicate", "succeeded", cost=40_000)
    job, owner, tries = repo.jobs_page.sync(repo, user_key=None, state=None, backend=None, origin_platform=None,
                                            offset=0, limit=1).rows[0]
    assert (job.id, job.state, job.charged_micros, job.prompt) == ("j00", "succeeded", 40_000, "prompt of j00")
    assert (owner.platform, owner.external_id, owner.name) == ("test", "bob", "Bob")
    assert [(t.backend, t.outcome, t.cost_micros) for t in tries] == [("replicate", "succeeded", 40_000)]


def test_jobs_are_filtered_by_user_state_backend_and_origin(repo):
    ask(repo, "d-ok", user="1", platform="discord", origin="discord", now=NOW - timedelta(minutes=5))
    ask(repo, "d-fail", user="1", platform="discord", origin="web", now=NOW - timedelta(minutes=4))
    ask(repo, "d-wait", user="1", platform="discord", origin="discord", now=NOW - timedelta(minutes=3))
    ask(repo, "t-ok", user="1", platform="telegram", origin="telegram", now=NOW - timedelta(minutes=2))
    ask(repo, "t-wait", user="2", platform="telegram", origin="web", now=NOW - timedelta(minutes=1))
    run(repo, "d-ok", "replicate", "succeeded")
    run(repo, "d-fail", "local", "failed")
    run(repo, "t-ok", "local", "succeeded")

    assert page_ids(repo, user_key=("discord", "1")) == (["d-wait", "d-fail", "d-ok"], 3)
    assert page_ids(repo, user_key=("telegram", "1")) == (["t-ok"], 1)  # the same id on another platform
    assert page_ids(repo, user_key=("discord", "404")) == ([], 0)  # never seen
    assert page_ids(repo, state="queued") == (["t-wait", "d-wait"], 2)
    assert page_ids(repo, backend="local") == (["t-ok", "d-fail"], 2)
    assert page_ids(repo, origin_platform="web") == (["t-wait", "d-fail"], 2)  # sent from the console
    assert page_ids(repo, user_key=("discord", "1"), state="succeeded", backend="replicate",
                    origin_platform="discord") == (["d-ok"], 1)
    assert page_ids(repo, state="succeeded", limit=1) == (["t-ok"], 2)


def test_a_page_of_every_job_reads_the_index_instead_of_sorting_them_all(tmp_path):
    """1,200 jobs: the newest 50, the next 50 and a user's latest come from walking an index backwards
    (SQLite's plan has no sort of every row: no temporary B-tree for the ORDER BY; a user's jobs made in
    the same instant are put in order by id, the "right part" of it)."""
    db = Database(f"sqlite:///{tmp_path}/many.db")
    db.migrate()
    repo = Repository(db)
    with db.transaction() as conn:
        conn.execute(insert(users), [{"platform": "test", "external_id": str(u), "name": f"user {u}",
                                      "role": "user", "created_at": NOW} for u in range(1, 13)])
        conn.execute(insert(jobs), [
            {"id": f"j{n:05d}", "user_id": 1 + n % 12, "kind": "text-to-video", "prompt": "p", "options": {},
             "seed": 1, "state": "succeeded" if n % 5 else "failed", "priority": 0, "origin_platform": "test",
             "origin": {}, "created_at": NOW - timedelta(seconds=n), "max_cost_micros": 0, "charged_micros": 0,
             "interruptions": 0}
            for n in range(1200)
        ])
    pages: list[str] = []

    @event.listens_for(db.engine, "before_cursor_execute")
    def keep(conn, cursor, statement, parameters, context, executemany):
        if statement.lstrip().startswith("SELECT jobs.id") and "ORDER BY" in statement:
            pages.append((statement, parameters))

    try:
        assert page_ids(repo, limit=50) == ([f"j{n:05d}" for n in range(50)], 1200)
        assert page_ids(repo, offset=50, limit=50)[0][0] == "j00050"
        assert page_ids(repo, user_key=("test", "3"), limit=20)[0][:2] == ["j00002", "j00014"]
        assert len(pages) == 3
        with db.transaction() as conn:
            raw = conn.connection.driver_connection
            plans = [" / ".join(row[3] for row in raw.execute("EXPLAIN QUERY PLAN " + sql, params).fetchall())
                     for sql, params in pages]
    finally:
        db.close()
    assert "ix_jobs_created" in plans[0] and "ix_jobs_created" in plans[1], plans
    assert "ix_jobs_user_created" in plans[2], plans
    assert not any("TEMP B-TREE FOR ORDER BY" in plan for plan in plans), plans


# --- users ------------------------------------------------------------------------------------------------


def test_users_come_most_recently_active_first_with_their_numbers_of_the_day_and_month(repo):
    last_month = NOW - timedelta(days=30)
    ask(repo, "old", user="ann", name="Ann", cost=300_000, now=last_month)
    run(repo, "old", "replicate", "succeeded", cost=300_000, now=last_month)
    ask(repo, "early", user="ann", name="Ann", cost=100_000, now=NOW - timedelta(days=3))
    run(repo, "early", "replicate", "succeeded", cost=80_000, now=NOW - timedelta(days=3))
    ask(repo, "free-fail", user="ann", name="Ann", cost=50_000, now=NOW - timedelta(hours=2))
    run(repo, "free-fail", "local", "failed")  # nobody billed: not counted against her day
    ask(repo, "waiting", user="ann", name="Ann", cost=200_000, now=NOW - timedelta(hours=1))  # still held
    ask(repo, "bobs", user="bob", name="Bob", now=NOW - timedelta(minutes=30))
    repo.set_user_role.sync(repo, "test", "eve", "banned", now=NOW - timedelta(minutes=10))  # no job yet
    repo.set_user_limits.sync(repo, "test", "ann", max_running=2, max_queued=None, max_jobs_per_day=1,
                              max_usd_per_month=5.0, now=NOW)

    found = repo.users_page.sync(repo, search=None, offset=0, limit=10, now=NOW)
    assert found.total == 3
    assert [(u.external_id, u.role) for u in found.rows] == [("eve", "banned"), ("bob", "user"), ("ann", "user")]
    ann = found.rows[2]
    assert (ann.name, ann.platform) == ("Ann", "test")
    assert (ann.max_running, ann.max_queued, ann.max_jobs_per_day, ann.max_usd_per_month) == (2, None, 1, 5.0)
    assert (ann.jobs_today, ann.jobs_month, ann.total_jobs) == (1, 2, 4)
    assert ann.month_micros == 80_000 + 200_000  # charged this month, plus what is held for the waiting job
    assert ann.month_micros == repo.usage.sync(repo, "test", "ann", LIMITS, NOW).month_micros  # as /usage says
    assert ann.last_job_at == NOW - timedelta(hours=1)
    eve = found.rows[0]
    assert (eve.total_jobs, eve.last_job_at, eve.created_at, eve.name) == (0, None, NOW - timedelta(minutes=10), "")

    second = repo.users_page.sync(repo, search=None, offset=2, limit=2, now=NOW)
    assert ([u.external_id for u in second.rows], second.total) == (["ann"], 3)
    assert repo.user_row.sync(repo, "test", "ann", NOW) == ann
    assert repo.user_row.sync(repo, "test", "nobody", NOW) is None


def test_user_search_matches_name_or_id_in_any_case_and_takes_wildcards_literally(repo):
    for n, (user, name) in enumerate([("1", "50% off"), ("2", "a_b"), ("3", "axb"), ("4", "ANNIE"),
                                      ("Z100", "zed"), ("6", "slash/ed")]):
        ask(repo, f"j{n}", user=user, name=name, now=NOW - timedelta(minutes=n))

    def search(text: str) -> tuple[list[str], int]:
        found = repo.users_page.sync(repo, search=text, offset=0, limit=10, now=NOW)
        return [u.name for u in found.rows], found.total

    assert search("%") == (["50% off"], 1)  # not "everyone"
    assert search("_") == (["a_b"], 1)  # not "any one character"
    assert search("a_b") == (["a_b"], 1)
    assert search("/") == (["slash/ed"], 1)
    assert search("annie") == (["ANNIE"], 1)
    assert search("z10") == (["zed"], 1)  # by id, in any case
    assert search("zzz") == ([], 0)
    assert search("") == (["50% off", "a_b", "axb", "ANNIE", "zed", "slash/ed"], 6)


# --- what admins set ----------------------------------------------------------------------------------------


def test_a_ban_and_a_limit_set_before_the_user_ever_came_apply_and_none_restores_the_setting(repo):
    repo.set_user_role.sync(repo, "test", "mal", "banned", NOW)
    assert ask(repo, "refused", user="mal", name="Mal", limits=LIMITS) == Refusal("banned", 0, 0)
    repo.set_user_role.sync(repo, "test", "mal", "user", NOW)
    assert not isinstance(ask(repo, "first", user="mal", name="Mal", limits=LIMITS), Refusal)
    assert repo.user_row.sync(repo, "test", "mal", NOW).name == "Mal"  # their name filled in when they came

    repo.set_user_limits.sync(repo, "test", "mal", max_running=None, max_queued=None, max_jobs_per_day=1,
                              max_usd_per_month=None, now=NOW)
    assert ask(repo, "second", user="mal", limits=LIMITS) == Refusal("max_jobs_per_day", 1, 1)  # the setting says 10
    repo.set_user_limits.sync(repo, "test", "mal", max_running=None, max_queued=None, max_jobs_per_day=None,
                              max_usd_per_month=None, now=NOW)
    assert not isinstance(ask(repo, "second", user="mal", limits=LIMITS), Refusal)
    assert admit(repo, "someone", user="u9").reserved_micros == 0  # nobody else was touched

"""One person, one account across platforms, in storage: linked identities share one quota that stays exact
when both submit at the same moment, on SQLite and on PostgreSQL; unlinking moves no money."""

from __future__ import annotations

import concurrent.futures
import functools
import threading
from datetime import timedelta

from sqlalchemy import text

from storage.repo import Limits, Refusal, TryLimits
from tests.storage.conftest import NOW, new_job

TRIES = TryLimits(per_user=5, everyone=50, window=timedelta(minutes=15))
ONE_A_DAY = Limits(max_running=None, max_queued=None, max_jobs_per_day=1, max_usd_per_month=None,
                   global_budget_micros=None)
ONE_DOLLAR = Limits(max_running=None, max_queued=None, max_jobs_per_day=None, max_usd_per_month=1.0,
                    global_budget_micros=None)


def link(repo, code_hash="h1"):
    """Telegram user 7 asks for a code; Discord user 9 types it."""
    assert repo.new_link_code.sync(repo, "telegram", "7", "Tom", code_hash, NOW + timedelta(minutes=10),
                                   NOW).refused is None
    return repo.redeem_link_code.sync(repo, "discord", "9", "Dee", code_hash, NOW, TRIES)


def admit_as(repo, platform, user, job_id, limits, cost=0):
    return repo.admit.sync(repo, platform=platform, external_id=user, name="", is_admin=False,
                           job=new_job(job_id), costs_micros=[cost], limits=limits, now=NOW)


def at_once(*calls):
    """Run the calls on their own threads, released together (each on its own database connection)."""
    start = threading.Barrier(len(calls))

    def run(call):
        start.wait()
        return call()

    with concurrent.futures.ThreadPoolExecutor(len(calls)) as pool:
        return [f.result() for f in [pool.submit(run, c) for c in calls]]


def test_both_platforms_submitting_at_once_get_exactly_one_job_of_a_one_a_day_account(repo):
    linked = link(repo)
    assert linked.refused is None
    assert [(i.platform, i.name) for i in linked.identities] == [("telegram", "Tom"), ("discord", "Dee")]
    for round_ in range(3):  # a new day each round: the race is run again
        day = NOW + timedelta(days=round_)
        answers = at_once(*(
            functools.partial(repo.admit.sync, repo, platform=platform, external_id=user, name="", is_admin=False,
                              job=new_job(f"{platform[0]}{round_}"), costs_micros=[0], limits=ONE_A_DAY, now=day)
            for platform, user in (("telegram", "7"), ("discord", "9"))
        ))
        refused = [a for a in answers if isinstance(a, Refusal)]
        assert len(refused) == 1 and refused[0] == Refusal("max_jobs_per_day", 1, 1)
    with repo.db.transaction() as conn:
        assert conn.execute(text("SELECT count(*) FROM jobs")).scalar_one() == 3


def test_both_platforms_at_once_cannot_spend_past_the_accounts_dollar_allowance(repo):
    link(repo)
    answers = at_once(lambda: admit_as(repo, "telegram", "7", "t1", ONE_DOLLAR, cost=600_000),
                      lambda: admit_as(repo, "discord", "9", "d1", ONE_DOLLAR, cost=600_000))
    assert sorted(type(a).__name__ for a in answers) == ["Admitted", "Refusal"]
    usage = repo.usage.sync(repo, "discord", "9", ONE_DOLLAR, NOW)
    assert usage.month_micros == 600_000


def test_unlinking_gives_each_identity_back_the_jobs_it_sent_and_their_money(repo):
    link(repo)
    admit_as(repo, "telegram", "7", "t1", ONE_DOLLAR, cost=300_000)
    admit_as(repo, "discord", "9", "d1", ONE_DOLLAR, cost=200_000)
    assert repo.usage.sync(repo, "telegram", "7", ONE_DOLLAR, NOW).month_micros == 500_000
    assert repo.unlink.sync(repo, "discord", "9", NOW).refused is None
    assert repo.usage.sync(repo, "telegram", "7", ONE_DOLLAR, NOW).month_micros == 300_000
    assert repo.usage.sync(repo, "discord", "9", ONE_DOLLAR, NOW).month_micros == 200_000
    assert repo.unlink.sync(repo, "discord", "9", NOW).refused == "not_linked"


def test_a_ban_of_either_identity_is_the_accounts_and_unlinking_keeps_it(repo):
    link(repo)
    repo.set_user_role.sync(repo, "discord", "9", "banned", NOW)
    assert admit_as(repo, "telegram", "7", "t1", ONE_A_DAY) == Refusal("banned", 0, 0)
    repo.unlink.sync(repo, "telegram", "7", NOW)
    assert admit_as(repo, "telegram", "7", "t2", ONE_A_DAY) == Refusal("banned", 0, 0)
    # and a banned account gets no code, nor joins another
    assert repo.new_link_code.sync(repo, "telegram", "7", "Tom", "h2", NOW + timedelta(minutes=10),
                                   NOW).refused == "banned"
    repo.new_link_code.sync(repo, "telegram", "8", "Ann", "h3", NOW + timedelta(minutes=10), NOW)
    assert repo.redeem_link_code.sync(repo, "discord", "9", "Dee", "h3", NOW, TRIES).refused == "banned"


def test_linking_takes_the_stricter_limit_an_admin_set(repo):
    repo.set_user_limits.sync(repo, "discord", "9", max_running=None, max_queued=None, max_jobs_per_day=0,
                              max_usd_per_month=None, now=NOW)
    link(repo)
    assert admit_as(repo, "telegram", "7", "t1", ONE_DOLLAR) == Refusal("max_jobs_per_day", 0, 0)


def test_codes_work_once_before_they_expire_and_guessing_stops(repo):
    assert link(repo, "h1").refused is None
    assert repo.redeem_link_code.sync(repo, "discord", "9", "Dee", "h1", NOW, TRIES).refused == "unknown"
    repo.new_link_code.sync(repo, "telegram", "8", "Ann", "h2", NOW + timedelta(minutes=10), NOW)
    late = NOW + timedelta(minutes=11)
    assert repo.redeem_link_code.sync(repo, "discord", "5", "Eve", "h2", late, TRIES).refused == "expired"
    repo.new_link_code.sync(repo, "telegram", "8", "Ann", "h3", NOW + timedelta(minutes=10), NOW)
    for n in range(4):  # 1 wrong already above is Dee's; Eve guesses 5 times
        assert repo.redeem_link_code.sync(repo, "discord", "5", "Eve", f"guess{n}", NOW, TRIES).refused == "unknown"
    assert repo.redeem_link_code.sync(repo, "discord", "5", "Eve", "guess4", NOW, TRIES).refused == "unknown"
    stopped = repo.redeem_link_code.sync(repo, "discord", "5", "Eve", "h3", NOW, TRIES)  # right, but too late
    assert stopped.refused == "too_many_tries" and 0 < stopped.retry_after_s <= 15 * 60
    # the real owner is not locked out by Eve, and the code was not used up by her
    assert repo.redeem_link_code.sync(repo, "discord", "6", "Ann", "h3", NOW, TRIES).refused is None


def test_a_code_links_only_an_identity_of_another_platform(repo):
    repo.new_link_code.sync(repo, "discord", "9", "Dee", "h1", NOW + timedelta(minutes=10), NOW)
    assert repo.redeem_link_code.sync(repo, "discord", "9", "Dee", "h1", NOW, TRIES).refused == "own_code"
    taken = repo.redeem_link_code.sync(repo, "discord", "5", "Eve", "h1", NOW, TRIES)
    assert taken.refused == "platform_taken"  # two Discord accounts are two people
    assert repo.redeem_link_code.sync(repo, "telegram", "7", "Tom", "h1", NOW, TRIES).refused == "unknown"  # spent
    assert [i.platform for i in repo.linked_identities.sync(repo, "discord", "9")] == ["discord"]

"""The GPU scheduler: the order jobs are granted lanes in, and how lanes share the work.

Everything here runs on simulated lanes ("sim:N"): no thread ever runs a job. A test holds a lane with a
"blocker" ticket, enqueues the tickets it cares about, then releases the lane one job at a time and records
which job id the scheduler grants next.
"""

from __future__ import annotations

import asyncio
from collections.abc import Iterator

import pytest

from engine.lanes import GpuLane
from engine.scheduler import Scheduler, Ticket


@pytest.fixture
def make_lanes() -> Iterator:
    made: list[GpuLane] = []

    def make(n: int = 1, models: list[frozenset[str] | None] | None = None) -> list[GpuLane]:
        lanes = [GpuLane(i, device=f"sim:{i}", models=models[i] if models else None) for i in range(n)]
        made.extend(lanes)
        return lanes

    yield make
    for lane in made:
        lane.close()


def ticket(
    job_id: str, user: str = "user:a", model: str | None = "zeroscope", est_s: float = 10.0, **kw
) -> Ticket:
    return Ticket(job_id, user, model, est_s=est_s, **kw)


async def hold(
    sched: Scheduler,
    lane: GpuLane,
    job_id: str = "blocker",
    est_s: float = 10.0,
    model: str | None = "zeroscope",
) -> Ticket:
    """Enqueue a ticket that is granted ``lane`` at once and keeps it busy."""
    t = sched.enqueue(ticket(job_id, "user:blocker", model, est_s))
    assert await sched.wait(t) is lane
    return t


async def grant_order(sched: Scheduler, lane: GpuLane, tickets: list[Ticket]) -> list[str]:
    """Release ``lane`` once per ticket and record which job it is granted to each time.

    The lane must be busy when called. Each granted ticket's ``wait`` must resolve to ``lane``. Stops early
    when a release leaves the lane idle."""
    by_id = {t.job_id: t for t in tickets}
    order: list[str] = []
    for _ in tickets:
        sched.release(lane)
        job_id = lane.current_job
        if job_id is None:
            break
        assert job_id in by_id, f"lane granted to unexpected job {job_id}"
        assert await sched.wait(by_id[job_id]) is lane
        order.append(job_id)
    return order


# --- 1. FIFO ---


async def test_one_user_is_first_in_first_out(make_lanes):
    [lane] = make_lanes()
    sched = Scheduler([lane])
    await hold(sched, lane)
    tickets = [sched.enqueue(ticket(f"j{i}")) for i in range(6)]
    assert sched.queued() == 6
    assert await grant_order(sched, lane, tickets) == [f"j{i}" for i in range(6)]
    sched.release(lane)
    assert lane.current_job is None and sched.queued() == 0


# --- 2, 3. fair queueing between users ---


async def test_a_late_user_is_not_stuck_behind_a_long_backlog(make_lanes):
    [lane] = make_lanes()
    sched = Scheduler([lane])
    await hold(sched, lane)
    tickets = [sched.enqueue(ticket(f"a{i}", "user:a")) for i in range(1, 21)]
    tickets.append(sched.enqueue(ticket("b1", "user:b")))
    order = await grant_order(sched, lane, tickets)
    assert "b1" in order[:2]
    assert order == ["a1", "b1"] + [f"a{i}" for i in range(2, 21)]


async def test_three_users_interleave_round_robin(make_lanes):
    [lane] = make_lanes()
    sched = Scheduler([lane])
    await hold(sched, lane)
    tickets = [sched.enqueue(ticket(f"A{i}", "user:a")) for i in range(1, 5)]
    tickets += [sched.enqueue(ticket(f"B{i}", "user:b")) for i in range(1, 4)]
    tickets += [sched.enqueue(ticket(f"C{i}", "user:c")) for i in range(1, 4)]
    order = await grant_order(sched, lane, tickets)
    assert order == ["A1", "B1", "C1", "A2", "B2", "C2", "A3", "B3", "C3", "A4"]


async def test_fair_tag_of_a_returning_user_starts_at_the_current_virtual_time(make_lanes):
    """A user who arrives after others' jobs have run is not given credit for the time they were away."""
    [lane] = make_lanes()
    sched = Scheduler([lane])
    await hold(sched, lane)
    tickets = [sched.enqueue(ticket(f"a{i}", "user:a")) for i in range(1, 7)]
    order = await grant_order(sched, lane, tickets[:3])
    assert order == ["a1", "a2", "a3"]
    b = [sched.enqueue(ticket(f"b{i}", "user:b")) for i in range(1, 4)]
    order = await grant_order(sched, lane, tickets[3:] + b)
    # b starts at the virtual time of the job in service (a3), level with a, not ahead of all of a's jobs
    assert order == ["b1", "a4", "b2", "a5", "b3", "a6"]


# --- 4. priority ---


async def test_admin_priority_ticket_enqueued_last_is_granted_next(make_lanes):
    [lane] = make_lanes()
    sched = Scheduler([lane])
    await hold(sched, lane)
    tickets = [sched.enqueue(ticket(f"a{i}", "user:a")) for i in range(1, 4)]
    tickets += [sched.enqueue(ticket(f"b{i}", "user:b")) for i in range(1, 3)]
    tickets.append(sched.enqueue(ticket("admin", "user:admin", priority=10)))
    order = await grant_order(sched, lane, tickets)
    assert order == ["admin", "a1", "b1", "a2", "b2", "a3"]


async def test_priority_is_not_overridden_by_model_affinity(make_lanes):
    [lane] = make_lanes()
    lane.put_warm("svd-xt", object())
    sched = Scheduler([lane], max_skips=2)
    await hold(sched, lane, model="svd-xt")
    tickets = [
        sched.enqueue(ticket("warm", "user:a", "svd-xt")),
        sched.enqueue(ticket("admin-cold", "user:admin", "zeroscope", priority=10)),
    ]
    assert await grant_order(sched, lane, tickets) == ["admin-cold", "warm"]


# --- 5. model affinity, bounded ---


async def test_warm_model_job_is_preferred_over_cold_head(make_lanes):
    [lane] = make_lanes()
    lane.put_warm("svd-xt", object())
    sched = Scheduler([lane], max_skips=2)
    await hold(sched, lane, model="svd-xt")
    tickets = [
        sched.enqueue(ticket("cold", "user:a", "zeroscope")),
        sched.enqueue(ticket("warm", "user:b", "svd-xt")),
    ]
    assert await grant_order(sched, lane, tickets) == ["warm", "cold"]


async def test_cold_head_is_skipped_at_most_max_skips_times(make_lanes):
    [lane] = make_lanes()
    lane.put_warm("svd-xt", object())
    sched = Scheduler([lane], max_skips=2)
    await hold(sched, lane, model="svd-xt")
    cold = sched.enqueue(ticket("cold", "user:a", "zeroscope"))
    warm = [sched.enqueue(ticket(f"w{i}", "user:b", "svd-xt")) for i in range(3)]
    by_id = {t.job_id: t for t in [cold, *warm]}
    order: list[str] = []
    for i in range(3, 10):  # a warm job keeps arriving after every grant: a stream that never dries up
        sched.release(lane)
        job_id = lane.current_job
        assert job_id is not None
        assert await sched.wait(by_id[job_id]) is lane
        order.append(job_id)
        new = sched.enqueue(ticket(f"w{i}", "user:b", "svd-xt"))
        by_id[new.job_id] = new
        if job_id == "cold":
            break
    assert order == ["w0", "w1", "cold"]
    assert cold.skips == 2


async def test_affinity_never_reaches_past_the_window(make_lanes):
    [lane] = make_lanes()
    lane.put_warm("svd-xt", object())
    sched = Scheduler([lane], max_skips=5, affinity_window=3)
    await hold(sched, lane, model="svd-xt")
    tickets = [sched.enqueue(ticket(f"c{i}", "user:a", "zeroscope")) for i in range(4)]
    tickets.append(sched.enqueue(ticket("warm", "user:a", "svd-xt")))  # 5th in line
    # The warm job is out of the 3-ticket window until only two cold jobs stand before it.
    assert await grant_order(sched, lane, tickets) == ["c0", "c1", "warm", "c2", "c3"]


# --- 6. per-user max_running ---


async def test_max_running_keeps_a_users_second_job_off_an_idle_lane(make_lanes):
    lane0, lane1 = make_lanes(2)
    sched = Scheduler([lane0, lane1])
    a1 = sched.enqueue(ticket("a1", "user:a", max_running=1))
    assert await sched.wait(a1) is lane0
    a2 = sched.enqueue(ticket("a2", "user:a", max_running=1))
    await asyncio.sleep(0)
    assert lane1.current_job is None  # idle, yet a2 must not start
    assert not a2.future.done() and sched.queued() == 1

    b1 = sched.enqueue(ticket("b1", "user:b"))
    assert await sched.wait(b1) is lane1  # another user's job does take the idle lane
    assert not a2.future.done()

    sched.release(lane1)  # b1 done: a1 still runs, so a2 still waits
    assert lane1.current_job is None and not a2.future.done()

    sched.release(lane0)  # a1 done: now a2 may start
    assert await sched.wait(a2) in (lane0, lane1)
    assert sched.queued() == 0


async def test_max_running_user_with_a_long_backlog_does_not_idle_a_lane(make_lanes):
    """Ineligible tickets (their user is at max_running) must not hide eligible ones from an idle lane."""
    lane0, lane1 = make_lanes(2)
    sched = Scheduler([lane0, lane1], affinity_window=4)
    admin = [ticket(f"adm{i}", "user:admin", priority=10, max_running=1) for i in range(12)]
    assert await sched.wait(sched.enqueue(admin[0])) is lane0
    for t in admin[1:]:
        sched.enqueue(t)
    b1 = sched.enqueue(ticket("b1", "user:b"))
    assert b1.future.done() and b1.future.result() is lane1  # not hidden behind 11 waiting admin jobs
    assert lane1.current_job == "b1"


# --- 7. placement and work stealing ---


async def test_placement_picks_the_idle_lane(make_lanes):
    lane0, lane1 = make_lanes(2)
    sched = Scheduler([lane0, lane1])
    await hold(sched, lane0)
    t = sched.enqueue(ticket("j1", "user:a"))
    assert await sched.wait(t) is lane1


async def test_placement_prefers_the_lane_with_the_model_warm_when_waits_tie(make_lanes):
    lane0, lane1 = make_lanes(2)
    lane1.put_warm("svd-xt", object())
    sched = Scheduler([lane0, lane1])
    t = sched.enqueue(ticket("j1", "user:a", "svd-xt"))
    assert await sched.wait(t) is lane1


async def test_placement_picks_the_shortest_expected_wait(make_lanes):
    lane0, lane1 = make_lanes(2)
    sched = Scheduler([lane0, lane1])
    await hold(sched, lane0, "long", est_s=100.0)
    await hold(sched, lane1, "short", est_s=5.0)
    t = sched.enqueue(ticket("j1", "user:a", est_s=10.0))
    assert t.queue is sched.queues[1]
    assert sched.queue_lengths() == {"gpu0": 0, "gpu1": 1}


async def test_idle_lane_steals_a_job_queued_on_a_busy_lane(make_lanes):
    lane0, lane1 = make_lanes(2)
    sched = Scheduler([lane0, lane1])
    await hold(sched, lane0, "short", est_s=1.0)
    await hold(sched, lane1, "long", est_s=100.0)
    t = sched.enqueue(ticket("j1", "user:a", est_s=10.0))
    assert t.queue is sched.queues[0]  # lane 0 should free up first
    assert not t.future.done()
    sched.release(lane1)  # but lane 1 frees up first after all
    assert await sched.wait(t) is lane1
    assert lane0.current_job == "short"
    assert sched.queue_lengths() == {"gpu0": 0, "gpu1": 0}


# --- 8. lane models ---


async def test_lane_only_gets_jobs_for_the_models_it_serves(make_lanes):
    lane0, lane1 = make_lanes(2, models=[frozenset({"svd-xt"}), None])
    sched = Scheduler([lane0, lane1])
    await hold(sched, lane0, "svd-blocker", est_s=1.0, model="svd-xt")
    await hold(sched, lane1, "long", est_s=100.0)
    zs = [sched.enqueue(ticket(f"z{i}", "user:a", "zeroscope")) for i in range(3)]
    assert all(z.queue is sched.queues[1] for z in zs)  # lane 0 is sooner free but cannot run them

    sched.release(lane0)  # lane 0 idle: it must not steal a zeroscope job
    assert lane0.current_job is None
    assert not any(z.future.done() for z in zs)

    s1 = sched.enqueue(ticket("s1", "user:b", "svd-xt"))
    assert await sched.wait(s1) is lane0
    assert await grant_order(sched, lane1, zs) == ["z0", "z1", "z2"]
    assert lane0.current_job == "s1"


async def test_model_no_lane_serves_is_refused(make_lanes):
    lane0, lane1 = make_lanes(2, models=[frozenset({"svd-xt"}), frozenset({"zeroscope"})])
    sched = Scheduler([lane0, lane1])
    assert sched.can_serve("svd-xt") and not sched.can_serve("cogvideox")
    assert sched.expected_wait("cogvideox") is None
    with pytest.raises(LookupError):
        sched.enqueue(ticket("j1", "user:a", "cogvideox"))
    assert sched.queued() == 0 and lane0.current_job is None and lane1.current_job is None


# --- 9. cancel ---


async def test_cancelled_waiter_leaves_the_queue(make_lanes):
    [lane] = make_lanes()
    sched = Scheduler([lane])
    await hold(sched, lane)
    tickets = [sched.enqueue(ticket(f"j{i}", "user:a")) for i in range(1, 5)]
    tasks = {t.job_id: asyncio.create_task(sched.wait(t)) for t in tickets}
    await asyncio.sleep(0)
    assert {k: v[0] for k, v in sched.positions().items()} == {"j1": 1, "j2": 2, "j3": 3, "j4": 4}
    version = sched.version

    tasks["j2"].cancel()
    with pytest.raises(asyncio.CancelledError):
        await tasks["j2"]
    assert sched.queued() == 3
    assert sched.version > version
    assert {k: v[0] for k, v in sched.positions().items()} == {"j1": 1, "j3": 2, "j4": 3}
    assert sched.position("j2") is None
    assert sched.position("j3")[0] == 2 and sched.position("j4")[0] == 3

    order = await grant_order(sched, lane, tickets)
    assert order == ["j1", "j3", "j4"]
    assert tickets[1].future.cancelled()
    for job_id in order:
        assert await tasks[job_id] is lane


async def test_cancel_after_grant_before_the_waiter_resumes_releases_the_lane(make_lanes):
    [lane] = make_lanes()
    sched = Scheduler([lane])
    await hold(sched, lane)
    j1, j2, j3 = (sched.enqueue(ticket(f"j{i}", "user:a")) for i in range(1, 4))
    task = asyncio.create_task(sched.wait(j1))
    await asyncio.sleep(0)  # the task now waits on j1's future

    sched.release(lane)
    assert lane.current_job == "j1" and j1.future.done()
    task.cancel()  # lands before the task sees its grant
    with pytest.raises(asyncio.CancelledError):
        await task
    assert lane.current_job == "j2"  # j1 gave the lane straight back
    assert await sched.wait(j2) is lane

    # The runner withdraws a job's ticket again when the job ends; that must not free j2's lane.
    sched.withdraw(j1)
    assert lane.current_job == "j2" and not j3.future.done()

    sched.release(lane)
    assert await sched.wait(j3) is lane
    sched.withdraw(j2)  # long finished and released: a no-op
    assert lane.current_job == "j3"
    sched.release(lane)
    assert lane.current_job is None and sched.queued() == 0


# --- 10. positions and ETA ---


async def test_positions_follow_grant_order_with_eta(make_lanes):
    [lane] = make_lanes()
    sched = Scheduler([lane])
    await hold(sched, lane, est_s=30.0)
    lane.begin("blocker", 30.0)
    tickets = [
        sched.enqueue(ticket("a1", "user:a", est_s=5.0)),
        sched.enqueue(ticket("a2", "user:a", est_s=7.0)),
        sched.enqueue(ticket("b1", "user:b", est_s=11.0)),
        sched.enqueue(ticket("c1", "user:c", est_s=13.0)),
    ]
    places = sched.positions()
    expected = {"a1": (1, 30.0), "b1": (2, 35.0), "c1": (3, 46.0), "a2": (4, 59.0)}
    assert set(places) == set(expected)
    for job_id, (place, eta) in expected.items():
        assert places[job_id][0] == place
        assert places[job_id][1] == pytest.approx(eta, abs=0.5)
        one = sched.position(job_id)
        assert one is not None and one[0] == place and one[1] == pytest.approx(eta, abs=0.5)
    assert sched.expected_wait("zeroscope") == pytest.approx(30.0 + 5 + 7 + 11 + 13, abs=0.5)

    order = await grant_order(sched, lane, tickets)
    assert order == sorted(expected, key=lambda j: expected[j][0])
    assert sched.positions() == {}
    assert sched.position("a1") is None


async def test_positions_are_per_lane(make_lanes):
    lane0, lane1 = make_lanes(2)
    sched = Scheduler([lane0, lane1])
    await hold(sched, lane0, "b0", est_s=20.0)
    await hold(sched, lane1, "b1", est_s=40.0)
    sched.enqueue(ticket("x", "user:a", est_s=30.0))  # lane 0: waits 20, lane 1: 40
    sched.enqueue(ticket("y", "user:b", est_s=5.0))  # lane 0: 50, lane 1: 40
    places = sched.positions()
    assert places["x"][0] == 1 and places["x"][1] == pytest.approx(20.0, abs=0.5)
    assert places["y"][0] == 1 and places["y"][1] == pytest.approx(40.0, abs=0.5)


# --- 11. a broken lane ---


@pytest.mark.parametrize("trigger", ["release-healthy-lane", "release-broken-lane"])
async def test_jobs_waiting_on_a_broken_lane_move_to_a_healthy_one(make_lanes, trigger):
    lane0, lane1 = make_lanes(2)
    sched = Scheduler([lane0, lane1])
    await hold(sched, lane0, "short", est_s=1.0)
    await hold(sched, lane1, "long", est_s=100.0)
    tickets = [sched.enqueue(ticket(f"j{i}", "user:a", est_s=1.0)) for i in range(1, 4)]
    assert sched.queue_lengths() == {"gpu0": 3, "gpu1": 0}

    lane0.broken = "a job did not stop"
    if trigger == "release-broken-lane":
        sched.release(lane0)  # the stuck job finally ends: lane 0 still takes no more work
        assert lane0.current_job is None
        assert sched.queue_lengths() == {"gpu0": 0, "gpu1": 3}
        assert all(t.queue is sched.queues[1] for t in tickets)
        order = await grant_order(sched, lane1, tickets)
    else:
        order = await grant_order(sched, lane1, tickets)
        assert sched.queue_lengths() == {"gpu0": 0, "gpu1": 0}
        sched.release(lane0)
        assert lane0.current_job is None
    assert order == ["j1", "j2", "j3"]
    assert lane0.current_job is None

    # New work avoids the broken lane even though it is idle.
    t = sched.enqueue(ticket("late", "user:b"))
    assert t.queue is sched.queues[1]


async def test_cancelling_jobs_does_not_cost_a_user_their_turn(make_lanes):
    (lane,) = make_lanes(1)
    sched = Scheduler([lane])
    blocker = sched.enqueue(Ticket("blocker", "user:z", None, est_s=1.0))
    held = await sched.wait(blocker)
    a_jobs = [sched.enqueue(Ticket(f"a{i}", "user:a", None, est_s=1.0)) for i in range(5)]
    waiters = [asyncio.ensure_future(sched.wait(t)) for t in a_jobs]
    await asyncio.sleep(0)
    for waiter in waiters:
        waiter.cancel()
    await asyncio.gather(*waiters, return_exceptions=True)
    for i in range(5):
        sched.enqueue(Ticket(f"b{i}", "user:b", None, est_s=1.0))
    sched.enqueue(Ticket("a-again", "user:a", None, est_s=1.0))
    assert sched.position("a-again")[0] == 2  # right after b0, not behind all of B's jobs
    sched.release(held)


# --- 12. a lane warming up at start ---


async def test_a_lane_warming_up_takes_no_job_until_ready_and_an_idle_lane_takes_them_meanwhile(make_lanes):
    lane0, lane1 = make_lanes(2)
    lane0.warming = lane1.warming = "svd-xt"
    sched = Scheduler([lane0, lane1])
    first = sched.enqueue(ticket("j1"))
    second = sched.enqueue(ticket("j2"))
    assert lane0.current_job is None and lane1.current_job is None  # both still compiling: the jobs wait
    # The wait counts the jobs ahead only, not the warm-up: a job is not sent to the cloud because of it.
    assert sched.expected_wait("zeroscope") == pytest.approx(10.0)

    lane1.warming = None
    lane1.ready_again()  # lane 1 is ready: it takes the job queued on it, then steals the one behind lane 0
    assert await sched.wait(second) is lane1
    sched.release(lane1)
    assert await sched.wait(first) is lane1 and lane0.current_job is None

    lane0.warming = None
    lane0.ready_again()
    late = sched.enqueue(ticket("j3"))
    assert await sched.wait(late) is lane0  # ready, idle: it starts at once


async def test_a_lane_whose_cancelled_job_is_still_stopping_takes_the_next_job_once_it_has(make_lanes):
    (lane,) = make_lanes(1)
    sched = Scheduler([lane])
    await hold(sched, lane, "stuck")
    lane.stopping = True  # the runner gave up waiting; the lane's thread has not returned yet
    sched.release(lane)
    waiting = sched.enqueue(ticket("next"))
    assert lane.current_job is None and lane.broken is None and not waiting.future.done()
    lane.stopping = False
    lane.ready_again()
    assert await sched.wait(waiting) is lane

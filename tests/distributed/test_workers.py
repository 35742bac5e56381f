"""Many GPU workers on PostgreSQL: jobs spread, models stay where they are warm, a killed worker's job runs
elsewhere, a cancel reaches the worker running the job, and the books balance."""

from __future__ import annotations

import asyncio
import time

from engine.events import Event
from engine.types import JobState, Options, Origin, Outcome, SubmitRequest, UserRef


def req(user: str = "u1", prompt: str = "a crane", **options) -> SubmitRequest:
    return SubmitRequest(UserRef("test", user), prompt, Origin("test", "c"), Options(**options))


async def wait_all(app, job_ids, wait_s=60.0):
    await until(lambda: _all_ended(app, job_ids), wait_s)
    return [await app.service.get(j) for j in job_ids]


async def _all_ended(app, job_ids) -> bool:
    states = [(await app.service.get(j)).state for j in job_ids]
    return all(state.terminal for state in states)


async def until(check, wait_s: float = 30.0) -> None:
    """Poll ``check()`` (a coroutine function) until it is true; fail after ``wait_s``."""
    for _ in range(int(wait_s / 0.05)):
        if await check():
            return
        await asyncio.sleep(0.05)  # paced: a poll with a deadline
    raise AssertionError(f"still not true after {wait_s} s")


def state_is(app, job_id, *states):
    async def check() -> bool:
        return (await app.service.get(job_id)).state in states
    return check


async def test_jobs_spread_over_three_workers_and_are_delivered_once(front, workers) -> None:
    for gpu in ("0", "1", "2"):
        workers("--gpu", gpu)
    app, deliverer = await front()
    events: list[Event] = []

    async def record(event: Event) -> None:
        events.append(event)

    app.service.subscribe(record)
    jobs = [(await app.service.submit(req(f"u{i}"))).id for i in range(9)]
    views = await wait_all(app, jobs)
    assert [v.state for v in views] == [JobState.SUCCEEDED] * 9
    assert {(v.attempts[-1].backend, v.attempts[-1].model) for v in views} == {("local", "zeroscope")}
    ran_on = await app.repo.db.run(_lanes, app.repo.db, jobs)
    assert len(set(ran_on.values())) >= 2, ran_on  # spread over the workers
    await app.service.outbox.idle()
    assert sorted(j.id for j in deliverer.delivered) == sorted(jobs)
    assert await app.repo.ledger_balance() == {j: 0 for j in jobs}
    report = await app.service.report()
    assert len(report.workers) == 3 and sum(w.jobs_done for w in report.workers) >= 1
    assert {type(e).__name__ for e in events} >= {"Started", "Progress", "Ended"}  # over LISTEN/NOTIFY


async def test_models_go_to_the_workers_that_serve_them(front, workers) -> None:
    text = workers("--gpu", "0", "--models", "zeroscope")
    image = workers("--gpu", "1", "--models", "svd-xt")
    app, _ = await front()
    import io

    import numpy as np
    from PIL import Image

    buffer = io.BytesIO()
    Image.fromarray(np.full((64, 96, 3), 90, np.uint8)).save(buffer, "PNG")
    t2v = [(await app.service.submit(req(f"t{i}"))).id for i in range(3)]
    i2v = [(await app.service.submit(SubmitRequest(UserRef("test", f"i{i}"), "waves", Origin("test", "c"),
                                                   Options(), buffer.getvalue()))).id for i in range(3)]
    views = await wait_all(app, t2v + i2v)
    assert all(v.state is JobState.SUCCEEDED for v in views)
    by_job = {v.id: v.attempts[-1] for v in views}
    rows = await app.repo.db.run(_lanes, app.repo.db, t2v + i2v)
    assert {rows[j] for j in t2v} == {text.name} and {rows[j] for j in i2v} == {image.name}
    assert {by_job[j].model for j in i2v} == {"svd-xt"}


def _lanes(db, job_ids):
    from sqlalchemy import text as sql

    with db.transaction() as conn:
        found = conn.execute(sql("SELECT job_id, lane FROM attempts WHERE outcome = 'succeeded'")).all()
    return {job: lane for job, lane in found if job in job_ids}


async def test_a_killed_workers_job_runs_on_another_within_a_minute_charged_once(front, workers) -> None:
    first = workers("--gpu", "0", simulated_seconds=6, simulated_steps=60)
    app, deliverer = await front()
    job_id = (await app.service.submit(req())).id
    await until(state_is(app, job_id, JobState.RUNNING))
    first.kill()
    killed_at = time.monotonic()
    workers("--gpu", "1", simulated_seconds=0.3, simulated_steps=3)
    [done] = await wait_all(app, [job_id], 60)
    rerun_after = time.monotonic() - killed_at
    assert done.state is JobState.SUCCEEDED and rerun_after < 60
    assert [a.outcome for a in done.attempts] == [Outcome.INTERRUPTED, Outcome.SUCCEEDED]
    await app.service.outbox.idle()
    assert [j.id for j in deliverer.delivered] == [job_id]
    assert await app.repo.ledger_balance() == {job_id: 0}


async def test_a_job_that_keeps_killing_workers_is_failed_and_refunded(front, workers) -> None:
    app, deliverer = await front(max_interruptions=1)
    job_id = (await app.service.submit(req(), )).id
    for gpu in ("0", "1"):
        worker = workers("--gpu", gpu, simulated_seconds=30, simulated_steps=300)
        await until(state_is(app, job_id, JobState.RUNNING))
        worker.kill()
        await until(state_is(app, job_id, JobState.QUEUED, JobState.FAILED))
    [done] = await wait_all(app, [job_id], 30)
    assert done.state is JobState.FAILED and done.error_code == "crashed"
    assert "stopped 2 times" in done.error_message and done.charged_usd == 0
    assert [a.outcome for a in done.attempts] == [Outcome.INTERRUPTED, Outcome.INTERRUPTED]
    await app.service.outbox.idle()
    assert [j.id for j in deliverer.delivered] == [job_id]
    assert await app.repo.ledger_balance() == {job_id: 0}


async def test_cancel_reaches_the_worker_running_the_job_and_refunds(front, workers) -> None:
    workers("--gpu", "0", simulated_seconds=30, simulated_steps=300)
    app, deliverer = await front()
    running = (await app.service.submit(req("u1"))).id
    waiting = (await app.service.submit(req("u2"))).id
    await until(state_is(app, running, JobState.RUNNING))
    dropped = await app.service.cancel(UserRef("test", "u2"), waiting)  # still in the queue: never runs
    assert dropped.state is JobState.CANCELLED and dropped.attempts == ()
    stopped = await app.service.cancel(UserRef("test", "u1"), running)  # on the worker: it stops there
    assert stopped.state is JobState.CANCELLED and stopped.attempts[-1].outcome is Outcome.CANCELLED
    await app.service.outbox.idle()
    assert sorted(j.id for j in deliverer.delivered) == sorted([running, waiting])
    assert await app.repo.ledger_balance() == {running: 0, waiting: 0}


async def test_users_take_turns_and_a_worker_survives_losing_its_database_connections(front, workers) -> None:
    worker = workers("--gpu", "0", simulated_seconds=0.4, simulated_steps=4)
    app, _ = await front()
    heavy = [(await app.service.submit(req("heavy", f"h{i}"))).id for i in range(4)]
    light = (await app.service.submit(req("light", "l0"))).id
    await until(state_is(app, heavy[0], JobState.RUNNING, JobState.SUCCEEDED))
    # Every connection of the worker is cut, as when PostgreSQL restarts or the network drops.
    cut = await app.repo.db.run(_cut_connections, app.repo.db)
    assert cut > 0
    views = await wait_all(app, heavy + [light], 60)
    assert all(v.state is JobState.SUCCEEDED for v in views), [(v.id, v.state, v.error_message) for v in views]
    started = sorted(views, key=lambda v: v.attempts[-1].started_at)
    assert started.index(next(v for v in started if v.id == light)) <= 2  # not behind all of heavy's
    assert worker.proc.poll() is None


def _cut_connections(db) -> int:
    from sqlalchemy import text as sql

    with db.transaction() as conn:
        return len(conn.execute(sql(
            "SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname = current_database() "
            "AND pid <> pg_backend_pid() AND application_name NOT LIKE 'pytest%' "
            "AND backend_type = 'client backend' AND query NOT ILIKE '%LISTEN%'")).all())


async def test_a_cloud_only_worker_runs_the_jobs_that_have_no_local_step(front, workers) -> None:
    from tests.fakes.providers.runway import FakeRunway

    runway = await FakeRunway().start()
    try:
        keys = {"runwayml_api_secret": runway.key, "runwayml_base_url": runway.url,
                "cloud_poll_interval_s": 0.05, "chain_text_to_video": "runway"}
        workers("--cloud", **keys)
        app, deliverer = await front(**{**keys, "chain_text_to_video": ["runway"]})
        [done] = await wait_all(app, [(await app.service.submit(req())).id], 60)
        assert done.state is JobState.SUCCEEDED and done.backend == "runway" and done.charged_usd == 0.6
        assert len(runway.jobs) == 1
    finally:
        await runway.stop()


async def test_a_worker_stopped_with_sigterm_hands_its_job_back(front, workers) -> None:
    first = workers("--gpu", "0", simulated_seconds=30, simulated_steps=300)
    app, deliverer = await front()
    job_id = (await app.service.submit(req())).id
    await until(state_is(app, job_id, JobState.RUNNING))
    assert first.stop() == 0
    assert any("its job, if any, is queued again" in line for line in first.output)
    workers("--gpu", "1", simulated_seconds=0.3, simulated_steps=3)
    [done] = await wait_all(app, [job_id], 60)
    assert done.state is JobState.SUCCEEDED
    assert [a.outcome for a in done.attempts] == [Outcome.INTERRUPTED, Outcome.SUCCEEDED]
    assert (await app.service.get(job_id)).charged_usd == 0 and await app.repo.ledger_balance() == {job_id: 0}


async def test_reelbot_generate_waits_for_a_worker_and_writes_the_video(front, workers, cluster_env, tmp_path):
    import os
    import subprocess
    import sys

    from tests.distributed.conftest import ROOT

    workers("--gpu", "0")
    out = tmp_path / "kite.mp4"
    env = {**os.environ, "LOCAL_BACKEND": "simulated", **{k.upper(): str(v) for k, v in cluster_env.items()}}
    done = await asyncio.to_thread(
        subprocess.run, [sys.executable, "-m", "reelbot.cli", "generate", "--prompt", "a kite", "--frames", "4",
                         "--out", str(out)], env=env, cwd=ROOT, capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr
    assert out.stat().st_size > 0


async def test_a_job_admitted_but_never_queued_is_queued_again(front, workers) -> None:
    app, _ = await front()
    job_id = (await app.service.submit(req())).id
    await app.repo.db.run(_forget_queue, app.repo.db, job_id)  # as if the process died right after admission
    assert await app.service.dispatcher.reconcile() == 1
    workers("--gpu", "0")
    [done] = await wait_all(app, [job_id], 60)
    assert done.state is JobState.SUCCEEDED


def _forget_queue(db, job_id) -> None:
    from sqlalchemy import text as sql

    with db.transaction() as conn:
        conn.execute(sql("DELETE FROM procrastinate_jobs WHERE lock = :j"), {"j": job_id})


async def test_waiting_jobs_hear_when_their_place_changes(front, workers) -> None:
    workers("--gpu", "0", simulated_seconds=2.5, simulated_steps=5)
    app, _ = await front()
    places: list[tuple[str, int]] = []

    async def record(event: Event) -> None:
        if type(event).__name__ == "Queued":
            places.append((event.job_id, event.position))  # type: ignore[attr-defined]

    app.service.subscribe(record)
    ids = [(await app.service.submit(req(f"u{i}"))).id for i in range(3)]
    await wait_all(app, ids, 60)
    assert (ids[2], 1) in places  # it was second in line, then first

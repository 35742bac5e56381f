"""Distributed mode's workers: heartbeats shown, and silent workers forgotten."""

from __future__ import annotations


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

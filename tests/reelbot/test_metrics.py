"""GET /metrics as Prometheus scrapes it: queue depth, jobs by state, durations, GPUs, spend."""

from __future__ import annotations

import asyncio
import socket

import aiohttp

from engine.types import Options, Origin, SubmitRequest, UserRef
from reelbot.metrics import Metrics


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


async def test_metrics_endpoint_shows_jobs_durations_gpus_and_spend(app_factory) -> None:
    app = await app_factory()
    metrics = Metrics(app.service)
    port = _free_port()
    metrics.serve(port, addr="127.0.0.1")
    try:
        for user in ("a", "b"):
            view = await app.service.submit(SubmitRequest(UserRef("test", user), "a kite", Origin("test", "c"),
                                                          Options(frames=4)))
            await app.service.wait(view.id)
        await asyncio.sleep(0.05)  # the Ended events reach the histogram
        await metrics.refresh()
        async with aiohttp.ClientSession() as session, session.get(f"http://127.0.0.1:{port}/metrics") as resp:
            text = await resp.text()
    finally:
        await metrics.close()
    assert resp.status == 200
    assert "reelbot_queue_depth 0.0" in text
    assert 'reelbot_jobs{state="succeeded"} 2.0' in text
    assert 'reelbot_job_seconds_count{backend="local",state="succeeded"} 2.0' in text
    assert 'reelbot_gpu_busy{gpu="gpu0",label="simulated GPU"} 0.0' in text
    assert 'reelbot_spend_usd_month{backend="local"} 0.0' in text
    assert "reelbot_budget_left_usd 50.0" in text

"""GET /metrics as Prometheus scrapes it: queue depth, jobs by state, durations, GPUs, spend."""

from __future__ import annotations

import socket

import aiohttp

from engine.types import Options, Origin, SubmitRequest, UserRef
from reelbot.metrics import Metrics


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def _listening_on(port: int) -> set[str]:
    """The IPv4 addresses a socket listens on at ``port``, as the kernel lists them (/proc/net/tcp)."""
    found = set()
    with open("/proc/net/tcp") as table:
        for line in list(table)[1:]:
            local, state = line.split()[1], line.split()[3]
            address, hex_port = local.split(":")
            if int(hex_port, 16) == port and state == "0A":  # 0A: LISTEN
                found.add(socket.inet_ntoa(bytes.fromhex(address)[::-1]))
    return found


async def test_metrics_endpoint_shows_jobs_durations_gpus_and_spend(app_factory) -> None:
    app = await app_factory()
    metrics = Metrics(app.service)
    port = _free_port()
    await metrics.serve(port, addr="127.0.0.1")
    try:
        for user in ("a", "b"):
            view = await app.service.submit(SubmitRequest(UserRef("test", user), "a kite", Origin("test", "c"),
                                                          Options(frames=4)))
            await app.service.wait(view.id)
        await app.service.events.drain()  # the Ended events reach the histogram
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


async def test_metrics_listen_on_localhost_and_refuse_scrapers_without_the_token(app_factory) -> None:
    app = await app_factory()
    metrics = Metrics(app.service)
    port = _free_port()
    await metrics.serve(port, token="scrape-secret")  # the default address: 127.0.0.1
    try:
        async with aiohttp.ClientSession() as session:
            async with session.get(f"http://127.0.0.1:{port}/metrics") as resp:
                assert resp.status == 401 and "reelbot_budget_left_usd" not in await resp.text()
            wrong = {"Authorization": "Bearer scrape-secreT"}
            async with session.get(f"http://127.0.0.1:{port}/metrics", headers=wrong) as resp:
                assert resp.status == 401
            right = {"Authorization": "Bearer scrape-secret"}
            async with session.get(f"http://127.0.0.1:{port}/metrics", headers=right) as resp:
                assert resp.status == 200 and "reelbot_budget_left_usd" in await resp.text()
        assert _listening_on(port) == {"127.0.0.1"}
    finally:
        await metrics.close()

"""Prometheus metrics (``METRICS_PORT``): queue depth, jobs by state, job durations, GPU use, workers, spend.

Gauges are refreshed from the engine's status every ``REFRESH_S`` (the same figures ``/status`` shows); the
job-duration histogram is fed by the engine's events as jobs end. The figures include spend and budget, so
the endpoint listens on 127.0.0.1 unless ``METRICS_HOST`` says otherwise, and with ``METRICS_TOKEN`` set it
answers only scrapers that send it as a bearer token (compared in constant time).
"""

from __future__ import annotations

import asyncio
import hmac
import logging

from aiohttp import web
from prometheus_client import CONTENT_TYPE_LATEST, CollectorRegistry, Gauge, Histogram, generate_latest

from engine.events import Ended, Event
from engine.service import Service
from engine.types import JobState
from reelbot.settings import Settings

log = logging.getLogger(__name__)
REFRESH_S = 15.0
BUCKETS = (1, 5, 10, 30, 60, 120, 300, 600, 1200, float("inf"))


class Metrics:
    def __init__(self, service: Service) -> None:
        self.service = service
        self.registry = CollectorRegistry()
        r = self.registry
        self.queue_depth = Gauge("reelbot_queue_depth", "Jobs waiting to run", registry=r)
        self.jobs = Gauge("reelbot_jobs", "Jobs by state", ["state"], registry=r)
        self.job_seconds = Histogram("reelbot_job_seconds", "Time from start to end of finished jobs",
                                     ["state", "backend"], buckets=BUCKETS, registry=r)
        self.gpu_util = Gauge("reelbot_gpu_utilization_percent", "GPU utilisation", ["gpu", "label"], registry=r)
        self.gpu_memory = Gauge("reelbot_gpu_memory_used_bytes", "GPU memory in use", ["gpu", "label"], registry=r)
        self.gpu_busy = Gauge("reelbot_gpu_busy", "1 while the GPU runs a job", ["gpu", "label"], registry=r)
        self.workers = Gauge("reelbot_workers", "Distributed-mode workers", ["state"], registry=r)
        self.spend_today = Gauge("reelbot_spend_usd_today", "Money spent today", ["backend"], registry=r)
        self.spend_month = Gauge("reelbot_spend_usd_month", "Money spent this month", ["backend"], registry=r)
        self.budget_left = Gauge("reelbot_budget_left_usd", "Monthly budget not yet committed", registry=r)
        self._task: asyncio.Task[None] | None = None
        self._runner: web.AppRunner | None = None
        self._token: bytes | None = None
        self._subscription = service.subscribe(self._on_event)

    async def serve(self, port: int, addr: str = "127.0.0.1", token: str | None = None) -> None:
        self._token = token.encode() if token else None
        app = web.Application()
        app.router.add_get("/metrics", self._scrape)
        self._runner = web.AppRunner(app, access_log=None)
        await self._runner.setup()
        await web.TCPSite(self._runner, addr, port).start()
        self._task = asyncio.get_running_loop().create_task(self._refresh_regularly(), name="reelbot-metrics")

    async def refresh(self) -> None:
        report = await self.service.report()
        self.queue_depth.set(report.queued)
        for state in JobState:
            self.jobs.labels(state.value).set(report.jobs_by_state.get(state.value, 0))
        for lane in report.lanes:
            self.gpu_busy.labels(lane.name, lane.label).set(1 if lane.current_job else 0)
            if lane.stats is not None:
                self.gpu_util.labels(lane.name, lane.label).set(lane.stats.utilization_pct)
                self.gpu_memory.labels(lane.name, lane.label).set(lane.stats.memory_used_mib * 1024 * 1024)
        self.workers.labels("busy").set(sum(1 for w in report.workers if w.current_job))
        self.workers.labels("idle").set(sum(1 for w in report.workers if not w.current_job))
        for line in report.spend:
            self.spend_today.labels(line.backend).set(line.today_usd)
            self.spend_month.labels(line.backend).set(line.month_usd)
        if report.budget_left_usd is not None:
            self.budget_left.set(report.budget_left_usd)

    async def _scrape(self, request: web.Request) -> web.Response:
        if self._token is not None:
            given = request.headers.get("Authorization", "").encode()
            if not hmac.compare_digest(given, b"Bearer " + self._token):
                return web.Response(status=401, text="METRICS_TOKEN required\n",
                                    headers={"WWW-Authenticate": 'Bearer realm="reelbot metrics"'})
        return web.Response(body=generate_latest(self.registry), headers={"Content-Type": CONTENT_TYPE_LATEST})

    async def _on_event(self, event: Event) -> None:
        if isinstance(event, Ended):
            view = await self.service.get(event.job_id)
            if view.seconds_taken is not None:
                self.job_seconds.labels(view.state.value, view.backend or "none").observe(view.seconds_taken)

    async def _refresh_regularly(self) -> None:
        while True:
            try:
                await self.refresh()
            except Exception:
                log.exception("could not refresh the metrics")
            await asyncio.sleep(REFRESH_S)

    async def close(self) -> None:
        if self._task is not None:
            self._task.cancel()
            await asyncio.gather(self._task, return_exceptions=True)
        await self._subscription.close()
        if self._runner is not None:
            await self._runner.cleanup()


async def serve_metrics(service: Service, settings: Settings) -> Metrics:
    """Metrics as the settings ask for them (``METRICS_PORT``, ``METRICS_HOST``, ``METRICS_TOKEN``)."""
    metrics = Metrics(service)
    token = settings.metrics_token.get_secret_value() if settings.metrics_token else None
    await metrics.serve(settings.metrics_port, settings.metrics_host, token)
    return metrics

"""What every provider fake shares: the server, the remote jobs, the scripting, the request log."""

from __future__ import annotations

import asyncio
import math
import secrets
from collections import deque
from dataclasses import dataclass, field
from functools import cache
from pathlib import Path
from tempfile import TemporaryDirectory
from typing import Any, Protocol

import numpy as np
from aiohttp import web

from tests.fakes.server import serve

OUTCOMES = ("ok", "moderated", "failed", "slow", "expired", "not_video", "malformed")


class Clock(Protocol):
    def now(self) -> float: ...


@cache
def tiny_mp4() -> bytes:
    """A real 12-frame 64x48 H.264 video, made once."""
    from engine.video import encode_frames

    frames = [np.full((48, 64, 3), 20 * i, np.uint8) for i in range(12)]
    with TemporaryDirectory() as folder:
        path = Path(folder) / "v.mp4"
        encode_frames(frames, 8, path)
        return path.read_bytes()


@dataclass
class Plan:
    outcome: str = "ok"
    polls: int = 2  # status calls that answer "still running" before the outcome

    def __post_init__(self) -> None:
        assert self.outcome in OUTCOMES, self.outcome


@dataclass
class RemoteJob:
    id: str
    route: str
    body: Any
    plan: Plan
    polls: int = 0
    cancelled: bool = False
    data: dict[str, Any] = field(default_factory=dict)
    created_at: float = 0.0
    started_at: float | None = None  # when it began running (the first look that found it running)
    last_look: float | None = None
    ran_s: float | None = None  # compute time when it stopped (cancelled, failed, finished)


@dataclass(frozen=True)
class Recorded:
    method: str
    path: str
    query: str
    headers: dict[str, str]
    body: bytes


class FakeProvider:
    """``pace_s``: the least time the provider allows between two looks at one job. With a ``clock`` set
    (the tests' virtual clock, shared with the backend), faster looks are answered 429 with Retry-After."""

    key = "test-key"
    pace_s = 0.0

    def __init__(self) -> None:
        self.app = web.Application(middlewares=[self._record], client_max_size=64 * 1024 * 1024)
        self.app.router.add_get("/_files/{name}", self._file)
        self.routes(self.app.router)
        self.requests: list[Recorded] = []
        self.jobs: dict[str, RemoteJob] = {}
        self.plans: deque[Plan] = deque()
        self.errors: deque[tuple[str, int, Any, dict[str, str]]] = deque()
        self.problems: list[str] = []
        self.url = ""
        self._runner: web.AppRunner | None = None
        self._polled = asyncio.Event()
        self.clock: Clock | None = None
        self.throttled = 0  # looks answered 429 for coming too fast

    def routes(self, router: web.UrlDispatcher) -> None:
        raise NotImplementedError

    # --- life cycle ---

    async def start(self) -> FakeProvider:
        self._runner, port = await serve(self.app)
        self.url = f"http://127.0.0.1:{port}"
        return self

    async def stop(self) -> None:
        if self._runner is not None:
            await self._runner.cleanup()

    # --- scripting ---

    def plan(self, outcome: str = "ok", polls: int = 2) -> None:
        self.plans.append(Plan(outcome, polls))

    def fail_next(self, step: str, status: int, body: Any = None, headers: dict[str, str] | None = None) -> None:
        self.errors.append((step, status, body, headers or {}))

    def scripted(self, step: str) -> web.Response | None:
        if self.errors and self.errors[0][0] == step:
            _, status, body, headers = self.errors.popleft()
            if isinstance(body, str):
                return web.Response(status=status, text=body, headers=headers)
            return web.json_response(body or {}, status=status, headers=headers)
        return None

    def new_job(self, route: str, body: Any, job_id: str | None = None) -> RemoteJob:
        plan = self.plans.popleft() if self.plans else Plan()
        job = RemoteJob(job_id or secrets.token_hex(8), route, body, plan, created_at=self.now())
        self.jobs[job.id] = job
        return job

    def now(self) -> float:
        return self.clock.now() if self.clock is not None else 0.0

    def too_fast(self, job: RemoteJob) -> float | None:
        """Seconds the caller should have waited more, when this look comes faster than the pace allows.

        The pace is for polling a job that still runs; one look at a job that ended (or was just cancelled,
        to read what it billed) is not polling."""
        if self.clock is None or not self.pace_s or job.cancelled or job.ran_s is not None:
            return None
        now = self.clock.now()
        if job.last_look is not None and now - job.last_look < self.pace_s - 1e-6:
            self.throttled += 1
            return self.pace_s - (now - job.last_look)
        job.last_look = now
        job.data.setdefault("looks", []).append(now)
        return None

    def throttle(self, wait: float) -> web.Response:
        """The provider's own 429 (subclasses answer in their format)."""
        return web.json_response({"detail": "Too many requests"}, status=429,
                                 headers={"Retry-After": str(math.ceil(wait))})

    def run_seconds(self, job: RemoteJob) -> float:
        """Compute time so far: by the clock when there is one, else one second per look."""
        if job.ran_s is not None:
            return job.ran_s
        if job.started_at is None:
            return 0.0
        return round(self.now() - job.started_at, 3) if self.clock is not None else float(job.polls)

    def finish(self, job: RemoteJob) -> None:
        """The job stops using compute (it ended, or was cancelled): its billed time is fixed."""
        if job.ran_s is None:
            job.ran_s = self.run_seconds(job)

    def advance(self, job: RemoteJob) -> str:
        """One status look: "running", "cancelled", or the job's planned outcome."""
        if job.cancelled:
            return "cancelled"
        job.polls += 1
        self._polled.set()
        if job.started_at is None:
            job.started_at = self.now()
        if job.plan.outcome == "slow" or job.polls <= job.plan.polls:
            return "running"
        self.finish(job)
        return job.plan.outcome

    def video_url(self, job: RemoteJob) -> str:
        return f"{self.url}/_files/{job.id}.mp4"

    # --- what the tests read ---

    async def polled(self, times: int = 1) -> RemoteJob:
        """Wait until some remote job has been looked at ``times`` times; return it."""
        async with asyncio.timeout(10):
            while True:
                job = next((j for j in self.jobs.values() if j.polls >= times), None)
                if job is not None:
                    return job
                self._polled.clear()
                await self._polled.wait()

    def calls(self, method: str, path_part: str = "") -> list[Recorded]:
        return [r for r in self.requests if r.method == method and path_part in r.path]

    def problem(self, text: str) -> None:
        self.problems.append(text)

    # --- inside ---

    @web.middleware
    async def _record(self, request: web.Request, handler: Any) -> web.StreamResponse:
        body = await request.read()
        self.requests.append(Recorded(request.method, request.path, request.query_string,
                                      dict(request.headers), body))
        return await handler(request)

    async def _file(self, request: web.Request) -> web.Response:
        job = self.jobs.get(request.match_info["name"].split(".")[0])
        if job is None or job.plan.outcome == "expired":
            return web.Response(status=404, text="Not Found")
        if job.plan.outcome == "not_video":
            return web.Response(text="<html>oops</html>", content_type="text/html")
        return web.Response(body=tiny_mp4(), content_type="video/mp4")


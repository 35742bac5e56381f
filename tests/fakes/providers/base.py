"""What every provider fake shares: the server, the remote jobs, the scripting, the request log."""

from __future__ import annotations

import asyncio
import secrets
from collections import deque
from dataclasses import dataclass, field
from functools import cache
from pathlib import Path
from tempfile import TemporaryDirectory
from typing import Any

import numpy as np
from aiohttp import web

from tests.fakes.server import serve

OUTCOMES = ("ok", "moderated", "failed", "slow", "expired", "not_video", "malformed")


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


@dataclass(frozen=True)
class Recorded:
    method: str
    path: str
    query: str
    headers: dict[str, str]
    body: bytes


class FakeProvider:
    key = "test-key"

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
        job = RemoteJob(job_id or secrets.token_hex(8), route, body, plan)
        self.jobs[job.id] = job
        return job

    def advance(self, job: RemoteJob) -> str:
        """One status look: "running", "cancelled", or the job's planned outcome."""
        if job.cancelled:
            return "cancelled"
        job.polls += 1
        self._polled.set()
        if job.plan.outcome == "slow" or job.polls <= job.plan.polls:
            return "running"
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


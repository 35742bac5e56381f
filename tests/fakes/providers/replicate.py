"""Replicate's HTTP API as the official client sees it; every request is checked against the OpenAPI spec,
and every prediction it answers with fits the spec's prediction schema.

Billing as Replicate does it: ``metrics.predict_time`` is reported for succeeded, failed and cancelled
predictions alike (the time it ran). ``Cancel-After`` is read (``5m``, ``90s``, ``1h30m``; at least 5 s): a
prediction still running past it is cancelled by the fake itself, as Replicate does, billed only until then.
Looks faster than the official client's 0.5 s pace are answered 429 (with a clock set).
"""

from __future__ import annotations

import json
import math
import re
from datetime import UTC, datetime
from typing import Any

from aiohttp import web

from tests.fakes.forms import form_parts
from tests.fakes.openapi import check, load, schema_problems
from tests.fakes.providers.base import FakeProvider, RemoteJob

_DURATION = re.compile(r"^(?:(\d+)h)?(?:(\d+)m)?(?:(\d+)s?)?$")


def cancel_after_seconds(value: str) -> float | None:
    """``Cancel-After`` in seconds (None: not a duration the API takes)."""
    match = _DURATION.match(value.strip())
    if not value.strip() or match is None or not any(match.groups()):
        return None
    hours, minutes, seconds = (int(g or 0) for g in match.groups())
    return hours * 3600 + minutes * 60 + seconds


class FakeReplicate(FakeProvider):
    key = "r8_test_token"
    pace_s = 0.5

    def __init__(self) -> None:
        super().__init__()
        self.uploads: dict[str, bytes] = {}

    def routes(self, router: web.UrlDispatcher) -> None:
        router.add_post("/v1/models/{owner}/{name}/predictions", self.create_official)
        router.add_post("/v1/predictions", self.create_version)
        router.add_get("/v1/predictions/{id}", self.get)
        router.add_post("/v1/predictions/{id}/cancel", self.cancel)
        router.add_post("/v1/files", self.upload)
        router.add_get("/_uploads/{id}", self.uploaded)
        router.add_get("/v1/account", self.account)

    async def _guard(self, request: web.Request, step: str) -> web.Response | None:
        body = await request.read()
        fields = None
        if request.content_type == "multipart/form-data":
            fields = {name: data for name, (_, data) in (await form_parts(request)).items()}
        for problem in check(load("replicate-openapi.json"), "/v1", request.method, request.path, body,
                             request.headers.get("Content-Type", ""), fields):
            self.problem(problem)
        if request.headers.get("Authorization") != f"Bearer {self.key}":
            return _problem(401, "Unauthenticated", "You did not pass a valid authentication token")
        if (scripted := self.scripted(step)) is not None:
            return scripted
        return None

    def _cancel_after(self, request: web.Request, job: RemoteJob) -> web.Response | None:
        value = request.headers.get("Cancel-After")
        if value is None:
            return None
        seconds = cancel_after_seconds(value)
        if seconds is None or seconds < 5:
            self.jobs.pop(job.id)
            return _problem(422, "Invalid Cancel-After", f"Cancel-After {value!r} is not a duration of 5 s or more")
        job.data["cancel_after"] = seconds
        return None

    def _deadline(self, job: RemoteJob) -> None:
        """Past its Cancel-After, a prediction is cancelled by Replicate: billed only until then."""
        limit = job.data.get("cancel_after")
        if limit is None or self.clock is None or job.cancelled or job.ran_s is not None:
            return
        if self.now() - job.created_at >= limit:
            job.cancelled = True
            if job.started_at is not None:
                job.ran_s = round(max(0.0, job.created_at + limit - job.started_at), 3)
            job.data["auto_cancelled"] = True

    def throttle(self, wait: float) -> web.Response:
        return web.Response(
            status=429, content_type="application/problem+json", headers={"Retry-After": str(math.ceil(wait))},
            text=json.dumps({"title": "Too Many Requests", "status": 429,
                             "detail": f"Request was throttled. Expected available in {math.ceil(wait)} second."}))

    async def create_official(self, request: web.Request) -> web.Response:
        if (refused := await self._guard(request, "create")) is not None:
            return refused
        body = await request.json()
        model = f"{request.match_info['owner']}/{request.match_info['name']}"
        job = self.new_job(model, body)
        if (refused := self._cancel_after(request, job)) is not None:
            return refused
        return web.json_response(self._prediction(job, model), status=201)

    async def create_version(self, request: web.Request) -> web.Response:
        if (refused := await self._guard(request, "create")) is not None:
            return refused
        body = await request.json()
        job = self.new_job("version", body)
        job.data["version"] = body.get("version", "")
        if (refused := self._cancel_after(request, job)) is not None:
            return refused
        return web.json_response(self._prediction(job, "community/model"), status=201)

    async def get(self, request: web.Request) -> web.Response:
        if (refused := await self._guard(request, "get")) is not None:
            return refused
        job = self.jobs.get(request.match_info["id"])
        if job is None:
            return _problem(404, "Not found", "The requested resource could not be found.")
        if (wait := self.too_fast(job)) is not None:
            return self.throttle(wait)
        self._deadline(job)
        state = self.advance(job)
        if state == "malformed":
            return web.Response(text='{"id": "', content_type="application/json")
        return web.json_response(self._prediction(job, job.route, state))

    async def cancel(self, request: web.Request) -> web.Response:
        if (refused := await self._guard(request, "cancel")) is not None:
            return refused
        job = self.jobs.get(request.match_info["id"])
        if job is None:
            return _problem(404, "Not found", "The requested resource could not be found.")
        self._deadline(job)
        if not job.cancelled and job.ran_s is None:  # a finished prediction stays as it ended
            job.cancelled = True
            self.finish(job)
        state = "cancelled" if job.cancelled else job.plan.outcome
        return web.json_response(self._prediction(job, job.route, state))

    async def upload(self, request: web.Request) -> web.Response:
        if (refused := await self._guard(request, "upload")) is not None:
            return refused
        filename, data = (await form_parts(request)).get("content", (None, b""))
        file_id = f"file{len(self.requests)}"
        self.uploads[file_id] = data
        size = len(data)
        return web.json_response({
            "id": file_id, "name": filename or "", "content_type": "image/jpeg",
            "size": size, "etag": "x", "checksums": {}, "metadata": {}, "created_at": _now(),
            "expires_at": None, "urls": {"get": f"{self.url}/_uploads/{file_id}"},
        }, status=201)

    async def account(self, request: web.Request) -> web.Response:
        if (refused := await self._guard(request, "account")) is not None:
            return refused
        return web.json_response({"type": "user", "username": "reelbot-owner", "name": "Owner",
                                  "github_url": None})

    async def uploaded(self, request: web.Request) -> web.Response:
        return web.Response(body=self.uploads.get(request.match_info["id"], b""), content_type="image/jpeg")

    def _prediction(self, job: RemoteJob, model: str, state: str = "starting") -> dict[str, Any]:
        base = f"{self.url}/v1/predictions/{job.id}"
        status, output, error, logs = "processing", None, None, f"{min(99, 30 * job.polls)}%|###"
        metrics: dict[str, Any] | None = None
        ran = {"predict_time": self.run_seconds(job), "total_time": self.run_seconds(job) + 1.0}
        if job.polls == 0 and state in ("starting", "running") and not job.cancelled:
            status, logs = "starting", ""
        if state == "ok":
            status, output, metrics = "succeeded", self.video_url(job), {"predict_time": 42.0, "total_time": 45.0}
        elif state in ("expired", "not_video"):
            status, output, metrics = "succeeded", self.video_url(job), {"predict_time": 42.0}
        elif state == "moderated":
            status, error = "failed", "NSFW content detected. Try running it again, or try a different prompt."
        elif state == "failed":  # a crash mid-run: the time it ran is billed
            status, error, metrics = "failed", "CUDA error: an illegal memory access was encountered", ran
        elif state == "cancelled":
            status, metrics = "canceled", ran if job.started_at is not None else None
        out: dict[str, Any] = {
            "id": job.id, "model": model, "version": job.data.get("version", "hidden"),
            "input": job.body.get("input", {}), "output": output, "error": error, "status": status,
            "logs": logs, "created_at": _now(), "data_removed": False, "source": "api",
            "urls": {"get": base, "cancel": f"{base}/cancel", "web": base, "stream": f"{base}/stream"},
        }
        if metrics is not None:
            out["metrics"] = metrics
        if "cancel_after" in job.data:
            out["deadline"] = _now()
        if job.started_at is not None:
            out["started_at"] = _now()
        if status in ("succeeded", "failed", "canceled"):
            out["completed_at"] = _now()
        for problem in check_response(out):
            self.problem(problem)
        return out


def _problem(status: int, title: str, detail: str) -> web.Response:
    return web.Response(status=status, text=json.dumps({"title": title, "detail": detail, "status": status}),
                        content_type="application/problem+json")


def check_response(prediction: dict[str, Any]) -> list[str]:
    """The fake's own answer against the published prediction schema (so a fake cannot drift from it)."""
    spec = load("replicate-openapi.json")
    return schema_problems(spec, spec["components"]["schemas"]["schemas_prediction_response"], prediction,
                           "prediction")


def _now() -> str:
    return datetime.now(UTC).isoformat()

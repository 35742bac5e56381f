"""Replicate's HTTP API as the official client sees it; every request is checked against the OpenAPI spec."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from typing import Any

from aiohttp import web

from tests.fakes.forms import form_parts
from tests.fakes.openapi import check, load
from tests.fakes.providers.base import FakeProvider, RemoteJob


class FakeReplicate(FakeProvider):
    key = "r8_test_token"

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

    async def create_official(self, request: web.Request) -> web.Response:
        if (refused := await self._guard(request, "create")) is not None:
            return refused
        body = await request.json()
        model = f"{request.match_info['owner']}/{request.match_info['name']}"
        return web.json_response(self._prediction(self.new_job(model, body), model), status=201)

    async def create_version(self, request: web.Request) -> web.Response:
        if (refused := await self._guard(request, "create")) is not None:
            return refused
        body = await request.json()
        job = self.new_job("version", body)
        job.data["version"] = body.get("version", "")
        return web.json_response(self._prediction(job, "community/model"), status=201)

    async def get(self, request: web.Request) -> web.Response:
        if (refused := await self._guard(request, "get")) is not None:
            return refused
        job = self.jobs.get(request.match_info["id"])
        if job is None:
            return _problem(404, "Not found", "The requested resource could not be found.")
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
        job.cancelled = True
        return web.json_response(self._prediction(job, job.route, "cancelled"))

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
        status, output, error, logs, metrics = "processing", None, None, f"{min(99, 30 * job.polls)}%|###", None
        if job.polls == 0 and state == "starting":
            status, logs = "starting", ""
        if state == "ok":
            status, output, metrics = "succeeded", self.video_url(job), {"predict_time": 42.0, "total_time": 45.0}
        elif state in ("expired", "not_video"):
            status, output, metrics = "succeeded", self.video_url(job), {"predict_time": 42.0}
        elif state == "moderated":
            status, error = "failed", "NSFW content detected. Try running it again, or try a different prompt."
        elif state == "failed":
            status, error = "failed", "CUDA error: an illegal memory access was encountered"
        elif state == "cancelled":
            status = "canceled"
        return {
            "id": job.id, "model": model, "version": job.data.get("version", "hidden"),
            "input": job.body.get("input", {}), "output": output, "error": error, "status": status,
            "logs": logs, "metrics": metrics, "created_at": _now(), "data_removed": False,
            "urls": {"get": base, "cancel": f"{base}/cancel", "web": base},
        }


def _problem(status: int, title: str, detail: str) -> web.Response:
    return web.Response(status=status, text=json.dumps({"title": title, "detail": detail, "status": status}),
                        content_type="application/problem+json")


def _now() -> str:
    return datetime.now(UTC).isoformat()

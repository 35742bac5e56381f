"""Runway's API: camelCase task creation, /v1/tasks/{id} polling, DELETE to cancel."""

from __future__ import annotations

import uuid
from typing import Any

from aiohttp import web

from tests.fakes.providers.base import FakeProvider

RATIOS = {"1280:720", "720:1280", "1104:832", "832:1104", "960:960", "1584:672"}
VERSION = "2024-11-06"


class FakeRunway(FakeProvider):
    key = "key_runway_test"

    def routes(self, router: web.UrlDispatcher) -> None:
        router.add_post("/v1/image_to_video", self.image_to_video)
        router.add_post("/v1/text_to_video", self.text_to_video)
        router.add_get("/v1/tasks/{id}", self.task)
        router.add_delete("/v1/tasks/{id}", self.delete)
        router.add_get("/v1/organization", self.organization)

    def _guard(self, request: web.Request, step: str) -> web.Response | None:
        if request.headers.get("X-Runway-Version") != VERSION:
            return web.json_response({"error": "X-Runway-Version header is required"}, status=400)
        if request.headers.get("Authorization") != f"Bearer {self.key}":
            return web.json_response({"error": "Invalid API key"}, status=401)
        return self.scripted(step)

    async def _create(self, request: web.Request, route: str, needs_image: bool) -> web.Response:
        if (refused := self._guard(request, "create")) is not None:
            return refused
        body: dict[str, Any] = await request.json()
        errors = []
        if needs_image and not str(body.get("promptImage", "")).startswith(("data:image/", "https://")):
            errors.append("promptImage must be an https URL or a data URI")
        if len(str(body.get("promptImage", ""))) > 5 * 1024 * 1024:
            errors.append("promptImage data URI is over 5 MB")
        if not needs_image and not body.get("promptText"):
            errors.append("promptText is required")
        if len(str(body.get("promptText", ""))) > 1000:
            errors.append("promptText is over 1000 characters")
        if body.get("ratio") not in RATIOS:
            errors.append(f"ratio {body.get('ratio')!r} is not supported")
        if body.get("duration") not in (5, 10):
            errors.append("duration must be 5 or 10")
        if not isinstance(body.get("model"), str):
            errors.append("model is required")
        unknown = set(body) - {"model", "promptImage", "promptText", "ratio", "duration", "seed",
                               "contentModeration"}
        if unknown:
            errors.append(f"unknown fields {sorted(unknown)}")
        if errors:
            return web.json_response({"error": "; ".join(errors)}, status=400)
        job = self.new_job(route, body, str(uuid.uuid4()))
        return web.json_response({"id": job.id})

    async def image_to_video(self, request: web.Request) -> web.Response:
        return await self._create(request, "image_to_video", True)

    async def text_to_video(self, request: web.Request) -> web.Response:
        return await self._create(request, "text_to_video", False)

    async def task(self, request: web.Request) -> web.Response:
        if (refused := self._guard(request, "task")) is not None:
            return refused
        job = self.jobs.get(request.match_info["id"])
        if job is None:
            return web.json_response({"error": "Task not found"}, status=404)
        state = self.advance(job)
        out: dict[str, Any] = {"id": job.id, "createdAt": "2026-11-30T00:00:00Z"}
        if state == "running":
            out.update(status="PENDING" if job.polls == 1 else "RUNNING",
                       **({} if job.polls == 1 else {"progress": 0.5}))
        elif state == "cancelled":
            out.update(status="CANCELLED")
        elif state == "moderated":
            out.update(status="FAILED", failure="Input image flagged by content moderation",
                       failureCode="SAFETY.INPUT.IMAGE")
        elif state == "failed":
            out.update(status="FAILED", failure="An unexpected error occurred", failureCode="INTERNAL")
        elif state == "malformed":
            return web.Response(text="{'status': SUCCEEDED", content_type="application/json")
        else:
            out.update(status="SUCCEEDED", output=[self.video_url(job)])
        return web.json_response(out)

    async def organization(self, request: web.Request) -> web.Response:
        if (refused := self._guard(request, "organization")) is not None:
            return refused
        return web.json_response({"creditBalance": 1200, "tier": {"maxMonthlyCreditSpend": 10000, "models": {}},
                                  "usage": {"models": {}}})

    async def delete(self, request: web.Request) -> web.Response:
        if (refused := self._guard(request, "delete")) is not None:
            return refused
        job = self.jobs.get(request.match_info["id"])
        if job is None:
            return web.json_response({"error": "Task not found"}, status=404)
        job.cancelled = True
        return web.Response(status=204)

"""Stability AI's v2beta image-to-video: multipart create, 202 while running, the mp4 with Accept: video/*.

Stability asks for no more than one result look every 10 s: faster looks are answered 429 (with a clock set).
"""

from __future__ import annotations

import io
import math
import secrets

from aiohttp import web
from PIL import Image

from tests.fakes.forms import form_parts
from tests.fakes.providers.base import FakeProvider, tiny_mp4

SIZES = {(1024, 576), (576, 1024), (768, 768)}


class FakeStability(FakeProvider):
    key = "sk-test-key"
    pace_s = 10.0
    withdrawn = False  # True: the endpoint is gone (404 on create), as Stability's newest spec suggests

    def routes(self, router: web.UrlDispatcher) -> None:
        router.add_post("/v2beta/image-to-video", self.create)
        router.add_get("/v2beta/image-to-video/result/{id}", self.result)
        router.add_get("/v1/user/balance", self.balance)

    def _guard(self, request: web.Request, step: str) -> web.Response | None:
        if request.headers.get("Authorization") != f"Bearer {self.key}":
            return web.json_response({"id": "x", "name": "unauthorized", "errors": ["authorization: invalid"]},
                                     status=401)
        return self.scripted(step)

    def throttle(self, wait: float) -> web.Response:
        return web.json_response({"id": secrets.token_hex(16), "name": "rate_limit_exceeded",
                                  "errors": ["You have exceeded the rate limit: poll once every 10 seconds"]},
                                 status=429, headers={"Retry-After": str(math.ceil(wait))})

    async def create(self, request: web.Request) -> web.Response:
        if self.withdrawn:
            return web.json_response({"id": "x", "name": "not_found", "errors": ["Not Found"]}, status=404)
        if (refused := self._guard(request, "create")) is not None:
            return refused
        parts = await form_parts(request)
        errors = []
        if "image" not in parts:
            errors.append("image: required")
        else:
            with Image.open(io.BytesIO(parts["image"][1])) as image:
                if image.format not in ("JPEG", "PNG"):
                    errors.append(f"image: must be jpeg or png, got {image.format}")
                if image.size not in SIZES:
                    errors.append(f"image: dimensions {image.size[0]}x{image.size[1]} are not supported")
        for name, low, high in (("seed", 0, 4294967294), ("cfg_scale", 0, 10), ("motion_bucket_id", 1, 255)):
            if name in parts and not low <= float(parts[name][1]) <= high:
                errors.append(f"{name}: must be between {low} and {high}")
        if unknown := set(parts) - {"image", "seed", "cfg_scale", "motion_bucket_id"}:
            errors.append(f"unknown fields: {sorted(unknown)}")
        if errors:
            return web.json_response({"id": secrets.token_hex(16), "name": "bad_request", "errors": errors},
                                     status=400)
        job = self.new_job("image-to-video", {k: v[1] for k, v in parts.items()}, secrets.token_hex(32))
        return web.json_response({"id": job.id})

    async def balance(self, request: web.Request) -> web.Response:
        if (refused := self._guard(request, "balance")) is not None:
            return refused
        return web.json_response({"credits": 42.5})

    async def result(self, request: web.Request) -> web.Response:
        if (refused := self._guard(request, "result")) is not None:
            return refused
        if request.headers.get("Accept") not in ("video/*", "application/json"):
            self.problem(f"result fetched with Accept {request.headers.get('Accept')!r}")
        job = self.jobs.get(request.match_info["id"])
        if job is None or job.plan.outcome == "expired":
            return web.json_response({"id": "x", "name": "not_found",
                                      "errors": ["generation not found or expired"]}, status=404)
        if (wait := self.too_fast(job)) is not None:
            return self.throttle(wait)
        state = self.advance(job)
        if state == "running":
            return web.json_response({"id": job.id, "status": "in-progress"}, status=202)
        if state == "moderated":
            return web.Response(body=tiny_mp4(), content_type="video/mp4",
                                headers={"finish-reason": "CONTENT_FILTERED", "seed": "1"})
        if state == "malformed":  # a truncated body that claims to be a video
            return web.Response(body=tiny_mp4()[:200], content_type="video/mp4")
        if state == "failed":
            return web.json_response({"id": job.id, "name": "internal_error", "errors": ["try again"]},
                                     status=500)
        return web.Response(body=tiny_mp4(), content_type="video/mp4",
                            headers={"finish-reason": "SUCCESS", "seed": "1"})

"""fal.ai's queue API, and the same protocol behind Hugging Face's router (``/fal-ai/...?_subdomain=queue``).

Strict as fal is: each app's input is checked against its published input schema (fal's model pages; the
FastAPI-style 422 ``detail`` list on a mismatch), the status answers carry every field the official
``fal_client`` reads (``queue_position``, ``logs``, ``metrics``, the request URLs), and looks faster than the
client's pace are answered 429 (with a clock set). Through Hugging Face, ``response_url`` is fal's own queue
URL (as the router passes it on: ``huggingface_hub`` rebuilds the status URL from its path), and the Hub's
model-info call maps a Hub model id to the fal app.
"""

from __future__ import annotations

import math
from typing import Any

import jsonschema
from aiohttp import web

from tests.fakes.providers.base import FakeProvider, RemoteJob

_SEED = {"type": "integer"}
_IMAGE = {"type": "string", "pattern": "^(data:image/|https://)"}
# Input schemas of the apps reelbot uses (fal's OpenAPI per model, reduced to the fields that matter).
APP_SCHEMAS: dict[str, dict[str, Any]] = {
    "fal-ai/stable-video": {
        "type": "object", "required": ["image_url"], "additionalProperties": False,
        "properties": {"image_url": _IMAGE, "seed": _SEED,
                       "motion_bucket_id": {"type": "integer", "minimum": 1, "maximum": 255},
                       "cond_aug": {"type": "number", "minimum": 0, "maximum": 10},
                       "fps": {"type": "integer", "minimum": 10, "maximum": 100}},
    },
    "fal-ai/ltx-video": {
        "type": "object", "required": ["prompt"], "additionalProperties": False,
        "properties": {"prompt": {"type": "string", "minLength": 1}, "negative_prompt": {"type": "string"},
                       "seed": _SEED, "num_inference_steps": {"type": "integer", "minimum": 1, "maximum": 50},
                       "guidance_scale": {"type": "number", "minimum": 1, "maximum": 10}},
    },
    "fal-ai/ltx-video/image-to-video": {
        "type": "object", "required": ["prompt", "image_url"], "additionalProperties": False,
        "properties": {"prompt": {"type": "string", "minLength": 1}, "image_url": _IMAGE,
                       "negative_prompt": {"type": "string"}, "seed": _SEED,
                       "num_inference_steps": {"type": "integer", "minimum": 1, "maximum": 50},
                       "guidance_scale": {"type": "number", "minimum": 1, "maximum": 10}},
    },
}
# Hub model id -> the fal app serving it (the Hub's inferenceProviderMapping).
HUB_MODELS = {"Lightricks/LTX-Video": ("fal-ai/ltx-video", "text-to-video"),
              "Lightricks/LTX-Video-0.9.8-13B-distilled": ("fal-ai/ltx-video/image-to-video", "image-to-video"),
              "stabilityai/stable-video-diffusion-img2vid-xt": ("fal-ai/stable-video", "image-to-video")}
FAL_QUEUE = "https://queue.fal.run"


class FakeFal(FakeProvider):
    key = "fal-test-key"
    pace_s = 0.1  # fal_client's DEFAULT_QUEUE_POLL_INTERVAL
    prefix = ""  # Hugging Face's router puts /fal-ai in front
    scheme = "Key"
    query = ""  # the router wants ?_subdomain=queue

    def routes(self, router: web.UrlDispatcher) -> None:
        p = self.prefix
        router.add_get(p + "/{owner}/{name}/requests/{id}/status", self.status)
        router.add_put(p + "/{owner}/{name}/requests/{id}/cancel", self.cancel)
        router.add_get(p + "/{owner}/{name}/requests/{id}", self.result)
        router.add_post(p + "/{owner}/{app:.+}", self.submit)

    def _guard(self, request: web.Request, step: str) -> web.Response | None:
        if self.query and not request.query_string.startswith(self.query):
            self.problem(f"{request.method} {request.path} without ?{self.query}")
        if request.headers.get("Authorization") != f"{self.scheme} {self.key}":
            return web.json_response({"detail": "Invalid authentication credentials"}, status=401)
        return self.scripted(step)

    def _job(self, request: web.Request) -> RemoteJob | None:
        job = self.jobs.get(request.match_info["id"])
        app_root = f"{request.match_info['owner']}/{request.match_info['name']}"
        if job is not None and not job.route.startswith(app_root):
            self.problem(f"request {job.id} of {job.route} looked up under {app_root}")
        return job

    def throttle(self, wait: float) -> web.Response:
        return web.json_response({"detail": "Rate limit exceeded: poll less often", "error_type": "rate_limited"},
                                 status=429, headers={"Retry-After": str(math.ceil(wait))})

    def urls(self, job: RemoteJob) -> dict[str, str]:
        """fal's request URLs (its own queue host, also when the request came through Hugging Face)."""
        root = f"{self.url}/{'/'.join(job.route.split('/')[:2])}/requests/{job.id}"
        return {"response_url": root, "status_url": f"{root}/status", "cancel_url": f"{root}/cancel"}

    async def submit(self, request: web.Request) -> web.Response:
        if (refused := self._guard(request, "create")) is not None:
            return refused
        try:
            body = await request.json()
        except ValueError:
            return web.json_response({"detail": "Body is not JSON", "error_type": "invalid_json"}, status=400)
        route = f"{request.match_info['owner']}/{request.match_info['app']}"
        schema = APP_SCHEMAS.get(route)
        if schema is None:
            return web.json_response({"detail": f"Application '{route}' not found"}, status=404)
        errors = sorted(jsonschema.Draft202012Validator(schema).iter_errors(body), key=lambda e: list(e.path))
        if errors:
            return web.json_response({"detail": [
                {"loc": ["body", *[str(p) for p in e.absolute_path]] or ["body"], "msg": e.message,
                 "type": f"value_error.{e.validator}"} for e in errors]}, status=422)
        job = self.new_job(route, body)
        return web.json_response({"request_id": job.id, **self.urls(job), "queue_position": 0,
                                  "status": "IN_QUEUE"})

    async def status(self, request: web.Request) -> web.Response:
        if (refused := self._guard(request, "status")) is not None:
            return refused
        job = self._job(request)
        if job is None:
            return web.json_response({"detail": "Request not found"}, status=404)
        if (wait := self.too_fast(job)) is not None:
            return self.throttle(wait)
        state = self.advance(job)
        logs: list[dict[str, Any]] | None = (
            [{"message": f"step {job.polls}", "level": "INFO", "source": "user", "timestamp": "2026-11-30T00:00:00Z"}]
            if request.query.get("logs") in ("1", "true", "True") else None)
        if state == "malformed":
            return web.Response(text="<html>502 Bad Gateway</html>", content_type="text/html")
        if state == "running":
            if job.polls == 1:
                return web.json_response({"status": "IN_QUEUE", "queue_position": 0, **self.urls(job)}, status=202)
            return web.json_response({"status": "IN_PROGRESS", "logs": logs, **self.urls(job)}, status=202)
        body: dict[str, Any] = {"status": "COMPLETED", "logs": logs, "metrics": {"inference_time": 1.5},
                                **self.urls(job)}
        if state == "cancelled":
            body.update(error="Request was cancelled", error_type="request_cancelled", metrics={})
        elif state == "moderated":
            body.update(error="Content policy violation: the prompt was flagged", error_type="content_policy_violation")
        elif state == "failed":
            body.update(error="Internal server error", error_type="internal_error")
        return web.json_response(body)

    async def result(self, request: web.Request) -> web.Response:
        if (refused := self._guard(request, "result")) is not None:
            return refused
        job = self._job(request)
        if job is None:
            return web.json_response({"detail": "Request not found"}, status=404)
        return web.json_response({"video": {"url": self.video_url(job), "content_type": "video/mp4",
                                            "file_name": f"{job.id}.mp4", "file_size": 1024},
                                  "seed": job.body.get("seed", 0)})

    async def cancel(self, request: web.Request) -> web.Response:
        if (refused := self._guard(request, "cancel")) is not None:
            return refused
        job = self._job(request)
        if job is None:
            return web.json_response({"detail": "Request not found"}, status=404)
        if job.ran_s is not None and not job.cancelled:
            return web.json_response({"status": "ALREADY_COMPLETED"}, status=400)
        job.cancelled = True
        self.finish(job)
        return web.json_response({"status": "CANCELLATION_REQUESTED"}, status=202)


class FakeHuggingFace(FakeFal):
    """Hugging Face's router in front of fal-ai: same protocol, ``hf_`` bearer token, ``_subdomain=queue``;
    the Hub's ``/api/models/{id}`` on the same server (``HF_ENDPOINT`` pointed at it)."""

    key = "hf_test_token"
    pace_s = 0.5  # huggingface_hub's fal-ai provider
    prefix = "/fal-ai"
    scheme = "Bearer"
    query = "_subdomain=queue"

    def routes(self, router: web.UrlDispatcher) -> None:
        router.add_get("/api/models/{owner}/{name}", self.model_info)
        super().routes(router)

    def urls(self, job: RemoteJob) -> dict[str, str]:
        root = f"{FAL_QUEUE}/{'/'.join(job.route.split('/')[:2])}/requests/{job.id}"
        return {"response_url": root, "status_url": f"{root}/status", "cancel_url": f"{root}/cancel"}

    async def model_info(self, request: web.Request) -> web.Response:
        model = f"{request.match_info['owner']}/{request.match_info['name']}"
        if model not in HUB_MODELS:
            return web.json_response({"error": "Repository not found"}, status=404)
        provider_id, task = HUB_MODELS[model]
        return web.json_response({"_id": "0" * 24, "id": model, "modelId": model, "private": False,
                                  "inferenceProviderMapping": {"fal-ai": {"status": "live", "providerId": provider_id,
                                                                          "task": task}}})

"""Google Veo through the Gemini API: predictLongRunning, operations polled until done, key-guarded download."""

from __future__ import annotations

import base64
import secrets
from typing import Any

from aiohttp import web

from tests.fakes.providers.base import FakeProvider, tiny_mp4


class FakeVeo(FakeProvider):
    key = "gemini-test-key"

    def routes(self, router: web.UrlDispatcher) -> None:
        router.add_post("/v1beta/models/{call}", self.predict)
        router.add_get("/v1beta/models/{model}", self.model)
        router.add_get("/v1beta/models/{model}/operations/{id}", self.operation)
        router.add_get("/v1beta/files/{call}", self.download)

    def _guard(self, request: web.Request, step: str) -> web.Response | None:
        if request.headers.get("x-goog-api-key") != self.key:
            return _error(400, "API key not valid. Please pass a valid API key.", "INVALID_ARGUMENT") \
                if request.headers.get("x-goog-api-key") else _error(403, "Method doesn't allow unregistered "
                                                                     "callers.", "PERMISSION_DENIED")
        return self.scripted(step)

    async def predict(self, request: web.Request) -> web.Response:
        model, _, method = request.match_info["call"].partition(":")
        if method != "predictLongRunning":
            return _error(404, f"Method {method} not found", "NOT_FOUND")
        if (refused := self._guard(request, "create")) is not None:
            return refused
        body: dict[str, Any] = await request.json()
        instances = body.get("instances")
        if not isinstance(instances, list) or len(instances) != 1 or not instances[0].get("prompt"):
            return _error(400, "instances[0].prompt is required", "INVALID_ARGUMENT")
        image = instances[0].get("image")
        if image is not None:
            try:
                base64.b64decode(image["bytesBase64Encoded"], validate=True)
            except (KeyError, ValueError):
                return _error(400, "image.bytesBase64Encoded is not base64", "INVALID_ARGUMENT")
            if image.get("mimeType") not in ("image/jpeg", "image/png"):
                return _error(400, "image.mimeType must be image/jpeg or image/png", "INVALID_ARGUMENT")
        params = body.get("parameters", {})
        if params.get("aspectRatio") not in ("16:9", "9:16"):
            return _error(400, "aspectRatio must be 16:9 or 9:16", "INVALID_ARGUMENT")
        if params.get("durationSeconds") not in (4, 6, 8):
            return _error(400, "durationSeconds must be 4, 6 or 8", "INVALID_ARGUMENT")
        job = self.new_job(model, body, secrets.token_hex(6))
        return web.json_response({"name": f"models/{model}/operations/{job.id}"})

    async def model(self, request: web.Request) -> web.Response:
        if (refused := self._guard(request, "model")) is not None:
            return refused
        name = request.match_info["model"]
        if not name.startswith("veo-"):
            return _error(404, f"models/{name} is not found for API version v1beta", "NOT_FOUND")
        return web.json_response({"name": f"models/{name}", "displayName": "Veo",
                                  "supportedGenerationMethods": ["predictLongRunning"]})

    async def operation(self, request: web.Request) -> web.Response:
        if (refused := self._guard(request, "operation")) is not None:
            return refused
        job = self.jobs.get(request.match_info["id"])
        if job is None:
            return _error(404, "Operation not found", "NOT_FOUND")
        name = f"models/{request.match_info['model']}/operations/{job.id}"
        state = self.advance(job)
        if state == "running":
            return web.json_response({"name": name})
        if state == "failed":
            return web.json_response({"name": name, "done": True,
                                      "error": {"code": 13, "message": "Internal error", "status": "INTERNAL"}})
        if state == "malformed":
            return web.Response(text='{"name": ', content_type="application/json")
        if state == "moderated":
            video: dict[str, Any] = {"raiMediaFilteredCount": 1,
                                     "raiMediaFilteredReasons": ["The prompt could not be submitted."]}
        else:
            uri = f"{self.url}/v1beta/files/{job.id}:download?alt=media"
            video = {"generatedSamples": [{"video": {"uri": uri}}]}
        return web.json_response({"name": name, "done": True, "response": {
            "@type": "type.googleapis.com/google.ai.generativelanguage.v1beta.PredictLongRunningResponse",
            "generateVideoResponse": video}})

    async def download(self, request: web.Request) -> web.Response:
        if request.headers.get("x-goog-api-key") != self.key:
            return _error(403, "Method doesn't allow unregistered callers.", "PERMISSION_DENIED")
        job = self.jobs.get(request.match_info["call"].split(":")[0])
        if job is None or job.plan.outcome == "expired":
            return _error(404, "File not found", "NOT_FOUND")
        return web.Response(body=tiny_mp4(), content_type="video/mp4")


def _error(code: int, message: str, status: str) -> web.Response:
    return web.json_response({"error": {"code": code, "message": message, "status": status}}, status=code)

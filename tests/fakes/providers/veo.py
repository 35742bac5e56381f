"""Google Veo through the Gemini API: predictLongRunning, operations polled until done, key-guarded download.

The request is held to google-genai's own types: ``parameters`` must map onto ``GenerateVideosConfig``
fields (unknown ones are refused, as Gemini refuses them) and the picture onto ``types.Image``. Operations
answer in the shape google-genai parses (``response.generateVideoResponse.generatedSamples[].video`` with a
``uri``, or the video inline as ``encodedVideo`` with ``inline_video``); a failed operation carries a gRPC
code (``operation_error``). The download link can redirect to another server (``redirect_downloads_to``), as
Gemini's file downloads redirect to storage. Looks faster than every 10 s are answered 429 (with a clock set).
"""

from __future__ import annotations

import base64
import math
import secrets
from typing import Any

from aiohttp import web

from tests.fakes.providers.base import FakeProvider, tiny_mp4

# Gemini's camelCase parameters -> google-genai's GenerateVideosConfig fields (its mldev converter's names).
PARAMETERS = {"sampleCount": "number_of_videos", "durationSeconds": "duration_seconds", "seed": "seed",
              "aspectRatio": "aspect_ratio", "resolution": "resolution", "personGeneration": "person_generation",
              "negativePrompt": "negative_prompt", "enhancePrompt": "enhance_prompt",
              "generateAudio": "generate_audio", "fps": "fps"}


def config_problems(parameters: dict[str, Any]) -> list[str]:
    """``parameters`` as google-genai would have built them from its typed GenerateVideosConfig."""
    from google.genai import types
    from pydantic import ValidationError

    unknown = sorted(set(parameters) - set(PARAMETERS))
    if unknown:
        return [f"Invalid JSON payload received. Unknown name {name!r} at 'parameters'" for name in unknown]
    try:
        types.GenerateVideosConfig(**{PARAMETERS[k]: v for k, v in parameters.items()})
    except ValidationError as exc:
        return [f"parameters: {e['msg']} at {e['loc']}" for e in exc.errors()]
    return []


class FakeVeo(FakeProvider):
    key = "gemini-test-key"
    pace_s = 10.0
    inline_video = False  # the finished operation holds the video itself (encodedVideo) instead of a link
    operation_error: tuple[int, str, str] | None = None  # (gRPC code, status, message) of "failed" outcomes
    redirect_downloads_to = ""  # a base URL the download link redirects to (storage on another origin)

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

    def throttle(self, wait: float) -> web.Response:
        response = _error(429, "Resource has been exhausted (e.g. check quota).", "RESOURCE_EXHAUSTED")
        response.headers["Retry-After"] = str(math.ceil(wait))
        return response

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
        if unknown := set(instances[0]) - {"prompt", "image", "lastFrame", "video", "referenceImages"}:
            return _error(400, f"Invalid JSON payload received. Unknown name {sorted(unknown)[0]!r}",
                          "INVALID_ARGUMENT")
        image = instances[0].get("image")
        if image is not None:
            from google.genai import types

            try:
                data = base64.b64decode(image["bytesBase64Encoded"], validate=True)
                types.Image(image_bytes=data, mime_type=image.get("mimeType"))
            except (KeyError, ValueError):
                return _error(400, "image.bytesBase64Encoded is not base64", "INVALID_ARGUMENT")
            if image.get("mimeType") not in ("image/jpeg", "image/png"):
                return _error(400, "image.mimeType must be image/jpeg or image/png", "INVALID_ARGUMENT")
        params = body.get("parameters", {})
        if problems := config_problems(params):
            return _error(400, "; ".join(problems), "INVALID_ARGUMENT")
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
        if (wait := self.too_fast(job)) is not None:
            return self.throttle(wait)
        name = f"models/{request.match_info['model']}/operations/{job.id}"
        state = self.advance(job)
        if state == "running":
            return web.json_response({"name": name})
        if state == "failed":
            code, status, message = self.operation_error or (13, "INTERNAL", "Internal error")
            return web.json_response({"name": name, "done": True,
                                      "error": {"code": code, "message": message, "status": status}})
        if state == "malformed":
            return web.Response(text='{"name": ', content_type="application/json")
        if state == "moderated":
            video: dict[str, Any] = {"raiMediaFilteredCount": 1,
                                     "raiMediaFilteredReasons": ["The prompt could not be submitted."]}
        elif self.inline_video:
            video = {"generatedSamples": [{"video": {"encodedVideo": base64.b64encode(tiny_mp4()).decode(),
                                                     "encoding": "video/mp4"}}]}
        else:
            uri = f"{self.url}/v1beta/files/{job.id}:download?alt=media"
            video = {"generatedSamples": [{"video": {"uri": uri}}]}
        return web.json_response({"name": name, "done": True, "response": {
            "@type": "type.googleapis.com/google.ai.generativelanguage.v1beta.PredictLongRunningResponse",
            "generateVideoResponse": video}})

    async def download(self, request: web.Request) -> web.Response:
        if request.headers.get("x-goog-api-key") != self.key:
            return _error(403, "Method doesn't allow unregistered callers.", "PERMISSION_DENIED")
        job_id = request.match_info["call"].split(":")[0]
        job = self.jobs.get(job_id)
        if job is None or job.plan.outcome == "expired":
            return _error(404, "File not found", "NOT_FOUND")
        if self.redirect_downloads_to:
            raise web.HTTPFound(f"{self.redirect_downloads_to}/_files/{job_id}.mp4")
        return web.Response(body=tiny_mp4(), content_type="video/mp4")


def _error(code: int, message: str, status: str) -> web.Response:
    return web.json_response({"error": {"code": code, "message": message, "status": status}}, status=code)

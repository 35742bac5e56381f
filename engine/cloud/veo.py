"""Google Veo through the Gemini API: ``models/{model}:predictLongRunning``, then the operation is polled.

The key travels in ``x-goog-api-key`` (also when downloading the video, which lives on the API's own host).
A finished operation without samples but with ``raiMediaFilteredCount`` was stopped by Google's filters.
Gemini has no cancel for these operations: a cancelled job is simply no longer polled.
"""

from __future__ import annotations

import base64
import json
from typing import Any

from engine.backends.base import RunContext
from engine.cloud.base import CloudBackend, Poll, Submitted
from engine.cloud.catalog import CloudModel
from engine.cloud.failures import detail_of, moderated
from engine.cloud.media import prepared
from engine.errors import AuthFailed, BackendError, TransientError
from engine.types import JobKind

MAX_IMAGE_BYTES = 15 * 1024 * 1024


class VeoBackend(CloudBackend):
    name = "veo"
    key_setting = "gemini_api_key"

    def auth_headers(self) -> dict[str, str]:
        return {"x-goog-api-key": self.key}

    async def submit(self, ctx: RunContext, entry: CloudModel, values: dict[str, Any]) -> Submitted:
        instance: dict[str, Any] = {"prompt": values["prompt"] or "Animate this picture."}
        if ctx.job.kind is JobKind.IMAGE_TO_VIDEO:
            assert ctx.job.image_path is not None
            image = await prepared(ctx.job.image_path, values["width"], values["height"], max_bytes=MAX_IMAGE_BYTES,
                             provider=self.name)
            instance["image"] = {"bytesBase64Encoded": base64.b64encode(image).decode("ascii"),
                                 "mimeType": "image/jpeg"}
        parameters: dict[str, Any] = {"aspectRatio": values["aspect_ratio"],
                                      "durationSeconds": int(values["duration"])}
        if values["negative_prompt"]:
            parameters["negativePrompt"] = values["negative_prompt"]
        answer = await self.call(
            "POST", f"{self.base_url}/v1beta/models/{entry.model}:predictLongRunning",
            json={"instances": [instance], "parameters": parameters},
        )
        if not isinstance(answer, dict) or not answer.get("name"):
            raise TransientError("Gemini accepted the job but sent no operation name.", backend=self.name)
        return Submitted(str(answer["name"]))

    async def verify(self) -> str | None:
        names = sorted({m.model for m in self.models})
        for name in names:
            await self.call("GET", f"{self.base_url}/v1beta/models/{name}")
        return f"{', '.join(names)} available"

    async def check(self, remote: Submitted, entry: CloudModel) -> Poll:
        operation = await self.call("GET", f"{self.base_url}/v1beta/{remote.id}")
        if not isinstance(operation, dict) or not operation.get("done"):
            return Poll()
        if error := operation.get("error"):
            status = int(error.get("code") or 500) if isinstance(error, dict) else 500
            raise self.classify(status, json.dumps({"error": error}), None)
        result = (operation.get("response") or {}).get("generateVideoResponse") or {}
        samples = result.get("generatedSamples") or []
        uri = next((s.get("video", {}).get("uri") for s in samples if s.get("video", {}).get("uri")), None)
        if uri:
            return Poll(done=True, video_url=uri)
        if result.get("raiMediaFilteredCount"):
            reasons = "; ".join(result.get("raiMediaFilteredReasons") or []) or "filtered"
            raise moderated(self.name, reasons)
        raise TransientError("Veo finished without a video.", backend=self.name)

    def classify(self, status: int, body: str, headers: Any) -> BackendError:
        detail = detail_of(body)
        if status == 400 and "API key" in detail:  # Gemini answers a bad key with 400 INVALID_ARGUMENT
            return AuthFailed(f"Gemini refused the API key ({detail}).", backend=self.name,
                              hint="An admin should check GEMINI_API_KEY.")
        return super().classify(status, body, headers)

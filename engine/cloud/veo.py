"""Google Veo through the Gemini API: ``models/{model}:predictLongRunning``, then the operation is polled.

The key travels in ``x-goog-api-key``, to the API's own origin only: the video's download link lives there
and redirects to storage elsewhere, and the key never follows a redirect to another origin (base class).
A finished operation holds its video as a link (``video.uri``) or inline (``video.encodedVideo``, base64,
within the download cap). One without samples but with ``raiMediaFilteredCount`` was stopped by Google's
filters. A failed operation's ``error.code`` is a gRPC code (3 INVALID_ARGUMENT, 8 RESOURCE_EXHAUSTED, 13
INTERNAL, ...), not an HTTP status. Gemini has no cancel for these operations: a job we leave runs on and
is billed (``bills_started_work``); Google's own examples look every 10 s.
"""

from __future__ import annotations

import base64
from typing import Any

from engine.backends.base import RunContext
from engine.cloud.base import CloudBackend, Poll, Submitted
from engine.cloud.catalog import CloudModel
from engine.cloud.failures import classify_grpc, detail_of, moderated
from engine.cloud.media import prepared
from engine.errors import AuthFailed, BackendError, TransientError
from engine.types import JobKind
from engine.words import N_

MAX_IMAGE_BYTES = 15 * 1024 * 1024


class VeoBackend(CloudBackend):
    name = "veo"
    key_setting = "gemini_api_key"
    poll_interval_s = 10.0  # the Gemini API docs' and google-genai's examples
    can_cancel = False

    def auth_headers(self) -> dict[str, str]:
        return {"x-goog-api-key": self.key}

    async def submit(self, ctx: RunContext, entry: CloudModel, values: dict[str, Any]) -> Submitted:
        instance: dict[str, Any] = {"prompt": values["prompt"]}  # required: the catalog fills a default
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
            raise TransientError(N_("{provider} accepted the job but did not say its id.", provider="Gemini"),
                                 backend=self.name)
        return Submitted(str(answer["name"]))

    async def verify(self) -> str | None:
        names = sorted({m.model for m in self.models})
        for name in names:
            await self.call("GET", f"{self.base_url}/v1beta/models/{name}")
        return f"{', '.join(names)} available"

    async def check(self, remote: Submitted, entry: CloudModel) -> Poll:
        # An operation may hold the video inline (base64, 4/3 of its size): read up to the download cap.
        cap = self.config.max_download_bytes * 4 // 3 + 64 * 1024
        operation = await self.call("GET", f"{self.base_url}/v1beta/{remote.id}", max_bytes=cap)
        if not isinstance(operation, dict) or not operation.get("done"):
            return Poll(started=True)
        if error := operation.get("error"):
            error = error if isinstance(error, dict) else {}
            code = error.get("code")
            return Poll(failed=classify_grpc(self.name, self.key_setting.upper(),
                                             code if isinstance(code, int) else 2, str(error.get("message") or "")))
        result = (operation.get("response") or {}).get("generateVideoResponse") or {}
        samples = [s.get("video") for s in result.get("generatedSamples") or [] if isinstance(s, dict)]
        for video in (v for v in samples if isinstance(v, dict)):
            if video.get("uri"):
                return Poll(done=True, video_url=str(video["uri"]))
            if video.get("encodedVideo"):
                encoded = str(video["encodedVideo"])
                self._check_size(len(encoded) * 3 // 4)
                try:
                    data = base64.b64decode(encoded, validate=True)
                except ValueError:
                    return Poll(failed=TransientError(N_("{provider}'s inline video is not valid base64.",
                                                         provider="Veo"),
                                                      backend=self.name))
                return Poll(done=True, video_bytes=data)
        if result.get("raiMediaFilteredCount"):
            reasons = "; ".join(result.get("raiMediaFilteredReasons") or [])
            return Poll(failed=moderated(self.name, reasons or N_("the result was filtered")))
        return Poll(failed=TransientError(N_("{provider} finished without a video.", provider="Veo"),
                                          backend=self.name))

    def classify(self, status: int, body: str, headers: Any) -> BackendError:
        detail = detail_of(body)
        if status == 400 and "API key" in detail:  # Gemini answers a bad key with 400 INVALID_ARGUMENT
            return AuthFailed(N_("{provider} refused the API key ({detail}).", provider="Gemini", detail=detail),
                              backend=self.name, hint=N_("An admin should check {setting}.", setting="GEMINI_API_KEY"))
        return super().classify(status, body, headers)

"""Runway's API: ``/v1/image_to_video`` (gen4_turbo) and ``/v1/text_to_video``, polled at ``/v1/tasks/{id}``.

Requests are camelCase with ``X-Runway-Version``; pictures go as data URIs up to 5 MB; ``ratio`` is one of the
model's fixed frames and ``duration`` 5 or 10 s. ``SAFETY.*`` failure codes are moderation; ``DELETE`` on the
task cancels it.
"""

from __future__ import annotations

from typing import Any

from engine.backends.base import RunContext
from engine.cloud.base import CloudBackend, Poll, Submitted
from engine.cloud.catalog import CloudModel
from engine.cloud.failures import moderated
from engine.cloud.media import data_uri, frame_for, prepared
from engine.errors import RejectedInput, TransientError
from engine.types import JobKind

API_VERSION = "2024-11-06"
RATIOS = [(1280, 720), (720, 1280), (1104, 832), (832, 1104), (960, 960), (1584, 672)]
MAX_IMAGE_BYTES = 5 * 1024 * 1024 * 3 // 4  # 5 MB of data URI is about 3.75 MB of picture
MAX_PROMPT = 1000


class RunwayBackend(CloudBackend):
    name = "runway"
    key_setting = "runwayml_api_secret"

    def auth_headers(self) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.key}", "X-Runway-Version": API_VERSION}

    async def submit(self, ctx: RunContext, entry: CloudModel, values: dict[str, Any]) -> Submitted:
        width, height = frame_for(values["width"], values["height"], RATIOS)
        body: dict[str, Any] = {"model": entry.model, "ratio": f"{width}:{height}",
                                "duration": int(values["duration"]), "seed": values["seed"] % 4294967295}
        if values["prompt"]:
            body["promptText"] = values["prompt"][:MAX_PROMPT]
        if ctx.job.kind is JobKind.IMAGE_TO_VIDEO:
            assert ctx.job.image_path is not None
            image = await prepared(ctx.job.image_path, width, height, max_bytes=MAX_IMAGE_BYTES, provider=self.name)
            body["promptImage"] = data_uri(image)
            path = "image_to_video"
        else:
            path = "text_to_video"
        answer = await self.call("POST", f"{self.base_url}/v1/{path}", json=body)
        if not isinstance(answer, dict) or not answer.get("id"):
            raise TransientError("Runway accepted the job but sent no task id.", backend=self.name)
        return Submitted(str(answer["id"]))

    async def check(self, remote: Submitted, entry: CloudModel) -> Poll:
        task = await self.call("GET", f"{self.base_url}/v1/tasks/{remote.id}")
        status = task.get("status") if isinstance(task, dict) else None
        if status in ("PENDING", "THROTTLED"):
            return Poll(progress=0.0)
        if status == "RUNNING":
            return Poll(progress=float(task.get("progress") or 0.0))
        if status == "SUCCEEDED":
            output = task.get("output") or []
            return Poll(done=True, video_url=output[0] if output else None)
        if status == "FAILED":
            code = str(task.get("failureCode") or "")
            reason = str(task.get("failure") or "no reason given")
            if code.startswith("SAFETY"):
                raise moderated(self.name, reason)
            if code.startswith("INPUT"):
                raise RejectedInput(f"Runway rejected the input: {reason}", backend=self.name)
            raise TransientError(f"Runway's task failed: {reason} ({code or 'no code'}).", backend=self.name)
        if status == "CANCELLED":
            raise TransientError("The task was cancelled on Runway's side.", backend=self.name)
        raise TransientError(f"Runway answered with an unknown status {status!r}.", backend=self.name)

    async def verify(self) -> str | None:
        organization = await self.call("GET", f"{self.base_url}/v1/organization")
        return f"{organization.get('creditBalance', '?')} credits left"

    async def cancel(self, remote: Submitted, entry: CloudModel) -> None:
        await self.call("DELETE", f"{self.base_url}/v1/tasks/{remote.id}", expect=(200, 204, 404))

"""Runway's API: ``/v1/image_to_video`` (gen4_turbo) and ``/v1/text_to_video`` (gen4.5), polled at
``/v1/tasks/{id}``.

Requests are camelCase with ``X-Runway-Version``; pictures go as data URIs up to 5 MB. Each model takes its
own ``ratio`` values (gen4.5's text-to-video only ``1280:720`` and ``720:1280``), which come from the catalog,
and ``promptText`` counts its 1000-character limit in UTF-16 code units; both are fitted before the request.
Tasks report their charge: ``estimatedCost.credits`` while they wait or run, ``cost.credits`` once they ended
(cancelled and failed ones too), which is what the attempt is booked at. ``DELETE`` on the task cancels it.

Failure codes (https://docs.dev.runwayml.com/errors/task-failures/): ``SAFETY.*`` and
``INPUT_PREPROCESSING.SAFETY.*`` are moderation; ``ASSET.INVALID`` and other ``INPUT_PREPROCESSING.*`` codes
are input Runway cannot use; ``INPUT_PREPROCESSING.INTERNAL`` and ``INTERNAL*`` are its own transient errors.
"""

from __future__ import annotations

from typing import Any

from engine.backends.base import RunContext
from engine.cloud.base import CloudBackend, Poll, Submitted
from engine.cloud.catalog import CloudModel
from engine.cloud.failures import moderated
from engine.cloud.media import data_uri, prepared
from engine.errors import BackendError, RejectedInput, TransientError
from engine.types import JobKind
from engine.words import N_

API_VERSION = "2024-11-06"
MAX_IMAGE_BYTES = 5 * 1024 * 1024 * 3 // 4  # 5 MB of data URI is about 3.75 MB of picture


class RunwayBackend(CloudBackend):
    name = "runway"
    key_setting = "runwayml_api_secret"
    poll_interval_s = 6.0  # the official SDK waits 6 s (± 1.5 s) between looks

    def auth_headers(self) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.key}", "X-Runway-Version": API_VERSION}

    async def submit(self, ctx: RunContext, entry: CloudModel, values: dict[str, Any]) -> Submitted:
        body: dict[str, Any] = {"model": entry.model, "ratio": values["ratio"],
                                "duration": int(values["duration"]), "seed": values["seed"]}
        if values["prompt"]:
            body["promptText"] = values["prompt"]
        if ctx.job.kind is JobKind.IMAGE_TO_VIDEO:
            assert ctx.job.image_path is not None
            image = await prepared(ctx.job.image_path, values["width"], values["height"],
                                   max_bytes=MAX_IMAGE_BYTES, provider=self.name)
            body["promptImage"] = data_uri(image)
            path = "image_to_video"
        else:
            path = "text_to_video"
        answer = await self.call("POST", f"{self.base_url}/v1/{path}", json=body)
        if not isinstance(answer, dict) or not answer.get("id"):
            raise TransientError(N_("{provider} accepted the job but did not say its id.", provider="Runway"),
                                 backend=self.name)
        return Submitted(str(answer["id"]))

    async def check(self, remote: Submitted, entry: CloudModel) -> Poll:
        task = await self.call("GET", f"{self.base_url}/v1/tasks/{remote.id}")
        if not isinstance(task, dict):
            raise TransientError(N_("{provider} answered a look at the job with something that is not a job.",
                                    provider="Runway"), backend=self.name)
        status = task.get("status")
        billed = _credits(task.get("cost"), entry)
        estimated = _credits(task.get("estimatedCost"), entry)
        if status in ("PENDING", "THROTTLED"):
            return Poll(progress=0.0, estimated_usd=estimated)
        if status == "RUNNING":
            return Poll(progress=float(task.get("progress") or 0.0), estimated_usd=estimated, started=True)
        if status == "SUCCEEDED":
            output = task.get("output") or []
            return Poll(done=True, video_url=output[0] if output else None, billed_usd=billed)
        if status == "FAILED":
            return Poll(failed=self._failure(str(task.get("failureCode") or ""),
                                             str(task.get("failure") or "no reason given")), billed_usd=billed)
        if status == "CANCELLED":
            return Poll(failed=TransientError(N_("The job was cancelled on {provider}'s side.", provider="Runway"),
                                              backend=self.name),
                        billed_usd=billed)
        raise TransientError(N_("{provider} answered with an unknown status {status}.", provider="Runway",
                                status=repr(status)), backend=self.name)

    async def after_cancel(self, remote: Submitted, entry: CloudModel) -> Poll | None:
        """A cancelled task reports what stays charged (0 when fully refunded)."""
        task = await self.call("GET", f"{self.base_url}/v1/tasks/{remote.id}")
        if not isinstance(task, dict):
            return None
        return Poll(billed_usd=_credits(task.get("cost"), entry),
                    estimated_usd=_credits(task.get("estimatedCost"), entry))

    def _failure(self, code: str, reason: str) -> BackendError:
        said = f"{reason} ({code or 'no code'})"
        if code.startswith(("SAFETY.", "INPUT_PREPROCESSING.SAFETY.")):
            return moderated(self.name, said)
        if code.startswith("INPUT_PREPROCESSING.INTERNAL") or code.startswith("INTERNAL") or not code:
            return TransientError(N_("{provider}'s task failed: {detail}.", provider="Runway", detail=said),
                                  backend=self.name)
        if code.startswith(("ASSET.", "INPUT_PREPROCESSING.")):
            return RejectedInput(N_("{provider} could not use the input: {detail}.", provider="Runway", detail=said),
                                 backend=self.name, hint=N_("Try another picture or prompt."))
        return TransientError(N_("{provider}'s task failed: {detail}.", provider="Runway", detail=said),
                              backend=self.name)

    async def verify(self) -> str | None:
        organization = await self.call("GET", f"{self.base_url}/v1/organization")
        return f"{organization.get('creditBalance', '?')} credits left"

    async def cancel(self, remote: Submitted, entry: CloudModel) -> None:
        await self.call("DELETE", f"{self.base_url}/v1/tasks/{remote.id}", expect=(200, 204, 404))


def _credits(cost: Any, entry: CloudModel) -> float | None:
    """``{"credits": N}`` in dollars at the catalog's credit price (None when absent or unpriced)."""
    if not isinstance(cost, dict) or not isinstance(cost.get("credits"), int | float) or not entry.usd_per_credit:
        return None
    return float(cost["credits"]) * entry.usd_per_credit

"""Stability AI's image-to-video (Stable Video Diffusion) API: ``v2beta/image-to-video``.

A multipart POST with the picture at one of three sizes (1024x576, 576x1024, 768x768) returns an id; the
result is polled with ``Accept: video/*`` (202 while it runs, 200 with the mp4). There is no cancel call.
Stability's newest spec no longer lists video: a 404 on create means the endpoint is gone, which makes the
provider unavailable (rested for an hour) and the job moves on. A 403 is its content filter.

Stability asks for no more than one result look every 10 s; a job it accepted runs to its end and is billed
(``bills_started_work``), so leaving it early books the catalog price. Seeds go up to 4294967294.
"""

from __future__ import annotations

import json
from typing import Any

import aiohttp

from engine.backends.base import RunContext
from engine.cloud.base import CloudBackend, Poll, Submitted
from engine.cloud.catalog import CloudModel, render_inputs
from engine.cloud.failures import detail_of, moderated
from engine.cloud.media import prepared
from engine.errors import BackendError, BackendUnavailable, TransientError
from engine.words import N_

MAX_IMAGE_BYTES = 10 * 1024 * 1024


class StabilityBackend(CloudBackend):
    name = "stability"
    key_setting = "stability_api_key"
    poll_interval_s = 10.0  # "poll no more often than once every 10 seconds"
    can_cancel = False

    def auth_headers(self) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.key}"}

    async def submit(self, ctx: RunContext, entry: CloudModel, values: dict[str, Any]) -> Submitted:
        assert ctx.job.image_path is not None, "image-to-video jobs carry a picture"
        width, height = values["width"], values["height"]  # one of its three sizes (the catalog's)
        form = aiohttp.FormData()
        form.add_field("image", await prepared(ctx.job.image_path, width, height, max_bytes=MAX_IMAGE_BYTES,
                                         provider=self.name),
                       filename="image.jpg", content_type="image/jpeg")
        for key, value in render_inputs(entry.inputs, values).items():
            form.add_field(key, str(value))
        url = f"{self.base_url}/{entry.model}"
        status, body, headers = await self.fetch("POST", url, data=form, headers={"Accept": "application/json"})
        if status == 404:
            raise BackendUnavailable(
                N_("{provider}'s image-to-video endpoint answered 404: the service has been withdrawn or moved.",
                   provider="Stability AI"),
                backend=self.name, hint=N_("Remove stability from CHAIN_IMAGE_TO_VIDEO, or set STABILITY_BASE_URL."),
            )
        if status != 200:
            raise self.classify(status, body.decode("utf-8", "replace"), headers)
        try:
            job_id = json.loads(body)["id"]
        except (json.JSONDecodeError, KeyError, TypeError, UnicodeDecodeError):
            raise TransientError(N_("{provider} accepted the job but did not say its id.", provider="Stability AI"),
                                 backend=self.name) from None
        return Submitted(str(job_id))

    async def verify(self) -> str | None:
        balance = await self.call("GET", f"{self.base_url}/v1/user/balance")
        return f"{balance.get('credits', '?')} credits left"

    async def check(self, remote: Submitted, entry: CloudModel) -> Poll:
        url = f"{self.base_url}/{entry.model}/result/{remote.id}"
        status, body, headers = await self.fetch("GET", url, headers={"Accept": "video/*"},
                                                 max_bytes=self.config.max_download_bytes)  # the video itself
        if status == 202:
            return Poll(started=True)
        if status == 404:
            return Poll(failed=TransientError(N_("{provider} no longer knows this job (expired or unknown id).",
                                                 provider="Stability AI"),
                                              backend=self.name))
        if status != 200:
            raise self.classify(status, body.decode("utf-8", "replace"), headers)
        if headers.get("finish-reason", "SUCCESS").upper() == "CONTENT_FILTERED":
            return Poll(failed=moderated(self.name, N_("the result was filtered")))
        return Poll(done=True, video_bytes=body)

    def classify(self, status: int, body: str, headers: Any) -> BackendError:
        if status == 403:
            return moderated(self.name, detail_of(body))
        return super().classify(status, body, headers)

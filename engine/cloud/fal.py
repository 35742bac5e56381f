"""fal.ai's queue API, and Hugging Face Inference Providers, which reach fal through Hugging Face's router.

Submit ``POST {base}/{app}`` → ``{request_id}``; poll ``GET {base}/{owner}/{name}/requests/{id}/status``
(``IN_QUEUE`` with a position, ``IN_PROGRESS``, ``COMPLETED`` possibly with an ``error``); fetch the result
from ``.../requests/{id}`` (``{"video": {"url"}}``); cancel with ``PUT .../requests/{id}/cancel``. Status and
result live under the app's first two path segments even when it was submitted to a sub-path
(``fal-ai/ltx-video/image-to-video``). fal takes pictures as data URIs. Input rules come from the catalog:
ltx-video's image-to-video requires a prompt (a default text is sent when the user gave none) and
stable-video takes 10-100 fps. fal reports no charge: a request it ran is booked at the catalog price when we
leave it unfinished (``bills_started_work``), one still in the queue at nothing.

Hugging Face speaks the same protocol at ``https://router.huggingface.co/fal-ai/...?_subdomain=queue`` with an
``hf_`` token and bills through the Hugging Face account (``huggingface_hub``'s fal-ai provider does this).
"""

from __future__ import annotations

import json
from typing import Any

from engine.backends.base import RunContext
from engine.cloud.base import CloudBackend, Poll, Submitted
from engine.cloud.catalog import CloudModel, render_inputs
from engine.cloud.failures import detail_of, looks_moderated, moderated, rejected
from engine.cloud.media import data_uri, prepared
from engine.errors import BackendError, TransientError
from engine.words import N_

MAX_IMAGE_BYTES = 10 * 1024 * 1024


class FalBackend(CloudBackend):
    name = "fal"
    key_setting = "fal_key"
    query = ""
    poll_interval_s = 0.1  # fal_client's DEFAULT_QUEUE_POLL_INTERVAL

    def auth_headers(self) -> dict[str, str]:
        return {"Authorization": f"Key {self.key}"}

    def _url(self, path: str) -> str:
        return f"{self.base_url}/{path}{self.query}"

    def _request_url(self, entry: CloudModel, request_id: str, tail: str = "") -> str:
        app_root = "/".join(entry.model.split("/")[:2])
        return self._url(f"{app_root}/requests/{request_id}{tail}")

    async def submit(self, ctx: RunContext, entry: CloudModel, values: dict[str, Any]) -> Submitted:
        if ctx.job.image_path is not None:
            data = await prepared(ctx.job.image_path, values["width"], values["height"], max_bytes=MAX_IMAGE_BYTES,
                            provider=self.name)
            values = {**values, "image": data_uri(data)}
        answer = await self.call("POST", self._url(entry.model), json=render_inputs(entry.inputs, values))
        request_id = answer.get("request_id") if isinstance(answer, dict) else None
        if not request_id:
            raise TransientError(N_("{provider} accepted the job but did not say its id.", provider=self.name),
                                 backend=self.name)
        return Submitted(str(request_id))

    async def check(self, remote: Submitted, entry: CloudModel) -> Poll:
        status = await self.call("GET", self._request_url(entry, remote.id, "/status"), expect=(200, 202))
        state = status.get("status") if isinstance(status, dict) else None
        if state == "IN_QUEUE":
            return Poll()
        if state == "IN_PROGRESS":
            return Poll(started=True)
        if state != "COMPLETED":
            raise TransientError(N_("{provider} answered with an unknown status {status}.", provider=self.name,
                                    status=repr(state)), backend=self.name)
        if status.get("error"):
            return Poll(failed=self._failed(str(status.get("error")), str(status.get("error_type") or "")))
        result = await self.call("GET", self._request_url(entry, remote.id))
        video = result.get("video") if isinstance(result, dict) else None
        url = video.get("url") if isinstance(video, dict) else None
        if not url:
            return Poll(failed=TransientError(N_("{provider} finished without a video.", provider=self.name),
                                              backend=self.name))
        return Poll(done=True, video_url=url, started=True)

    async def cancel(self, remote: Submitted, entry: CloudModel) -> None:
        await self.call("PUT", self._request_url(entry, remote.id, "/cancel"), expect=(200, 202, 400))

    def classify(self, status: int, body: str, headers: Any) -> BackendError:
        if status == 422:  # fal's validation errors: the input, or its content checker
            detail, kind = detail_of(body), _error_type(body)
            if looks_moderated(kind) or looks_moderated(detail):
                return moderated(self.name, detail)
            return rejected(self.name, detail)
        return super().classify(status, body, headers)

    def _failed(self, detail: str, error_type: str) -> BackendError:
        if looks_moderated(error_type) or looks_moderated(detail):
            return moderated(self.name, detail)
        if "validation" in error_type or error_type.startswith("invalid"):
            return rejected(self.name, detail)
        return TransientError(N_("{provider}'s model failed: {detail}", provider=self.name, detail=detail),
                              backend=self.name)


class HuggingFaceBackend(FalBackend):
    name = "huggingface"
    key_setting = "hf_token"
    query = "?_subdomain=queue"
    poll_interval_s = 0.5  # huggingface_hub's fal-ai provider polls every 0.5 s

    def auth_headers(self) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.key}"}

    def _url(self, path: str) -> str:
        return f"{self.base_url}/fal-ai/{path}{self.query}"


def _error_type(body: str) -> str:
    try:
        data = json.loads(body)
    except (json.JSONDecodeError, TypeError):
        return ""
    if isinstance(data, dict):
        kind = data.get("error_type") or ""
        detail = data.get("detail")
        if not kind and isinstance(detail, list) and detail and isinstance(detail[0], dict):
            kind = str(detail[0].get("type") or "")
        return str(kind)
    return ""

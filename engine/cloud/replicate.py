"""Replicate, through its official Python client (``replicate`` 1.x).

Official models (``owner/name``) are created on ``/v1/models/{owner}/{name}/predictions``, community models
(``owner/name:version``) on ``/v1/predictions``; every model's inputs differ, so they come from the catalog's
templates. Pictures up to 256 KB travel as data URLs, larger ones are uploaded to ``/v1/files`` first.
Billing is per second of hardware time (``metrics.predict_time``) for community models, per video for
official ones; both come from the catalog's prices.
"""

from __future__ import annotations

import io
import re
from typing import Any

import httpx
import pydantic
import replicate
from replicate.exceptions import ReplicateError

from engine.backends.base import RunContext
from engine.cloud.base import CloudBackend, CloudConfig, Poll, Submitted
from engine.cloud.catalog import CloudModel, render_inputs
from engine.cloud.failures import detail_of, looks_moderated, moderated, retry_after
from engine.cloud.media import data_uri, prepared
from engine.errors import BackendError, TransientError

DATA_URL_LIMIT = 256 * 1024  # Replicate's advice: data URLs only for small files
MAX_IMAGE_BYTES = 10 * 1024 * 1024


class ReplicateBackend(CloudBackend):
    name = "replicate"
    key_setting = "replicate_api_token"

    def __init__(self, *, key: str, base_url: str, models: list[CloudModel],
                 config: CloudConfig | None = None) -> None:
        super().__init__(key=key, base_url=base_url, models=models, config=config)
        self.client = replicate.Client(
            api_token=key, base_url=self.base_url,
            timeout=httpx.Timeout(self.config.request_timeout_s, connect=10.0),
        )

    async def submit(self, ctx: RunContext, entry: CloudModel, values: dict[str, Any]) -> Submitted:
        if ctx.job.image_path is not None:
            values = {**values, "image": await self._image(ctx, values)}
        inputs = render_inputs(entry.inputs, values)
        owner_name, _, version = entry.model.partition(":")
        try:
            if version:
                prediction = await self.client.predictions.async_create(version=version, input=inputs)
            else:
                prediction = await self.client.models.predictions.async_create(model=owner_name, input=inputs)
        except Exception as exc:
            raise self._error(exc) from None
        return Submitted(prediction.id)

    async def _image(self, ctx: RunContext, values: dict[str, Any]) -> str:
        assert ctx.job.image_path is not None
        data = await prepared(ctx.job.image_path, values["width"], values["height"], max_bytes=MAX_IMAGE_BYTES,
                        provider=self.name)
        if len(data) <= DATA_URL_LIMIT:
            return data_uri(data)
        try:
            uploaded = await self.client.files.async_create(io.BytesIO(data), filename=f"{ctx.job.id}.jpg",
                                                            content_type="image/jpeg")
        except Exception as exc:
            raise self._error(exc) from None
        return uploaded.urls["get"]

    async def check(self, remote: Submitted, entry: CloudModel) -> Poll:
        try:
            prediction = await self.client.predictions.async_get(remote.id)
        except pydantic.ValidationError:
            # The client's status enum lacks "aborted": Replicate gave up on the prediction before it ran.
            raise TransientError("Replicate aborted the prediction before it ran.", backend=self.name) from None
        except Exception as exc:
            raise self._error(exc) from None
        status = prediction.status
        if status in ("starting", "processing"):
            return Poll(progress=_progress(prediction.logs))
        if status == "succeeded":
            metrics = prediction.metrics or {}
            return Poll(done=True, video_url=_video_url(prediction.output),
                        run_seconds=metrics.get("predict_time"))
        if status == "canceled":
            raise TransientError("The prediction was cancelled on Replicate's side.", backend=self.name)
        error = str(prediction.error or "no reason given")
        if looks_moderated(error):
            raise moderated(self.name, error)
        raise TransientError(f"Replicate's model failed: {error}", backend=self.name)

    async def cancel(self, remote: Submitted, entry: CloudModel) -> None:
        await self.client.predictions.async_cancel(remote.id)

    async def verify(self) -> str | None:
        try:
            account = await self.client.accounts.async_current()
        except Exception as exc:
            raise self._error(exc) from None
        return f"account {account.username}"

    async def aclose(self) -> None:
        # The client builds its httpx client lazily and has no close of its own.
        if getattr(self.client, "_Client__async_client", None) is not None:
            await self.client._async_client.aclose()
        await super().aclose()

    def _error(self, exc: Exception) -> BackendError:
        if isinstance(exc, ReplicateError):
            body = detail_of(str(exc.detail or exc.title or ""))
            error = self.classify(exc.status or 500, body, None)
            if exc.status == 429 and error.retry_after is None:
                error.retry_after = retry_after(None, body)
            return error
        if isinstance(exc, ValueError) and not isinstance(exc, pydantic.ValidationError):  # JSONDecodeError
            return TransientError(f"Replicate sent an answer that is not valid JSON ({exc}).", backend=self.name)
        if isinstance(exc, httpx.HTTPError):
            return TransientError(f"Could not reach Replicate ({type(exc).__name__}: {exc}).", backend=self.name)
        return TransientError(f"Replicate's client failed ({type(exc).__name__}: {exc}).", backend=self.name)


def _video_url(output: Any) -> str | None:
    """A model's output: one URL, a list of them (zeroscope's frames-then-video), or a dict with one."""
    if isinstance(output, str):
        return output
    if isinstance(output, list) and output:
        videos = [o for o in output if isinstance(o, str)]
        return next((o for o in reversed(videos) if o.split("?")[0].endswith((".mp4", ".webm", ".mov"))),
                    videos[-1] if videos else None)
    if isinstance(output, dict):
        return next((v for v in output.values() if isinstance(v, str) and v.startswith(("http", "data:"))), None)
    return None


def _progress(logs: str | None) -> float | None:
    """The last 'NN%|' a model's tqdm bar printed, as Replicate's own client reads it."""
    if not logs:
        return None
    found = re.findall(r"(\d+)%\|", logs)
    return int(found[-1]) / 100 if found else None

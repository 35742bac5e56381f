"""Replicate, through its official Python client (``replicate`` 1.x).

Official models (``owner/name``) are created on ``/v1/models/{owner}/{name}/predictions``, community models
(``owner/name:version``) on ``/v1/predictions``; every model's inputs differ, so they come from the catalog's
templates. Pictures up to 256 KB travel as data URLs, larger ones are uploaded to ``/v1/files`` first.

Billing is per second of hardware time (``metrics.predict_time``) for community models, per video for
official ones. Replicate bills predict_time for cancelled and failed predictions too, so a prediction we
leave is cancelled and then read once more for what it used. Every prediction carries ``Cancel-After`` (the
run's compute cap, never past its deadline): even if our cancel never arrives, it cannot bill past that.

The client's own transport is wrapped: answers are read up to a size cap, and an error answer becomes an
exception that keeps its status, body and Retry-After (the client would retry some GETs itself with real
sleeps, and drops the headers of a failed POST); the base class does the retrying, within the deadline.
"""

from __future__ import annotations

import contextvars
import io
import math
import re
from typing import Any

import httpx
import pydantic
import replicate
from replicate.exceptions import ReplicateError

from engine.backends.base import RunContext
from engine.cloud.base import CloudBackend, Poll, Submitted
from engine.cloud.catalog import CloudModel, render_inputs
from engine.cloud.config import CloudConfig
from engine.cloud.failures import detail_of, looks_moderated, moderated
from engine.cloud.media import data_uri, prepared
from engine.errors import BackendError, TransientError
from engine.words import N_

DATA_URL_LIMIT = 256 * 1024  # Replicate's advice: data URLs only for small files
MAX_IMAGE_BYTES = 10 * 1024 * 1024
MIN_CANCEL_AFTER_S = 5  # the API's minimum

_cancel_after: contextvars.ContextVar[str | None] = contextvars.ContextVar("cancel_after", default=None)


class HTTPFailure(Exception):
    """An error answer as the wire carried it (the client keeps neither headers nor, for POST, Retry-After)."""

    def __init__(self, status: int, body: str, headers: httpx.Headers) -> None:
        super().__init__(f"HTTP {status}")
        self.status, self.body, self.headers = status, body, headers


class Oversized(Exception):
    pass


class _Transport(httpx.AsyncBaseTransport):
    """Under the client: Cancel-After on prediction creates, capped bodies, errors with their headers."""

    def __init__(self, inner: httpx.AsyncBaseTransport, max_bytes: int) -> None:
        self.inner, self.max_bytes = inner, max_bytes

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        if request.method == "POST" and request.url.path.endswith("/predictions"):
            if (value := _cancel_after.get()) is not None:
                request.headers["Cancel-After"] = value
        response = await self.inner.handle_async_request(request)
        data = bytearray()
        try:
            async for chunk in response.stream:  # type: ignore[union-attr]
                data += chunk
                if len(data) > self.max_bytes:
                    raise Oversized(self.max_bytes)
        finally:
            await response.aclose()
        raw = httpx.Response(response.status_code, headers=response.headers, stream=httpx.ByteStream(bytes(data)),
                             extensions=response.extensions, request=request)
        if response.status_code >= 400:
            await raw.aread()
            raise HTTPFailure(response.status_code, raw.text, response.headers)
        return raw

    async def aclose(self) -> None:
        await self.inner.aclose()


class ReplicateBackend(CloudBackend):
    name = "replicate"
    key_setting = "replicate_api_token"
    poll_interval_s = 0.5  # the official client's poll_interval

    def __init__(self, *, key: str, base_url: str, models: list[CloudModel],
                 config: CloudConfig | None = None) -> None:
        super().__init__(key=key, base_url=base_url, models=models, config=config)
        self.client = replicate.Client(
            api_token=key, base_url=self.base_url,
            timeout=httpx.Timeout(self.config.request_timeout_s, connect=10.0),
            transport=_Transport(httpx.AsyncHTTPTransport(), self.config.max_body_bytes),
        )

    def cancel_after(self, entry: CloudModel) -> str:
        """The Cancel-After header: the model's compute cap, never past this attempt's deadline."""
        return f"{max(MIN_CANCEL_AFTER_S, math.ceil(entry.run_cap(self.config.timeout_s)))}s"

    async def submit(self, ctx: RunContext, entry: CloudModel, values: dict[str, Any]) -> Submitted:
        if ctx.job.image_path is not None:
            values = {**values, "image": await self._image(ctx, values)}
        inputs = render_inputs(entry.inputs, values)
        owner_name, _, version = entry.model.partition(":")
        token = _cancel_after.set(self.cancel_after(entry))
        try:
            if version:
                prediction = await self.client.predictions.async_create(version=version, input=inputs)
            else:
                prediction = await self.client.models.predictions.async_create(model=owner_name, input=inputs)
        except Exception as exc:
            raise self._error(exc) from None
        finally:
            _cancel_after.reset(token)
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
            # The client's status enum lacks "aborted": Replicate gave up on the prediction before it ran
            # (nothing was billed).
            return Poll(failed=TransientError(N_("{provider} gave up on the job before it ran.",
                                                 provider="Replicate"), backend=self.name))
        except Exception as exc:
            raise self._error(exc) from None
        status = prediction.status
        run_seconds = _predict_time(prediction.metrics)
        if status == "starting":
            return Poll(progress=_progress(prediction.logs))
        if status == "processing":
            return Poll(progress=_progress(prediction.logs), started=True)
        if status == "succeeded":
            return Poll(done=True, video_url=_video_url(prediction.output), run_seconds=run_seconds)
        if status == "canceled":
            return Poll(failed=TransientError(N_("The job was cancelled on {provider}'s side (it reached its "
                                                 "time limit or was cancelled there).", provider="Replicate"),
                                              backend=self.name), run_seconds=run_seconds)
        error = str(prediction.error or "")
        failure: BackendError = (
            moderated(self.name, error) if looks_moderated(error) else
            TransientError(N_("{provider}'s model failed: {detail}", provider="Replicate", detail=error)
                           if error else N_("{provider}'s model failed without saying why.", provider="Replicate"),
                           backend=self.name))
        return Poll(failed=failure, run_seconds=run_seconds)

    async def cancel(self, remote: Submitted, entry: CloudModel) -> None:
        try:
            await self.client.predictions.async_cancel(remote.id)
        except Exception as exc:
            raise self._error(exc) from None

    async def after_cancel(self, remote: Submitted, entry: CloudModel) -> Poll | None:
        """A cancelled prediction is billed its predict_time: read it once the cancel has landed."""
        try:
            prediction = await self.client.predictions.async_get(remote.id)
        except Exception as exc:
            raise self._error(exc) from None
        return Poll(run_seconds=_predict_time(prediction.metrics), started=prediction.status != "starting")

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
        if isinstance(exc, HTTPFailure):
            return self.classify(exc.status, exc.body, exc.headers)
        if isinstance(exc, Oversized):
            return self._oversized(self.config.max_body_bytes)
        if isinstance(exc, ReplicateError):
            return self.classify(exc.status or 500, detail_of(str(exc.detail or exc.title or "")), None)
        if isinstance(exc, ValueError) and not isinstance(exc, pydantic.ValidationError):  # JSONDecodeError
            return TransientError(N_("{provider} sent an answer that is not valid JSON ({detail}).",
                                     provider="Replicate", detail=str(exc)), backend=self.name)
        detail = f"{type(exc).__name__}: {exc}"
        if isinstance(exc, httpx.HTTPError):
            return TransientError(N_("Could not reach {provider} ({detail}).", provider="Replicate", detail=detail),
                                  backend=self.name)
        return TransientError(N_("{provider}'s client failed ({detail}).", provider="Replicate", detail=detail),
                              backend=self.name)


def _predict_time(metrics: Any) -> float | None:
    value = (metrics or {}).get("predict_time") if isinstance(metrics, dict) else None
    return float(value) if isinstance(value, int | float) else None


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

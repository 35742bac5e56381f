"""What every cloud provider shares: submit, poll until done, download, and cancel on the remote side.

A provider subclass writes three small coroutines in its own protocol (``submit``, ``check``, ``cancel``);
this class wraps them in one HTTP session, a deadline (``CLOUD_TIMEOUT_S``, after which the remote job is
cancelled and the job moves on), progress reports, a size-capped and type-checked download, and the cost
from the provider's own figures. A user's cancel, a timeout and a shutdown all reach the remote side.
"""

from __future__ import annotations

import asyncio
import io
import json
import logging
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import aiohttp

from engine.backends.base import Output, RunContext
from engine.cloud.catalog import CloudModel, job_values, pick, video_seconds
from engine.cloud.failures import classify, not_json
from engine.errors import AttemptTimeout, BackendError, TransientError
from engine.types import Estimate, JobKind, Options
from engine.video import playable_mp4

log = logging.getLogger(__name__)

VIDEO_TYPES = ("video/", "application/octet-stream", "binary/octet-stream", "application/mp4")
PROGRESS_STEPS = 100


@dataclass(frozen=True, slots=True)
class Submitted:
    """A remote job: its id and whatever the provider said that later calls need (its URLs)."""

    id: str
    data: dict[str, Any] = field(default_factory=dict)


@dataclass(frozen=True, slots=True)
class Poll:
    done: bool = False
    progress: float | None = None  # 0..1 when the provider says; else elapsed time against the estimate
    video_url: str | None = None
    video_bytes: bytes | None = None
    run_seconds: float | None = None  # compute time the provider bills (Replicate's metrics.predict_time)


@dataclass(frozen=True, slots=True)
class CloudConfig:
    poll_interval_s: float = 2.0
    timeout_s: float = 600.0  # submit to result; then the remote job is cancelled and the job moves on
    request_timeout_s: float = 60.0
    max_download_bytes: int = 200 * 1024 * 1024


class CloudBackend:
    """Base of every provider; subclasses set ``name``, ``key_setting`` and write the protocol hooks."""

    name = "cloud"
    key_setting = ""
    local = False

    def __init__(self, *, key: str, base_url: str, models: list[CloudModel],
                 config: CloudConfig | None = None) -> None:
        self.key = key
        self.base_url = base_url.rstrip("/")
        self.models = list(models)
        self.config = config or CloudConfig()
        self._session: aiohttp.ClientSession | None = None

    # --- the Backend protocol ---

    def kinds(self) -> frozenset[JobKind]:
        return frozenset(m.kind for m in self.models)

    def unavailable_reason(self) -> str | None:
        return None if self.models else "no models configured (CLOUD_MODELS)"

    def model_for(self, kind: JobKind, options: Options) -> str | None:
        entry = pick(self.models, kind, options.model)
        return entry.name if entry else None

    def model_names(self) -> frozenset[str]:
        return frozenset(m.name for m in self.models)  # provider ids (owner/name) are for the CLI only

    def estimate(self, kind: JobKind, options: Options) -> Estimate:
        entry = pick(self.models, kind, options.model)
        if entry is None:
            return Estimate(0.0, 0.0)
        frames, fps = options.frames or entry.frames, options.fps or entry.fps
        return Estimate(entry.cost(video_seconds(entry, frames, fps)), entry.seconds)

    async def run(self, ctx: RunContext) -> Output:
        job = ctx.job
        entry = pick(self.models, job.kind, job.options.model)
        if entry is None:  # the router only sends jobs this backend has a model for
            raise TransientError(f"{self.name} has no model for this job.", backend=self.name)
        values = job_values(job, entry)
        ctx.workdir.mkdir(parents=True, exist_ok=True)
        remote: Submitted | None = None
        started = time.monotonic()
        try:
            async with asyncio.timeout(self.config.timeout_s):
                remote = await self.submit(ctx, entry, values)
                log.info("%s: job %s submitted as %s", self.name, job.id, remote.id)
                while not (poll := await self.check(remote, entry)).done:
                    done = poll.progress
                    if done is None:  # no figure from the provider: time against the typical time, <= 95%
                        done = min(0.95, (time.monotonic() - started) / max(entry.seconds, 1.0))
                    ctx.progress(round(done * PROGRESS_STEPS), PROGRESS_STEPS)
                    await asyncio.sleep(self.config.poll_interval_s)
                raw = ctx.workdir / f"{self.name}-download"
                await self.save(poll, raw)
        except TimeoutError:
            if remote is not None:
                await asyncio.shield(self._cancel_quietly(remote, entry))
            raise AttemptTimeout(
                f"{self.name} did not finish within {self.config.timeout_s:g} s; the job was cancelled there.",
                backend=self.name,
            ) from None
        except asyncio.CancelledError:
            if remote is not None:
                await asyncio.shield(self._cancel_quietly(remote, entry))
            raise
        ctx.progress(PROGRESS_STEPS, PROGRESS_STEPS)
        out = ctx.workdir / f"{self.name}.mp4"
        try:
            info = await asyncio.to_thread(playable_mp4, raw, out)
        except ValueError as exc:
            raise TransientError(f"{self.name} sent back something that is not a video ({exc}).",
                                 backend=self.name) from None
        finally:
            raw.unlink(missing_ok=True)  # moved into place, re-encoded, or refused: never needed again
        cost = entry.cost(values["duration"], poll.run_seconds)
        return Output(fps=info.fps, video_path=out, cost_usd=cost, model=entry.name)

    async def verify(self) -> str | None:
        """Ask the provider whether the key works, without making a video (for ``reelbot doctor``).

        Plain words on what was found ("account alice", "1200 credits left"); None when the provider has no
        such call. Raises the classified error when the key is refused or the provider cannot be reached.
        """
        return None

    async def aclose(self) -> None:
        if self._session is not None:
            await self._session.close()
            self._session = None

    # --- the provider's protocol ---

    async def submit(self, ctx: RunContext, entry: CloudModel, values: dict[str, Any]) -> Submitted:
        raise NotImplementedError

    async def check(self, remote: Submitted, entry: CloudModel) -> Poll:
        raise NotImplementedError

    async def cancel(self, remote: Submitted, entry: CloudModel) -> None:
        """Cancel the remote job; providers without a cancel call leave this as is."""

    def auth_headers(self) -> dict[str, str]:
        return {}

    def classify(self, status: int, body: str, headers: Any) -> BackendError:
        return classify(self.name, self.key_setting.upper(), status, body, headers)

    # --- shared plumbing ---

    @property
    def session(self) -> aiohttp.ClientSession:
        if self._session is None or self._session.closed:
            self._session = aiohttp.ClientSession(
                timeout=aiohttp.ClientTimeout(total=self.config.request_timeout_s),
                headers={"User-Agent": "reelbot"},
            )
        return self._session

    def headers_for(self, url: str) -> dict[str, str]:
        """The key goes only to the provider's own host, never to a CDN a result URL points at."""
        return self.auth_headers() if _origin(url) == _origin(self.base_url) else {}

    async def call(self, method: str, url: str, *, expect: tuple[int, ...] = (200, 201), **kwargs: Any) -> Any:
        """One API call: the parsed JSON of a success, or the classified error of anything else."""
        status, body, headers = await self.fetch(method, url, **kwargs)
        if status not in expect:
            raise self.classify(status, body.decode("utf-8", "replace"), headers)
        if not body.strip():
            return {}
        try:
            return json.loads(body)
        except (json.JSONDecodeError, UnicodeDecodeError):
            raise not_json(self.name, status, body.decode("utf-8", "replace")) from None

    async def fetch(self, method: str, url: str, **kwargs: Any) -> tuple[int, bytes, Any]:
        headers = {**self.headers_for(url), **kwargs.pop("headers", {})}
        if "json" in kwargs:  # as a stream: a picture in a data URI makes bodies of megabytes
            kwargs["data"] = io.BytesIO(json.dumps(kwargs.pop("json")).encode())
            headers["Content-Type"] = "application/json"
        try:
            async with self.session.request(method, url, headers=headers, **kwargs) as response:
                return response.status, await response.read(), response.headers
        except (aiohttp.ClientError, TimeoutError) as exc:
            raise TransientError(f"Could not reach {self.name} ({type(exc).__name__}: {exc}).",
                                 backend=self.name) from None

    async def save(self, poll: Poll, dest: Path) -> None:
        if poll.video_bytes is not None:
            self._check_size(len(poll.video_bytes))
            await asyncio.to_thread(dest.write_bytes, poll.video_bytes)
            return
        if not poll.video_url:
            raise TransientError(f"{self.name} said the job was done but gave no video.", backend=self.name)
        await self.download(poll.video_url, dest)

    async def download(self, url: str, dest: Path, headers: dict[str, str] | None = None) -> None:
        """Stream a result to ``dest``: refused when it is not a video or grows past the cap."""
        try:
            async with self.session.get(url, headers={**self.headers_for(url), **(headers or {})}) as response:
                if response.status in (403, 404, 410):
                    raise TransientError(f"{self.name}'s result has expired or is gone (HTTP {response.status}).",
                                         backend=self.name)
                if response.status >= 400:
                    raise self.classify(response.status, (await response.text())[:500], response.headers)
                kind = response.headers.get("Content-Type", "").split(";")[0].strip().lower()
                if kind and not kind.startswith(VIDEO_TYPES):
                    raise TransientError(f"{self.name} sent {kind or 'no type'} instead of a video.",
                                         backend=self.name)
                if response.content_length is not None:
                    self._check_size(response.content_length)
                data = bytearray()
                async for chunk in response.content.iter_chunked(1 << 16):
                    data += chunk
                    self._check_size(len(data))
        except (aiohttp.ClientError, TimeoutError) as exc:
            raise TransientError(f"Downloading the video from {self.name} failed ({exc}).",
                                 backend=self.name) from None
        await asyncio.to_thread(dest.write_bytes, bytes(data))

    def _check_size(self, size: int) -> None:
        cap = self.config.max_download_bytes
        if size > cap:
            raise TransientError(
                f"{self.name}'s video is larger than the {cap / 1048576:.0f} MB download cap "
                "(CLOUD_MAX_DOWNLOAD_MB).", backend=self.name,
            )

    async def _cancel_quietly(self, remote: Submitted, entry: CloudModel) -> None:
        try:
            async with asyncio.timeout(10):
                await self.cancel(remote, entry)
            log.info("%s: cancelled remote job %s", self.name, remote.id)
        except Exception as exc:  # the job is over for us either way; the provider may bill it
            log.warning("%s: could not cancel remote job %s (%s)", self.name, remote.id, exc)


def _origin(url: str) -> tuple[str, str]:
    parts = urlsplit(url)
    return parts.scheme, parts.netloc

"""A provider's HTTP: one session, the key sent only to the provider's own origin (redirects followed by hand,
so a key header never follows one elsewhere), API bodies read up to a cap, and result downloads that must
be a video and stay under ``CLOUD_MAX_DOWNLOAD_MB``."""

from __future__ import annotations

import asyncio
import io
import json
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any
from urllib.parse import urljoin, urlsplit

import aiohttp

from engine.cloud.config import CloudConfig
from engine.cloud.failures import not_json
from engine.errors import BackendError, TransientError
from engine.words import N_

VIDEO_TYPES = ("video/", "application/octet-stream", "binary/octet-stream", "application/mp4")
MAX_REDIRECTS = 5
REDIRECTS = (301, 302, 303, 307, 308)


class ProviderHttp:
    """Mixed into :class:`~engine.cloud.base.CloudBackend`, which supplies the names used here."""

    name: str
    base_url: str
    config: CloudConfig
    _session: aiohttp.ClientSession | None

    def auth_headers(self) -> dict[str, str]:
        return {}

    def classify(self, status: int, body: str, headers: Any) -> BackendError:
        raise NotImplementedError

    @property
    def session(self) -> aiohttp.ClientSession:
        if self._session is None or self._session.closed:
            self._session = aiohttp.ClientSession(
                timeout=aiohttp.ClientTimeout(total=self.config.request_timeout_s),
                headers={"User-Agent": "reelbot"},
            )
        return self._session

    def headers_for(self, url: str) -> dict[str, str]:
        """The key goes only to the provider's own origin, never to a CDN a result URL points at."""
        return self.auth_headers() if _origin(url) == _origin(self.base_url) else {}

    async def call(self, method: str, url: str, *, expect: tuple[int, ...] = (200, 201),
                   max_bytes: int | None = None, **kwargs: Any) -> Any:
        """One API call: the parsed JSON of a success, or the classified error of anything else."""
        status, body, headers = await self.fetch(method, url, max_bytes=max_bytes, **kwargs)
        if status not in expect:
            raise self.classify(status, body.decode("utf-8", "replace"), headers)
        if not body.strip():
            return {}
        try:
            return json.loads(body)
        except (json.JSONDecodeError, UnicodeDecodeError):
            raise not_json(self.name, status, body.decode("utf-8", "replace")) from None

    async def fetch(self, method: str, url: str, *, max_bytes: int | None = None,
                    **kwargs: Any) -> tuple[int, bytes, Any]:
        """Status, body (read up to ``max_bytes``, the JSON cap by default) and headers of one call."""
        headers = dict(kwargs.pop("headers", {}))
        if "json" in kwargs:  # as a stream: a picture in a data URI makes bodies of megabytes
            kwargs["data"] = io.BytesIO(json.dumps(kwargs.pop("json")).encode())
            headers["Content-Type"] = "application/json"
        cap = self.config.max_body_bytes if max_bytes is None else max_bytes
        try:
            async with self._open(method, url, headers, **kwargs) as response:
                return response.status, await self._read_capped(response, cap), response.headers
        except (aiohttp.ClientError, TimeoutError) as exc:
            detail = f"{type(exc).__name__}: {exc}"
            raise TransientError(N_("Could not reach {provider} ({detail}).", provider=self.name, detail=detail),
                                 backend=self.name) from None

    @asynccontextmanager
    async def _open(self, method: str, url: str, headers: dict[str, str],
                    **kwargs: Any) -> AsyncIterator[aiohttp.ClientResponse]:
        """One request whose redirects are followed by hand: the key is re-decided at every hop, so it
        never follows a redirect to another origin (aiohttp would forward a custom key header)."""
        for _hop in range(MAX_REDIRECTS + 1):
            sent = {**self.headers_for(url), **headers}
            response = await self.session.request(method, url, headers=sent, allow_redirects=False, **kwargs)
            location = response.headers.get("Location")
            if response.status in REDIRECTS and location and method in ("GET", "HEAD"):
                response.release()
                url = urljoin(str(response.url), location)
                continue
            try:
                yield response
            finally:
                response.release()
            return
        raise TransientError(N_("{provider} redirected more than {count} times.", provider=self.name,
                                count=MAX_REDIRECTS), backend=self.name)

    async def _read_capped(self, response: aiohttp.ClientResponse, cap: int) -> bytes:
        if response.content_length is not None and response.content_length > cap:
            raise self._oversized(cap)
        data = bytearray()
        async for chunk in response.content.iter_chunked(1 << 16):
            data += chunk
            if len(data) > cap:
                raise self._oversized(cap)
        return bytes(data)

    def _oversized(self, cap: int) -> TransientError:
        return TransientError(N_("{provider} sent an answer over {mb:.0f} MB; it was refused unread.",
                                 provider=self.name, mb=cap / 1048576), backend=self.name)

    async def download(self, url: str, dest: Path, headers: dict[str, str] | None = None) -> None:
        """Stream a result to ``dest``: refused when it is not a video or grows past the cap."""
        try:
            async with self._open("GET", url, dict(headers or {})) as response:
                if response.status in (403, 404, 410):
                    raise TransientError(N_("{provider}'s result has expired or is gone (HTTP {status}).",
                                            provider=self.name, status=response.status), backend=self.name)
                if response.status >= 400:
                    text = (await self._read_capped(response, 64 * 1024)).decode("utf-8", "replace")
                    raise self.classify(response.status, text[:500], response.headers)
                kind = response.headers.get("Content-Type", "").split(";")[0].strip().lower()
                if kind and not kind.startswith(VIDEO_TYPES):
                    raise TransientError(N_("{provider} sent {type} instead of a video.", provider=self.name,
                                            type=kind), backend=self.name)
                if response.content_length is not None:
                    self._check_size(response.content_length)
                data = bytearray()
                async for chunk in response.content.iter_chunked(1 << 16):
                    data += chunk
                    self._check_size(len(data))
        except (aiohttp.ClientError, TimeoutError) as exc:
            raise TransientError(N_("Downloading the video from {provider} failed ({detail}).", provider=self.name,
                                    detail=str(exc)), backend=self.name) from None
        await asyncio.to_thread(dest.write_bytes, bytes(data))

    def _check_size(self, size: int) -> None:
        cap = self.config.max_download_bytes
        if size > cap:
            raise TransientError(
                N_("{provider}'s video is larger than the {mb:.0f} MB download cap (CLOUD_MAX_DOWNLOAD_MB).",
                   provider=self.name, mb=cap / 1048576), backend=self.name,
            )


def _origin(url: str) -> tuple[str, str]:
    parts = urlsplit(url)
    return parts.scheme, parts.netloc

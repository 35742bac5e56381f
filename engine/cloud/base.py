"""What every cloud provider shares: submit, poll until done, download, and cancel on the remote side.

A provider subclass writes three small coroutines in its own protocol (``submit``, ``check``, ``cancel``);
this class wraps them in one HTTP session, a deadline (``CLOUD_TIMEOUT_S``, after which the remote job is
cancelled and the job moves on), progress reports, a size-capped and type-checked download, and the cost
from the provider's own figures. A user's cancel, a timeout and a shutdown all reach the remote side.

Polling keeps each provider's own pace (``poll_interval_s``: Stability asks for no more than one look every
10 s, Runway's SDK waits about 6 s, ...). A failed look (429, 5xx, a lost connection) is not the end of the
remote job: it is asked again with backoff, honouring Retry-After, until the deadline; and whenever we leave
a remote job for any reason it is cancelled first, so one job never makes two billed runs. What a run that
did not deliver was billed goes to ``ctx.billed_usd`` (the provider's report where it gives one).
"""

from __future__ import annotations

import asyncio
import io
import json
import logging
import time
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Protocol
from urllib.parse import urljoin, urlsplit

import aiohttp

from engine.backends.base import Output, RunContext
from engine.cloud.catalog import CloudModel, job_values, pick, shape_values
from engine.cloud.failures import classify, not_json
from engine.errors import AttemptTimeout, BackendError, TransientError
from engine.types import Estimate, JobKind, Options
from engine.video import playable_mp4

log = logging.getLogger(__name__)

VIDEO_TYPES = ("video/", "application/octet-stream", "binary/octet-stream", "application/mp4")
PROGRESS_STEPS = 100
MAX_REDIRECTS = 5
MAX_BACKOFF_S = 60.0
REDIRECTS = (301, 302, 303, 307, 308)


class Clock(Protocol):
    """Time as polling sees it; tests give a virtual one so a 10 s pace costs no real time."""

    def now(self) -> float: ...

    async def sleep(self, seconds: float) -> None: ...


class MonotonicClock:
    def now(self) -> float:
        return time.monotonic()

    async def sleep(self, seconds: float) -> None:
        await asyncio.sleep(seconds)


REAL_CLOCK = MonotonicClock()


@dataclass(frozen=True, slots=True)
class Submitted:
    """A remote job: its id and whatever the provider said that later calls need (its URLs)."""

    id: str
    data: dict[str, Any] = field(default_factory=dict)


@dataclass(frozen=True, slots=True)
class Poll:
    """One look at a remote job. ``failed``: it ended there without a video (nothing to cancel)."""

    done: bool = False
    progress: float | None = None  # 0..1 when the provider says; else elapsed time against the estimate
    video_url: str | None = None
    video_bytes: bytes | None = None
    run_seconds: float | None = None  # compute time the provider bills (Replicate's metrics.predict_time)
    billed_usd: float | None = None  # the charge the provider reports for this job (Runway's cost)
    estimated_usd: float | None = None  # what the provider says the job will cost once it runs
    started: bool = False  # the provider is running it (not only queued)
    failed: BackendError | None = None


@dataclass(frozen=True, slots=True)
class CloudConfig:
    poll_interval_s: float | None = None  # None: each provider's own pace; a number: every provider's
    timeout_s: float = 600.0  # submit to result; then the remote job is cancelled and the job moves on
    request_timeout_s: float = 60.0
    max_download_bytes: int = 200 * 1024 * 1024
    max_body_bytes: int = 4 * 1024 * 1024  # an API answer (JSON) larger than this is refused unread
    clock: Clock = REAL_CLOCK


@dataclass
class _Run:
    """One attempt's remote side as the poll loop sees it."""

    entry: CloudModel
    values: dict[str, Any]
    deadline: float
    remote: Submitted | None = None
    started: bool = False
    ended: bool = False  # the provider finished the job (with or without a video): nothing to cancel
    run_seconds: float | None = None
    estimated_usd: float | None = None


class _DeadlinePassed(Exception):
    pass


class CloudBackend:
    """Base of every provider; subclasses set ``name``, ``key_setting`` and write the protocol hooks."""

    name = "cloud"
    key_setting = ""
    local = False
    poll_interval_s = 2.0  # the provider's own pace (its docs or its official SDK)
    can_cancel = True  # False: a submitted job runs to its end (and is billed) whatever we do

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
        """The most this job can cost here: the same capped inputs the run sends, compute up to its cap."""
        entry = pick(self.models, kind, options.model)
        if entry is None:
            return Estimate(0.0, 0.0)
        duration = shape_values(options, entry, [])["duration"]
        return Estimate(entry.worst_cost(duration, self.config.timeout_s), entry.seconds)

    @property
    def pace(self) -> float:
        """Seconds between two looks at a remote job."""
        return self.config.poll_interval_s or self.poll_interval_s

    async def run(self, ctx: RunContext) -> Output:
        job = ctx.job
        entry = pick(self.models, job.kind, job.options.model)
        if entry is None:  # the router only sends jobs this backend has a model for
            raise TransientError(f"{self.name} has no model for this job.", backend=self.name)
        notes: list[str] = []
        values = job_values(job, entry, notes)
        for line in notes:
            ctx.note(f"{self.name}: {line}")
        ctx.workdir.mkdir(parents=True, exist_ok=True)
        clock = self.config.clock
        state = _Run(entry, values, deadline=clock.now() + self.config.timeout_s)
        # A real-time net for a call that hangs; a test's virtual clock keeps its own deadline.
        net = self.config.timeout_s if isinstance(clock, MonotonicClock) else None
        try:
            async with asyncio.timeout(net):
                state.remote = await self.submit(ctx, entry, values)
                log.info("%s: job %s submitted as %s", self.name, job.id, state.remote.id)
                if not self.can_cancel:
                    state.started = True  # it runs to its end now, whatever happens here
                    self._bill(ctx, state, None)
                poll = await self._poll_until_done(ctx, state)
                raw = ctx.workdir / f"{self.name}-download"
                await self.save(poll, raw)
        except (TimeoutError, _DeadlinePassed):
            await asyncio.shield(self._leave(ctx, state))
            raise AttemptTimeout(
                f"{self.name} did not finish within {self.config.timeout_s:g} s; the job was cancelled there.",
                backend=self.name,
            ) from None
        except BaseException:
            await asyncio.shield(self._leave(ctx, state))
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
        return Output(fps=info.fps, video_path=out, cost_usd=ctx.billed_usd, model=entry.name)

    async def _poll_until_done(self, ctx: RunContext, state: _Run) -> Poll:
        assert state.remote is not None
        clock, entry = self.config.clock, state.entry
        began, failures = clock.now(), 0
        while True:
            wait = self.pace
            if clock.now() + wait >= state.deadline:  # the next look would come at or past the deadline
                raise _DeadlinePassed
            await clock.sleep(wait)
            try:
                poll = await self.check(state.remote, entry)
            except TransientError as exc:
                # One failed look says nothing about the remote job: it still runs (and bills). Ask again.
                failures += 1
                backoff = min(MAX_BACKOFF_S, self.pace * 2 ** failures)
                delay = max(backoff, exc.retry_after or 0.0) - self.pace  # the loop waits one pace itself
                log.warning("%s: looking at job %s failed (%s); again in %.1f s", self.name, ctx.job.id,
                            exc.message, delay + self.pace)
                if clock.now() + delay + self.pace >= state.deadline:
                    raise  # the deadline comes first: the remote job is cancelled on the way out
                await clock.sleep(max(0.0, delay))
                continue
            failures = 0
            self._observe(state, poll)
            if poll.failed is not None:
                state.ended = True
                self._bill(ctx, state, poll)
                raise poll.failed
            if poll.done:
                state.ended = True
                self._bill(ctx, state, poll)
                return poll
            done = poll.progress
            if done is None:  # no figure from the provider: time against the typical time, <= 95%
                done = min(0.95, (clock.now() - began) / max(entry.seconds, 1.0))
            ctx.progress(round(done * PROGRESS_STEPS), PROGRESS_STEPS)

    def _observe(self, state: _Run, poll: Poll) -> None:
        state.started = state.started or poll.started or poll.run_seconds is not None
        if poll.run_seconds is not None:
            state.run_seconds = poll.run_seconds
        if poll.estimated_usd is not None:
            state.estimated_usd = poll.estimated_usd

    def _bill(self, ctx: RunContext, state: _Run, poll: Poll | None, *, stopped: bool = False) -> None:
        """What this attempt was billed, as soon as it is known (also when it delivers nothing)."""
        entry, duration = state.entry, state.values["duration"]
        if poll is not None and poll.billed_usd is not None:
            ctx.billed_usd = round(poll.billed_usd, 6)
            return
        run_seconds = poll.run_seconds if poll is not None and poll.run_seconds is not None else state.run_seconds
        if poll is not None and poll.done and poll.failed is None:
            ctx.billed_usd = round(entry.cost(duration, run_seconds), 6)
        elif poll is not None and poll.failed is not None:  # the provider ended it: it bills only compute
            ctx.billed_usd = _rounded(entry.unfinished_cost(duration, run_seconds, started=False))
        elif stopped and state.started and state.estimated_usd is not None and run_seconds is None:
            ctx.billed_usd = round(state.estimated_usd, 6)  # the provider's own estimate of a started job
        else:
            ctx.billed_usd = _rounded(entry.unfinished_cost(duration, run_seconds, started=state.started))

    async def _leave(self, ctx: RunContext, state: _Run) -> None:
        """We are leaving a remote job that has not ended: cancel it there, then book what it billed."""
        if state.remote is None or state.ended:
            return
        after: Poll | None = None
        try:
            async with asyncio.timeout(15):
                if self.can_cancel:
                    await self.cancel(state.remote, state.entry)
                    log.info("%s: cancelled remote job %s", self.name, state.remote.id)
                after = await self.after_cancel(state.remote, state.entry)
        except Exception as exc:  # the job is over for us either way; the provider may bill it
            log.warning("%s: could not cancel remote job %s or read its bill (%s)", self.name, state.remote.id,
                        exc)
        if after is not None:
            self._observe(state, after)
        self._bill(ctx, state, after if after is not None and after.billed_usd is not None else None, stopped=True)
        if ctx.billed_usd:
            log.info("%s: remote job %s left unfinished was billed $%.4f", self.name, state.remote.id,
                     ctx.billed_usd)

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
        """One look at the remote job. Raise only when the look itself failed; a job that ended without a
        video is ``Poll(failed=...)``."""
        raise NotImplementedError

    async def cancel(self, remote: Submitted, entry: CloudModel) -> None:
        """Cancel the remote job; providers without a cancel call set ``can_cancel = False``."""

    async def after_cancel(self, remote: Submitted, entry: CloudModel) -> Poll | None:
        """The job's state once cancelled, for providers that report what a cancelled job billed."""
        return None

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
            raise TransientError(f"Could not reach {self.name} ({type(exc).__name__}: {exc}).",
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
        raise TransientError(f"{self.name} redirected more than {MAX_REDIRECTS} times.", backend=self.name)

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
        return TransientError(f"{self.name} sent an answer over {cap / 1048576:.0f} MB; it was refused unread.",
                              backend=self.name)

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
            async with self._open("GET", url, dict(headers or {})) as response:
                if response.status in (403, 404, 410):
                    raise TransientError(f"{self.name}'s result has expired or is gone (HTTP {response.status}).",
                                         backend=self.name)
                if response.status >= 400:
                    text = (await self._read_capped(response, 64 * 1024)).decode("utf-8", "replace")
                    raise self.classify(response.status, text[:500], response.headers)
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


def _rounded(value: float | None) -> float | None:
    return None if value is None else round(value, 6)


def _origin(url: str) -> tuple[str, str]:
    parts = urlsplit(url)
    return parts.scheme, parts.netloc

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
import logging
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import aiohttp

from engine.backends.base import Output, RunContext
from engine.cloud.catalog import CloudModel, job_values, pick, shape_values
from engine.cloud.config import CloudConfig, MonotonicClock
from engine.cloud.failures import classify
from engine.cloud.http import ProviderHttp
from engine.errors import AttemptTimeout, BackendError, TransientError
from engine.translate.languages import ENGLISH
from engine.types import Estimate, JobKind, Options
from engine.video import playable_mp4
from engine.words import N_, Seconds, Text

log = logging.getLogger(__name__)

PROGRESS_STEPS = 100
MAX_BACKOFF_S = 60.0


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


class CloudBackend(ProviderHttp):
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

    def unavailable_reason(self) -> Text | None:
        return None if self.models else N_("no models configured (CLOUD_MODELS)")

    def model_for(self, kind: JobKind, options: Options) -> str | None:
        entry = pick(self.models, kind, options.model)
        return entry.name if entry else None

    def prompt_languages(self, kind: JobKind, options: Options) -> frozenset[str]:
        entry = pick(self.models, kind, options.model)
        if entry is not None and not entry.uses_prompt:
            return frozenset()  # it reads no words at all
        return entry.prompt_languages if entry else ENGLISH

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
            raise TransientError(N_("{provider} has no model for this job.", provider=self.name), backend=self.name)
        notes: list[Text] = []
        values = job_values(job, entry, notes)
        for change in notes:  # what the user asked for that this model does not take, and what it got
            ctx.note(N_("{provider}: {change}", provider=self.name, change=change))
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
                N_("{provider} did not finish within {wait}; the job was cancelled there.", provider=self.name,
                   wait=Seconds(self.config.timeout_s)),
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
            raise TransientError(N_("{provider} sent back something that is not a video ({detail}).",
                                    provider=self.name, detail=str(exc)), backend=self.name) from None
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

    # --- the result (the HTTP itself: engine/cloud/http.py) ---

    async def save(self, poll: Poll, dest: Path) -> None:
        if poll.video_bytes is not None:
            self._check_size(len(poll.video_bytes))
            await asyncio.to_thread(dest.write_bytes, poll.video_bytes)
            return
        if not poll.video_url:
            raise TransientError(N_("{provider} said the job was done but gave no video.", provider=self.name),
                                 backend=self.name)
        await self.download(poll.video_url, dest)


def _rounded(value: float | None) -> float | None:
    return None if value is None else round(value, 6)

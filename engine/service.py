"""The engine's one API for front ends: submit, cancel, get, status, usage, and events.

Admission happens here: the request is validated, its cost is estimated over the backends that could run
it, and the job is stored together with the reservation of that cost in one transaction (storage refuses
it if a quota would be broken). From then on the runner owns the job.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import secrets
import time
from collections.abc import Callable
from concurrent.futures import Executor
from dataclasses import dataclass, replace
from datetime import datetime, timedelta
from pathlib import Path
from typing import TYPE_CHECKING

from engine.access import Access
from engine.clock import utcnow
from engine.errors import (
    AlreadyFinished,
    BudgetExhausted,
    InvalidImage,
    NoBackend,
    NotAllowed,
    NotFound,
    QueueFull,
    QuotaExceeded,
    ReelbotError,
)
from engine.events import Ended, Event, EventBus, Handler, Queued, Subscription
from engine.images import frame_upload, load_image
from engine.lanes import GpuLane
from engine.outbox import Deliverer, Outbox
from engine.ratelimit import RateLimiter
from engine.retention import delete_job_files, orphan_uploads
from engine.router import Router
from engine.runner import ActiveJob, JobRunner
from engine.scheduler import Scheduler
from engine.status import (
    GpuStats,
    LaneStatus,
    ScopeStatus,
    SpendLine,
    StatusReport,
    TopUser,
    UsageReport,
    WorkerStatus,
)
from engine.types import (
    Again,
    AttemptView,
    ChainPreview,
    CloudOffer,
    JobKind,
    JobSpec,
    JobState,
    JobView,
    Options,
    Origin,
    Outcome,
    SubmitRequest,
    UserRef,
)
from engine.validation import MAX_SEED, InputLimits, clean_text, validate
from storage.models import Attempt, Job, User
from storage.repo import Admitted, Limits, NewJob, Refusal, Repository, day_start, month_key, month_start

if TYPE_CHECKING:
    from engine.distributed.remote import Remote

log = logging.getLogger(__name__)
_ID_ALPHABET = "abcdefghjkmnpqrstuvwxyz23456789"


@dataclass(frozen=True, slots=True)
class EngineConfig:
    results_dir: Path
    uploads_dir: Path
    input_limits: InputLimits = InputLimits()
    limits: Limits = Limits(1, 3, 20, 2.0, None)
    max_queue: int = 500
    job_timeout_s: float = 900.0
    local_max_wait_s: float = 600.0
    local_usd_per_gpu_second: float = 0.0
    max_interruptions: int = 2
    position_interval_s: float = 1.0
    keep_files_s: float = 7 * 86400.0  # a finished job's video and picture stay this long (0: for ever)
    sweep_interval_s: float = 3600.0
    access: Access = Access()  # who is an admin: the ids in the settings, and the CLI's local operator
    rate_limit_per_minute: int = 0  # requests per user per minute reaching the quota check (0: no limit)


def new_job_id() -> str:
    """8 characters without look-alikes (no 0/o, 1/l/i), easy to type into /job."""
    return "".join(_ID_ALPHABET[byte % len(_ID_ALPHABET)] for byte in secrets.token_bytes(8))


class Service:
    def __init__(
        self,
        *,
        repo: Repository,
        router: Router,
        scheduler: Scheduler,
        events: EventBus,
        config: EngineConfig,
        encode_pool: Executor,
        gpu_stats: Callable[[GpuLane], GpuStats | None] = lambda lane: None,
        remote: Remote | None = None,
    ) -> None:
        self.repo = repo
        self.router = router
        self.scheduler = scheduler
        self.events = events
        self.config = config
        self.gpu_stats = gpu_stats
        self.outbox = Outbox(repo, self.get)
        self.runner = JobRunner(
            repo=repo,
            router=router,
            scheduler=scheduler,
            events=events,
            outbox=self.outbox,
            results_dir=config.results_dir,
            encode_pool=encode_pool,
            job_timeout_s=config.job_timeout_s,
            local_max_wait_s=config.local_max_wait_s,
            local_usd_per_gpu_second=config.local_usd_per_gpu_second,
        )
        self.access = config.access
        self.rate = RateLimiter(config.rate_limit_per_minute)
        self._positions_task: asyncio.Task[None] | None = None
        self._sweep_task: asyncio.Task[None] | None = None
        self.remote = remote  # distributed mode: jobs go to PostgreSQL for the GPU workers

    # --- life cycle ---

    async def start(self) -> None:
        """Recover what a previous run left, then start sending positions. Register deliverers first."""
        self.config.results_dir.mkdir(parents=True, exist_ok=True)
        self.config.uploads_dir.mkdir(parents=True, exist_ok=True)
        loop = asyncio.get_running_loop()
        if self.remote is not None:  # the workers run the jobs; the watchdog rescues those of dead workers
            await self.remote.start(self)
            await self.outbox.flush()
            if self.config.keep_files_s > 0:
                self._sweep_task = loop.create_task(self._sweep_regularly())
            return
        report = await self.repo.recover(now=utcnow(), max_interruptions=self.config.max_interruptions)
        if report.requeued or report.failed:
            log.warning("recovered after a stop: %d jobs run again, %d failed after repeated crashes",
                        len(report.requeued), len(report.failed))
        for job_id in report.queued:
            await self._resume(job_id)
        await self.outbox.flush()
        self._positions_task = loop.create_task(self._publish_positions())
        if self.config.keep_files_s > 0:
            self._sweep_task = loop.create_task(self._sweep_regularly())

    async def stop(self) -> None:
        for task in (self._positions_task, self._sweep_task):
            if task is not None:
                task.cancel()
                await asyncio.gather(task, return_exceptions=True)
        if self.remote is not None:
            await self.remote.stop()
        await self.runner.shutdown()
        await self.outbox.aclose()
        await self.events.close()

    def register_deliverer(
        self, platform: str, deliverer: Deliverer, *, max_video_bytes: int | None = None
    ) -> None:
        """A front end's way to receive finished jobs; videos are made to fit ``max_video_bytes``."""
        self.outbox.register(platform, deliverer, max_video_bytes=max_video_bytes)

    def subscribe(self, handler: Handler) -> Subscription:
        return self.events.subscribe(handler)

    # --- the API ---

    async def submit(self, request: SubmitRequest) -> JobView:
        """Admit a job: the cheap checks first (input, rate, ban, quota), then the picture is fetched and
        stored at the size the job needs, then the job and its reservation are stored in one transaction.
        Whatever fails on the way, nothing is left behind: no row, no charge, no file."""
        kind, prompt, options = validate(request, self.config.input_limits, self.router.model_names())
        user = replace(request.user, name=clean_text(request.user.name).strip())
        admin = self.access.is_admin(user)
        if not admin and (wait := self.rate.hit(user.key)) is not None:
            per_minute = self.rate.per_minute
            raise QuotaExceeded(
                "rate", f"You are sending requests too fast (at most {per_minute} a minute).",
                retry_after=wait, hint=f"Try again in {_seconds(wait)}.", allowed=per_minute,
            )
        waiting = self.scheduler.queued() if self.remote is None else \
            (await self.repo.counts_by_state()).get("queued", 0)
        if waiting >= self.config.max_queue:
            raise QueueFull(self.config.max_queue)
        steps = self.router.plan(kind, options)
        if not steps:
            raise NoBackend(
                f"Nothing here can run a {kind} job right now ({self.router.why_empty(kind, options)}).",
                hint="An admin can run `reelbot doctor` to see what is missing.",
            )
        costs = sorted(
            {round(max(s.estimate.cost_usd for s in steps[:n]) * 1e6) for n in range(1, len(steps) + 1)},
            reverse=True,
        )
        now = utcnow()
        limits = self.config.limits
        refusal = await self.repo.precheck(platform=user.platform, external_id=user.user_id, is_admin=admin,
                                           cheapest_micros=costs[-1], limits=limits, now=now)
        if refusal is not None:
            raise self._refused(refusal, now, costs[-1])
        job_id = new_job_id()
        seed = options.seed if options.seed is not None else secrets.randbelow(MAX_SEED + 1)
        image_path = None
        try:
            if request.image is not None:
                data = request.image if isinstance(request.image, bytes) else await request.image()
                image_path = await asyncio.to_thread(self._store_image, job_id, data, options)
            origin = request.origin
            result = await self.repo.admit(
                platform=user.platform,
                external_id=user.user_id,
                name=user.name,
                is_admin=admin,
                job=NewJob(
                    id=job_id, kind=kind.value, prompt=prompt, options=options.to_dict(), seed=seed,
                    image_path=str(image_path) if image_path else None,
                    origin_platform=origin.platform,
                    origin={"chat_id": origin.chat_id, "data": origin.data},
                    scope=origin.scope or None,
                ),
                costs_micros=costs,
                limits=limits,
                now=now,
            )
            if isinstance(result, Refusal):
                raise self._refused(result, now, costs[-1])
        except BaseException:
            if image_path is not None:
                image_path.unlink(missing_ok=True)
            raise
        spec = JobSpec(job_id, kind, prompt, options, image_path, seed)
        if self.remote is not None:
            # Admins first; among users, whoever has fewer jobs open goes before (procrastinate takes the
            # highest priority first, and in order of arrival within one).
            fair = result.priority * 1000 - await self.repo.open_jobs_of(result.user_id)
            try:
                place: tuple[int, float] | None = await self.remote.dispatch(job_id, steps, fair)
            except Exception:  # admitted and stored: the watchdog queues it within a minute
                log.exception("could not queue job %s now; it will be queued again shortly", job_id)
                place = None
        else:
            self._start(spec, user.key, request.origin.platform, result, steps)
            place = self.scheduler.position(job_id)
        if place is not None:
            self.events.publish(Queued(job_id, request.origin.platform, place[0], place[1]))
        return JobView(
            id=job_id, user=user, kind=kind, prompt=prompt, options=options, state=JobState.QUEUED,
            origin=request.origin, seed=seed, created_at=now, reserved_usd=result.reserved_micros / 1e6,
            position=place[0] if place else None, eta_s=place[1] if place else None,
        )

    async def get(self, job_id: str) -> JobView:
        found = await self.repo.job(job_id)
        if found is None:
            raise NotFound(job_id)
        return self._view(*found)

    async def job_for(self, by: UserRef, job_id: str) -> JobView:
        """/job: a job as its owner (or an admin) may see it."""
        view = await self.get(job_id)
        self.access.check_owner_or_admin(by, view.user.key, "look up")
        return view

    async def again(self, by: UserRef, job_id: str, *, same_seed: bool) -> Again:
        """Retry and Same seed: the earlier job's request, for its owner to submit again (with the kept
        picture). Buttons can be forged, so who pressed is checked here, whichever chat it came from."""
        old = await self.get(job_id)
        self.access.check_owner(by, old.user.key, "retry" if not same_seed else "repeat")
        image = None
        if old.kind is JobKind.IMAGE_TO_VIDEO:
            image = await asyncio.to_thread(_kept_picture, old.image_path, job_id)
        options = Options.from_dict({**old.options.to_dict(), "seed": old.seed if same_seed else None})
        return Again(old.prompt, options, image)

    async def cancel(self, by: UserRef, job_id: str | None = None) -> JobView:
        """Cancel a queued or running job: the user's own (their latest, if no id), or anyone's for admins."""
        if job_id is None:
            job_id = await self.repo.latest_open_job(by.platform, by.user_id)
            if job_id is None:
                raise NotFound(None, "You have no video waiting or in progress to cancel.")
        view = await self.get(job_id)
        self.access.check_owner_or_admin(by, view.user.key, "cancel")
        if view.state.terminal:
            raise AlreadyFinished(job_id, view.state.value)
        if await self.runner.cancel(job_id):
            return await self.get(job_id)
        if self.remote is not None and await self.remote.cancel(job_id) == "aborting":
            return await self._until_ended(job_id, timeout_s=30.0)  # its worker stops it, refunds, tells
        closed = await self.repo.finish(job_id, state="cancelled", now=utcnow(), error_code="cancelled",
                                        error_message="Cancelled.")
        if closed is not None:
            self.events.publish(Ended(job_id, view.origin.platform, JobState.CANCELLED, "cancelled", "Cancelled."))
            self.outbox.notify(closed, job_id, view.origin.platform)
        return await self.get(job_id)

    async def _until_ended(self, job_id: str, timeout_s: float | None = None,
                           check_every_s: float = 5.0) -> JobView:
        """Wait for a job a worker runs to end: its Ended event (NOTIFY) wakes this; the database is asked
        every ``check_every_s`` in case. Returns the job as it is then (also when ``timeout_s`` ran out)."""
        ended = asyncio.Event()

        async def on_event(event: Event) -> None:
            if isinstance(event, Ended) and event.job_id == job_id:
                ended.set()

        subscription = self.events.subscribe(on_event)
        deadline = None if timeout_s is None else time.monotonic() + timeout_s
        try:
            while (view := await self.get(job_id)).state in (JobState.QUEUED, JobState.RUNNING):
                left = check_every_s if deadline is None else min(check_every_s, deadline - time.monotonic())
                if left <= 0:
                    break
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(ended.wait(), left)
            return view
        finally:
            await subscription.close()

    async def run_here(self, job_id: str) -> asyncio.Task[None] | None:
        """A worker's part in distributed mode: drive a queued job through this process's runner (its GPU
        lane, then the cloud); the task ends when the job has. None if the job already ended."""
        found = await self.repo.job(job_id)
        if found is None or found[0].state in ("succeeded", "failed", "cancelled"):
            return None
        await self._resume(job_id)
        active = self.runner.active.get(job_id)
        return active.task if active is not None else None

    async def run_on_cloud(self, by: UserRef, job_id: str) -> bool:
        """Move a job waiting for a GPU to the cloud now (within what was reserved for it)."""
        view = await self.get(job_id)
        self.access.check_owner_or_admin(by, view.user.key, "move")
        return await self.runner.to_cloud(job_id)

    def cloud_offer(self, job_id: str) -> CloudOffer | None:
        """The cloud backend a waiting job would move to with :meth:`run_on_cloud`, if any could take it now.

        Front ends show it as a choice ("Run on cloud now: replicate ≈ $0.08") while a job waits for a GPU.
        """
        step = self.runner.cloud_step(job_id)
        if step is None:
            return None
        return CloudOffer(step.name, step.estimate.cost_usd, step.estimate.seconds)

    def preview(self, kind: JobKind, options: Options | None = None) -> ChainPreview:
        """For a job about to be queued: "local: #3 in queue, ≈ 2 min, free; cloud now: runway ≈ $0.25".

        Front ends show it so users can choose; the user's own quota is checked only when they submit.
        """
        steps = self.router.plan(kind, options or Options())
        local = next((s for s in steps if s.backend.local and self.scheduler.can_serve(s.model)), None)
        place = self.scheduler.place_for(local.model) if local else None
        cloud = next((s for s in steps if not s.backend.local and self.router.cooling_s(s.name) == 0), None)
        return ChainPreview(
            local_position=place[0] if place else None,
            local_wait_s=place[1] if place else None,
            local_seconds=local.estimate.seconds if local else None,
            local_cost_usd=(local.estimate.seconds * self.config.local_usd_per_gpu_second) if local else 0.0,
            cloud=CloudOffer(cloud.name, cloud.estimate.cost_usd, cloud.estimate.seconds) if cloud else None,
        )

    async def wait(self, job_id: str) -> JobView:
        """Wait until the job has ended and its delivery was attempted (the CLI's way to block)."""
        job = self.runner.active.get(job_id)
        if job is not None and job.task is not None:
            await asyncio.wait({job.task})
        elif self.remote is not None:  # a worker runs it: its end arrives as an event (NOTIFY)
            await self._until_ended(job_id)
            await self.outbox.flush()
        await self.outbox.idle()
        return await self.get(job_id)

    async def usage(self, user: UserRef) -> UsageReport:
        usage = await self.repo.usage(user.platform, user.user_id, self.config.limits, utcnow())
        admin = self.access.is_admin(user)
        lim = usage.limits
        return UsageReport(
            jobs_today=usage.jobs_today, open_jobs=usage.open_jobs, month_usd=usage.month_micros / 1e6,
            max_jobs_per_day=None if admin else lim.max_jobs_per_day,
            max_open_jobs=None if admin else lim.max_queued,
            max_usd_per_month=None if admin else lim.max_usd_per_month, is_admin=admin,
        )

    async def status(self, by: UserRef) -> StatusReport | ScopeStatus:
        """/status: everything for admins; for a server's or group's managers only that place's own jobs
        (no money, no names, no other place); nothing for anyone else."""
        if self.access.is_admin(by):
            return await self.report()
        if by.manages:
            counts = await self.repo.scope_counts(by.manages, day_start(utcnow()))
            return ScopeStatus(by.manages, counts.queued, counts.running, counts.succeeded_today,
                               counts.failed_today)
        raise NotAllowed("Only the bot's admins can see the status.", reason="admins_only",
                         hint="Everyone can see their own usage.")

    async def report(self) -> StatusReport:
        """Everything /status shows an admin; for the operator's own tools (the CLI, metrics)."""
        now = utcnow()
        today = await self.repo.spend_by_backend(day_start(now))
        month = await self.repo.spend_by_backend(month_start(now))
        committed = await self.repo.committed_micros(month_key(now))
        top = await self.repo.top_users(month_start(now))
        states = await self.repo.counts_by_state()
        mono = time.monotonic()
        queues = self.scheduler.queue_lengths()
        lanes = tuple(
            LaneStatus(
                name=lane.name, label=lane.label, device=lane.device, current_job=lane.current_job,
                busy_s=mono - lane.busy_since if lane.busy_since else 0.0, queued=queues.get(lane.name, 0),
                warm_models=tuple(sorted(lane.warm_models)), jobs_done=lane.jobs_done, broken=lane.broken,
                stats=self.gpu_stats(lane),
            )
            for lane in self.scheduler.lanes
        )
        spend = []
        for name, (month_cost, _) in sorted(month.items()):
            today_cost, today_gpu = today.get(name, (0, 0.0))
            spend.append(SpendLine(name, today_cost / 1e6, month_cost / 1e6, today_gpu))
        budget = self.config.limits.global_budget_micros
        beats = await self.repo.workers()
        workers = tuple(
            WorkerStatus(w["name"], w["host"], w["gpu"], tuple(w["models"]), tuple(w["warm"]), w["current_job"],
                         w["jobs_done"], (now - w["last_heartbeat"]).total_seconds())
            for w in beats
        )
        return StatusReport(
            generated_at=now, lanes=lanes, backends=tuple(self.router.health()),
            queued=states.get("queued", 0), running=states.get("running", 0), jobs_by_state=states,
            spend=tuple(spend), budget_usd=None if budget is None else budget / 1e6, committed_usd=committed / 1e6,
            top_users=tuple(TopUser(p, u, n, j, c / 1e6) for p, u, n, j, c in top), workers=workers,
            can_spend=tuple(self.router.spenders()), spending_off=tuple(self.router.switched_off.items()),
        )

    async def sweep_files(self, now: datetime | None = None) -> int:
        """Delete the files of jobs that ended more than ``keep_files_s`` ago and were delivered; returns how
        many jobs lost their files. The rows, attempts and ledger stay."""
        now = now or utcnow()
        orphans = await asyncio.to_thread(orphan_uploads, self.config.uploads_dir, now)
        unknown = await self.repo.unknown_job_ids(list(orphans))
        for job_id in unknown:  # a picture whose job was never stored (a crash mid-submit): nobody's
            await asyncio.to_thread(orphans[job_id].unlink, True)
        if self.config.keep_files_s <= 0:
            return 0
        cutoff = now - timedelta(seconds=self.config.keep_files_s)
        swept = 0
        while rows := await self.repo.files_to_forget(cutoff):
            for job_id, result, image in rows:
                await asyncio.to_thread(delete_job_files, job_id, result, image,
                                        results_dir=self.config.results_dir, uploads_dir=self.config.uploads_dir)
            await self.repo.forget_files([job_id for job_id, _, _ in rows])
            swept += len(rows)
        if swept:
            log.info("deleted the files of %d jobs that ended over %.0f days ago", swept,
                     self.config.keep_files_s / 86400)
        return swept

    async def _sweep_regularly(self) -> None:
        while True:
            try:
                await self.sweep_files()
            except Exception:  # a full disk is worse than a skipped sweep: try again next time
                log.exception("could not delete old files")
            await asyncio.sleep(self.config.sweep_interval_s)

    # --- inside ---

    def _start(
        self, spec: JobSpec, user_key: str, platform: str, admitted: Admitted, steps: list
    ) -> None:
        self.runner.start(
            ActiveJob(
                spec=spec, user_key=user_key, platform=platform, priority=admitted.priority,
                max_running=admitted.max_running, reserved_micros=admitted.reserved_micros, steps=steps,
            )
        )

    async def _resume(self, job_id: str) -> None:
        found = await self.repo.job(job_id)
        if found is None:
            return
        job, user, _ = found
        view = self._view(job, user, [])
        steps = self.router.plan(view.kind, view.options)
        admitted = Admitted(
            job.id, user.id or 0, job.max_cost_micros, job.priority,
            None if job.priority > 0
            else (self.config.limits.max_running if user.max_running is None else user.max_running),
        )
        spec = JobSpec(job.id, view.kind, job.prompt, view.options,
                       Path(job.image_path) if job.image_path else None, job.seed)
        self._start(spec, view.user.key, job.origin_platform, admitted, steps)

    def _store_image(self, job_id: str, data: bytes, options: Options) -> Path:
        """Decode the upload once and keep it cropped to the job's frame, no larger than the largest frame
        a job may have: a 40-megapixel photo becomes a picture of a megapixel or so, not a 100 MB PNG."""
        limits = self.config.input_limits
        image = load_image(data, max_bytes=limits.max_image_bytes, max_pixels=limits.max_image_pixels)
        if options.width and options.height:
            width, height = options.width, options.height
        else:  # 16:9, or 9:16 for --portrait, as large as MAX_VIDEO_PIXELS allows
            unit = max(1, int((limits.max_video_pixels / (16 * 9)) ** 0.5))
            width, height = (9 * unit, 16 * unit) if options.portrait else (16 * unit, 9 * unit)
        path = self.config.uploads_dir / f"{job_id}.png"
        path.parent.mkdir(parents=True, exist_ok=True)
        frame_upload(image, width, height).save(path, format="PNG")
        return path

    def _refused(self, refusal: Refusal, now: datetime, cheapest_micros: int) -> ReelbotError:
        until_tomorrow = (day_start(now) + timedelta(days=1) - now).total_seconds()
        next_month = (month_start(now) + timedelta(days=32)).replace(day=1)
        until_next_month = (next_month - now).total_seconds()
        if refusal.limit == "banned":
            return NotAllowed("You are not allowed to make videos with this bot.", reason="banned")
        if refusal.limit == "max_queued":
            return QuotaExceeded(
                "max_queued",
                f"You already have {refusal.used:.0f} videos waiting or in progress; the limit is "
                f"{refusal.allowed:.0f} at a time.",
                hint="Wait for one to finish, or cancel one.", used=refusal.used, allowed=refusal.allowed,
            )
        if refusal.limit == "max_jobs_per_day":
            return QuotaExceeded(
                "max_jobs_per_day",
                f"You have made {refusal.used:.0f} videos today; the limit is {refusal.allowed:.0f} a day.",
                retry_after=until_tomorrow,
                hint=f"You can make more in {_duration(until_tomorrow)}.", used=refusal.used, allowed=refusal.allowed,
            )
        if refusal.limit == "max_usd_per_month":
            return QuotaExceeded(
                "max_usd_per_month",
                f"This video needs ≈ ${cheapest_micros / 1e6:.2f} and you have "
                f"${max(0.0, refusal.allowed - refusal.used):.2f} of your ${refusal.allowed:.2f} monthly "
                "allowance left.",
                retry_after=until_next_month,
                hint=f"Your allowance renews in {_duration(until_next_month)}.",
                used=refusal.used, allowed=refusal.allowed, needed_usd=cheapest_micros / 1e6,
            )
        return BudgetExhausted(
            f"This bot's budget for the month (${refusal.allowed:.2f}) is used up.",
            retry_after=until_next_month, budget_usd=refusal.allowed,
        )

    def _view(self, job: Job, user: User, attempts: list[Attempt]) -> JobView:
        active = self.runner.active.get(job.id)
        place = self.scheduler.position(job.id)
        origin = job.origin or {}
        return JobView(
            id=job.id,
            user=UserRef(user.platform, user.external_id, user.name),
            kind=JobKind(job.kind),
            prompt=job.prompt,
            options=Options.from_dict(job.options or {}),
            state=JobState(job.state),
            origin=Origin(job.origin_platform, origin.get("chat_id", ""), origin.get("data", {})),
            seed=job.seed,
            created_at=job.created_at,
            started_at=job.started_at,
            finished_at=job.finished_at,
            backend=job.backend,
            model=job.model,
            reserved_usd=job.max_cost_micros / 1e6,
            charged_usd=job.charged_micros / 1e6,
            result_path=Path(job.result_path) if job.result_path else None,
            error_code=job.error_code,
            error_message=job.error_message,
            image_path=Path(job.image_path) if job.image_path else None,
            position=place[0] if place else None,
            eta_s=place[1] if place else None,
            progress=active.progress if active else None,
            attempts=tuple(
                AttemptView(
                    backend=a.backend, model=a.model, started_at=a.started_at, ended_at=a.ended_at,
                    outcome=Outcome(a.outcome), error_code=a.error_code, error_message=a.error_message,
                    gpu_seconds=a.gpu_seconds, cost_usd=a.cost_micros / 1e6, notes=tuple(a.notes or ()),
                )
                for a in attempts
            ),
        )

    async def _publish_positions(self) -> None:
        """Tell waiting jobs when their place in the queue changes (at most once per interval)."""
        last: dict[str, int] = {}
        seen_version = -1
        while True:
            await asyncio.sleep(self.config.position_interval_s)
            if self.scheduler.version == seen_version:
                continue
            seen_version = self.scheduler.version
            try:
                places = self.scheduler.positions()
                for job_id, (place, eta) in places.items():
                    if last.get(job_id) != place:
                        active = self.runner.active.get(job_id)
                        if active is not None:
                            self.events.publish(Queued(job_id, active.platform, place, eta))
                last = {job_id: place for job_id, (place, _) in places.items()}
            except Exception:  # keep telling positions; a bug here must not silence them for good
                log.exception("could not publish queue positions")


def _kept_picture(path: Path | None, job_id: str) -> bytes:
    try:
        if path is not None:
            return path.read_bytes()
    except OSError:
        pass
    raise InvalidImage(f"The picture of job {job_id} is no longer kept.", hint="Send it to me again.")


def _seconds(seconds: float) -> str:
    return f"{max(1, round(seconds))} s" if seconds < 90 else _duration(seconds)


def _duration(seconds: float) -> str:
    minutes = max(1, round(seconds / 60))
    if minutes < 60:
        return f"{minutes} min"
    hours, minutes = divmod(minutes, 60)
    if hours < 48:
        return f"{hours} h {minutes} min"
    return f"{round(hours / 24)} days"

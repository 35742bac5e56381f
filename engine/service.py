"""The engine's one API for front ends: submit, cancel, get, status, usage, events, and the admins' pages
(every job, every user, bans and per-user limits).

Admission happens here: the request is validated, its cost is estimated over the backends that could run
it, and the job is stored together with the reservation of that cost in one transaction (storage refuses
it if a quota would be broken). From then on the dispatcher owns the job (``engine.dispatch``: this
process's GPU lanes, or the queue of distributed mode); reports live in ``engine.status``, file sweeping in
``engine.retention``, rows become views in ``engine.views``.
"""

from __future__ import annotations

import asyncio
import contextlib
import secrets
from collections.abc import Callable, Mapping
from dataclasses import replace
from datetime import datetime
from pathlib import Path

from engine import blocklist
from engine.blocklist import BlockedWords
from engine.captions import for_caption
from engine.chosen import ChosenLanguages
from engine.clock import utcnow
from engine.config import EngineConfig
from engine.controls import ASPECTS, LANDSCAPE, wanted_aspect
from engine.defaults import UserDefaults, UserSettings
from engine.dispatch import Dispatcher
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
from engine.events import Ended, EventBus, Handler, Queued, Subscription
from engine.extend import extendable, extension
from engine.images import frame_upload, load_image
from engine.lanes import GpuLane
from engine.linking import LinkCode, Linked, Linking
from engine.outbox import Deliverer, Outbox
from engine.previews import PreviewPlaces
from engine.ratelimit import RateLimiter
from engine.retention import delete_job_files, sweep_files, sweep_regularly
from engine.router import Router, Step
from engine.runner import JobRunner
from engine.scheduler import Scheduler
from engine.status import (
    GpuStats,
    ScopeStatus,
    StatusReport,
    UsageReport,
    UserLimits,
    UserSummary,
    admin_report,
    scope_report,
    usage_report,
    user_summary,
)
from engine.types import (
    Again,
    ChainPreview,
    CloudOffer,
    JobKind,
    JobSpec,
    JobState,
    JobView,
    ModelChoice,
    Options,
    Origin,
    Page,
    SubmitRequest,
    UserRef,
)
from engine.validation import (
    MAX_SEED,
    check_backend,
    check_page,
    check_platform,
    check_search,
    check_state,
    check_user_limit,
    clean_text,
    parse_user_key,
    validate,
)
from engine.views import job_view
from engine.words import N_, Seconds, Text
from storage.repo import NewJob, Refusal, Repository

_ID_ALPHABET = "abcdefghjkmnpqrstuvwxyz23456789"


def new_job_id() -> str:
    """8 characters without look-alikes (no 0/o, 1/l/i), easy to type into /job."""
    return "".join(_ID_ALPHABET[byte % len(_ID_ALPHABET)] for byte in secrets.token_bytes(8))


class Service:
    """Admission and the API; the ``dispatcher`` (chosen at start-up) runs what is admitted. The ``runner``
    drives the jobs this process runs itself, the ``outbox`` delivers every finished one."""

    def __init__(
        self,
        *,
        repo: Repository,
        router: Router,
        scheduler: Scheduler,
        events: EventBus,
        config: EngineConfig,
        outbox: Outbox,
        runner: JobRunner,
        dispatcher: Dispatcher,
        gpu_stats: Callable[[GpuLane], GpuStats | None] = lambda lane: None,
    ) -> None:
        self.repo = repo
        self.router = router
        self.scheduler = scheduler
        self.events = events
        self.config = config
        self.outbox = outbox
        self.runner = runner
        self.dispatcher = dispatcher
        self.gpu_stats = gpu_stats
        self.access = config.access
        self.rate = RateLimiter(config.rate_limit_per_minute)
        self._sweep_task: asyncio.Task[None] | None = None
        self.languages = ChosenLanguages(repo)
        self.defaults = UserDefaults(repo, config.input_limits, router.model_names)
        self.previews = PreviewPlaces(repo)
        self.linking = Linking(repo, self.languages)

    # --- life cycle ---

    async def start(self) -> None:
        """Recover what a previous run left, then start sending positions. Register deliverers first."""
        self.config.results_dir.mkdir(parents=True, exist_ok=True)
        self.config.uploads_dir.mkdir(parents=True, exist_ok=True)
        await self.dispatcher.start()
        await self.outbox.flush()
        # Always: old videos go after KEEP_FILES_DAYS (if set), and pictures no job points to in any case.
        self._sweep_task = asyncio.get_running_loop().create_task(
            sweep_regularly(self.sweep_files, self.config.sweep_interval_s))

    async def stop(self) -> None:
        if self._sweep_task is not None:
            self._sweep_task.cancel()
            await asyncio.gather(self._sweep_task, return_exceptions=True)
        await self.dispatcher.stop()
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
        request = await self.defaults.apply(request)  # the user's /settings, where the job's flags are silent
        kind, prompt, options = validate(request, self.config.input_limits, self.router.model_names())
        if (word := await self._blocked_word(prompt, options.negative_prompt)) is not None:
            raise blocklist.refuse(word)
        user = replace(request.user, name=clean_text(request.user.name).strip())
        admin = self.access.is_admin(user)
        if not admin and (wait := self.rate.hit(user.key)) is not None:
            per_minute = self.rate.per_minute
            raise QuotaExceeded(
                "rate", N_("You are sending requests too fast (at most {per_minute} a minute).",
                           per_minute=per_minute),
                retry_after=wait, hint=N_("Try again in {wait}.", wait=Seconds(max(1.0, wait))), allowed=per_minute,
            )
        if await self.dispatcher.waiting() >= self.config.max_queue:
            raise QueueFull(self.config.max_queue)
        options = await self._engine_options(user, options, request)
        options = await self._for_caption(kind, prompt, options, user, admin)
        steps = self.router.plan(kind, options)
        if not steps:
            raise NoBackend(
                N_("Nothing here can make this video right now ({why}).", why=self.router.why_empty(kind, options)),
                hint=N_("An admin can run `reelbot doctor` to see what is missing."),
            )
        costs = sorted(
            {round(max(s.estimate.cost_usd for s in steps[:n]) * 1e6) for n in range(1, len(steps) + 1)},
            reverse=True,
        )
        now = utcnow()
        limits = self.config.limits
        if request.image is not None:  # a download and a decode are coming: first the cheap look at the quotas
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
                    origin={"chat_id": origin.chat_id, "data": origin.data, "language": origin.language,
                            "place_language": origin.place_language,
                            **({"delivery": origin.delivery} if origin.delivery else {})},
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
                with contextlib.suppress(OSError):  # open elsewhere (Windows): the orphan sweep takes it later
                    image_path.unlink(missing_ok=True)
            raise
        spec = JobSpec(job_id, kind, prompt, options, image_path, seed)
        place = await self.dispatcher.dispatch(spec, result, steps, user_key=result.account_key or user.key,
                                               platform=request.origin.platform)
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
        return job_view(*found, place=self.dispatcher.position(job_id), progress=self.dispatcher.progress(job_id))

    async def job_for(self, by: UserRef, job_id: str) -> JobView:
        """/job: a job as its owner (or an admin) may see it."""
        view = await self.get(job_id)
        self.access.check_owner_or_admin(by, await self._owner_key(by, view), "look up")
        return view

    async def again(self, by: UserRef, job_id: str, *, same_seed: bool) -> Again:
        """Retry and Same seed: the earlier job's request, for its owner to submit again (with the kept
        picture). Buttons can be forged, so who pressed is checked here, whichever chat it came from."""
        old = await self.get(job_id)
        self.access.check_owner(by, await self._owner_key(by, old), "retry" if not same_seed else "repeat")
        image = None
        if old.kind is JobKind.IMAGE_TO_VIDEO:
            image = await asyncio.to_thread(_kept_picture, old.image_path, job_id)
        options = Options.from_dict({**old.options.to_dict(), "seed": old.seed if same_seed else None})
        return Again(old.prompt, options, image)

    async def extend(self, by: UserRef, job_id: str) -> Again:
        """Extend: the request that makes the owner's finished video longer (its last frame, prompt, seed
        and settings, naming the job it continues), for them to submit as a new job; priced and admitted
        like any. Buttons can be forged, so who pressed is checked here (the owner alone, as for Retry)."""
        old = await self.get(job_id)
        self.access.check_owner(by, await self._owner_key(by, old), "extend")
        return await asyncio.to_thread(extension, old)

    async def cancel(self, by: UserRef, job_id: str | None = None) -> JobView:
        """Cancel a queued or running job: the user's own (their latest, if no id), or anyone's for admins."""
        if job_id is None:
            job_id = await self.repo.latest_open_job(by.platform, by.user_id)
            if job_id is None:
                raise NotFound(None, N_("You have no video waiting or in progress to cancel."))
        view = await self.get(job_id)
        self.access.check_owner_or_admin(by, await self._owner_key(by, view), "cancel")
        if view.state.terminal:
            raise AlreadyFinished(job_id, view.state.value)
        if await self.dispatcher.cancel(job_id):  # whoever ran it closed it: cancelled, refunded, told
            return await self.get(job_id)
        said = N_("Cancelled.")
        closed = await self.repo.finish(job_id, state="cancelled", now=utcnow(), error_code="cancelled",
                                        error_message=str(said), error_text=said.to_json())
        if closed is not None:
            self.events.publish(Ended(job_id, view.origin.platform, JobState.CANCELLED, "cancelled", said))
            self.outbox.notify(closed, job_id, view.origin.platform)
        return await self.get(job_id)

    async def run_on_cloud(self, by: UserRef, job_id: str) -> bool:
        """Move a job waiting for a GPU to the cloud now (within what was reserved for it)."""
        view = await self.get(job_id)
        self.access.check_owner_or_admin(by, await self._owner_key(by, view), "move")
        return await self.dispatcher.to_cloud(job_id)

    def cloud_offer(self, job_id: str) -> CloudOffer | None:
        """The cloud backend a waiting job would move to with :meth:`run_on_cloud`, if any could take it now.

        Front ends show it as a choice ("Run on cloud now: replicate ≈ $0.08") while a job waits for a GPU.
        """
        step = self.dispatcher.cloud_step(job_id)
        if step is None:
            return None
        return CloudOffer(step.name, step.estimate.cost_usd, step.estimate.seconds)

    def preview(self, kind: JobKind, options: Options | None = None) -> ChainPreview:
        """For a job about to be queued: "local: #3 in queue, ≈ 2 min, free; cloud now: runway ≈ $0.25".

        Front ends show it so users can choose; the user's own quota is checked only when they submit.
        """
        steps = self.router.plan(kind, options or Options())
        local = place = None
        for step in steps:  # the first local step a GPU here serves
            if step.backend.local and (place := self.dispatcher.place_for(step.model)) is not None:
                local = step
                break
        cloud = next((s for s in steps if not s.backend.local and self.router.cooling_s(s.name) == 0), None)
        return ChainPreview(
            local_position=place[0] if place else None,
            local_wait_s=place[1] if place else None,
            local_seconds=local.estimate.seconds if local else None,
            local_cost_usd=(local.estimate.seconds * self.config.local_usd_per_gpu_second) if local else 0.0,
            cloud=CloudOffer(cloud.name, cloud.estimate.cost_usd, cloud.estimate.seconds) if cloud else None,
        )

    def model_choices(self, kind: JobKind) -> list[tuple[str, ChainPreview]]:
        """Every model a user may pick for this kind of job that something here can run now, with what
        picking it means (the same preview as :meth:`preview`), for a front end's model picker."""
        choices = []
        for name in sorted(self.router.model_names()):
            options = Options(model=name)
            if self.router.plan(kind, options):
                choices.append((name, self.preview(kind, options)))
        return choices

    def models_now(self) -> list[ModelChoice]:
        """``/models``: every model a user may pick that something here can run now (a local model whose
        backend is available, a configured cloud one), what it makes, its typical time and its price per video
        where it would run first (a GPU here before the cloud), from :meth:`model_choices` for each kind."""
        found: dict[str, ModelChoice] = {}
        for kind in JobKind:
            for name, preview in self.model_choices(kind):
                if name in found:
                    found[name] = replace(found[name], kinds=(*found[name].kinds, kind))
                    continue
                local = preview.local_position is not None
                cloud = preview.cloud
                found[name] = ModelChoice(
                    name=name, kinds=(kind,), local=local,
                    backend=self._local_backend(kind, name) if local else cloud.backend if cloud else None,
                    seconds=preview.local_seconds if local else cloud.seconds if cloud else None,
                    cost_usd=preview.local_cost_usd if local else cloud.cost_usd if cloud else 0.0,
                )
        return [found[name] for name in sorted(found)]

    def _local_backend(self, kind: JobKind, model: str) -> str:
        """The name of the local backend that would run ``model`` ("local")."""
        steps = self.router.plan(kind, Options(model=model))
        return next((s.name for s in steps if s.backend.local), "local")
    def can_run(self, step: Step) -> bool:
        """Whether a step could start here now: a GPU here serves its model, or the cloud is not cooling."""
        if self.router.cooling_s(step.name) > 0:
            return False
        return not step.backend.local or self.dispatcher.place_for(step.model) is not None

    async def _for_caption(self, kind: JobKind, prompt: str, options: Options, user: UserRef, admin: bool
                           ) -> Options:
        """A picture with words goes to a model that reads them when one can run within the user's quota
        (engine/captions.py)."""
        async def affordable(usd: float) -> bool:
            refusal = await self.repo.precheck(platform=user.platform, external_id=user.user_id, is_admin=admin,
                                               cheapest_micros=round(usd * 1e6), limits=self.config.limits,
                                               now=utcnow())
            return refusal is None

        return await for_caption(self.router, kind, prompt, options, self.can_run, affordable)

    def is_admin(self, user: UserRef) -> bool:
        """Whether ``user`` is one of the bot's admins (from the settings, asked afresh every time)."""
        return self.access.is_admin(user)

    async def wait(self, job_id: str) -> JobView:
        """Wait until the job has ended and its delivery was attempted (the CLI's way to block)."""
        await self.dispatcher.wait(job_id)
        await self.outbox.idle()
        return await self.get(job_id)

    async def language_of(self, user: UserRef) -> str | None:
        """The language the user chose with /settings language; None: they did not (their app's applies)."""
        return await self.languages.of(user)

    async def set_language(self, user: UserRef, language: str | None) -> None:
        """Keep the user's choice of language (None: back to their app's); the front end checks it is one
        reelbot speaks."""
        await self.languages.choose(user, language)

    async def settings_of(self, user: UserRef) -> UserSettings:
        """/settings alone: every setting the user has, its value and whether they chose it."""
        return await self.defaults.shown(user, await self.language_of(user))

    async def set_setting(self, user: UserRef, name: str, value: object) -> UserSettings:
        """Keep one of the user's defaults (``engine.defaults.NAMES``; None: back to the default), checked
        as the flag is (:class:`InvalidInput` names the value and what to do). Applies from their next job."""
        await self.defaults.set(user, name, value)
        return await self.settings_of(user)

    async def reset_settings(self, user: UserRef) -> UserSettings:
        """Every setting back to the bot's default, the language too (their app's again)."""
        await self.defaults.reset(user)
        await self.set_language(user, None)
        return await self.settings_of(user)

    async def usage(self, user: UserRef) -> UsageReport:
        return await usage_report(self.repo, user, self.config.limits, is_admin=self.access.is_admin(user))

    async def status(self, by: UserRef) -> StatusReport | ScopeStatus:
        """/status: everything for admins; for a server's or group's managers only that place's own jobs
        (no money, no names, no other place); nothing for anyone else."""
        if self.access.is_admin(by):
            return await self.report()
        if by.manages:
            return await scope_report(self.repo, by.manages, self.config.calendar)
        raise NotAllowed(N_("Only the bot's admins can see the status."), reason="admins_only",
                         hint=N_("Everyone can see their own usage."))

    async def report(self) -> StatusReport:
        """Everything /status shows an admin; for the operator's own tools (the CLI, metrics)."""
        return await admin_report(self.repo, self.router, self.scheduler, self.gpu_stats,
                                  self.config.limits.global_budget_micros, self.config.calendar)

    # --- the admins' pages (the web console), and everyone's own history ---

    async def history(self, by: UserRef, *, offset: int = 0, limit: int = 20) -> Page[JobView]:
        """The user's own jobs, newest first, whichever front end each was sent from, with those of the
        identities linked with them (/link: one person, one history)."""
        check_page(offset, limit)
        return await self._jobs_page((by.platform, by.user_id), None, None, None, offset, limit)

    async def jobs(
        self,
        by: UserRef,
        *,
        state: str | None = None,
        backend: str | None = None,
        user: str | None = None,
        origin: str | None = None,
        offset: int = 0,
        limit: int = 50,
    ) -> Page[JobView]:
        """Every job, newest first, for admins: only those in ``state`` ("queued", ...), last run by
        ``backend``, of ``user`` (a user key, "discord:123") and sent from ``origin`` (a platform), where
        given. Filters come from untrusted input: a malformed one is :class:`InvalidInput`."""
        self._admins_only(by, N_("Only the bot's admins can see every job."), "jobs")
        check_page(offset, limit)
        who = parse_user_key(user) if user is not None else None
        return await self._jobs_page(
            (who.platform, who.user_id) if who else None,
            check_state(state).value if state is not None else None,
            check_backend(backend) if backend is not None else None,
            check_platform(origin) if origin is not None else None,
            offset, limit,
        )

    async def users(
        self, by: UserRef, *, search: str | None = None, offset: int = 0, limit: int = 50
    ) -> Page[UserSummary]:
        """Every user the bot has seen, most recently active first, for admins; only those whose name or
        id contains ``search`` (in any case), where given."""
        self._admins_only(by, N_("Only the bot's admins can see the users."), "users")
        check_page(offset, limit)
        found = await self.repo.users_page(search=check_search(search), offset=offset, limit=limit, now=utcnow())
        return Page(tuple(user_summary(row, self.config.limits, self.access) for row in found.rows),
                    found.total, offset, limit)

    async def user(self, by: UserRef, user_key: str) -> UserSummary:
        """One user as :meth:`users` lists them, for admins; :class:`NotFound` if the bot never saw them."""
        self._admins_only(by, N_("Only the bot's admins can see the users."), "users")
        return await self._user_summary(parse_user_key(user_key))

    async def ban(self, by: UserRef, user_key: str) -> UserSummary:
        """Ban a user, for admins: every front end refuses their next request ("You are not allowed to make
        videos with this bot."). What they already have waiting or running is not cancelled: it finishes
        and is charged as usual (an admin may cancel it, as any job). A user the bot has not seen yet can be
        banned before they come. Admins cannot be banned (:class:`NotAllowed`, reason "admin"): they are
        the ids in the settings, which is where their powers are taken away."""
        self._admins_only(by, N_("Only the bot's admins can ban users."), "ban")
        user = parse_user_key(user_key)
        if self.access.is_admin(user):
            raise NotAllowed(N_("{user} is an admin of this bot and cannot be banned.", user=user.key),
                             reason="admin", action="ban",
                             hint=N_("Take their id out of DISCORD_ADMIN_IDS or TELEGRAM_ADMIN_IDS first."))
        await self.repo.set_user_role(user.platform, user.user_id, "banned", utcnow())
        return await self._user_summary(user)

    async def unban(self, by: UserRef, user_key: str) -> UserSummary:
        """Lift a user's ban, for admins: their next request is admitted as anyone's."""
        self._admins_only(by, N_("Only the bot's admins can ban users."), "ban")
        user = parse_user_key(user_key)
        await self.repo.set_user_role(user.platform, user.user_id, "user", utcnow())
        return await self._user_summary(user)

    async def set_limits(
        self,
        by: UserRef,
        user_key: str,
        *,
        max_jobs_per_day: int | None = None,
        max_usd_per_month: float | None = None,
        max_queued: int | None = None,
        max_running: int | None = None,
    ) -> UserSummary:
        """A user's own limits, for admins, all four at once: a number (0: none allowed) or None (the
        setting applies to them again). They apply from the user's next request; an admin's are kept but
        do not apply while they are an admin. A negative or unreadable value is :class:`InvalidInput`."""
        self._admins_only(by, N_("Only the bot's admins can change a user's limits."), "limits")
        user = parse_user_key(user_key)
        values = {"max_running": max_running, "max_queued": max_queued, "max_jobs_per_day": max_jobs_per_day,
                  "max_usd_per_month": max_usd_per_month}
        for field, value in values.items():
            check_user_limit(field, value)
        await self.repo.set_user_limits(
            user.platform, user.user_id, max_running=max_running, max_queued=max_queued,
            max_jobs_per_day=max_jobs_per_day,
            max_usd_per_month=float(max_usd_per_month) if max_usd_per_month is not None else None, now=utcnow(),
        )
        return await self._user_summary(user)

    # --- running a community: blocked words, deleting a result ---

    async def blocked_words(self, by: UserRef) -> BlockedWords:
        """The words no prompt may contain, for admins: BLOCKED_WORDS' and those added since."""
        self._admins_only(by, N_("Only the bot's admins can see or change the blocked words."), "blocklist")
        return BlockedWords(self._configured_words(), tuple(await self.repo.blocked_words()))

    async def block(self, by: UserRef, words: str) -> list[str]:
        """Add words (comma-separated, from untrusted input) to the blocklist, for admins; returns those that
        were not blocked before. From the next request on, a prompt holding one is refused."""
        self._admins_only(by, N_("Only the bot's admins can see or change the blocked words."), "blocklist")
        wanted = [word for word in blocklist.parse_words(words) if word not in self._configured_words()]
        return await self.repo.block_words(wanted, by.key, utcnow())

    async def unblock(self, by: UserRef, words: str) -> list[str]:
        """Take words off the blocklist, for admins; returns those that were on it. A word from the
        BLOCKED_WORDS setting stays (:class:`NotAllowed`): the setting is where it is taken out."""
        self._admins_only(by, N_("Only the bot's admins can see or change the blocked words."), "blocklist")
        wanted = blocklist.parse_words(words)
        if fixed := [word for word in wanted if word in self._configured_words()]:
            raise NotAllowed(N_("“{word}” is blocked by the BLOCKED_WORDS setting, not from chat.", word=fixed[0]),
                             reason="setting", action="unblock",
                             hint=N_("Take it out of BLOCKED_WORDS in the settings (.env) and restart reelbot."))
        return await self.repo.unblock_words(wanted)

    async def delete(self, by: UserRef, job_id: str) -> JobView:
        """The Delete button, for the job's owner or an admin: the video and picture leave the disk (the
        front end removes the message); the row and its books stay, marked deleted. A job still waiting or
        running is cancelled first by whoever may cancel it."""
        view = await self.get(job_id)
        self.access.check_owner_or_admin(by, await self._owner_key(by, view), "delete")
        if not view.state.terminal:
            raise NotAllowed(N_("Job {job_id} is not finished yet; cancel it first.", job_id=job_id),
                             reason="not_finished", action="delete")
        config = self.config
        await asyncio.to_thread(delete_job_files, job_id, str(view.result_path) if view.result_path else None,
                                str(view.image_path) if view.image_path else None, results_dir=config.results_dir,
                                uploads_dir=config.uploads_dir)
        await self.repo.mark_deleted(job_id, utcnow())
        return await self.get(job_id)

    async def change_limits(self, by: UserRef, user_key: str, changes: Mapping[str, int | float | None]) -> UserSummary:
        """Change some of a user's limits and keep the others (``/admin limit @user jobs=3``), for admins:
        ``changes`` maps :class:`UserLimits` fields to a number or None (the setting's again)."""
        self._admins_only(by, N_("Only the bot's admins can change a user's limits."), "limits")
        user = parse_user_key(user_key)
        try:
            kept = (await self._user_summary(user)).overrides
        except NotFound:  # not seen yet: limits may be set before they come, as a ban may
            kept = UserLimits(None, None, None, None)
        current = {f: getattr(kept, f) for f in ("max_running", "max_queued", "max_jobs_per_day", "max_usd_per_month")}
        unknown = set(changes) - set(current)
        if unknown:
            raise ValueError(f"unknown limits {sorted(unknown)}")
        return await self.set_limits(by, user_key, **{**current, **changes})  # type: ignore[arg-type]

    # --- one person, one account (engine/linking.py) ---

    async def link_code(self, by: UserRef) -> LinkCode:
        """/link: a code for ``by`` to type on another platform (10 minutes, once)."""
        return await self.linking.code(by)

    async def link(self, by: UserRef, code: str) -> Linked:
        """/link CODE: ``by``'s account and the code giver's become one (quota, history, settings)."""
        return await self.linking.redeem(by, code)

    async def forget_link_code(self, code: str) -> None:
        """A code typed in a group chat: seen by others, so it no longer works."""
        await self.linking.burn(code)

    async def unlink(self, by: UserRef) -> Linked:
        """/unlink: ``by`` leaves its account; each identity keeps the jobs it sent."""
        return await self.linking.unlink(by)

    async def sweep_files(self, now: datetime | None = None) -> int:
        """Delete the files of jobs that ended more than ``keep_files_s`` ago and were delivered; returns how
        many jobs lost their files. The rows, attempts and ledger stay."""
        config = self.config
        return await sweep_files(self.repo, results_dir=config.results_dir, uploads_dir=config.uploads_dir,
                                 keep_files_s=config.keep_files_s, now=now or utcnow())

    async def preview_wanted(self, where: Origin) -> bool:
        """Whether jobs from this place (its server or chat) show a preview picture half-way."""
        return await self.previews.wanted(where)

    async def set_preview(self, by: UserRef, where: Origin, on: bool) -> None:
        """/preview on|off in a place, for the bot's admins: from their next job on, jobs from there show
        (or stop showing) one preview picture at about half-way."""
        self._admins_only(by, N_("Only the bot's admins can switch the preview."), "preview")
        await self.previews.switch(where, on)

    # --- inside ---

    async def _engine_options(self, user: UserRef, options: Options, request: SubmitRequest) -> Options:
        """The options only the engine sets: which job an Extend continues (checked: the asker's own
        finished video, still kept) and whether the place wants a preview."""
        if options.extend_of is not None:
            parent = await self.get(options.extend_of)
            self.access.check_owner(user, await self._owner_key(user, parent), "extend")
            await asyncio.to_thread(extendable, parent)
            if request.image is None:
                raise InvalidImage(N_("An extension starts from the video's last frame, and none was given."))
        preview = await self.previews.wanted(request.origin)
        return replace(options, preview=True if preview else None)

    def _store_image(self, job_id: str, data: bytes, options: Options) -> Path:
        """Decode the upload once and keep it cropped to the job's frame, no larger than the largest frame
        a job may have: a 40-megapixel photo becomes a picture of a megapixel or so, not a 100 MB PNG."""
        limits = self.config.input_limits
        image = load_image(data, max_bytes=limits.max_image_bytes, max_pixels=limits.max_image_pixels)
        if options.width and options.height:
            width, height = options.width, options.height
        else:  # 16:9, or the asked --ar (9:16 for --portrait), as large as MAX_VIDEO_PIXELS allows
            a, b = ASPECTS[wanted_aspect(options) or LANDSCAPE]
            unit = max(1, int((limits.max_video_pixels / (a * b)) ** 0.5))
            width, height = a * unit, b * unit
        path = self.config.uploads_dir / f"{job_id}.png"
        path.parent.mkdir(parents=True, exist_ok=True)
        frame_upload(image, width, height).save(path, format="PNG")
        return path

    def _configured_words(self) -> tuple[str, ...]:
        return tuple(dict.fromkeys(w for w in map(blocklist.normalize, self.config.blocked_words) if w))

    async def _blocked_word(self, prompt: str, negative: str | None) -> str | None:
        """The first blocked word in the prompt or the negative prompt (both reach the model), or None.
        Read afresh each time: an admin's change applies to the very next request, on every front end."""
        words = [*self._configured_words(), *await self.repo.blocked_words()]
        return blocklist.first_blocked((prompt, negative), words) if words else None

    async def _owner_key(self, by: UserRef, job: JobView) -> str:
        """Whose a job is, for ``by``: theirs when it was sent by an identity linked with them (one person,
        one history); an admin is still only who the settings name (engine/access.py)."""
        owner = job.user.key
        if owner != by.key and any(f"{i.platform}:{i.external_id}" == owner
                                   for i in await self.linking.identities(by)):
            return by.key
        return owner

    def _admins_only(self, by: UserRef, said: Text, action: str) -> None:
        if not self.access.is_admin(by):
            raise NotAllowed(said, reason="admins_only", action=action)

    async def _jobs_page(
        self, user_key: tuple[str, str] | None, state: str | None, backend: str | None, origin: str | None,
        offset: int, limit: int,
    ) -> Page[JobView]:
        found = await self.repo.jobs_page(user_key=user_key, state=state, backend=backend, origin_platform=origin,
                                          offset=offset, limit=limit)
        views = []
        for job, owner, tries in found.rows:
            live = not JobState(job.state).terminal  # where it waits and how far it got: this process knows
            views.append(job_view(job, owner, tries, place=self.dispatcher.position(job.id) if live else None,
                                  progress=self.dispatcher.progress(job.id) if live else None))
        return Page(tuple(views), found.total, offset, limit)

    async def _user_summary(self, user: UserRef) -> UserSummary:
        row = await self.repo.user_row(user.platform, user.user_id, utcnow())
        if row is None:
            raise NotFound(None, N_("This bot has never seen {user}.", user=user.key),
                           hint=N_("Check the platform and the id."))
        return user_summary(row, self.config.limits, self.access)

    def _refused(self, refusal: Refusal, now: datetime, cheapest_micros: int) -> ReelbotError:
        calendar = self.config.calendar  # local midnight and the local 1st (TIMEZONE)
        until_tomorrow = (calendar.next_day(now) - now).total_seconds()
        until_next_month = (calendar.next_month(now) - now).total_seconds()
        if refusal.limit == "banned":
            return NotAllowed(N_("You are not allowed to make videos with this bot."), reason="banned")
        if refusal.limit == "max_queued":
            return QuotaExceeded(
                "max_queued",
                N_("You already have {used:.0f} videos waiting or in progress; the limit is {allowed:.0f} at a "
                   "time.", used=refusal.used, allowed=refusal.allowed),
                hint=N_("Wait for one to finish, or cancel one."), used=refusal.used, allowed=refusal.allowed,
            )
        if refusal.limit == "max_jobs_per_day":
            return QuotaExceeded(
                "max_jobs_per_day",
                N_("You have made {used:.0f} videos today; the limit is {allowed:.0f} a day.",
                   used=refusal.used, allowed=refusal.allowed),
                retry_after=until_tomorrow, hint=N_("You can make more in {wait}.", wait=Seconds(until_tomorrow)),
                used=refusal.used, allowed=refusal.allowed,
            )
        if refusal.limit == "max_usd_per_month":
            return QuotaExceeded(
                "max_usd_per_month",
                N_("This video needs ≈ ${needed:.2f} and you have ${left:.2f} of your ${allowed:.2f} monthly "
                   "allowance left.", needed=cheapest_micros / 1e6, left=max(0.0, refusal.allowed - refusal.used),
                   allowed=refusal.allowed),
                retry_after=until_next_month,
                hint=N_("Your allowance renews in {wait}.", wait=Seconds(until_next_month)),
                used=refusal.used, allowed=refusal.allowed, needed_usd=cheapest_micros / 1e6,
            )
        return BudgetExhausted(
            N_("This bot's budget for the month (${budget:.2f}) is used up.", budget=refusal.allowed),
            retry_after=until_next_month, budget_usd=refusal.allowed,
        )


def _kept_picture(path: Path | None, job_id: str) -> bytes:
    try:
        if path is not None:
            return path.read_bytes()
    except OSError:
        pass
    raise InvalidImage(N_("The picture of job {job_id} is no longer kept.", job_id=job_id),
                       hint=N_("Send it to me again."))

"""The composition root: every client is built here once, from Settings, and passed in by constructor.

``App.launch(settings, ...)`` builds and starts everything in the one start-up order (:meth:`App.start`)
that the CLI, the tests and the benchmarks share; ``App.close()`` stops it in reverse. ``App.open`` only
builds the engine. Tests pass their own ``backends`` and ``lanes`` instead of the ones the settings
describe. In embedded mode one process owns the data folder: a lock file stops a second ``reelbot`` from
running the same jobs twice.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable, Mapping
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from functools import partial

from filelock import FileLock

from bot.core.frontend import FrontEnd
from engine.access import Access
from engine.backends.base import Backend
from engine.config import EngineConfig
from engine.dispatch import Dispatcher, LocalLanes
from engine.distributed.queue import JobQueue
from engine.distributed.remote import QueueDispatcher
from engine.distributed.worker import Worker
from engine.events import EventBus
from engine.lanes import GpuLane
from engine.local.gpu_stats import NvmlStats
from engine.outbox import Deliverer, Outbox
from engine.router import Router
from engine.runner import JobRunner
from engine.scheduler import Scheduler
from engine.service import Service
from engine.translate.translator import PromptTranslator
from engine.types import WEB, WEB_OPERATOR_ID, JobKind
from engine.validation import InputLimits
from engine.views import stored_view
from engine.words import N_, Text
from reelbot.backends import build_backends, build_translator, cuda_devices, spending_off
from reelbot.datadir import acquire_lock, private_data_dir, release_lock
from reelbot.frontends import build_frontends, not_started
from reelbot.gpu_fit import startup_warnings
from reelbot.metrics import Metrics, serve_metrics
from reelbot.settings import Settings
from storage.db import Database
from storage.repo import Calendar, Limits, Repository

log = logging.getLogger(__name__)

@dataclass
class App:
    settings: Settings
    db: Database
    repo: Repository
    service: Service
    lanes: list[GpuLane]
    backends: dict[str, Backend]
    encode_pool: ThreadPoolExecutor
    lock: FileLock | None = None
    queue: JobQueue | None = None  # distributed mode
    frontends: list[FrontEnd] = field(default_factory=list)  # started by App.start, stopped by App.close
    metrics: Metrics | None = None
    translator: PromptTranslator | None = None  # None: PROMPT_TRANSLATION=off
    demo: Text | None = None  # why videos come from the simulated GPU (nothing else here could make one)
    # What App.start warns about the installed torch and this machine's NVIDIA GPU (see reelbot.gpu_fit).
    gpu_warnings: Callable[[Settings], list[Text]] = startup_warnings

    @classmethod
    async def open(
        cls,
        settings: Settings,
        *,
        backends: dict[str, Backend] | None = None,
        lanes: list[GpuLane] | None = None,
        lock: bool = True,
        worker: bool = False,
        demo: bool = False,
    ) -> App:
        """Build the engine without starting it (:meth:`launch` builds and starts). ``worker``: a `reelbot
        worker` of distributed mode (it runs jobs; it does not queue them). ``demo``: when nothing here could
        make a video (no GPU, no cloud key), use the simulated GPU, so a newcomer sees the product work
        (``reelbot run``; the console and the terminal say so)."""
        # Distributed mode: many processes share the database by design; no data-folder lock.
        private_data_dir(settings.data_dir)
        handle = acquire_lock(settings.data_dir) if lock and not settings.distributed else None
        queue: JobQueue | None = None
        try:
            db = Database(settings.database_url)
            db.migrate()
            config = engine_config(settings)
            repo = Repository(db, config.calendar)  # storage counts days and months as the engine does
            front_end_only = settings.distributed and not worker
            if front_end_only:
                lanes = []  # the GPUs are the workers'
            lanes = build_lanes(settings) if lanes is None else lanes
            missing: dict[str, Text] = {}
            said_demo: Text | None = None
            if backends is None:
                backends, missing = build_backends(settings, lanes, pool=front_end_only)
                if demo and not front_end_only and not lanes and not _can_make_videos(backends):
                    simulated = settings.model_copy(update={"local_backend": "simulated"})
                    lanes = build_lanes(simulated)
                    backends, missing = build_backends(simulated, lanes)
                    said_demo = N_("No GPU and no cloud key were found, so videos come from the simulated GPU: a "
                                   "moving test pattern, made through the real queue, quotas and encoder. For real "
                                   "videos, add a GPU or a cloud key (see .env.example), or run `reelbot doctor`.")
            if settings.distributed:
                queue = JobQueue(settings.database_url)
                await queue.open()
            router = Router(
                backends,
                {
                    JobKind.TEXT_TO_VIDEO: settings.chain_text_to_video,
                    JobKind.IMAGE_TO_VIDEO: settings.chain_image_to_video,
                },
                allowed_fails=settings.allowed_fails,
                cooldown_s=settings.cooldown_s,
                missing=missing,
                switched_off=spending_off(settings),
            )
            encode_pool = ThreadPoolExecutor(max_workers=2, thread_name_prefix="reelbot-encode")
            translator = build_translator(settings)
            # Where admitted jobs run, chosen once: the front end of distributed mode queues them for the
            # workers; everywhere else (embedded mode, a worker) they run here, on this process's lanes.
            service = build_service(settings, config, repo, router, lanes, encode_pool,
                                    queue=queue if front_end_only else None, translator=translator)
        except BaseException:
            release_lock(handle)
            if queue is not None:
                await queue.close()
            raise
        return cls(settings, db, repo, service, lanes, backends, encode_pool, handle, queue, translator=translator,
                   demo=said_demo)

    @classmethod
    async def launch(
        cls,
        settings: Settings,
        *,
        backends: dict[str, Backend] | None = None,
        lanes: list[GpuLane] | None = None,
        lock: bool = True,
        frontends: bool = False,
        deliverers: Mapping[str, Deliverer] | None = None,
        metrics: bool = False,
        say: Callable[[Text | str], None] | None = None,
        demo: bool = False,
    ) -> App:
        """Open the app and start it (:meth:`start`); whatever fails on the way, what was opened is closed."""
        app = await cls.open(settings, backends=backends, lanes=lanes, lock=lock, demo=demo)
        try:
            await app.start(frontends=frontends, deliverers=deliverers, metrics=metrics, say=say)
        except BaseException:
            await app.close()
            raise
        return app

    async def start(
        self,
        *,
        frontends: bool = False,
        deliverers: Mapping[str, Deliverer] | None = None,
        metrics: bool = False,
        say: Callable[[Text | str], None] | None = None,
    ) -> None:
        """The one start-up order. Deliverers are registered and the chat front ends prepared (tokens
        checked) before the engine starts, so results finished while reelbot was down are delivered at once;
        requests are taken only after the engine has resumed its jobs. ``frontends``: every chat front end
        whose token is set; ``metrics``: /metrics if METRICS_PORT is set; ``say``: the console's lines (a
        ``Text`` the console words in its language; default: logged in English). Once the engine runs, it
        says what :attr:`gpu_warnings` finds wrong with torch for this machine's GPU, each with its fix."""
        say = say or log.info
        for platform, deliverer in (deliverers or {}).items():
            self.service.register_deliverer(platform, deliverer)
        built = build_frontends(self.service, self.settings, demo=self.demo) if frontends else []
        for frontend in built:
            await frontend.prepare()  # on failure it has cleaned up after itself
            self.frontends.append(frontend)
            self.service.register_deliverer(frontend.platform, frontend.deliverer,
                                            max_video_bytes=frontend.max_video_bytes)
        await self.service.start()
        # A torch that cannot use the GPU (CPU-only, no kernels for the card, driver too old) is said at once,
        # with its fix; asked off the loop, as nvidia-smi may take a moment.
        for line in await asyncio.to_thread(self.gpu_warnings, self.settings):
            say(line)
        if metrics and self.settings.metrics_port:
            self.metrics = await serve_metrics(self.service, self.settings)
            url = f"http://{self.settings.metrics_host}:{self.settings.metrics_port}/metrics"
            say(N_("Metrics: {url} (bearer token required)", url=url) if self.settings.metrics_token
                else N_("Metrics: {url}", url=url))
        if self.demo is not None:
            say(self.demo)
        if frontends:
            for line in not_started(self.settings):
                say(line)
        for frontend in self.frontends:
            say(await frontend.start())

    async def close(self) -> None:
        """Stop in reverse order: the front ends (no new requests), metrics, then the engine."""
        while self.frontends:
            await self.frontends.pop().stop()
        if self.metrics is not None:
            await self.metrics.close()
            self.metrics = None
        await self.service.stop()
        for backend in self.backends.values():
            await backend.aclose()
        for lane in self.lanes:
            lane.close()
        self.encode_pool.shutdown(wait=True)
        if self.translator is not None:
            self.translator.close()
        if self.queue is not None:
            await self.queue.close()
        self.db.close()
        release_lock(self.lock)
        self.lock = None


def build_service(
    settings: Settings,
    config: EngineConfig,
    repo: Repository,
    router: Router,
    lanes: list[GpuLane],
    encode_pool: ThreadPoolExecutor,
    *,
    queue: JobQueue | None,
    translator: PromptTranslator | None = None,
) -> Service:
    """The engine: admission (the service) over a dispatcher, the PostgreSQL ``queue`` if one is given
    (the front end of distributed mode), else this process's lanes."""
    events = EventBus()
    scheduler = Scheduler(lanes, max_skips=settings.affinity_max_skips)
    outbox = Outbox(repo, partial(stored_view, repo))
    runner = JobRunner(
        repo=repo, router=router, scheduler=scheduler, events=events, outbox=outbox,
        results_dir=config.results_dir, encode_pool=encode_pool, job_timeout_s=config.job_timeout_s,
        local_max_wait_s=config.local_max_wait_s, local_usd_per_gpu_second=config.local_usd_per_gpu_second,
        translator=translator,
    )
    dispatcher: Dispatcher
    if queue is not None:
        dispatcher = QueueDispatcher(
            queue, repo=repo, router=router, events=events, outbox=outbox,
            heartbeat_s=settings.worker_heartbeat_s, stalled_s=settings.worker_stalled_s,
            max_interruptions=settings.max_interruptions,
        )
    else:
        dispatcher = LocalLanes(
            repo=repo, router=router, scheduler=scheduler, runner=runner, events=events, limits=config.limits,
            max_interruptions=config.max_interruptions, position_interval_s=config.position_interval_s,
        )
    stats = NvmlStats() if any(lane.device.startswith("cuda") for lane in lanes) else None
    return Service(repo=repo, router=router, scheduler=scheduler, events=events, config=config, outbox=outbox,
                   runner=runner, dispatcher=dispatcher, gpu_stats=stats or (lambda lane: None))


def engine_config(settings: Settings) -> EngineConfig:
    return EngineConfig(
        results_dir=settings.results_dir,
        uploads_dir=settings.uploads_dir,
        input_limits=InputLimits(
            max_prompt_chars=settings.max_prompt_chars,
            max_frames=settings.max_frames,
            max_fps=settings.max_fps,
            max_steps=settings.max_steps,
            max_video_pixels=settings.max_video_pixels,
            max_image_bytes=settings.max_image_bytes,
            max_image_pixels=settings.max_image_pixels,
        ),
        limits=Limits(
            max_running=settings.max_running_per_user or None,
            max_queued=settings.max_queued_per_user,
            max_jobs_per_day=settings.max_jobs_per_day,
            max_usd_per_month=settings.max_usd_per_month,
            global_budget_micros=round(settings.global_monthly_budget_usd * 1e6),
        ),
        max_queue=settings.max_queue,
        job_timeout_s=settings.job_timeout_s,
        local_max_wait_s=settings.local_max_wait_s,
        local_usd_per_gpu_second=settings.local_usd_per_gpu_second,
        max_interruptions=settings.max_interruptions,
        keep_files_s=settings.keep_files_days * 86400,
        # The web console's operator (signed in with WEB_PASSWORD or the one-time link) is an admin too.
        access=Access.from_ids({**{p: settings.admin_ids(p) for p in ("discord", "telegram")},
                                WEB: [WEB_OPERATOR_ID]}),
        rate_limit_per_minute=settings.rate_limit_per_minute,
        calendar=Calendar(settings.zone),
        blocked_words=tuple(settings.blocked_words),
    )


def _can_make_videos(backends: Mapping[str, Backend]) -> bool:
    return any(backend.unavailable_reason() is None for backend in backends.values())


def build_lanes(settings: Settings, *, gpu: str | None = None, models: frozenset[str] | None = None) -> list[GpuLane]:
    """This process's GPU lanes: every GPU the GPUS setting names or, for a `reelbot worker`, the one its
    ``--gpu`` names (a CUDA index, or cpu), serving ``models`` (None: every model); [] if it is not here."""
    worker = gpu is not None
    choice = (settings.gpus if gpu is None else gpu).strip().lower()
    if settings.local_backend == "simulated":
        indexes = [0 if choice == "cpu" else int(choice)] if worker else range(settings.simulated_gpus)
        return [GpuLane(i, device=f"sim:{i}", label="simulated GPU", models=models) for i in indexes]
    if choice == "cpu":
        return [GpuLane(0, device="cpu", label="CPU" if worker else "CPU (slow: for tiny test models)",
                        models=models)]
    return [GpuLane(i, device=f"cuda:{i}", label=name, models=models)
            for i, name in cuda_devices(str(int(choice)) if worker else choice)]


def build_worker(app: App, *, name: str, host: str, gpu: str, models: list[str], queues: list[str],
                 concurrency: int) -> Worker:
    """A `reelbot worker` over an app opened with ``worker=True``: it runs the jobs it takes on the app's
    lanes, through the same service parts as embedded mode."""
    if app.queue is None:
        raise RuntimeError("a worker needs the PostgreSQL queue: open the app in distributed mode")
    return Worker(app.queue, jobs=app.service.dispatcher, events=app.service.events, repo=app.repo,
                  lanes=app.lanes, name=name, host=host, gpu=gpu, models=models, queues=queues,
                  concurrency=concurrency, heartbeat_s=app.settings.worker_heartbeat_s,
                  stalled_s=app.settings.worker_stalled_s)

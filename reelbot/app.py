"""The composition root: every client is built here once, from Settings, and passed in by constructor.

``App.launch(settings, ...)`` builds and starts everything in the one start-up order (:meth:`App.start`)
that the CLI, the tests and the benchmarks share; ``App.close()`` stops it in reverse. ``App.open`` only
builds the engine. Tests pass their own ``backends`` and ``lanes`` instead of the ones the settings
describe. In embedded mode one process owns the data folder: a lock file stops a second ``reelbot`` from
running the same jobs twice.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Mapping
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from typing import IO

from bot.core.frontend import FrontEnd
from engine.access import Access
from engine.backends.base import Backend
from engine.backends.diffusers import DiffusersBackend
from engine.backends.simulated import SimulatedBackend
from engine.cloud.base import CloudBackend, CloudConfig
from engine.cloud.catalog import load_catalog
from engine.cloud.fal import FalBackend, HuggingFaceBackend
from engine.cloud.replicate import ReplicateBackend
from engine.cloud.runway import RunwayBackend
from engine.cloud.stability import StabilityBackend
from engine.cloud.veo import VeoBackend
from engine.distributed.pool import WorkerPool
from engine.distributed.queue import JobQueue
from engine.distributed.remote import Remote
from engine.events import EventBus
from engine.lanes import GpuLane
from engine.local.gpu_stats import NvmlStats
from engine.local.registry import load_registry
from engine.outbox import Deliverer
from engine.router import Router
from engine.scheduler import Scheduler
from engine.service import EngineConfig, Service
from engine.types import JobKind
from engine.validation import InputLimits
from reelbot.datadir import acquire_lock, private_data_dir, release_lock
from reelbot.frontends import build_frontends, not_started
from reelbot.metrics import Metrics, serve_metrics
from reelbot.settings import Settings
from storage.db import Database
from storage.repo import Limits, Repository

log = logging.getLogger(__name__)

# Cloud providers by chain name: the class, the setting that holds the key, the one that holds the base URL.
PROVIDERS: dict[str, type[CloudBackend]] = {
    "replicate": ReplicateBackend,
    "huggingface": HuggingFaceBackend,
    "stability": StabilityBackend,
    "runway": RunwayBackend,
    "veo": VeoBackend,
    "fal": FalBackend,
}
PROVIDER_KEYS = {name: cls.key_setting for name, cls in PROVIDERS.items()}
# Providers whose key also serves another purpose, so the key alone must not start spending: the setting
# that opts in to paying for them, and what the operator reads while it is off.
OPT_IN = {
    "huggingface": ("hf_inference",
                    "HF_TOKEN is only used for downloads; set HF_INFERENCE=true to pay for inference"),
}
PROVIDER_URLS = {
    "replicate": "replicate_base_url",
    "huggingface": "hf_inference_base_url",
    "stability": "stability_base_url",
    "runway": "runwayml_base_url",
    "veo": "gemini_base_url",
    "fal": "fal_base_url",
}


@dataclass
class App:
    settings: Settings
    db: Database
    repo: Repository
    service: Service
    lanes: list[GpuLane]
    backends: dict[str, Backend]
    encode_pool: ThreadPoolExecutor
    lock: IO[str] | None = None
    queue: JobQueue | None = None  # distributed mode
    frontends: list[FrontEnd] = field(default_factory=list)  # started by App.start, stopped by App.close
    metrics: Metrics | None = None

    @classmethod
    async def open(
        cls,
        settings: Settings,
        *,
        backends: dict[str, Backend] | None = None,
        lanes: list[GpuLane] | None = None,
        start: bool = True,
        lock: bool = True,
        worker: bool = False,
    ) -> App:
        """``worker``: a `reelbot worker` of distributed mode (it runs jobs; it does not queue them)."""
        # Distributed mode: many processes share the database by design; no data-folder lock.
        private_data_dir(settings.data_dir)
        handle = acquire_lock(settings.data_dir) if lock and not settings.distributed else None
        queue: JobQueue | None = None
        try:
            db = Database(settings.database_url)
            db.migrate()
            repo = Repository(db)
            front_end_only = settings.distributed and not worker
            if front_end_only:
                lanes = []  # the GPUs are the workers'
            lanes = build_lanes(settings) if lanes is None else lanes
            missing: dict[str, str] = {}
            if backends is None:
                backends, missing = build_backends(settings, lanes, pool=front_end_only)
            remote = None
            if settings.distributed:
                queue = JobQueue(settings.database_url)
                await queue.open()
                if front_end_only:
                    remote = Remote(queue, heartbeat_s=settings.worker_heartbeat_s,
                                    stalled_s=settings.worker_stalled_s,
                                    max_interruptions=settings.max_interruptions)
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
            stats = NvmlStats() if any(lane.device.startswith("cuda") for lane in lanes) else None
            service = Service(
                repo=repo,
                router=router,
                scheduler=Scheduler(lanes, max_skips=settings.affinity_max_skips),
                events=EventBus(),
                config=engine_config(settings),
                encode_pool=encode_pool,
                gpu_stats=stats or (lambda lane: None),
                remote=remote,
            )
        except BaseException:
            release_lock(handle)
            if queue is not None:
                await queue.close()
            raise
        app = cls(settings, db, repo, service, lanes, backends, encode_pool, handle, queue)
        if start:
            await service.start()
        return app

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
        say: Callable[[str], None] | None = None,
    ) -> App:
        """Open the app and start it (:meth:`start`); whatever fails on the way, what was opened is closed."""
        app = await cls.open(settings, backends=backends, lanes=lanes, start=False, lock=lock)
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
        say: Callable[[str], None] | None = None,
    ) -> None:
        """The one start-up order. Deliverers are registered and the chat front ends prepared (tokens
        checked) before the engine starts, so results finished while reelbot was down are delivered at once;
        requests are taken only after the engine has resumed its jobs. ``frontends``: every chat front end
        whose token is set; ``metrics``: /metrics if METRICS_PORT is set; ``say``: the console's lines."""
        say = say or log.info
        for platform, deliverer in (deliverers or {}).items():
            self.service.register_deliverer(platform, deliverer)
        built = build_frontends(self.service, self.settings) if frontends else []
        for frontend in built:
            await frontend.prepare()  # on failure it has cleaned up after itself
            self.frontends.append(frontend)
            self.service.register_deliverer(frontend.platform, frontend.deliverer,
                                            max_video_bytes=frontend.max_video_bytes)
        await self.service.start()
        if metrics and self.settings.metrics_port:
            self.metrics = await serve_metrics(self.service, self.settings)
            say(f"Metrics: http://{self.settings.metrics_host}:{self.settings.metrics_port}/metrics"
                f"{' (bearer token required)' if self.settings.metrics_token else ''}")
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
        if self.queue is not None:
            await self.queue.close()
        self.db.close()
        release_lock(self.lock)
        self.lock = None


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
        access=Access.from_ids({p: settings.admin_ids(p) for p in ("discord", "telegram")}),
        rate_limit_per_minute=settings.rate_limit_per_minute,
    )


def build_lanes(settings: Settings) -> list[GpuLane]:
    if settings.local_backend == "simulated":
        return [
            GpuLane(i, device=f"sim:{i}", label="simulated GPU") for i in range(settings.simulated_gpus)
        ]
    if settings.gpus.strip().lower() == "cpu":
        return [GpuLane(0, device="cpu", label="CPU (slow: for tiny test models)")]
    return [GpuLane(i, device=f"cuda:{i}", label=name) for i, name in cuda_devices(settings.gpus)]


def cuda_devices(choice: str) -> list[tuple[int, str]]:
    """(index, name) of the CUDA GPUs to use: all visible ones for "auto", none for "none"."""
    if choice.strip().lower() == "none":
        return []
    try:
        import torch
    except ImportError:
        return []
    if not torch.cuda.is_available():
        return []
    visible = range(torch.cuda.device_count())
    if choice.strip().lower() != "auto":
        wanted = {int(part) for part in choice.split(",") if part.strip()}
        visible = [i for i in visible if i in wanted]  # type: ignore[assignment]
    return [(i, torch.cuda.get_device_name(i)) for i in visible]


def build_backends(
    settings: Settings, lanes: list[GpuLane], *, pool: bool = False
) -> tuple[dict[str, Backend], dict[str, str]]:
    """The backends the settings describe, and for each chain entry that is missing, why. ``pool``: the
    front end of distributed mode, where "local" stands for the GPU workers."""
    backends: dict[str, Backend] = {}
    missing: dict[str, str] = {}
    if pool:
        backends["local"] = WorkerPool(local_backend(settings))
    elif settings.local_backend == "simulated" or lanes:
        backends["local"] = local_backend(settings)
    else:
        missing["local"] = ("no CUDA GPU found (check the driver and GPUS; GPUS=cpu runs tiny test models, "
                            "LOCAL_BACKEND=simulated tries reelbot without a GPU)")
    backends.update(build_providers(settings, missing))
    return backends, missing


def local_backend(settings: Settings) -> Backend:
    """The backend that runs jobs on this machine's GPU lanes."""
    if settings.local_backend == "simulated":
        return SimulatedBackend(
            "local",
            seconds=settings.simulated_seconds,
            load_seconds=settings.simulated_load_seconds,
            steps=settings.simulated_steps,
            render=settings.simulated_frames,
            fail_every=settings.simulated_fail_every,
            oom_every=settings.simulated_oom_every,
            default_models={
                JobKind.TEXT_TO_VIDEO: settings.default_text_model,
                JobKind.IMAGE_TO_VIDEO: settings.default_image_model,
            },
            scratch=settings.data_dir / "work",
        )
    return DiffusersBackend(
        load_registry(settings.local_models),
        default_models={
            JobKind.TEXT_TO_VIDEO: settings.default_text_model,
            JobKind.IMAGE_TO_VIDEO: settings.default_image_model,
        },
        token=settings.hf_token.get_secret_value() if settings.hf_token else None,
        cache_dir=settings.hf_home / "hub" if settings.hf_home else None,
        offline=settings.hf_hub_offline,
        compile_denoiser=settings.local_compile,
    )


def spending_off(settings: Settings) -> dict[str, str]:
    """Providers whose key is set but that may not spend money, because the key exists for something else
    and the operator has not opted in (HF_TOKEN for gated downloads, without HF_INFERENCE): name -> why."""
    return {
        name: why for name, (setting, why) in OPT_IN.items()
        if getattr(settings, PROVIDER_KEYS[name]) is not None and not getattr(settings, setting)
    }


def build_providers(settings: Settings, missing: dict[str, str]) -> dict[str, Backend]:
    """One backend per cloud provider the operator enabled (its key set and, where the key serves another
    purpose too, its opt-in); the others go to ``missing`` with the reason. A provider built here can
    spend money: the chains name it, and ``--provider`` may pick it."""
    catalog = load_catalog(settings.cloud_models)
    config = CloudConfig(
        poll_interval_s=settings.cloud_poll_interval_s,
        timeout_s=settings.cloud_timeout_s,
        max_download_bytes=round(settings.cloud_max_download_mb * 1024 * 1024),
    )
    built: dict[str, Backend] = {}
    off = spending_off(settings)
    for name, key in PROVIDER_KEYS.items():
        secret = getattr(settings, key)
        if secret is None:
            missing[name] = f"{key.upper()} is not set"
            continue
        if name in off:
            missing[name] = off[name]
            continue
        cls, base_url = PROVIDERS[name], getattr(settings, PROVIDER_URLS[name])
        built[name] = cls(key=secret.get_secret_value(), base_url=base_url, models=catalog[name], config=config)
    return built

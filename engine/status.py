"""What `/status`, `/usage` and `reelbot status` show (GPUs, queues, providers, spend), what the admins'
list of users shows of each, and how it is gathered. Values only; front ends render them."""

from __future__ import annotations

import dataclasses
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime

from engine.access import Access
from engine.clock import utcnow
from engine.lanes import GpuLane
from engine.router import BackendHealth, Router
from engine.scheduler import Scheduler
from engine.types import UserRef
from engine.words import Text
from storage.repo import Calendar, Limits, Repository, UserRow, effective_limits


@dataclass(frozen=True, slots=True)
class GpuStats:
    utilization_pct: float
    memory_used_mib: float
    memory_total_mib: float
    temperature_c: float


@dataclass(frozen=True, slots=True)
class LaneStatus:
    name: str
    label: str
    device: str
    current_job: str | None
    busy_s: float
    queued: int
    warm_models: tuple[str, ...]
    jobs_done: int
    broken: str | None
    stats: GpuStats | None
    warming: str | None = None  # the model it compiles at start; it takes no job until done


@dataclass(frozen=True, slots=True)
class SpendLine:
    backend: str
    today_usd: float
    month_usd: float
    gpu_seconds_today: float


@dataclass(frozen=True, slots=True)
class TopUser:
    platform: str
    user_id: str
    name: str
    jobs: int
    charged_usd: float


@dataclass(frozen=True, slots=True)
class WorkerStatus:
    """A `reelbot worker` of distributed mode, as its last heartbeat described it."""

    name: str
    host: str
    gpu: str
    models: tuple[str, ...]
    warm: tuple[str, ...]
    current_job: str | None
    jobs_done: int
    heartbeat_age_s: float


@dataclass(frozen=True, slots=True)
class StatusReport:
    generated_at: datetime  # on the community's clock (TIMEZONE), as the chart and the embeds show it
    lanes: tuple[LaneStatus, ...]
    backends: tuple[BackendHealth, ...]
    queued: int
    running: int
    jobs_by_state: dict[str, int]
    spend: tuple[SpendLine, ...]
    budget_usd: float | None
    committed_usd: float
    top_users: tuple[TopUser, ...]
    workers: tuple[WorkerStatus, ...] = ()
    can_spend: tuple[str, ...] = ()  # cloud providers that can spend money now
    spending_off: tuple[tuple[str, Text | str], ...] = ()  # (provider, why): a key is set, spending is not on

    @property
    def spend_today_usd(self) -> float:
        return sum(line.today_usd for line in self.spend)

    @property
    def spend_month_usd(self) -> float:
        return sum(line.month_usd for line in self.spend)

    @property
    def budget_left_usd(self) -> float | None:
        return None if self.budget_usd is None else max(0.0, self.budget_usd - self.committed_usd)


@dataclass(frozen=True, slots=True)
class ScopeStatus:
    """/status for the managers of one server or group: that place's own jobs, nothing global."""

    scope: str
    queued: int
    running: int
    succeeded_today: int
    failed_today: int


@dataclass(frozen=True, slots=True)
class UsageReport:
    """A user's own numbers, for /usage."""

    jobs_today: int
    open_jobs: int
    month_usd: float
    max_jobs_per_day: int | None
    max_open_jobs: int | None
    max_usd_per_month: float | None
    is_admin: bool


@dataclass(frozen=True, slots=True)
class UserLimits:
    """A user's four limits, as :class:`UserSummary` gives them (what None means is said there)."""

    max_running: int | None  # videos in progress at a time
    max_queued: int | None  # videos waiting or in progress
    max_jobs_per_day: int | None
    max_usd_per_month: float | None


@dataclass(frozen=True, slots=True)
class UserSummary:
    """A user in the admins' list: who, what applies to them, and their numbers.

    ``overrides`` is what admins set for this user (None: the setting applies); ``limits`` is what applies
    now, their override or else the setting (None: no limit; admins have none). ``jobs_today`` and
    ``jobs_month`` count as the daily limit does (a failed or cancelled job nobody was billed for is not
    counted); ``month_usd`` is what /usage shows them: this month's charges plus what is held for jobs still
    waiting or running. "Today" and "this month" are TIMEZONE's; the times are UTC.
    """

    user: UserRef  # platform, id and the name they last had
    is_admin: bool  # from the settings, never stored
    banned: bool
    overrides: UserLimits
    limits: UserLimits
    jobs_today: int
    jobs_month: int
    month_usd: float
    total_jobs: int
    last_job_at: datetime | None
    first_seen: datetime

    @property
    def key(self) -> str:
        return self.user.key


def user_summary(row: UserRow, limits: Limits, access: Access) -> UserSummary:
    """A stored user with what applies to them: their overrides over the settings' ``limits``."""
    user = UserRef(row.platform, row.external_id, row.name)
    admin = access.is_admin(user)
    overrides = UserLimits(row.max_running, row.max_queued, row.max_jobs_per_day, row.max_usd_per_month)
    applied = effective_limits(dataclasses.asdict(overrides), limits)  # as admission applies them
    return UserSummary(
        user=user, is_admin=admin, banned=row.role == "banned", overrides=overrides,
        limits=UserLimits(None, None, None, None) if admin else UserLimits(
            applied.max_running, applied.max_queued, applied.max_jobs_per_day, applied.max_usd_per_month),
        jobs_today=row.jobs_today, jobs_month=row.jobs_month, month_usd=row.month_micros / 1e6,
        total_jobs=row.total_jobs, last_job_at=row.last_job_at, first_seen=row.created_at,
    )


async def admin_report(
    repo: Repository,
    router: Router,
    scheduler: Scheduler,
    gpu_stats: Callable[[GpuLane], GpuStats | None],
    budget_micros: int | None,
    calendar: Calendar,
) -> StatusReport:
    """Everything /status shows an admin: this process's GPU lanes, the workers' heartbeats, the books;
    "today" and "this month" as the ``calendar`` (TIMEZONE) counts them."""
    now = utcnow()
    today = await repo.spend_by_backend(calendar.day_start(now))
    month = await repo.spend_by_backend(calendar.month_start(now))
    committed = await repo.committed_micros(calendar.month_key(now))
    top = await repo.top_users(calendar.month_start(now))
    states = await repo.counts_by_state()
    mono = time.monotonic()
    queues = scheduler.queue_lengths()
    lanes = tuple(
        LaneStatus(
            name=lane.name, label=lane.label, device=lane.device, current_job=lane.current_job,
            busy_s=mono - lane.busy_since if lane.busy_since else 0.0, queued=queues.get(lane.name, 0),
            warm_models=tuple(sorted(lane.warm_models)), jobs_done=lane.jobs_done, broken=lane.broken,
            stats=gpu_stats(lane), warming=lane.warming,
        )
        for lane in scheduler.lanes
    )
    spend = []
    for name, (month_cost, _) in sorted(month.items()):
        today_cost, today_gpu = today.get(name, (0, 0.0))
        spend.append(SpendLine(name, today_cost / 1e6, month_cost / 1e6, today_gpu))
    beats = await repo.workers()
    workers = tuple(
        WorkerStatus(w["name"], w["host"], w["gpu"], tuple(w["models"]), tuple(w["warm"]), w["current_job"],
                     w["jobs_done"], (now - w["last_heartbeat"]).total_seconds())
        for w in beats
    )
    return StatusReport(
        generated_at=calendar.local(now), lanes=lanes, backends=tuple(router.health()),
        queued=states.get("queued", 0), running=states.get("running", 0), jobs_by_state=states,
        spend=tuple(spend), budget_usd=None if budget_micros is None else budget_micros / 1e6,
        committed_usd=committed / 1e6, top_users=tuple(TopUser(p, u, n, j, c / 1e6) for p, u, n, j, c in top),
        workers=workers, can_spend=tuple(router.spenders()), spending_off=tuple(router.switched_off.items()),
    )


async def scope_report(repo: Repository, scope: str, calendar: Calendar) -> ScopeStatus:
    """/status for one server's or group's managers: that place's own jobs today (local midnight on)."""
    counts = await repo.scope_counts(scope, calendar.day_start(utcnow()))
    return ScopeStatus(scope, counts.queued, counts.running, counts.succeeded_today, counts.failed_today)


async def usage_report(repo: Repository, user: UserRef, limits: Limits, *, is_admin: bool) -> UsageReport:
    """/usage: a user's own numbers, and their limits (none for admins)."""
    usage = await repo.usage(user.platform, user.user_id, limits, utcnow())
    lim = usage.limits
    return UsageReport(
        jobs_today=usage.jobs_today, open_jobs=usage.open_jobs, month_usd=usage.month_micros / 1e6,
        max_jobs_per_day=None if is_admin else lim.max_jobs_per_day,
        max_open_jobs=None if is_admin else lim.max_queued,
        max_usd_per_month=None if is_admin else lim.max_usd_per_month, is_admin=is_admin,
    )

"""What `/status` and `reelbot status` show: GPUs, queues, providers, spend. Values only; bot/ renders them."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from engine.router import BackendHealth


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
    generated_at: datetime
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
    spending_off: tuple[tuple[str, str], ...] = ()  # (provider, why): a key is set, spending is not on

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

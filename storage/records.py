"""What callers hand storage and what it answers: limits, a new job, admission's yes or no, how an attempt
ended, a user's usage, recovery's report, a server's counts, a page of a listing and a user in it.

Plain values, no SQL: the engine builds and reads them; the queries live in the other modules.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, Generic, TypeVar

T = TypeVar("T")


@dataclass(frozen=True, slots=True)
class Limits:
    """Per-user defaults from settings (None: no limit) and the global monthly budget."""

    max_running: int | None
    max_queued: int | None
    max_jobs_per_day: int | None
    max_usd_per_month: float | None
    global_budget_micros: int | None


@dataclass(frozen=True, slots=True)
class NewJob:
    id: str
    kind: str
    prompt: str
    options: dict[str, Any]
    seed: int
    image_path: str | None
    origin_platform: str
    origin: dict[str, Any]
    scope: str | None = None


@dataclass(frozen=True, slots=True)
class ScopeCounts:
    """One server's or group's own jobs: what its managers may see (no names, no money)."""

    queued: int
    running: int
    succeeded_today: int
    failed_today: int


@dataclass(frozen=True, slots=True)
class Refusal:
    """Why admission said no. ``limit`` names the rule; ``used`` and ``allowed`` are its numbers."""

    limit: str  # banned | max_queued | max_jobs_per_day | max_usd_per_month | global_budget
    used: float
    allowed: float


@dataclass(frozen=True, slots=True)
class Admitted:
    job_id: str
    user_id: int
    reserved_micros: int
    priority: int
    max_running: int | None
    # The account the job counts against, as the user key of its first identity (the scheduler's "user":
    # linked identities share one running limit and one place in the fair order). None: the user's own.
    account_key: str | None = None


@dataclass(frozen=True, slots=True)
class AttemptEnd:
    """How an attempt ended, written in the same transaction that closes its job."""

    attempt_id: int
    outcome: str
    gpu_seconds: float = 0.0
    cost_micros: int = 0
    notes: Sequence[str] = ()
    model: str | None = None
    user_pays: bool = True  # False: the bill is the operator's (the provider failed), not the user's


@dataclass(frozen=True, slots=True)
class Usage:
    user_id: int | None
    role: str
    open_jobs: int
    jobs_today: int
    month_micros: int
    limits: Limits


@dataclass(frozen=True, slots=True)
class RecoveryReport:
    requeued: list[str] = field(default_factory=list)  # were running when the process died; run again
    failed: list[str] = field(default_factory=list)  # died too often; failed with a refund
    queued: list[str] = field(default_factory=list)  # every job to drive now, oldest first


def effective_limits(user: dict[str, Any], limits: Limits) -> Limits:
    """The limits that apply to a user: their own overrides, else the defaults from settings."""

    def pick(override: Any, default: Any) -> Any:
        return default if override is None else override

    return Limits(
        max_running=pick(user.get("max_running"), limits.max_running),
        max_queued=pick(user.get("max_queued"), limits.max_queued),
        max_jobs_per_day=pick(user.get("max_jobs_per_day"), limits.max_jobs_per_day),
        max_usd_per_month=pick(user.get("max_usd_per_month"), limits.max_usd_per_month),
        global_budget_micros=limits.global_budget_micros,
    )



@dataclass(frozen=True, slots=True)
class Paged(Generic[T]):
    """One page of a listing, and how many rows the whole listing (under the same filter) has."""

    rows: list[T]
    total: int


@dataclass(frozen=True, slots=True)
class UserRow:
    """A user as the admins' list shows them: who, what was set for them, and their numbers.

    The limit fields are the user's own overrides (None: the setting applies). ``jobs_today`` and
    ``jobs_month`` count as the daily limit does (a failed or cancelled job nobody was billed for is not
    counted); ``month_micros`` is what their jobs of this month were charged plus what is still held for
    those waiting or running: the figure their monthly allowance is checked against. "Today" and "this
    month" are the repository's calendar's (TIMEZONE).
    """

    platform: str
    external_id: str
    name: str
    role: str
    max_running: int | None
    max_queued: int | None
    max_jobs_per_day: int | None
    max_usd_per_month: float | None
    created_at: datetime
    jobs_today: int
    jobs_month: int
    month_micros: int
    total_jobs: int
    last_job_at: datetime | None

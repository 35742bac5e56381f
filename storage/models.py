"""SQLModel tables. Money is stored as integer micro-dollars so that the ledger balances exactly.

Times are timezone-aware UTC (SQLModel's UTCDateTime restores the zone that SQLite does not keep).
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import JSON, BigInteger, Column, Index, Text, UniqueConstraint
from sqlmodel import Field, SQLModel


class User(SQLModel, table=True):
    __tablename__ = "users"
    __table_args__ = (UniqueConstraint("platform", "external_id", name="uq_users_platform_external"),)

    id: int | None = Field(default=None, primary_key=True)
    platform: str = Field(max_length=32)
    external_id: str = Field(max_length=64)
    name: str = Field(default="", max_length=128)
    # "user" or "banned". Admins are never stored: they are the ids in the settings (engine/access.py).
    role: str = Field(default="user", max_length=16)
    language: str | None = Field(default=None, max_length=16)  # chosen with /settings language; NULL: the app's
    # Per-user overrides of the quota settings; NULL means "use the setting".
    max_running: int | None = None
    max_queued: int | None = None
    max_jobs_per_day: int | None = None
    max_usd_per_month: float | None = None
    created_at: datetime
    # What the user chose with /settings besides their language: option defaults by Options field name
    # ({"frames": 14, "model": "svd-xt"}) and "delivery" ("private"); NULL or missing: the bot's default.
    settings: dict[str, Any] | None = Field(default=None, sa_column=Column(JSON))
    # The account this identity was linked into with /link (storage/links.py): the row of the account's first
    # identity, whose role, language, limits and settings are the account's. NULL: the identity is its own.
    account_id: int | None = Field(default=None, index=True)


class Job(SQLModel, table=True):
    __tablename__ = "jobs"
    __table_args__ = (
        Index("ix_jobs_user_created", "user_id", "created_at"),
        Index("ix_jobs_user_state", "user_id", "state"),
        Index("ix_jobs_state", "state"),
        Index("ix_jobs_scope_created", "scope", "created_at"),
        Index("ix_jobs_created", "created_at", "id"),  # every job newest first (the admins' list)
    )

    id: str = Field(primary_key=True, max_length=16)
    user_id: int = Field(foreign_key="users.id")
    kind: str = Field(max_length=32)
    prompt: str = Field(sa_column=Column(Text, nullable=False))
    # What the latest attempt's model got when it is not ``prompt``: the prompt translated to English.
    prompt_used: str | None = Field(default=None, sa_column=Column(Text))
    options: dict[str, Any] = Field(default_factory=dict, sa_column=Column(JSON, nullable=False))
    seed: int = Field(sa_column=Column(BigInteger, nullable=False))  # 0 .. 2**32-1: past a 32-bit column
    image_path: str | None = None
    state: str = Field(max_length=16)
    priority: int = 0
    origin_platform: str = Field(max_length=32)
    origin: dict[str, Any] = Field(default_factory=dict, sa_column=Column(JSON, nullable=False))
    scope: str | None = Field(default=None, max_length=64)  # the server or group it came from
    max_cost_micros: int = 0  # what was reserved: no backend costing more may run the job
    charged_micros: int = 0
    backend: str | None = Field(default=None, max_length=64)
    model: str | None = Field(default=None, max_length=200)
    result_path: str | None = None
    error_code: str | None = Field(default=None, max_length=64)
    error_message: str | None = Field(default=None, sa_column=Column(Text))  # in English, for the operator
    error_text: dict[str, Any] | None = Field(default=None, sa_column=Column(JSON))  # engine.words.Text, for users
    interruptions: int = 0
    created_at: datetime
    started_at: datetime | None = None
    finished_at: datetime | None = None
    deleted_at: datetime | None = None  # its owner or an admin pressed Delete: message and files are gone


class Attempt(SQLModel, table=True):
    __tablename__ = "attempts"

    id: int | None = Field(default=None, primary_key=True)
    job_id: str = Field(foreign_key="jobs.id", index=True, max_length=16)
    backend: str = Field(max_length=64)
    model: str | None = Field(default=None, max_length=200)
    lane: str | None = Field(default=None, max_length=64)
    started_at: datetime
    ended_at: datetime | None = None
    outcome: str = Field(max_length=16)
    error_code: str | None = Field(default=None, max_length=64)
    error_message: str | None = Field(default=None, sa_column=Column(Text))
    gpu_seconds: float = 0.0
    cost_micros: int = 0  # what the provider billed for it, whatever its outcome
    user_pays: bool = True  # False: a provider's failure, billed to the operator (budget), not the user
    notes: list[str] = Field(default_factory=list, sa_column=Column(JSON, nullable=False))


class LedgerEntry(SQLModel, table=True):
    __tablename__ = "ledger"
    __table_args__ = (Index("ix_ledger_user_created", "user_id", "created_at"),)

    id: int | None = Field(default=None, primary_key=True)
    job_id: str = Field(foreign_key="jobs.id", index=True, max_length=16)
    user_id: int = Field(foreign_key="users.id")
    kind: str = Field(max_length=16)  # reserve | settle | refund | extra (billed beyond the reservation)
    # | absorbed (billed for a provider's failure: the operator's, in the budget, never the user's charge)
    amount_micros: int
    created_at: datetime


class Delivery(SQLModel, table=True):
    """The outbox: a finished job's news waits here until its front end confirms it was sent."""

    __tablename__ = "deliveries"
    __table_args__ = (Index("ix_deliveries_platform_state", "platform", "state"),)

    id: int | None = Field(default=None, primary_key=True)
    job_id: str = Field(foreign_key="jobs.id", unique=True, max_length=16)
    platform: str = Field(max_length=32)
    state: str = Field(max_length=16)
    tries: int = 0
    last_error: str | None = Field(default=None, sa_column=Column(Text))
    created_at: datetime
    delivered_at: datetime | None = None


class BudgetMonth(SQLModel, table=True):
    """Money committed per calendar month (reserved minus refunded), across all users.

    Every admission locks the month's row, so concurrent submissions cannot overspend the global budget,
    and the check costs one row read instead of a sum over the month's ledger.
    """

    __tablename__ = "budget_months"

    month: str = Field(primary_key=True, max_length=7)  # "2026-11", the month in TIMEZONE (storage/calendar.py)
    committed_micros: int = 0


class Worker(SQLModel, table=True):
    """A `reelbot worker` process (distributed mode), as its heartbeat last described it."""

    __tablename__ = "workers"

    name: str = Field(primary_key=True, max_length=128)  # host:gpu (or host:cloud)
    host: str = Field(max_length=128)
    gpu: str = Field(max_length=128)  # the GPU's name, or "cloud"
    models: list[str] = Field(default_factory=list, sa_column=Column(JSON, nullable=False))
    warm: list[str] = Field(default_factory=list, sa_column=Column(JSON, nullable=False))
    current_job: str | None = Field(default=None, max_length=16)
    jobs_done: int = 0
    started_at: datetime
    last_heartbeat: datetime


class BlockedWord(SQLModel, table=True):
    """A word or phrase no prompt may contain, added by an admin from chat or the web console (the ones in
    the BLOCKED_WORDS setting are not stored: they are the settings')."""

    __tablename__ = "blocked_words"

    word: str = Field(primary_key=True, max_length=100)  # normalized (engine/blocklist.py)
    added_by: str = Field(default="", max_length=100)  # the admin's user key
    added_at: datetime


class PlaceSetting(SQLModel, table=True):
    """What a bot admin switched on for one place (a Discord server or DM, a Telegram chat): for now, the
    half-way preview picture in each job's progress message (``/preview on``)."""

    __tablename__ = "place_settings"

    place: str = Field(primary_key=True, max_length=96)  # "discord:guild:123", "telegram:chat:-100…"
    preview: bool = False
    updated_at: datetime


class LinkCode(SQLModel, table=True):
    """A /link code waiting to be typed on another platform: kept hashed, for one identity, used once."""

    __tablename__ = "link_codes"

    code_hash: str = Field(primary_key=True, max_length=64)  # sha256 of the code as typed, normalized
    user_id: int = Field(foreign_key="users.id", index=True)  # the identity that asked for it
    expires_at: datetime


class LinkTry(SQLModel, table=True):
    """A code typed that matched none: counted per identity (and in all) so that guessing codes stops."""

    __tablename__ = "link_tries"
    __table_args__ = (Index("ix_link_tries_user_at", "user_id", "at"),)

    id: int | None = Field(default=None, primary_key=True)
    user_id: int = Field(foreign_key="users.id")
    at: datetime = Field(index=True)

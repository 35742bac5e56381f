"""What the engine is told at start-up (the composition root builds it from the settings)."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from engine.access import Access
from engine.validation import InputLimits
from storage.repo import Calendar, Limits


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
    # TIMEZONE: where "today" and "this month" start for quotas, the budget and spend, and the clock times
    # shown. The composition root hands the same calendar to the repository.
    calendar: Calendar = Calendar()
    blocked_words: tuple[str, ...] = ()  # BLOCKED_WORDS: never in a prompt (admins add more; engine/blocklist.py)

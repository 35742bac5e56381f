"""Engine states and errors in words: the one renderer shared by the CLI, Discord and Telegram.

Only the transport differs between front ends; what a user reads about a job is decided here, so the same
event reads the same everywhere. The engine gives codes and numbers; the words (and the chat commands they
point to) are chosen here, in one place per language. No tracebacks ever reach a user: unknown exceptions
get a generic line.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from typing import TYPE_CHECKING

from engine.errors import (
    BudgetExhausted,
    InvalidInput,
    JobFailed,
    NotAllowed,
    QueueFull,
    QuotaExceeded,
    ReelbotError,
)
from engine.status import ScopeStatus, StatusReport, UsageReport, WorkerStatus
from engine.types import ChainPreview, JobKind, JobState, JobView

if TYPE_CHECKING:
    from bot.core.actions import Outcome


def duration(seconds: float | None) -> str:
    if seconds is None:
        return "?"
    seconds = max(0.0, seconds)
    if seconds < 60:
        return f"{seconds:.0f} s"
    minutes, secs = divmod(round(seconds), 60)
    if minutes < 60:
        return f"{minutes} min {secs:02d} s" if minutes < 10 else f"{minutes} min"
    hours, minutes = divmod(minutes, 60)
    if hours >= 48:
        return f"{round(hours / 24)} days"
    return f"{hours} h {minutes:02d} min"


def money(usd: float) -> str:
    if usd == 0:
        return "free"
    return f"${usd:.2f}" if usd >= 0.1 else f"${usd:.3f}"


def progress_bar(step: int, total: int, width: int = 20) -> str:
    total = max(total, 1)
    filled = round(width * min(step, total) / total)
    return f"[{'█' * filled}{'░' * (width - filled)}] {100 * min(step, total) // total}%"


def describe_error(error: BaseException) -> str:
    """What the user reads when their request is refused or their job fails: worded here from the error's
    code and numbers where it has them, else the engine's own message and hint."""
    if not isinstance(error, ReelbotError):
        return "Something went wrong on our side. Nothing was charged; please try again."
    worded = _worded(error)
    if worded is not None:
        return worded
    text = error.message
    if error.hint:
        text += f" {error.hint}"
    if isinstance(error, QuotaExceeded | BudgetExhausted | QueueFull) and getattr(error, "retry_after", None):
        if not re.search(r"\bin\b", error.hint or ""):  # the hint may already say when ("more in 3 h")
            text += f" Try again in {duration(error.retry_after)}."
    if isinstance(error, JobFailed):
        text += " You were not charged."
    return text


def _worded(error: ReelbotError) -> str | None:
    """The refusals a chat user meets, in the chat's words (with its commands)."""
    if isinstance(error, QuotaExceeded):
        return _quota_words(error)
    if isinstance(error, NotAllowed):
        if error.reason == "admins_only":
            return "Only the bot's admins can see /status. /usage shows your own numbers."
        if error.reason == "not_owner":
            return f"Only the person who asked for that video can {error.action} it. Make your own with /video."
        if error.reason == "not_owner_or_admin":
            return f"That job is someone else's; only they or an admin can {error.action} it."
        if error.reason == "banned":
            return "You are not allowed to make videos with this bot."
    if isinstance(error, InvalidInput):
        if error.field == "prompt" and error.reason == "missing":
            return ("Describe the video you want. For example: /video a cat surfing a wave at sunset. "
                    "Or send a picture to animate.")
        if error.field == "model" and error.reason == "not_a_name":
            return f"{error.message} Use a name from /status, or leave it out for the default."
    if isinstance(error, QueueFull):
        return f"The queue is full ({error.size} jobs waiting). Try again in a few minutes."
    if isinstance(error, BudgetExhausted) and error.budget_usd is not None:
        text = (f"This bot's budget for the month (${error.budget_usd:.2f}) is used up. "
                "An admin can raise GLOBAL_MONTHLY_BUDGET_USD.")
        return text + (f" Try again in {duration(error.retry_after)}." if error.retry_after else "")
    return None


def _quota_words(error: QuotaExceeded) -> str | None:
    used, allowed, wait = error.used, error.allowed, error.retry_after
    if error.limit == "rate" and allowed is not None and wait is not None:
        return (f"You are sending requests too fast (at most {allowed:.0f} a minute). "
                f"Try again in {duration(max(1.0, wait))}.")
    if used is None or allowed is None:
        return None
    if error.limit == "max_queued":
        return (f"You already have {used:.0f} videos waiting or in progress; the limit is {allowed:.0f} at a "
                "time. Wait for one to finish, or cancel one with /cancel.")
    if error.limit == "max_jobs_per_day" and wait is not None:
        return (f"You have made {used:.0f} videos today; the limit is {allowed:.0f} a day. "
                f"You can make more in {duration(wait)}.")
    if error.limit == "max_usd_per_month" and error.needed_usd is not None and wait is not None:
        return (f"This video needs ≈ ${error.needed_usd:.2f} and you have ${max(0.0, allowed - used):.2f} of "
                f"your ${allowed:.2f} monthly allowance left. Your allowance renews in {duration(wait)}.")
    return None


def header(job_id: str, prompt: str, kind: JobKind | str) -> str:
    """The first line of a job's message: what it makes, and the id to use with /job and /cancel."""
    if prompt:
        what = f"“{prompt if len(prompt) <= 80 else prompt[:79] + '…'}”"
    else:
        what = "Your picture" if kind == JobKind.IMAGE_TO_VIDEO else "Your video"
    return f"{what} · job {job_id}"


def queued_line(position: int | None, eta_s: float | None) -> str:
    if position is None:
        return "Starting…"
    ahead = position - 1
    who = "you're next" if ahead == 0 else f"{ahead} ahead of you"
    return f"Queued #{position} ({who}, starts in ≈ {duration(eta_s)})"


def preview_line(preview: ChainPreview) -> str:
    """"local: #3 in queue, ≈ 2 min, free · cloud now: runway ≈ $0.25", for choosing before queueing."""
    parts = []
    if preview.local_position is not None:
        cost = "free" if preview.local_cost_usd < 0.0005 else f"≈ {money(preview.local_cost_usd)}"
        wait = preview.local_wait_s or 0.0
        when = "starts now" if preview.local_position == 1 and wait < 1 else f"starts in ≈ {duration(wait)}"
        parts.append(f"local: #{preview.local_position} in queue, {when}, {cost}")
    if preview.cloud is not None:
        parts.append(f"cloud now: {preview.cloud.backend} ≈ {money(preview.cloud.cost_usd)}")
    return " · ".join(parts) or "no backend can take this job right now"


def running_line(backend: str | None, progress: tuple[int, int] | None = None, model: str | None = None,
                 estimate_usd: float = 0.0) -> str:
    where = f" on {backend}" if backend else ""
    details = [d for d in (model, f"≈ {money(estimate_usd)}" if estimate_usd > 0 else None) if d]
    if details:
        where += f" ({', '.join(details)})"
    if progress:
        return f"Running{where} {progress_bar(*progress)}"
    return f"Running{where}…"


def retrying_line(failed_backend: str, reason: str, next_backend: str) -> str:
    return f"{failed_backend} could not make it ({reason}); trying {next_backend}…"


def job_line(job: JobView) -> str:
    """One line for /job and the CLI: where the job stands now."""
    if job.state is JobState.QUEUED:
        return queued_line(job.position, job.eta_s)
    if job.state is JobState.RUNNING:
        return running_line(job.backend, job.progress)
    if job.state is JobState.SUCCEEDED:
        return result_caption(job)
    return failure_text(job)


def result_caption(job: JobView) -> str:
    prompt = job.prompt if len(job.prompt) <= 200 else job.prompt[:197] + "…"
    parts = [f"seed {job.seed}"]
    if job.model:
        parts.append(job.model)
    if job.backend:
        parts.append(f"on {job.backend}")
    if job.seconds_taken is not None:
        parts.append(duration(job.seconds_taken))
    parts.append(money(job.charged_usd))
    head = f"“{prompt}”\n" if prompt else ""
    return head + " · ".join(parts) + "".join(f"\n{line}" for line in changes_told(job))


def changes_told(job: JobView) -> list[str]:
    """What the engine changed on the way that the user should know (less memory, fewer frames)."""
    lines = []
    for attempt in job.attempts:
        for note in attempt.notes:
            if note.startswith("out of GPU memory: "):
                lines.append(f"Note: GPU memory was short, so {note.removeprefix('out of GPU memory: ')}.")
            elif "k+1 frames" in note:
                lines.append(f"Note: {note}.")
    return lines


def failure_text(job: JobView) -> str:
    """A failed or cancelled job's last words (also the answer to /cancel): what happened, and what it cost.

    Cloud work that had started is billed by the provider whether or not the video is made, so the user
    pays for it, and is told so here."""
    if job.state is JobState.CANCELLED:
        text = "Cancelled."
    else:
        text = job.error_message or "The video could not be made."
    if job.charged_usd > 0:
        text += f" The cloud provider had already started: {money(job.charged_usd)} was charged."
        if job.reserved_usd > job.charged_usd:
            text += f" The rest of the {money(job.reserved_usd)} held for it was refunded."
    elif job.reserved_usd > 0:
        text += f" The {money(job.reserved_usd)} held for it was refunded."
    else:
        text += " You were not charged."
    return text


def cancelled_text(job: JobView) -> str:
    """The answer to /cancel and to the Cancel button."""
    return f"Job {job.id}: {failure_text(job)}"


def outcome_text(outcome: Outcome, *, brief: bool = False) -> str:
    """What pressing Cancel or "Run on cloud now" did; ``brief`` for a small popup (Telegram's 200
    characters), where the job's own message shows the rest."""
    if outcome.cancelled is not None:
        return failure_text(outcome.cancelled) if brief else cancelled_text(outcome.cancelled)
    offer = outcome.moved_to
    if offer is None:
        return "No cloud provider can take it right now; it stays in the GPU queue."
    if brief:
        return f"Moving it to {offer.backend} now."
    return f"Moving job {outcome.job_id} to {offer.backend} now (≈ {money(offer.cost_usd)})."


def usage_text(usage: UsageReport) -> str:
    if usage.is_admin:
        return (f"Today: {usage.jobs_today} videos. This month: {money(usage.month_usd)}. "
                "As an admin you have no personal limits.")
    lines = [
        f"Today: {usage.jobs_today} of {_limit(usage.max_jobs_per_day)} videos.",
        f"In progress: {usage.open_jobs} of {_limit(usage.max_open_jobs)}.",
        f"This month: {money(usage.month_usd)} of "
        f"{'unlimited' if usage.max_usd_per_month is None else money(usage.max_usd_per_month)}.",
    ]
    return "\n".join(lines)


def _limit(value: int | None) -> str:
    return "unlimited" if value is None else str(value)


def status_text(report: StatusReport) -> str:
    """The admin's /status as plain text (the CLI and Telegram; Discord shows the same sections as an embed)."""
    lines = [f"Jobs: {report.queued} queued, {report.running} running"]
    for title, section in status_sections(report):
        if title in ("GPUs", "Spend"):
            lines.extend(section)
        elif title.startswith("Top users"):
            lines.append(f"{title}: {section[0]}")
        else:
            lines.append(f"{title}:")
            lines.extend(f"  {line}" for line in section)
    return "\n".join(lines)


def scope_status_text(status: ScopeStatus, place: str) -> str:
    """/status for a server's managers: that place's own jobs; GPUs, providers and money are the bot's admins'."""
    return (f"{place}: {status.queued} waiting, {status.running} running; today {status.succeeded_today} made, "
            f"{status.failed_today} failed.\nGPUs, providers and spend are shown to the bot's admins only.")


def worker_line(worker: WorkerStatus) -> str:
    """A GPU worker of distributed mode: what it is, what it does, when it last answered."""
    doing = f"busy with {worker.current_job}" if worker.current_job else "idle"
    if worker.heartbeat_age_s > 60:
        doing = f"LOST (no heartbeat for {duration(worker.heartbeat_age_s)})"
    warm = ", ".join(worker.warm) or "none"
    return (f"{worker.name} ({worker.gpu}): {doing}, {worker.jobs_done} done, warm: {warm}, "
            f"heartbeat {duration(worker.heartbeat_age_s)} ago")


def spending_line(can_spend: Sequence[str], off: Sequence[tuple[str, str]]) -> str:
    """Who can spend the operator's money: "Can spend money: replicate, runway · off: huggingface (why)".

    The same line in /status, `reelbot status` and `reelbot doctor`."""
    line = f"Can spend money: {', '.join(can_spend) or 'no cloud provider'}"
    if off:
        line += " · off: " + ", ".join(f"{name} ({why})" for name, why in off)
    return line


def status_sections(report: StatusReport) -> list[tuple[str, list[str]]]:
    """/status in sections (GPUs, Backends, Spend, Top users), each a list of lines."""
    gpus = [] if report.lanes or report.workers else ["GPUs: none (cloud only)"]
    for lane in report.lanes:
        state = "BROKEN: " + lane.broken if lane.broken else (
            f"busy with {lane.current_job} for {duration(lane.busy_s)}" if lane.current_job else "idle"
        )
        stats = ""
        if lane.stats:
            s = lane.stats
            stats = (f", {s.utilization_pct:.0f}% util, {s.memory_used_mib / 1024:.1f}/"
                     f"{s.memory_total_mib / 1024:.0f} GiB, {s.temperature_c:.0f}°C")
        warm = ", ".join(lane.warm_models) or "none"
        gpus.append(f"{lane.name} ({lane.label}): {state}, {lane.queued} waiting, warm: {warm}{stats}")
    backends = []
    for backend in report.backends:
        if backend.problem:
            health = f"unavailable: {backend.problem}"
        elif backend.cooling_s > 0:
            health = f"cooling down {duration(backend.cooling_s)} ({backend.last_error or 'failures'})"
        else:
            health = "ok"
        backends.append(f"{backend.name}: {health}")
    spend = [f"Spend today {money(report.spend_today_usd)}, this month {money(report.spend_month_usd)}"]
    spend.append(spending_line(report.can_spend, report.spending_off))
    for line in report.spend:
        if line.month_usd or line.gpu_seconds_today:
            spend.append(f"  {line.backend}: today {money(line.today_usd)}, month {money(line.month_usd)}, "
                         f"GPU today {duration(line.gpu_seconds_today)}")
    if report.budget_usd is not None:
        spend.append(f"Budget this month: ${report.committed_usd:.2f} of ${report.budget_usd:.2f} committed, "
                     f"${report.budget_left_usd or 0.0:.2f} left")
    sections = [("GPUs", gpus)]
    if report.workers:
        sections.append(("Workers", [worker_line(w) for w in report.workers]))
    sections += [("Backends", backends), ("Spend", spend)]
    if report.top_users:
        top = ", ".join(f"{u.name or u.user_id} ({u.jobs})" for u in report.top_users)
        sections.append(("Top users this month", [top]))
    return sections

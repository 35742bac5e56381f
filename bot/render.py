"""Engine states and errors in words: the one renderer shared by the CLI, Discord and Telegram.

Only the transport differs between front ends; what a user reads about a job is decided here, so the same
event reads the same everywhere. The engine gives codes, numbers and message templates; the words (and the
chat commands they point to) are chosen here, in the reader's language: every function takes the reader's
:class:`~bot.i18n.Words` first. No tracebacks ever reach a user: unknown exceptions get a generic line.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING

from bot.i18n import Words
from engine.errors import (
    AlreadyFinished,
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
from engine.words import N_, Text

if TYPE_CHECKING:
    from bot.core.actions import Outcome


def progress_bar(step: int, total: int, width: int = 20) -> str:
    total = max(total, 1)
    filled = round(width * min(step, total) / total)
    return f"[{'█' * filled}{'░' * (width - filled)}] {100 * min(step, total) // total}%"


def describe_error(w: Words, error: BaseException) -> str:
    """What the user reads when their request is refused or their job fails: worded here from the error's
    code and numbers where it has them, else the engine's own message and hint."""
    if not isinstance(error, ReelbotError):
        return w._("Something went wrong on our side. Nothing was charged; please try again.")
    worded = _worded(w, error)
    if worded is not None:
        return worded
    text = w.text(error.text)
    if error.hint_text is not None:
        text += " " + w.text(error.hint_text)
    if isinstance(error, QuotaExceeded | BudgetExhausted) and error.retry_after and not _says_when(error):
        text += " " + w._("Try again in {wait}.", wait=w.duration(error.retry_after))
    if isinstance(error, JobFailed):
        text += " " + w._("You were not charged.")
    return text


def _says_when(error: ReelbotError) -> bool:
    """Whether the error's hint already says when to come back ("more in 3 h")."""
    hint = error.hint_text
    return hint is not None and any(key in ("wait", "when") for key in hint.args)


# Who may do what to a job, per action the engine refused (NotAllowed.action).
_NOT_OWNER = {
    "retry": N_("Only the person who asked for that video can retry it. Make your own with /video."),
    "repeat": N_("Only the person who asked for that video can repeat it. Make your own with /video."),
}
_NOT_OWNER["extend"] = N_("Only the person who asked for that video can extend it. Make your own with /video.")
_NOT_OWNER_OR_ADMIN = {
    "cancel": N_("That job is someone else's; only they or an admin can cancel it."),
    "look up": N_("That job is someone else's; only they or an admin can look it up."),
    "move": N_("That job is someone else's; only they or an admin can move it to the cloud."),
    "delete": N_("That video is someone else's; only they or an admin can delete it."),
}


def _worded(w: Words, error: ReelbotError) -> str | None:
    """The refusals a chat user meets, in the chat's words (with its commands)."""
    if isinstance(error, QuotaExceeded):
        return _quota_words(w, error)
    if isinstance(error, NotAllowed):
        if error.reason == "admins_only" and error.action in ("", "status"):  # the others say themselves
            return w._("Only the bot's admins can see /status. /usage shows your own numbers.")
        if error.reason == "not_owner":
            return w.text(_NOT_OWNER.get(error.action, _NOT_OWNER["retry"]))
        if error.reason == "not_owner_or_admin":
            return w.text(_NOT_OWNER_OR_ADMIN.get(error.action, _NOT_OWNER_OR_ADMIN["cancel"]))
        if error.reason == "banned":
            return w._("You are not allowed to make videos with this bot.")
    if isinstance(error, AlreadyFinished):
        return w._("Job {job_id} has already ended; there is nothing to cancel.", job_id=error.job_id)
    if isinstance(error, InvalidInput):
        if error.field == "prompt" and error.reason == "missing":
            return w._("Describe the video you want. For example: /video a cat surfing a wave at sunset. "
                       "Or send a picture to animate.")
        if error.field == "model" and error.reason == "not_a_name":
            return w.text(error.text) + " " + w._("Use a name from /status, or leave it out for the default.")
    if isinstance(error, QueueFull):
        return w._("The queue is full ({size} jobs waiting). Try again in a few minutes.", size=error.size)
    if isinstance(error, BudgetExhausted) and error.budget_usd is not None:
        text = w._("This bot's budget for the month ({budget}) is used up. An admin can raise "
                   "GLOBAL_MONTHLY_BUDGET_USD.", budget=w.dollars(error.budget_usd))
        if error.retry_after:
            text += " " + w._("Try again in {wait}.", wait=w.duration(error.retry_after))
        return text
    return None


def _quota_words(w: Words, error: QuotaExceeded) -> str | None:
    used, allowed, wait = error.used, error.allowed, error.retry_after
    if error.limit == "rate" and allowed is not None and wait is not None:
        return w._("You are sending requests too fast (at most {allowed} a minute). Try again in {wait}.",
                   allowed=round(allowed), wait=w.duration(max(1.0, wait)))
    if used is None or allowed is None:
        return None
    if error.limit == "max_queued":
        return w._("You already have {used} videos waiting or in progress; the limit is {allowed} at a time. "
                   "Wait for one to finish, or cancel one with /cancel.", used=round(used), allowed=round(allowed))
    if error.limit == "max_jobs_per_day" and wait is not None:
        return w._("You have made {used} videos today; the limit is {allowed} a day. You can make more in "
                   "{wait}.", used=round(used), allowed=round(allowed), wait=w.duration(wait))
    if error.limit == "max_usd_per_month" and error.needed_usd is not None and wait is not None:
        return w._("This video needs ≈ {needed} and you have {left} of your {allowed} monthly allowance "
                   "left. Your allowance renews in {wait}.", needed=w.dollars(error.needed_usd),
                   left=w.dollars(max(0.0, allowed - used)), allowed=w.dollars(allowed), wait=w.duration(wait))
    return None


def header(w: Words, job_id: str, prompt: str, kind: JobKind | str) -> str:
    """The first line of a job's message: what it makes, and the id to use with /job and /cancel."""
    if prompt:
        what = f"“{prompt if len(prompt) <= 80 else prompt[:79] + '…'}”"
    else:
        what = w._("Your picture") if kind == JobKind.IMAGE_TO_VIDEO else w._("Your video")
    return w._("{what} · job {job_id}", what=what, job_id=job_id)


def queued_line(w: Words, position: int | None, eta_s: float | None) -> str:
    if position is None:
        return w._("Starting…")
    if position == 1:
        return w._("Queued #{position} (you're next, starts in ≈ {wait})", position=position,
                   wait=w.duration(eta_s))
    return w._("Queued #{position} ({ahead} ahead of you, starts in ≈ {wait})", position=position,
               ahead=position - 1, wait=w.duration(eta_s))


def preview_line(w: Words, preview: ChainPreview) -> str:
    """"local: #3 in queue, starts in ≈ 2 min, free · cloud now: runway ≈ $0.25", for choosing
    before queueing."""
    parts = []
    if preview.local_position is not None:
        cost = w._("free") if preview.local_cost_usd < 0.0005 else w._("≈ {cost}", cost=w.money(
            preview.local_cost_usd))
        wait = preview.local_wait_s or 0.0
        if preview.local_position == 1 and wait < 1:
            parts.append(w._("local: #{position} in queue, starts now, {cost}", position=1, cost=cost))
        else:
            parts.append(w._("local: #{position} in queue, starts in ≈ {wait}, {cost}",
                             position=preview.local_position, wait=w.duration(wait), cost=cost))
    if preview.cloud is not None:
        parts.append(w._("cloud now: {backend} ≈ {cost}", backend=preview.cloud.backend,
                         cost=w.money(preview.cloud.cost_usd)))
    return " · ".join(parts) or w._("no backend can take this job right now")


def running_line(w: Words, backend: str | None, progress: tuple[int, int] | None = None, model: str | None = None,
                 estimate_usd: float = 0.0) -> str:
    details = w.join(d for d in (model, w._("≈ {cost}", cost=w.money(estimate_usd)) if estimate_usd > 0
                                 else None) if d)
    if backend and details:
        line = w._("Running on {backend} ({details})", backend=backend, details=details)
    elif backend:
        line = w._("Running on {backend}", backend=backend)
    else:
        line = w._("Running")
    return f"{line} {progress_bar(*progress)}" if progress else f"{line}…"


def loading_line(w: Words, model: str, phase: str, done: int = 0, total: int = 0, gpu: bool = True) -> str:
    """A local model made ready before the first step: "Downloading model svd-xt: 3.2 / 9.6 GB [███░░] 33%",
    then "Loading svd-xt onto the GPU…" (the first job for a model fetches gigabytes)."""
    if phase == "download":
        unit, scale = ("GB", 1e9) if total >= 1e9 else ("MB", 1e6)
        line = w._("Downloading model {model}: {done} / {total} {unit}", model=model,
                   done=w.number(done / scale, 1), total=w.number(total / scale, 1), unit=unit)
        return f"{line} {progress_bar(done, total)}" if total else f"{line}…"
    return (w._("Loading {model} onto the GPU…", model=model) if gpu
            else w._("Loading {model} into memory…", model=model))


def retrying_line(w: Words, failed_backend: str, reason: Text | str, next_backend: str) -> str:
    return w._("{failed} could not make it ({reason}); trying {next}…", failed=failed_backend,
               reason=w.text(reason), next=next_backend)


def job_line(w: Words, job: JobView) -> str:
    """One line for /job and the CLI: where the job stands now."""
    if job.state is JobState.QUEUED:
        return queued_line(w, job.position, job.eta_s)
    if job.state is JobState.RUNNING:
        return running_line(w, job.backend, job.progress)
    if job.state is JobState.SUCCEEDED:
        return result_caption(w, job)
    return failure_text(w, job)


def result_caption(w: Words, job: JobView) -> str:
    prompt = job.prompt if len(job.prompt) <= 200 else job.prompt[:197] + "…"
    parts = [w._("seed {seed}", seed=job.seed)]
    if job.model:
        parts.append(job.model)
    if job.backend:
        parts.append(w._("on {backend}", backend=job.backend))
    if job.seconds_taken is not None:
        parts.append(w.duration(job.seconds_taken))
    parts.append(w.money(job.charged_usd))
    told = changes_told(w, job, limit=200)
    if job.prompt_used:  # the translation's line, first of the changes, shows the prompt too
        head, told = told[0] + "\n", told[1:]
    else:
        head = f"“{prompt}”\n" if prompt else ""
    return head + " · ".join(parts) + "".join(f"\n{line}" for line in told)


def changes_told(w: Words, job: JobView, limit: int = 80) -> list[str]:
    """What the engine changed on the way that the user should know: the prompt the model got when it was
    translated, then the notes the backends made for the user (a ``Text``: less memory, fewer frames);
    plain-string notes are the operator's."""
    notes = [_note(w, note) for attempt in job.attempts for note in attempt.notes if isinstance(note, Text)]
    return translated_lines(w, job.prompt, job.prompt_used, limit=limit) + list(dict.fromkeys(notes))


def translated_lines(w: Words, prompt: str | None, used: str | None, limit: int = 80) -> list[str]:
    """When the model got the prompt translated: ``서핑하는 고양이 → "a cat surfing"``, and why."""
    if not used:
        return []
    said = f'→ "{_cut(used, limit)}"'
    return [f"{_cut(prompt, limit)} {said}" if prompt else said,
            w._("This model understands only English, so your prompt was translated. To send it as written, "
                "add --raw.")]


def _cut(text: str, limit: int) -> str:
    return text if len(text) <= limit else text[: limit - 1] + "…"


def _note(w: Words, note: Text) -> str:
    if note.template == "out of GPU memory: {change}":
        return w._("Note: GPU memory was short, so {change}.", change=note.args["change"])
    return w._("Note: {change}.", change=note)


def failure_text(w: Words, job: JobView) -> str:
    """A failed or cancelled job's last words (also the answer to /cancel): what happened, and what it cost.

    Cloud work that had started is billed by the provider whether or not the video is made, so the user
    pays for it, and is told so here."""
    if job.state is JobState.CANCELLED:
        text = w._("Cancelled.")
    elif job.error_code == "crashed":  # recovery's own words, stored without a template
        text = w._("The machine making this video stopped several times, so it was not tried again.")
    else:
        text = w.text(job.error_text or job.error_message) or w._("The video could not be made.")
    if job.charged_usd > 0:
        text += " " + w._("The cloud provider had already started: {cost} was charged.", cost=w.money(job.charged_usd))
        if job.reserved_usd > job.charged_usd:
            text += " " + w._("The rest of the {held} held for it was refunded.", held=w.money(job.reserved_usd))
    elif job.reserved_usd > 0:
        text += " " + w._("The {held} held for it was refunded.", held=w.money(job.reserved_usd))
    else:
        text += " " + w._("You were not charged.")
    return text


def cancelled_text(w: Words, job: JobView) -> str:
    """The answer to /cancel and to the Cancel button."""
    return w._("Job {job_id}: {outcome}", job_id=job.id, outcome=failure_text(w, job))


def outcome_text(w: Words, outcome: Outcome, *, brief: bool = False) -> str:
    """What pressing Cancel or "Run on cloud now" did; ``brief`` for a small popup (Telegram's 200
    characters), where the job's own message shows the rest."""
    if outcome.cancelled is not None:
        return failure_text(w, outcome.cancelled) if brief else cancelled_text(w, outcome.cancelled)
    offer = outcome.moved_to
    if offer is None:
        return w._("No cloud provider can take it right now; it stays in the GPU queue.")
    if brief:
        return w._("Moving it to {backend} now.", backend=offer.backend)
    return w._("Moving job {job_id} to {backend} now (≈ {cost}).", job_id=outcome.job_id, backend=offer.backend,
               cost=w.money(offer.cost_usd))


def usage_text(w: Words, usage: UsageReport) -> str:
    if usage.is_admin:
        return w._("Today: {jobs} videos. This month: {spent}. As an admin you have no personal limits.",
                   jobs=usage.jobs_today, spent=w.money(usage.month_usd))
    unlimited = w._("unlimited")
    lines = [
        w._("Today: {jobs} of {limit} videos.", jobs=usage.jobs_today,
            limit=unlimited if usage.max_jobs_per_day is None else usage.max_jobs_per_day),
        w._("In progress: {jobs} of {limit}.", jobs=usage.open_jobs,
            limit=unlimited if usage.max_open_jobs is None else usage.max_open_jobs),
        w._("This month: {spent} of {limit}.", spent=w.money(usage.month_usd),
            limit=unlimited if usage.max_usd_per_month is None else w.money(usage.max_usd_per_month)),
    ]
    return "\n".join(lines)


def jobs_line(w: Words, report: StatusReport) -> str:
    return w._("Jobs: {queued} queued, {running} running", queued=report.queued, running=report.running)


def status_text(w: Words, report: StatusReport) -> str:
    """The admin's /status as plain text (the CLI and Telegram; Discord shows the same sections as an embed)."""
    lines = [jobs_line(w, report)]
    for key, title, section in status_sections(w, report):
        if key in ("gpus", "spend"):
            lines.extend(section)
        elif key == "top":
            lines.append(f"{title}: {section[0]}")
        else:
            lines.append(f"{title}:")
            lines.extend(f"  {line}" for line in section)
    return "\n".join(lines)


def scope_status_text(w: Words, status: ScopeStatus, place: str) -> str:
    """/status for a server's managers: that place's own jobs; GPUs, providers and money are the bot's admins'."""
    return w._("{place}: {queued} waiting, {running} running; today {made} made, {failed} failed.\n"
               "GPUs, providers and spend are shown to the bot's admins only.", place=place, queued=status.queued,
               running=status.running, made=status.succeeded_today, failed=status.failed_today)


def worker_line(w: Words, worker: WorkerStatus) -> str:
    """A GPU worker of distributed mode: what it is, what it does, when it last answered."""
    if worker.heartbeat_age_s > 60:
        doing = w._("LOST (no heartbeat for {wait})", wait=w.duration(worker.heartbeat_age_s))
    elif worker.current_job:
        doing = w._("busy with {job_id}", job_id=worker.current_job)
    else:
        doing = w._("idle")
    return w._("{name} ({gpu}): {doing}, {done} done, warm: {warm}, heartbeat {age} ago", name=worker.name,
               gpu=worker.gpu, doing=doing, done=worker.jobs_done, warm=w.join(worker.warm) or w._("none"),
               age=w.duration(worker.heartbeat_age_s))


def spending_line(w: Words, can_spend: Sequence[str], off: Sequence[tuple[str, Text | str]]) -> str:
    """Who can spend the operator's money: "Can spend money: replicate, runway · off: huggingface (why)".

    The same line in /status, `reelbot status` and `reelbot doctor`."""
    line = w._("Can spend money: {who}", who=w.join(can_spend) or w._("no cloud provider"))
    if off:
        line += " · " + w._("off: {which}", which=w.join(f"{name} ({w.text(why)})" for name, why in off))
    return line


def lane_state(w: Words, broken: str | None, current_job: str | None, busy_s: float,
               warming: str | None = None) -> str:
    if broken:
        return w._("BROKEN: {why}", why=broken)
    if warming and not current_job:
        return w._("warming up {model} (compiling; jobs wait for it)", model=warming)
    if current_job:
        return w._("busy with {job_id} for {time}", job_id=current_job, time=w.duration(busy_s))
    return w._("idle")


def status_sections(w: Words, report: StatusReport) -> list[tuple[str, str, list[str]]]:
    """/status in sections, each (key, title, lines): GPUs, Workers, Backends, Spend, Top users."""
    gpus = [] if report.lanes or report.workers else [w._("GPUs: none (cloud only)")]
    for lane in report.lanes:
        state = lane_state(w, lane.broken, lane.current_job, lane.busy_s, lane.warming)
        stats = ""
        if lane.stats:
            s = lane.stats
            stats = ", " + w._("{util}% util, {used}/{total} GiB, {temp}°C", util=round(s.utilization_pct),
                               used=w.number(s.memory_used_mib / 1024, 1), total=round(s.memory_total_mib / 1024),
                               temp=round(s.temperature_c))
        gpus.append(w._("{name} ({label}): {state}, {waiting} waiting, warm: {warm}", name=lane.name,
                        label=lane.label, state=state, waiting=lane.queued,
                        warm=w.join(lane.warm_models) or w._("none")) + stats)
    backends = []
    for backend in report.backends:
        if backend.problem:
            health = w._("unavailable: {why}", why=w.text(backend.problem))
        elif backend.cooling_s > 0:
            health = w._("cooling down {time} ({why})", time=w.duration(backend.cooling_s),
                         why=w.text(backend.last_error) or w._("failures"))
        else:
            health = w._("ok")
        backends.append(f"{backend.name}: {health}")
    spend = [w._("Spend today {today}, this month {month}", today=w.money(report.spend_today_usd),
                 month=w.money(report.spend_month_usd))]
    spend.append(spending_line(w, report.can_spend, report.spending_off))
    for line in report.spend:
        if line.month_usd or line.gpu_seconds_today:
            spend.append("  " + w._("{backend}: today {today}, month {month}, GPU today {gpu}", backend=line.backend,
                                    today=w.money(line.today_usd), month=w.money(line.month_usd),
                                    gpu=w.duration(line.gpu_seconds_today)))
    if report.budget_usd is not None:
        spend.append(w._("Budget this month: {committed} of {budget} committed, {left} left",
                         committed=w.dollars(report.committed_usd), budget=w.dollars(report.budget_usd),
                         left=w.dollars(report.budget_left_usd or 0.0)))
    sections = [("gpus", w._("GPUs"), gpus)]
    if report.workers:
        sections.append(("workers", w._("Workers"), [worker_line(w, worker) for worker in report.workers]))
    sections += [("backends", w._("Backends"), backends), ("spend", w._("Spend"), spend)]
    if report.top_users:
        top = w.join(f"{u.name or u.user_id} ({u.jobs})" for u in report.top_users)
        sections.append(("top", w._("Top users this month"), [top]))
    return sections

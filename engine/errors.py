"""The one error hierarchy of reelbot.

Every exception the engine raises to a front end is a :class:`ReelbotError`. Each carries data (a stable
``code``, a ``reason`` where one code covers several cases, the ``field`` at fault, the numbers of a limit,
``retry_after`` seconds, the ``backend`` that failed, the ``refund`` made) so that the front ends word it in
one place (``bot.render.describe_error``) instead of parsing messages.

Every error is said as a :class:`~engine.words.Text` (``text``, and ``hint_text``: what to do), worded in
the reader's language by the front end; ``message`` and ``hint`` are the same in English, for logs and the
operator's terminal. They name the problem and what to do about it, and never speak a chat platform's
language (no "/cancel").
"""

from __future__ import annotations

from engine.words import N_, Text, as_text


class ReelbotError(Exception):
    """Base of everything the engine tells a user or an operator."""

    code = "error"

    def __init__(self, message: Text | str, *, hint: Text | str | None = None) -> None:
        super().__init__(str(message))
        self.text = as_text(message)
        self.hint_text = as_text(hint) if hint is not None else None
        self.message = str(self.text)
        self.hint = str(self.hint_text) if self.hint_text is not None else None

    def __str__(self) -> str:
        return f"{self.message} {self.hint}" if self.hint else self.message


# --- the request itself ---------------------------------------------------------------------------------


class InvalidInput(ReelbotError):
    """The request cannot be run as given; nothing was queued or charged. ``reason``: "missing" (nothing
    given where something is needed), "not_a_name" (not even shaped like a name), or empty."""

    code = "invalid_input"

    def __init__(self, field: str, message: Text | str, *, hint: Text | str | None = None, reason: str = "") -> None:
        super().__init__(message, hint=hint)
        self.field = field
        self.reason = reason


class InvalidImage(InvalidInput):
    code = "invalid_image"

    def __init__(self, message: Text | str, *, hint: Text | str | None = None) -> None:
        super().__init__("image", message, hint=hint)


class NotFound(ReelbotError):
    code = "not_found"

    def __init__(self, job_id: str | None, message: Text | None = None, *, hint: Text | None = None) -> None:
        super().__init__(
            message or N_("There is no job {job_id}.", job_id=repr(job_id)),
            hint=hint or N_("Check the id in the bot's reply."),
        )
        self.job_id = job_id


class NotAllowed(ReelbotError):
    """``reason``: "banned", "admins_only", "not_owner" (Retry and Same seed are the owner's alone),
    "not_owner_or_admin", "admin" (an admin cannot be banned); ``action``: what was refused ("cancel",
    "retry", "jobs", "users", "ban", "limits", ...)."""

    code = "not_allowed"

    def __init__(self, message: Text | str, *, reason: str = "", action: str = "", hint: Text | str | None = None) -> None:
        super().__init__(message, hint=hint)
        self.reason = reason
        self.action = action


class AlreadyFinished(ReelbotError):
    code = "already_finished"

    def __init__(self, job_id: str, state: str) -> None:
        super().__init__(N_("Job {job_id} has already ended; there is nothing to cancel.", job_id=job_id))
        self.job_id = job_id
        self.state = state


# --- admission ------------------------------------------------------------------------------------------


class QuotaExceeded(ReelbotError):
    """A per-user limit stops the job: ``limit`` ("rate", "max_queued", "max_jobs_per_day",
    "max_usd_per_month"), what was ``used`` of what is ``allowed`` (requests a minute, jobs, dollars),
    ``needed_usd`` for a job the allowance cannot cover, and ``retry_after``: when it will fit again (None:
    not by waiting)."""

    code = "quota_exceeded"

    def __init__(
        self, limit: str, message: Text | str, *, retry_after: float | None = None, hint: Text | str | None = None,
        used: float | None = None, allowed: float | None = None, needed_usd: float | None = None,
    ) -> None:
        super().__init__(message, hint=hint)
        self.limit = limit
        self.retry_after = retry_after
        self.used = used
        self.allowed = allowed
        self.needed_usd = needed_usd


class BudgetExhausted(ReelbotError):
    """The installation's monthly budget is spent; an admin must raise it or wait for the month to turn."""

    code = "budget_exhausted"

    def __init__(self, message: Text | str, *, retry_after: float | None = None, budget_usd: float | None = None) -> None:
        super().__init__(message, hint=N_("An admin can raise GLOBAL_MONTHLY_BUDGET_USD."))
        self.retry_after = retry_after
        self.budget_usd = budget_usd


class QueueFull(ReelbotError):
    code = "queue_full"

    def __init__(self, size: int) -> None:
        super().__init__(N_("The queue is full ({size} jobs waiting).", size=size),
                         hint=N_("Try again in a few minutes."))
        self.size = size
        self.retry_after = 60.0


class NoBackend(ReelbotError):
    """No backend in the job's chain can run it at all (none configured, none affordable)."""

    code = "no_backend"


class EngineBusy(ReelbotError):
    """Another reelbot process already owns this database in embedded mode."""

    code = "engine_busy"


# --- running --------------------------------------------------------------------------------------------


class BackendError(ReelbotError):
    """A backend failed one attempt. ``retryable`` errors hand the job to the next backend in the chain;
    ``rests_backend`` errors count towards putting the backend in cooldown. What a provider billed for a
    failed attempt is the operator's, unless ``user_pays`` (the user's own content was refused)."""

    code = "backend_error"
    retryable = True
    rests_backend = True
    user_pays = False

    def __init__(
        self,
        message: Text | str,
        *,
        backend: str = "",
        retry_after: float | None = None,
        hint: Text | str | None = None,
    ) -> None:
        super().__init__(message, hint=hint)
        self.backend = backend
        self.retry_after = retry_after


class BackendUnavailable(BackendError):
    """Not configured, not reachable, or its model cannot be loaded: skip it, try the next."""

    code = "backend_unavailable"


class ModelUnavailable(BackendError):
    """This model cannot be loaded here (gated, not downloaded, broken). The backend's other models may
    still work, so the backend is not rested for it; the job moves on to the next backend."""

    code = "model_unavailable"
    rests_backend = False


class TransientError(BackendError):
    """A 5xx, a dropped connection, a rate limit: worth trying elsewhere now and here again later."""

    code = "transient"


class OutOfMemory(BackendError):
    """CUDA out of memory after every memory-saving step was tried."""

    code = "out_of_memory"


class AttemptTimeout(BackendError):
    code = "timeout"


class AuthFailed(BackendError):
    """The key for a provider was refused. Admins are told once; the job moves on."""

    code = "auth_failed"


class Moderated(BackendError):
    """The provider refused the content. Not retried elsewhere: the answer would be the same. A provider
    that bills the refused run bills the one who asked for it (else anyone could spend the operator's money
    on prompts that will be refused)."""

    code = "moderated"
    retryable = False
    user_pays = True


class RejectedInput(BackendError):
    """The backend refused the input (size, format). Explained, not retried elsewhere."""

    code = "rejected_input"
    retryable = False


class VideoTooLarge(ReelbotError):
    """Even the smallest encode ``fit_to_size`` tries is over the destination's cap."""

    code = "video_too_large"

    def __init__(self, max_bytes: int, smallest_bytes: int) -> None:
        super().__init__(
            N_("The video is {size} even at the lowest quality, over the {limit} this chat accepts.",
               size=_mb(smallest_bytes), limit=_mb(max_bytes)),
            hint=N_("Try a shorter or smaller video."),
        )
        self.max_bytes = max_bytes
        self.smallest_bytes = smallest_bytes


def _mb(n: int) -> str:
    # Binary units, as the chat apps count them: Telegram's "50 MB" is 50 x 1024 x 1024 bytes.
    if n >= 1024 * 1024:
        return f"{n / (1024 * 1024):.1f} MB"
    return f"{n / 1024:.1f} KB"


class JobFailed(ReelbotError):
    """Every backend that could run the job failed; the reservation was refunded."""

    code = "job_failed"

    def __init__(self, message: Text | str, *, refund: float = 0.0, hint: Text | str | None = None) -> None:
        super().__init__(message, hint=hint)
        self.refund = refund


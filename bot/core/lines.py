"""Engine events as the line a job's message shows, the same on every front end.

A front end feeds each event of its platform to :meth:`JobLines.line` (with the words of the job's reader)
and shows what comes back under the job's header, with its own buttons; :func:`alert_text` words what
admins are told. The last word of a job (done, failed) is the deliverer's (:func:`last_line`), so ``Ended``
gives no line.
"""

from __future__ import annotations

from collections.abc import Callable

from bot.i18n import Words
from bot.render import failure_text, queued_line, retrying_line, running_line
from engine.events import Ended, Event, Progress, ProviderAlert, Queued, Retrying, Started
from engine.types import JobState, JobView


class JobLines:
    def __init__(self) -> None:
        self._running_on: dict[str, tuple[str | None, str | None, float]] = {}  # backend, model, estimate

    def line(self, w: Words, event: Event) -> str | None:
        if isinstance(event, Ended):
            self._running_on.pop(event.job_id, None)
            return None
        if isinstance(event, Queued):
            return queued_line(w, event.position, event.eta_s)
        if isinstance(event, Started):
            self._running_on[event.job_id] = (event.backend, event.model, event.estimate_usd)
            return running_line(w, event.backend, None, event.model, event.estimate_usd)
        if isinstance(event, Progress):
            backend, model, cost = self._running_on.get(event.job_id, (None, None, 0.0))
            return running_line(w, backend, (event.step, event.total), model, cost)
        if isinstance(event, Retrying):
            return retrying_line(w, event.failed_backend, event.reason, event.next_backend)
        return None


def alert_text(w: Words, event: ProviderAlert) -> str:
    return "⚠ " + w._("{backend} is out of the fallback chain: {why}", backend=event.backend,
                      why=w.text(event.message))


def last_line(w: Words, job: JobView, done: Callable[[Words, JobView], str]) -> str:
    """What a job's message says once the job is over. ``done`` words a success with its video: each
    platform says it its own way (Discord attaches the video to this message, Telegram sends it below)."""
    if job.state is JobState.SUCCEEDED and job.result_path is not None:
        return f"✅ {done(w, job)}"
    if job.state is JobState.SUCCEEDED:  # made, but no encoding fits the platform's upload limit
        text = w.text(job.error_text or job.error_message) or w._("The video is too large to send here.")
        if job.charged_usd:
            text += " " + w._("It cost {cost}.", cost=w.money(job.charged_usd))
        return f"⚠️ {text}"
    mark = "✖" if job.state is JobState.CANCELLED else "❌"
    return f"{mark} {failure_text(w, job)}"

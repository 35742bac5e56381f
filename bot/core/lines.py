"""Engine events as the line a job's message shows, the same on every front end.

A front end feeds each event of its platform to :meth:`JobLines.line` (with the words of the job's reader)
and shows what comes back under the job's header, with its own buttons; :func:`alert_text` words what
admins are told. The last word of a job (done, failed) is the deliverer's (:func:`last_line`), so ``Ended``
gives no line.
"""

from __future__ import annotations

from collections.abc import Callable

from bot.i18n import Words
from bot.render import failure_text, loading_line, queued_line, retrying_line, running_line, translated_lines
from engine.events import (
    Ended,
    Event,
    Loading,
    ModelAlert,
    Progress,
    ProviderAlert,
    Queued,
    Retrying,
    Started,
)
from engine.translate.prompts import UNTRANSLATED_TOLD
from engine.types import JobState, JobView


class JobLines:
    def __init__(self) -> None:
        self._running_on: dict[str, Started] = {}  # where each job runs: backend, model, estimate, prompt
        self._prompts: dict[str, str] = {}  # the prompt of each job followed, as its user wrote it

    def follow(self, job_id: str, prompt: str) -> None:
        """A job whose message is followed: its prompt, for the line saying what the model got instead."""
        self._prompts[job_id] = prompt

    def line(self, w: Words, event: Event) -> str | None:
        if isinstance(event, Ended):
            self._running_on.pop(event.job_id, None)
            self._prompts.pop(event.job_id, None)
            return None
        if isinstance(event, Queued):
            return queued_line(w, event.position, event.eta_s)
        if isinstance(event, Started):
            self._running_on[event.job_id] = event
            return self._running(w, event, None)
        if isinstance(event, Progress):
            started = self._running_on.get(event.job_id)
            if started is None:
                return running_line(w, None, (event.step, event.total))
            return self._running(w, started, (event.step, event.total))
        if isinstance(event, Retrying):
            return retrying_line(w, event.failed_backend, event.reason, event.next_backend)
        if isinstance(event, Loading):
            loading = loading_line(w, event.model, event.phase, event.done_bytes, event.total_bytes, event.gpu)
            started = self._running_on.get(event.job_id)
            return loading if started is None else "\n".join([*self._above(w, started), loading])
        return None


    def _running(self, w: Words, started: Started, progress: tuple[int, int] | None) -> str:
        """The running line, under what the model got when it is not the user's prompt (translated), or the
        note that a prompt the model does not understand could not be translated."""
        running = running_line(w, started.backend, progress, started.model, started.estimate_usd)
        return "\n".join([*self._above(w, started), running])

    def _above(self, w: Words, started: Started) -> list[str]:
        """What goes above the job's running line: the prompt the model got, the notes about it."""
        above = translated_lines(w, self._prompts.get(started.job_id), started.prompt_used)
        if started.translation_failed:
            above.append(w._("Note: {change}.", change=UNTRANSLATED_TOLD))
        if started.prompt_unused is not None:  # the model takes no words: said plainly, with what would use them
            above.append(w._("Note: {change}.", change=started.prompt_unused))
        return above


def alert_text(w: Words, event: ProviderAlert) -> str:
    return "⚠ " + w._("{backend} is out of the fallback chain: {why}", backend=event.backend,
                      why=w.text(event.message))


def model_alert_text(w: Words, event: ModelAlert) -> str:
    return "⚠ " + w._("The model {model} cannot be loaded on {backend}, so users' jobs for it fail: {why}",
                      model=event.model or "?", backend=event.backend, why=w.text(event.message))


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

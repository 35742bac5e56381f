"""Engine events to each job's message on one front end, and provider alerts to its admins.

The platform says where a job's message is (``where_of``: from the job's origin, also for jobs queued
before a restart), what buttons go under a waiting job (``buttons``) and how admins are told
(``tell_admins``: given a function that words the news in the words of whoever reads it); the feed does
the rest, the same for every front end. Each job's lines are in its asker's language (``Origin.language``).
A job from a place with ``/preview on`` brings one preview picture half-way (``Progress.preview``): the
editor puts it into the job's message, in its turn (:meth:`PacedEditor.attach`).
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Generic, TypeVar

from bot.core.editor import PacedEditor, Where
from bot.core.lines import JobLines, alert_text, model_alert_text
from bot.i18n import Languages, Words
from bot.render import header, queued_line
from engine.errors import NotFound
from engine.events import Ended, Event, ModelAlert, Progress, ProviderAlert, Queued, Subscription
from engine.service import Service
from engine.types import CloudOffer, JobState, JobView

T = TypeVar("T")
M = TypeVar("M")


class JobFeed(Generic[T, M]):
    def __init__(
        self,
        service: Service,
        platform: str,
        editor: PacedEditor[T, M],
        *,
        where_of: Callable[[JobView], Where[T] | None],
        buttons: Callable[[Words, str, CloudOffer | None], M],
        tell_admins: Callable[[Callable[[Words], str]], Awaitable[None]],
        languages: Languages,
    ) -> None:
        self.service = service
        self.platform = platform
        self.editor = editor
        self.where_of = where_of
        self.buttons = buttons
        self.tell_admins = tell_admins
        self.languages = languages
        self.lines = JobLines()
        self._words: dict[str, Words] = {}  # job id -> its asker's words, while its message is followed
        self._subscription: Subscription | None = None

    def open(self) -> None:
        """Follow the engine's events (before it starts: jobs it resumes report at once)."""
        if self._subscription is None:
            self._subscription = self.service.subscribe(self.on_event)

    async def close(self) -> None:
        if self._subscription is not None:
            await self._subscription.close()
            self._subscription = None
        await self.editor.aclose()

    def follow(self, view: JobView, where: Where[T]) -> None:
        """A job this front end has just queued: its message shows the place in the queue, with Cancel."""
        w = self._words[view.id] = self.languages.words(view.origin.language)
        self.lines.follow(view.id, view.prompt)
        self.editor.track(view.id, where, header(w, view.id, view.prompt, view.kind))
        if view.state is JobState.QUEUED:
            self.editor.show(view.id, queued_line(w, view.position, view.eta_s),
                             self.buttons(w, view.id, self.service.cloud_offer(view.id)))

    async def on_event(self, event: Event) -> None:
        if isinstance(event, ProviderAlert):
            await self.tell_admins(lambda w: alert_text(w, event))
            return
        if isinstance(event, ModelAlert):
            await self.tell_admins(lambda w: model_alert_text(w, event))
            return
        if event.platform != self.platform:
            return
        if isinstance(event, Ended):
            self._words.pop(event.job_id, None)
        w = self._words.get(event.job_id) or self.languages.words()
        line = self.lines.line(w, event)
        if isinstance(event, Progress) and event.preview and await self._tracked(event.job_id):
            self.editor.attach(event.job_id, event.preview, w._("Half-way there: a first look."))
        if line is None or not await self._tracked(event.job_id):
            return
        if self._words.get(event.job_id, w) is not w:  # a job resumed after a restart: now its asker's language is known
            w = self._words[event.job_id]
            line = self.lines.line(w, event) or line
        offer = self.service.cloud_offer(event.job_id) if isinstance(event, Queued) else None
        self.editor.show(event.job_id, line, self.buttons(w, event.job_id, offer))

    async def _tracked(self, job_id: str) -> bool:
        """Whether the job's message is followed; a job this process did not queue (resumed after a
        restart) is found from its origin."""
        if self.editor.tracks(job_id):
            return True
        try:
            view = await self.service.get(job_id)
        except NotFound:
            return False
        where = None if view.state.terminal else self.where_of(view)
        if where is None:
            return False
        w = self._words[job_id] = self.languages.words(view.origin.language)
        self.lines.follow(job_id, view.prompt)
        self.editor.track(job_id, where, header(w, view.id, view.prompt, view.kind))
        return True

"""Drives one job through its fallback chain: queue for a GPU, attempt, fall back, settle or refund.

Each job is one asyncio task. A local step waits for its turn on a GPU lane; the lane is released the
moment the backend returns, and encoding and bookkeeping happen after, so the GPU starts the next job
without waiting for them. Cancelling the task is how a user's cancel, a timeout and a shutdown all reach a
running backend (the lane sets the pipeline's interrupt flag); only a user's cancel closes the job, while
a shutdown leaves it for recovery to run again.

A model that does not understand the prompt's language gets it in English (``engine/translate``), translated
once per job before the job waits for a GPU.
"""

from __future__ import annotations

import asyncio
import logging
import shutil
import threading
import time
from concurrent.futures import Executor
from dataclasses import dataclass, field
from functools import partial
from pathlib import Path
from typing import Any

from engine import extend
from engine.backends.base import Cancelled, Output, RunContext
from engine.captions import unused_words
from engine.clock import utcnow
from engine.errors import AttemptTimeout, BackendError, ModelUnavailable, TransientError
from engine.events import Ended, EventBus, Loading, ModelAlert, Progress, ProviderAlert, Retrying, Started
from engine.lanes import GpuLane
from engine.outbox import Outbox
from engine.router import Router, Step
from engine.scheduler import Scheduler, Ticket
from engine.translate.prompts import Memo, ModelPrompts, prompts_for
from engine.translate.translator import PromptTranslator
from engine.types import JobSpec, JobState
from engine.video import encode_frames
from engine.video_tags import with_tags
from engine.words import N_, Seconds, Text
from storage.repo import AttemptEnd, Repository

log = logging.getLogger(__name__)


@dataclass(eq=False)
class ActiveJob:
    """A job this process is driving, with what the scheduler and front ends need to know about it now."""

    spec: JobSpec
    user_key: str
    platform: str
    priority: int
    max_running: int | None
    reserved_micros: int
    steps: list[Step]
    task: asyncio.Task[None] | None = None
    ticket: Ticket | None = None
    user_cancelled: bool = False
    cloud_now: bool = False
    state: JobState = JobState.QUEUED
    backend: str | None = None
    progress: tuple[int, int] | None = None
    notes: list[Any] = field(default_factory=list)
    translations: Memo = field(default_factory=dict)  # its prompts in English, or why not
    unavailable_model: str | None = None  # the model that last could not be loaded for it

    @property
    def id(self) -> str:
        return self.spec.id


@dataclass(frozen=True, slots=True)
class _Success:
    attempt_id: int
    output: Output
    elapsed_s: float
    notes: list[Any]
    billed_usd: float | None = None  # what the backend said it billed on the way (RunContext.billed_usd)


class JobRunner:
    def __init__(
        self,
        *,
        repo: Repository,
        router: Router,
        scheduler: Scheduler,
        events: EventBus,
        outbox: Outbox,
        results_dir: Path,
        encode_pool: Executor,
        job_timeout_s: float,
        local_max_wait_s: float,
        local_usd_per_gpu_second: float = 0.0,
        translator: PromptTranslator | None = None,
    ) -> None:
        self.repo = repo
        self.router = router
        self.scheduler = scheduler
        self.events = events
        self.outbox = outbox
        self.results_dir = results_dir
        self.encode_pool = encode_pool
        self.job_timeout_s = job_timeout_s
        self.local_max_wait_s = local_max_wait_s
        self.local_usd_per_gpu_second = local_usd_per_gpu_second
        self.translator = translator  # None: PROMPT_TRANSLATION=off
        self.active: dict[str, ActiveJob] = {}
        self._closing = False
        self._unavailable: set[tuple[str, str]] = set()  # (backend, model) the admins were told cannot load

    # --- control ---

    def start(self, job: ActiveJob) -> None:
        """Queue the job for its first local step (so its position is known at once) and start driving it."""
        self.active[job.id] = job
        first = self._next_step(job, 0)
        if first is not None and job.steps[first].backend.local:
            job.ticket = self._ticket_for(job, job.steps[first], first)
        job.task = asyncio.get_running_loop().create_task(self._drive(job), name=f"job-{job.id}")

    async def cancel(self, job_id: str) -> bool:
        job = self.active.get(job_id)
        if job is None or job.task is None:
            return False
        job.user_cancelled = True
        job.task.cancel()
        await asyncio.wait({job.task})
        return True

    async def to_cloud(self, job_id: str) -> bool:
        """Take a waiting job out of the GPU queue and send it to the first affordable cloud backend."""
        job = self.active.get(job_id)
        if job is None or job.task is None or self.cloud_step(job_id) is None:
            return False
        job.cloud_now = True
        job.task.cancel()  # _drive sees cloud_now and goes on with the cloud steps
        return True

    def cloud_step(self, job_id: str) -> Step | None:
        """The first cloud backend a job waiting for a GPU could move to now (affordable, not cooling)."""
        job = self.active.get(job_id)
        if job is None or job.state is not JobState.QUEUED or job.ticket is None:
            return None
        for step in job.steps:
            if not step.backend.local and self.router.cooling_s(step.name) == 0 and self._affordable(job, step):
                return step
        return None

    async def shutdown(self) -> None:
        self._closing = True
        tasks = [j.task for j in self.active.values() if j.task is not None]
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)

    # --- driving ---

    async def _drive(self, job: ActiveJob) -> None:
        failures: list[BackendError] = []
        index = 0
        try:
            while (index := self._next_step(job, index)) is not None:  # type: ignore[assignment]
                step = job.steps[index]
                try:
                    outcome = await self._run_step(job, step, index)
                except asyncio.CancelledError:
                    moving = job.cloud_now and not job.user_cancelled and not self._closing
                    if moving and job.state is JobState.QUEUED:
                        asyncio.current_task().uncancel()  # type: ignore[union-attr]
                        job.ticket = None
                        index += 1
                        continue
                    raise
                if outcome is None:  # skipped (busy, or no lane serves it)
                    index += 1
                    continue
                if isinstance(outcome, _Success):
                    self.router.record_success(step.name)
                    self._unavailable.discard((step.name, step.model or ""))
                    await self._succeed(job, step, outcome)
                    return
                failures.append(outcome)
                if isinstance(outcome, ModelUnavailable):
                    self._model_unavailable(job, step, outcome)
                if self.router.record_failure(step.name, outcome):
                    log.error("%s is out of the chain: %s", step.name, outcome)
                    self.events.publish(ProviderAlert(job.id, "", step.name, _said(outcome)))
                following = self._next_step(job, index + 1)
                if not outcome.retryable or following is None:
                    break
                self.events.publish(
                    Retrying(job.id, job.platform, step.name, outcome.code, outcome.text,
                             job.steps[following].name)
                )
                index += 1
            await self._fail(job, failures)
        except asyncio.CancelledError:
            if job.user_cancelled:
                await self._close(job, JobState.CANCELLED, "cancelled", N_("Cancelled."))
                return
            if job.state is JobState.RUNNING:  # a clean stop is not a crash: queue it again as it was
                await asyncio.shield(self.repo.requeue(job.id))
            raise
        except Exception as exc:  # a bug in the engine itself: the user still hears, and is not charged for it
            log.exception("job %s failed inside the engine", job.id)
            await self._close(job, JobState.FAILED, "internal",
                              N_("Internal error: {name}.", name=type(exc).__name__))
        finally:
            if job.ticket is not None:
                self.scheduler.withdraw(job.ticket)
            self.active.pop(job.id, None)
            # Attempts' scratch (a provider's download, partial frames) is never needed once the job stops.
            await asyncio.to_thread(shutil.rmtree, self.results_dir / "work" / job.id, True)

    def _next_step(self, job: ActiveJob, start: int) -> int | None:
        for index in range(start, len(job.steps)):
            step = job.steps[index]
            if self.router.cooling_s(step.name) > 0 or not self._affordable(job, step):
                continue
            if step.backend.local and (job.cloud_now or not self.scheduler.can_serve(step.model)):
                continue
            return index
        return None

    def _can_run(self, step: Step) -> bool:
        """Whether a step could run here now (for naming the models a user may pick instead)."""
        if self.router.cooling_s(step.name) > 0:
            return False
        return not step.backend.local or self.scheduler.can_serve(step.model)

    def _affordable(self, job: ActiveJob, step: Step) -> bool:
        return round(step.estimate.cost_usd * 1e6) <= job.reserved_micros

    def _ticket_for(self, job: ActiveJob, step: Step, index: int) -> Ticket | None:
        """Queue for a GPU, unless the wait is past the user's patience and a cloud step can take it."""
        wait = self.scheduler.expected_wait(step.model)
        if wait is None:
            return None
        if wait > self.local_max_wait_s and any(
            not s.backend.local and self.router.cooling_s(s.name) == 0 and self._affordable(job, s)
            for s in job.steps[index + 1 :]
        ):
            job.notes.append(N_("The local GPUs were busy (about {wait} to wait), so it went to the cloud.",
                                wait=Seconds(wait)).to_json())
            return None
        return self.scheduler.enqueue(
            Ticket(job.id, job.user_key, step.model, step.estimate.seconds, job.priority, job.max_running)
        )

    async def _run_step(self, job: ActiveJob, step: Step, index: int) -> _Success | BackendError | None:
        if not step.backend.local:
            return await self._attempt(job, step, None, await prompts_for(self.translator, job, step.backend))
        if job.ticket is None:
            job.ticket = self._ticket_for(job, step, index)
            if job.ticket is None:
                return None
        prompts = await prompts_for(self.translator, job, step.backend)
        lane = await self.scheduler.wait(job.ticket)
        job.ticket = None
        try:
            return await self._attempt(job, step, lane, prompts)
        finally:
            self.scheduler.release(lane)

    async def _attempt(
        self, job: ActiveJob, step: Step, lane: GpuLane | None, prompts: ModelPrompts
    ) -> _Success | BackendError:
        lane_name = lane.name if lane else None
        attempt_id = await self.repo.start_attempt(
            job.id, backend=step.name, model=step.model, lane=lane_name, now=utcnow(), prompt_used=prompts.used
        )
        job.state, job.backend, job.progress = JobState.RUNNING, step.name, None
        unused = unused_words(self.router, job.spec, step, self._can_run)
        self.events.publish(Started(job.id, job.platform, step.name, step.model, lane_name,
                                    0.0 if step.backend.local else step.estimate.cost_usd,
                                    prompt_used=prompts.used, translation_failed=prompts.problem is not None,
                                    prompt_unused=unused))
        loop = asyncio.get_running_loop()

        def progress(done: int, total: int, preview: bytes | None) -> None:
            job.progress = (done, total)
            loop.call_soon_threadsafe(self.events.publish, Progress(job.id, job.platform, done, total, preview))

        on_gpu = lane is not None and lane.device.startswith("cuda")

        def loading(phase: str, done: int, total: int) -> None:
            said = Loading(job.id, job.platform, step.model or step.name, phase, done, total, on_gpu)
            loop.call_soon_threadsafe(self.events.publish, said)

        ctx = RunContext(
            job=prompts.given_to(job.spec), workdir=self.results_dir / "work" / job.id, cancel=threading.Event(),
            progress_fn=progress, lane=lane, notes=prompts.notes(), loading_fn=loading,
        )
        if unused is not None:
            ctx.note(unused)
        started = time.monotonic()
        error: BackendError
        try:
            async with asyncio.timeout(self.job_timeout_s):
                output = await step.backend.run(ctx)
            return _Success(attempt_id, output, time.monotonic() - started, ctx.notes, ctx.billed_usd)
        except TimeoutError:
            error = AttemptTimeout(
                N_("{backend} did not finish within {wait}.", backend=step.name, wait=Seconds(self.job_timeout_s)),
                backend=step.name,
            )
        except BackendError as exc:
            exc.backend = exc.backend or step.name
            error = exc
        except (asyncio.CancelledError, Cancelled):
            outcome = "cancelled" if job.user_cancelled else "interrupted"
            await asyncio.shield(  # a user's cancel is theirs to pay; a shutdown's is the operator's
                self.repo.end_attempt(attempt_id, outcome=outcome, now=utcnow(), notes=ctx.notes,
                                      cost_micros=_micros(ctx.billed_usd), user_pays=job.user_cancelled)
            )
            raise asyncio.CancelledError() from None
        except Exception as exc:
            log.exception("backend %s crashed on job %s", step.name, job.id)
            detail = f"{type(exc).__name__}: {exc}"
            error = TransientError(N_("{backend} crashed ({detail}).", backend=step.name, detail=detail),
                                   backend=step.name)
        elapsed = time.monotonic() - started
        await self.repo.end_attempt(
            attempt_id,
            outcome="timeout" if isinstance(error, AttemptTimeout) else "failed",
            now=utcnow(),
            error_code=error.code,
            error_message=error.message,
            gpu_seconds=elapsed if step.backend.local else 0.0,
            cost_micros=_micros(ctx.billed_usd),  # a provider bills the work it did, finished or not
            user_pays=error.user_pays,  # a provider's failure is no charge for the user (refused content is)
            notes=ctx.notes,
        )
        job.notes.extend(ctx.notes)
        return error

    # --- closing ---

    async def _succeed(self, job: ActiveJob, step: Step, done: _Success) -> None:
        output = done.output
        gpu_s = output.gpu_seconds or (done.elapsed_s if step.backend.local else 0.0)
        if output.cost_usd is not None:
            cost = output.cost_usd
        elif done.billed_usd is not None:
            cost = done.billed_usd
        elif step.backend.local:
            cost = gpu_s * self.local_usd_per_gpu_second
        else:
            cost = step.estimate.cost_usd
        cost_micros = _micros(cost)
        try:
            path = await self._materialize(job, output)
        except BaseException as exc:  # the video is lost here, but a provider's bill stands (our GPU's time is free)
            stopped = isinstance(exc, asyncio.CancelledError)
            outcome = ("cancelled" if job.user_cancelled else "interrupted") if stopped else "failed"
            await asyncio.shield(self.repo.end_attempt(
                done.attempt_id, outcome=outcome, now=utcnow(), error_code=None if stopped else "internal",
                error_message=None if stopped else "the result could not be stored",
                cost_micros=0 if step.backend.local else cost_micros, notes=done.notes,
                user_pays=stopped and job.user_cancelled,
            ))
            raise
        job.notes.extend(done.notes)
        closed = await self.repo.finish(  # charges the job what its attempts cost, this one included
            job.id,
            state="succeeded",
            now=utcnow(),
            result_path=str(path),
            attempt=AttemptEnd(
                done.attempt_id, "succeeded", gpu_seconds=gpu_s if step.backend.local else 0.0,
                cost_micros=cost_micros, notes=done.notes, model=output.model,
            ),
        )
        if closed is not None:
            self.events.publish(Ended(job.id, job.platform, JobState.SUCCEEDED))
            self.outbox.notify(closed, job.id, job.platform)

    async def _materialize(self, job: ActiveJob, output: Output) -> Path:
        """The result as ``<job id>.mp4``, its prompt in the title tag (UTF-8: Hangul reads in any player)."""
        target = self.results_dir / f"{job.id}.mp4"
        tags = {"title": job.spec.prompt, "comment": f"reelbot job {job.id}, seed {job.spec.seed}"}
        if job.spec.options.extend_of is not None:
            return await self._joined(job, output, target, tags)
        if output.frames is not None:
            encode = partial(encode_frames, output.frames, output.fps, target, metadata=tags)
            await asyncio.get_running_loop().run_in_executor(self.encode_pool, encode)
            return target
        if output.video_path is None:
            raise TransientError(N_("The backend returned no video."))
        if output.shared_file:
            return output.video_path
        await asyncio.to_thread(with_tags, output.video_path, target, tags)
        return target

    def _model_unavailable(self, job: ActiveJob, step: Step, error: ModelUnavailable) -> None:
        """The admins hear why a model cannot load (once, until it loads again); the user hears only that
        they know (:meth:`_fail`)."""
        key = (step.name, step.model or "")
        job.unavailable_model = step.model
        log.warning("%s cannot load %s: %s", step.name, step.model, error)
        if key not in self._unavailable:
            self._unavailable.add(key)
            self.events.publish(ModelAlert(job.id, "", step.name, step.model or "", _said(error)))
    async def _joined(self, job: ActiveJob, output: Output, target: Path, tags: dict[str, str]) -> Path:
        """An Extend: the video it continues, then its own frames, as one file (``engine.extend``)."""
        parent_id = job.spec.options.extend_of
        found = await self.repo.job(parent_id) if parent_id else None
        parent = Path(found[0].result_path) if found is not None and found[0].result_path else None
        if parent is None or not parent.is_file():
            raise TransientError(N_("The video of job {job_id} is no longer kept, so it cannot be extended.",
                                    job_id=parent_id or "?"))
        tags = {**tags, "comment": f"{tags['comment']}, extends job {parent_id}"}
        join = partial(extend.join, parent, output, target, tags)
        await asyncio.get_running_loop().run_in_executor(self.encode_pool, join)
        return target

    async def _fail(self, job: ActiveJob, failures: list[BackendError]) -> None:
        if failures:
            last = failures[-1]
            tried = ", ".join(dict.fromkeys(f.backend for f in failures if f.backend))
            message = last.text if len(failures) == 1 else N_("{message} (tried: {tried})", message=last.text,
                                                                    tried=tried)
            if isinstance(last, ModelUnavailable):  # the technical reason stays the operator's and the admins'
                model = job.unavailable_model
                told = (N_("The model {model} cannot be used on this bot right now; its admins have been told why.",
                           model=model) if model else
                        N_("The model for this video cannot be used on this bot right now; its admins have been "
                           "told why."))
                await self._close(job, JobState.FAILED, last.code, told, for_operator=message)
                return
            await self._close(job, JobState.FAILED, last.code, message)
        else:
            await self._close(
                job, JobState.FAILED, "no_backend",
                N_("No backend could take the job: every one is cooling down after failures or over your budget."),
            )

    async def _close(self, job: ActiveJob, state: JobState, code: str, message: Text,
                     for_operator: Text | None = None) -> None:
        """End the job; ``message`` is for its user, ``for_operator`` (if it says more) for the operator."""
        closed = await asyncio.shield(self.repo.finish(
            job.id, state=state.value, now=utcnow(), error_code=code, error_message=str(for_operator or message),
            error_text=message.to_json(),
        ))
        if closed is not None:
            self.events.publish(Ended(job.id, job.platform, state, code, message))
            self.outbox.notify(closed, job.id, job.platform)


def _said(error: BackendError) -> Text:
    """An error with its hint, as one message."""
    if error.hint_text is None:
        return error.text
    return N_("{message} {hint}", message=error.text, hint=error.hint_text)


def _micros(usd: float | None) -> int:
    """Dollars as the books keep them; nothing known (None) and nonsense (negative) are $0."""
    return max(0, round(usd * 1e6)) if usd is not None else 0

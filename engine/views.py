"""A stored job as front ends see it: the one place where rows become :class:`JobView`.

Where the job waits and how far it got are not stored; whoever runs the job knows them (the dispatcher)
and passes them in. Without them a view is the job as stored: what the outbox delivers (an ended job waits
nowhere) and what the queue's watchdog reads.
"""

from __future__ import annotations

from pathlib import Path

from engine.errors import NotFound
from engine.types import AttemptView, JobKind, JobState, JobView, Options, Origin, Outcome, UserRef
from engine.words import Text
from storage.models import Attempt, Job, User
from storage.repo import Repository


def job_view(
    job: Job,
    user: User,
    attempts: list[Attempt],
    *,
    place: tuple[int, float] | None = None,
    progress: tuple[int, int] | None = None,
) -> JobView:
    origin = job.origin or {}
    return JobView(
        id=job.id,
        user=UserRef(user.platform, user.external_id, user.name),
        kind=JobKind(job.kind),
        prompt=job.prompt,
        prompt_used=job.prompt_used,
        options=Options.from_dict(job.options or {}),
        state=JobState(job.state),
        origin=Origin(job.origin_platform, origin.get("chat_id", ""), origin.get("data", {}),
                      language=origin.get("language", ""), place_language=origin.get("place_language", ""),
                      delivery=origin.get("delivery", "")),
        seed=job.seed,
        created_at=job.created_at,
        started_at=job.started_at,
        finished_at=job.finished_at,
        backend=job.backend,
        model=job.model,
        reserved_usd=job.max_cost_micros / 1e6,
        charged_usd=job.charged_micros / 1e6,
        result_path=Path(job.result_path) if job.result_path else None,
        error_code=job.error_code,
        error_message=job.error_message,
        error_text=Text.from_json(job.error_text) if job.error_text else job.error_message,
        image_path=Path(job.image_path) if job.image_path else None,
        deleted=job.deleted_at is not None,
        position=place[0] if place else None,
        eta_s=place[1] if place else None,
        progress=progress,
        attempts=tuple(
            AttemptView(
                backend=a.backend, model=a.model, started_at=a.started_at, ended_at=a.ended_at,
                outcome=Outcome(a.outcome), error_code=a.error_code, error_message=a.error_message,
                gpu_seconds=a.gpu_seconds, cost_usd=a.cost_micros / 1e6, notes=tuple(Text.from_json(n) for n in a.notes or ()),
            )
            for a in attempts
        ),
    )


async def stored_view(repo: Repository, job_id: str) -> JobView:
    """The job as stored, with its attempts; :class:`NotFound` if there is no such job."""
    found = await repo.job(job_id)
    if found is None:
        raise NotFound(job_id)
    return job_view(*found)

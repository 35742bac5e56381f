"""The buttons under a job's message, the same on every front end: Cancel, Run on cloud now, Retry (new
seed), Same seed, Extend (under a finished video: make it longer, ``engine.extend``) and Delete (the owner's or
an admin's: the message and the video's files go).

Buttons can be forged: who may press them is the engine's call (``Service.cancel``, ``run_on_cloud`` and
``again`` and ``extend`` check the job's owner), never the button's. A front end parses the press, calls
:func:`perform`, and either words the :class:`Outcome` (``bot.render.outcome_text``) or, for Retry, Same seed
and Extend, queues ``outcome.again`` as a new job its own way.
"""

from __future__ import annotations

from dataclasses import dataclass

from engine.service import Service
from engine.types import Again, CloudOffer, JobView, UserRef

CANCEL, RETRY, SAME_SEED, CLOUD, DELETE = "cancel", "retry", "same", "cloud", "delete"
EXTEND = "extend"
ACTIONS = (CANCEL, RETRY, SAME_SEED, CLOUD, EXTEND, DELETE)
AGAIN = (RETRY, SAME_SEED, EXTEND)  # the presses that queue a new job


@dataclass(frozen=True, slots=True)
class Outcome:
    action: str
    job_id: str
    cancelled: JobView | None = None  # CANCEL: the job as it ended
    moved_to: CloudOffer | None = None  # CLOUD: where it went (None: no provider could take it)
    again: Again | None = None  # RETRY, SAME_SEED, EXTEND: the request to queue (again)
    deleted: JobView | None = None  # DELETE: the job, its files gone (the front end removes its message)

    @property
    def same_seed(self) -> bool:
        return self.action == SAME_SEED

    @property
    def extending(self) -> bool:
        return self.action == EXTEND


async def perform(service: Service, user: UserRef, action: str, job_id: str) -> Outcome:
    if action == CANCEL:
        return Outcome(action, job_id, cancelled=await service.cancel(user, job_id))
    if action == CLOUD:
        offer = service.cloud_offer(job_id)
        moved = offer is not None and await service.run_on_cloud(user, job_id)
        return Outcome(action, job_id, moved_to=offer if moved else None)
    if action == DELETE:
        return Outcome(action, job_id, deleted=await service.delete(user, job_id))
    if action in (RETRY, SAME_SEED):
        return Outcome(action, job_id, again=await service.again(user, job_id, same_seed=action == SAME_SEED))
    if action == EXTEND:
        return Outcome(action, job_id, again=await service.extend(user, job_id))
    raise ValueError(f"unknown job action {action!r}")

"""The front end's "local" backend in distributed mode: the GPU workers, seen from where jobs are queued.

It plans and prices a local step exactly as the workers' own backend would (same registry, same defaults),
so admission and the chain are the same as embedded mode, but it never runs anything here: the job goes to
the queue of its model and a worker that keeps that model warm takes it.
"""

from __future__ import annotations

from engine.backends.base import Backend, Output, RunContext
from engine.types import Estimate, JobKind, Options


class WorkerPool:
    local = True

    def __init__(self, planner: Backend) -> None:
        self.planner = planner
        self.name = planner.name

    def kinds(self) -> frozenset[JobKind]:
        return self.planner.kinds()

    def unavailable_reason(self) -> str | None:
        return None  # torch lives on the workers, not here

    def model_for(self, kind: JobKind, options: Options) -> str | None:
        return self.planner.model_for(kind, options)

    def prompt_languages(self, kind: JobKind, options: Options) -> frozenset[str]:
        return self.planner.prompt_languages(kind, options)

    def model_names(self) -> frozenset[str]:
        return self.planner.model_names()

    def estimate(self, kind: JobKind, options: Options) -> Estimate:
        return self.planner.estimate(kind, options)

    async def run(self, ctx: RunContext) -> Output:
        raise RuntimeError("the front end does not run local jobs in distributed mode; workers do")

    async def aclose(self) -> None:
        await self.planner.aclose()

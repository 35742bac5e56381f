"""Engine throughput: admission + queue + storage with an instant backend. Prints one JSON line.

    python bench/engine.py --jobs 2000 [--gpus 1] [--users 50] [--database-url postgresql://...]

- ``jobs_per_s``: jobs from first submit to last job closed (succeeded, settled, delivery queued).
- ``submit_p50_ms`` / ``submit_p99_ms``: time for ``service.submit`` to return, submitted one after another
  while the GPU lanes work through the queue.
- ``idle_gap_p99_ms``: how long a GPU lane sits idle between a run ending and the next one starting, counted
  only where the next job was already waiting (back-to-back on a warm model).

Goals on the 2-core dev machine: >= 1,000 jobs/s on SQLite, p99 submit <= 5 ms, p99 idle gap <= 10 ms.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import statistics
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from engine.backends.base import Output, RunContext  # noqa: E402
from engine.backends.simulated import SimulatedBackend  # noqa: E402
from engine.types import JobState, Options, Origin, SubmitRequest, UserRef  # noqa: E402
from reelbot.app import App  # noqa: E402
from reelbot.settings import Settings  # noqa: E402


class TimedBackend(SimulatedBackend):
    """The instant simulated backend, noting when each run starts and ends on its lane."""

    def __init__(self, **kwargs: object) -> None:
        super().__init__("local", seconds=0.0, steps=1, render=False, **kwargs)  # type: ignore[arg-type]
        self.runs_log: list[tuple[str, str, float, float]] = []  # lane, job, start, end

    def _work(self, ctx: RunContext) -> Output:
        start = time.perf_counter()
        out = super()._work(ctx)
        self.runs_log.append((ctx.lane.name if ctx.lane else "-", ctx.job.id, start, time.perf_counter()))
        return out


def pct(values: list[float], q: float) -> float:
    if not values:
        return 0.0
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(q * len(ordered)))]


async def run(jobs: int, gpus: int, users: int, database_url: str) -> dict[str, float]:
    folder = Path(tempfile.mkdtemp(prefix="reelbot-bench-"))
    settings = Settings(
        _env_file=None,
        data_dir=folder,
        database_url=database_url,
        local_backend="simulated",
        simulated_gpus=gpus,
        max_queued_per_user=1_000_000,
        max_running_per_user=0,
        max_jobs_per_day=1_000_000,
        max_queue=1_000_000,
        rate_limit_per_minute=0,  # a burst from few users is the point here, not the per-user limiter
        chain_text_to_video=["local"],
    )
    backend = TimedBackend(scratch=folder / "work")
    app = await App.launch(settings, backends={"local": backend}, lock=False)
    service = app.service
    submitted_at: dict[str, float] = {}
    latencies: list[float] = []
    try:
        t0 = time.perf_counter()
        for i in range(jobs):
            request = SubmitRequest(
                UserRef("bench", f"u{i % users}"), f"a cat surfing {i}", Origin("bench"), Options(frames=8)
            )
            start = time.perf_counter()
            view = await service.submit(request)
            latencies.append((time.perf_counter() - start) * 1000)
            submitted_at[view.id] = start
        await asyncio.gather(*(job.task for job in list(service.runner.active.values()) if job.task))
        elapsed = time.perf_counter() - t0
        finished = await asyncio.gather(*(service.get(job_id) for job_id in submitted_at))
        succeeded = sum(1 for job in finished if job.state is JobState.SUCCEEDED)
    finally:
        await app.close()
    gaps = []
    by_lane: dict[str, list[tuple[str, float, float]]] = {}
    for lane, job_id, start, end in backend.runs_log:
        by_lane.setdefault(lane, []).append((job_id, start, end))
    for runs in by_lane.values():
        runs.sort(key=lambda r: r[1])
        for (_, _, prev_end), (job_id, start, _) in zip(runs, runs[1:], strict=False):
            if submitted_at[job_id] < prev_end:  # it was waiting when the lane freed up
                gaps.append((start - prev_end) * 1000)
    return {
        "jobs": jobs,
        "succeeded": succeeded,
        "database": database_url.split(":", 1)[0],
        "gpus": gpus,
        "jobs_per_s": round(jobs / elapsed, 1),
        "submit_p50_ms": round(statistics.median(latencies), 3),
        "submit_p99_ms": round(pct(latencies, 0.99), 3),
        "idle_gap_p50_ms": round(statistics.median(gaps), 3) if gaps else None,
        "idle_gap_p99_ms": round(pct(gaps, 0.99), 3) if gaps else None,
        "gaps_measured": len(gaps),
    }


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--jobs", type=int, default=2000)
    parser.add_argument("--gpus", type=int, default=1)
    parser.add_argument("--users", type=int, default=50)
    parser.add_argument("--database-url", default="", help="default: a fresh SQLite file")
    args = parser.parse_args(argv)
    print(json.dumps(asyncio.run(run(args.jobs, args.gpus, args.users, args.database_url))))


if __name__ == "__main__":
    main()

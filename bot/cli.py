"""The terminal as a front end: `reelbot generate` submits through the same service as the chat bots.

Its deliverer copies a finished video to the path the user gave with ``--out``. Deliveries are stored, so a
`reelbot generate` that was killed mid-job gets its file written by the next reelbot that starts.
"""

from __future__ import annotations

import asyncio
import shutil
import sys
from pathlib import Path
from typing import TextIO

from bot.render import duration, failure_text, progress_bar, queued_line, retrying_line
from engine.events import Ended, Event, Progress, Queued, Retrying, Started
from engine.types import OPERATOR_PLATFORM, JobState, JobView

PLATFORM = OPERATOR_PLATFORM


class FileDeliverer:
    """Writes each finished CLI job's mp4 to its ``--out`` path."""

    async def deliver(self, job: JobView) -> None:
        out = job.origin.data.get("out")
        if job.state is not JobState.SUCCEEDED or not out or job.result_path is None:
            return
        target = Path(out)
        await asyncio.to_thread(_copy, job.result_path, target)


def _copy(source: Path, target: Path) -> None:
    target.parent.mkdir(parents=True, exist_ok=True)
    partial = target.with_name(f".{target.name}.part")
    shutil.copyfile(source, partial)
    partial.replace(target)


class ProgressPrinter:
    """Prints one job's events: a live bar on a terminal, a line per change otherwise."""

    def __init__(self, job_id: str, stream: TextIO = sys.stderr) -> None:
        self.job_id = job_id
        self.stream = stream
        self.live = stream.isatty()
        self._last_pct = -1

    async def __call__(self, event: Event) -> None:
        if event.job_id != self.job_id:
            return
        if isinstance(event, Progress):
            pct = 100 * event.step // max(event.total, 1)
            if self.live:
                self.stream.write(f"\r{progress_bar(event.step, event.total)} step {event.step}/{event.total}")
            elif pct // 25 != self._last_pct // 25:
                self.stream.write(f"{progress_bar(event.step, event.total)}\n")
            self._last_pct = pct
        elif isinstance(event, Queued):
            self._line(queued_line(event.position, event.eta_s))
        elif isinstance(event, Started):
            where = ", ".join(x for x in (event.lane, event.model) if x)
            self._line(f"Running on {event.backend}" + (f" ({where})" if where else ""))
        elif isinstance(event, Retrying):
            self._line(retrying_line(event.failed_backend, event.reason, event.next_backend))
        elif isinstance(event, Ended) and self.live:
            self.stream.write("\n")
        self.stream.flush()

    def _line(self, text: str) -> None:
        if self.live and self._last_pct >= 0:
            self.stream.write("\n")
        self._last_pct = -1
        self.stream.write(text + "\n")


def summary(job: JobView, out: Path) -> str:
    if job.state is JobState.SUCCEEDED:
        return (f"Wrote {out} ({out.stat().st_size / 1e6:.2f} MB) in {duration(job.seconds_taken)} "
                f"on {job.backend} ({job.model or 'default model'}), seed {job.seed}, "
                f"cost {'free' if not job.charged_usd else f'${job.charged_usd:.3f}'}. Job {job.id}.")
    return f"Job {job.id}: {failure_text(job)}"

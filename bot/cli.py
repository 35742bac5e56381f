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

from bot.i18n import ENGLISH, Words
from bot.render import failure_text, loading_line, progress_bar, queued_line, retrying_line
from engine.errors import ReelbotError
from engine.events import Ended, Event, Loading, Progress, Queued, Retrying, Started
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

    def __init__(self, job_id: str, stream: TextIO = sys.stderr, words: Words = ENGLISH) -> None:
        self.job_id = job_id
        self.w = words
        self.stream = stream
        self.live = stream.isatty()
        self._last_pct = -1

    async def __call__(self, event: Event) -> None:
        if event.job_id != self.job_id:
            return
        if isinstance(event, Progress):
            pct = 100 * event.step // max(event.total, 1)
            if self.live:
                step = self.w._("step {step}/{total}", step=event.step, total=event.total)
                self.stream.write(f"\r{progress_bar(event.step, event.total)} {step}")
            elif pct // 25 != self._last_pct // 25:
                self.stream.write(f"{progress_bar(event.step, event.total)}\n")
            self._last_pct = pct
        elif isinstance(event, Queued):
            self._line(queued_line(self.w, event.position, event.eta_s))
        elif isinstance(event, Started):
            where = self.w.join(x for x in (event.lane, event.model) if x)
            self._line(self.w._("Running on {backend} ({details})", backend=event.backend, details=where) if where
                       else self.w._("Running on {backend}", backend=event.backend))
        elif isinstance(event, Retrying):
            self._line(retrying_line(self.w, event.failed_backend, event.reason, event.next_backend))
        elif isinstance(event, Loading):
            said = loading_line(self.w, event.model, event.phase, event.done_bytes, event.total_bytes, event.gpu)
            if self.live and event.phase == "download":
                self.stream.write(f"\r{said}")
                self._last_pct = 0
            elif event.phase != "download" or event.done_bytes in (0, event.total_bytes):
                self._line(said)
        elif isinstance(event, Ended) and self.live:
            self.stream.write("\n")
        self.stream.flush()

    def _line(self, text: str) -> None:
        if self.live and self._last_pct >= 0:
            self.stream.write("\n")
        self._last_pct = -1
        self.stream.write(text + "\n")


def summary(w: Words, job: JobView, out: Path) -> str:
    if job.state is JobState.SUCCEEDED:
        return w._("Wrote {path} ({size} MB) in {time} on {backend} ({model}), seed {seed}, cost {cost}. Job {job_id}.",
                   path=out, size=w.number(out.stat().st_size / 1e6, 2), time=w.duration(job.seconds_taken),
                   backend=job.backend, model=job.model or w._("default model"), seed=job.seed,
                   cost=w.money(job.charged_usd), job_id=job.id)
    return w._("Job {job_id}: {outcome}", job_id=job.id, outcome=failure_text(w, job))


def error_line(w: Words, error: ReelbotError) -> str:
    """An error as the terminal says it: the engine's own message and hint, in the terminal's language
    (``describe_error``'s words point to chat commands, which a terminal does not have)."""
    text = w.text(error.text)
    return f"{text} {w.text(error.hint_text)}" if error.hint_text is not None else text

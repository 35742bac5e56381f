"""The one small Protocol that local pipelines and cloud providers both implement.

A backend turns a :class:`~engine.types.JobSpec` into frames or an mp4. Everything around it (queues, quotas,
retries, cooldowns, storage) is the engine's job, so a new provider is one class.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any, Protocol, runtime_checkable

from engine.types import Estimate, JobKind, JobSpec, Options
from engine.words import Text

if TYPE_CHECKING:
    from engine.lanes import GpuLane

ProgressFn = Callable[[int, int, bytes | None], None]
LoadingFn = Callable[[str, int, int], None]  # phase ("download", "load"), bytes done, bytes in all


class Cancelled(Exception):
    """Raised inside a backend when the job's cancel flag is set; the engine turns it into a cancel."""


@dataclass
class RunContext:
    """What one attempt gets: its job, a scratch folder, its GPU lane (local backends) and the cancel flag."""

    job: JobSpec
    workdir: Path
    cancel: threading.Event
    progress_fn: ProgressFn
    lane: GpuLane | None = None
    notes: list[Any] = field(default_factory=list)  # str, or a Text as JSON
    # What the provider billed (or, per its catalog entry, will bill) for this attempt so far, in dollars.
    # A cloud backend sets it as soon as it is known, so that an attempt that is cancelled, times out or
    # fails after remote work started is still on the books. None: nothing billed that we know of.
    billed_usd: float | None = None
    loading_fn: LoadingFn | None = None  # how a local backend says it downloads or loads the model first

    def loading(self, phase: str, done: int = 0, total: int = 0) -> None:
        """Report that the model is being downloaded (bytes) or loaded, before any step; any thread."""
        if self.loading_fn is not None:
            self.loading_fn(phase, done, total)

    def progress(self, step: int, total: int, preview: bytes | None = None) -> None:
        """Report a step; safe to call from any thread."""
        self.progress_fn(step, total, preview)

    def note(self, text: Text | str) -> None:
        """Record what the backend did on the way, kept on the attempt row: a :class:`Text` (``N_(...)``)
        is a change the user is told about (fewer frames, less memory); a plain string is for the operator."""
        self.notes.append(text.to_json() if isinstance(text, Text) else text)

    def raise_if_cancelled(self) -> None:
        if self.cancel.is_set():
            raise Cancelled()


@dataclass(frozen=True, slots=True)
class Output:
    """Frames to encode, or an mp4 the backend already has."""

    fps: float
    frames: Sequence[Any] | None = None
    video_path: Path | None = None
    cost_usd: float | None = None  # what the provider billed; None: the estimate stands
    gpu_seconds: float = 0.0
    model: str | None = None
    shared_file: bool = False  # video_path is not the attempt's own file: copy, never move


@runtime_checkable
class Backend(Protocol):
    name: str
    local: bool  # True: runs on one of our GPU lanes, one job at a time per lane

    def kinds(self) -> frozenset[JobKind]: ...

    def unavailable_reason(self) -> Text | str | None:
        """None when the backend can take jobs; else words on why not (shown in status/doctor)."""
        ...

    def model_for(self, kind: JobKind, options: Options) -> str | None:
        """The model this backend would use, or None if it cannot serve the requested model."""
        ...

    def prompt_languages(self, kind: JobKind, options: Options) -> frozenset[str]:
        """The prompt languages the model this backend would use understands (``"*"``: any); a prompt in
        another language reaches it translated to English (engine/translate). Empty: the model takes no
        prompt at all (SVD), and a user who gave one is told so (engine/captions.py)."""
        ...

    def model_names(self) -> frozenset[str]:
        """The names a chat user may pick with ``--model`` here: what the admin listed (registry,
        ``LOCAL_MODELS``, the provider's catalog). A folder or repo id outside them is the operator's choice
        (CLI, settings), never a chat user's: the engine checks that before anything is stored."""
        ...

    def estimate(self, kind: JobKind, options: Options) -> Estimate: ...

    async def run(self, ctx: RunContext) -> Output: ...

    async def aclose(self) -> None: ...

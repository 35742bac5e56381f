"""Values that cross the engine's seams: frozen dataclasses and StrEnums, nothing with behaviour."""

from __future__ import annotations

import dataclasses
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from datetime import datetime
from enum import StrEnum
from pathlib import Path
from typing import Any, Generic, TypeVar

from engine.words import Text

T = TypeVar("T")

# The platform of `reelbot generate`: the operator at the server's terminal, trusted to name folders and repos.
OPERATOR_PLATFORM = "cli"
# The web console's platform, and its operator's id there (signed in with WEB_PASSWORD or the one-time link).
WEB = "web"
WEB_OPERATOR_ID = "operator"
# Every front end a user (and a job) can come from: the first part of a user key, "discord:123".
PLATFORMS = ("discord", "telegram", WEB, OPERATOR_PLATFORM)


class JobKind(StrEnum):
    TEXT_TO_VIDEO = "text-to-video"
    IMAGE_TO_VIDEO = "image-to-video"


class JobState(StrEnum):
    QUEUED = "queued"
    RUNNING = "running"
    SUCCEEDED = "succeeded"
    FAILED = "failed"
    CANCELLED = "cancelled"

    @property
    def terminal(self) -> bool:
        return self in (JobState.SUCCEEDED, JobState.FAILED, JobState.CANCELLED)


class Outcome(StrEnum):
    """How one attempt ended."""

    RUNNING = "running"
    SUCCEEDED = "succeeded"
    FAILED = "failed"
    CANCELLED = "cancelled"
    TIMEOUT = "timeout"
    INTERRUPTED = "interrupted"  # the process died while it ran; found by recovery


@dataclass(frozen=True, slots=True)
class UserRef:
    """Who asked, as the chat platform knows them.

    ``manages`` is the scope (see :attr:`Origin.scope`) whose managers the platform says this person belongs
    to for this request (Discord's Manage Server in that server). It opens that server's own view of
    ``/status`` and nothing else; whether someone is an admin is never the front end's to say
    (``engine/access.py``).
    """

    platform: str
    user_id: str
    name: str = ""
    manages: str | None = None

    @property
    def key(self) -> str:
        return f"{self.platform}:{self.user_id}"


# Keys of ``Origin.data`` that are credentials (a Discord interaction's token answers as the bot for 15
# minutes): kept only while the job's news is on its way, dropped from the database once it was delivered.
ORIGIN_SECRETS = ("token",)


@dataclass(frozen=True, slots=True)
class Origin:
    """Where the job came from, so its result can be delivered there (even after a restart)."""

    platform: str
    chat_id: str = ""
    data: dict[str, Any] = field(default_factory=dict)  # message ids, interaction tokens, output path...
    scope: str = ""  # the server or group it came from ("discord:guild:123"), for that place's own view
    language: str = ""  # what the job's messages to the asker are written in ("ko"); empty: the default
    place_language: str = ""  # what a message to the place in the asker's absence is written in (the server's)
    delivery: str = ""  # "private": the result goes to the asker alone (their /settings); empty: where asked


@dataclass(frozen=True, slots=True)
class Options:
    """What the user may choose. ``None`` means: the model's default."""

    frames: int | None = None
    fps: int | None = None
    seed: int | None = None
    portrait: bool = False
    width: int | None = None
    height: int | None = None
    steps: int | None = None
    negative_prompt: str | None = None
    model: str | None = None
    provider: str | None = None
    allow_fewer_frames: bool = True
    raw_prompt: bool | None = None  # True (--raw): every model gets the prompt as written, never translated
    # Extend: the job whose video this one continues (from its last frame); set by the engine alone
    # (``Service.extend``), never from a chat's flags, and checked again at admission.
    extend_of: str | None = None
    # True: the place the job came from shows a preview picture half-way (``/preview on``); set by the engine
    # at admission from that place's switch, never from a chat's flags.
    preview: bool | None = None
    aspect: str | None = None  # --ar: "16:9", "9:16", "1:1", "4:5", "21:9"; mapped per model (engine/controls.py)
    motion: int | None = None  # --motion 1-10: how much moves (SVD's motion bucket; engine/controls.py)
    quality: str | None = None  # --quality fast|normal|best: the model's steps preset (--steps wins)

    def to_dict(self) -> dict[str, Any]:
        return {f: v for f in _OPTION_FIELDS if (v := getattr(self, f)) is not None}

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> Options:
        names = {f.name for f in dataclasses.fields(cls)}
        return cls(**{k: v for k, v in data.items() if k in names})


_OPTION_FIELDS = tuple(f.name for f in dataclasses.fields(Options))


@dataclass(frozen=True, slots=True)
class SubmitRequest:
    user: UserRef
    prompt: str
    origin: Origin
    options: Options = Options()
    # The raw upload, or how to fetch it (a chat attachment's download): the engine fetches it only after
    # the cheap checks on the user (ban, rate, quota) passed, then validates and stores it.
    image: bytes | Callable[[], Awaitable[bytes]] | None = None


@dataclass(frozen=True, slots=True)
class Again:
    """What Retry and Same seed submit again: the earlier job's request, as its owner made it."""

    prompt: str
    options: Options
    image: bytes | None


@dataclass(frozen=True, slots=True)
class JobSpec:
    """A job as a backend sees it: everything it needs, resolved and validated."""

    id: str
    kind: JobKind
    prompt: str
    options: Options
    image_path: Path | None
    seed: int


@dataclass(frozen=True, slots=True)
class CloudOffer:
    """A waiting job could leave the GPU queue now for this cloud backend, at about this cost."""

    backend: str
    cost_usd: float
    seconds: float


@dataclass(frozen=True, slots=True)
class ChainPreview:
    """Before a job is queued: what waiting for a GPU here means, and what the cloud would cost now."""

    local_position: int | None  # the place it would take in the GPU queue (1: next); None: no GPU serves it
    local_wait_s: float | None  # until it would start
    local_seconds: float | None  # how long it would then run
    local_cost_usd: float
    cloud: CloudOffer | None  # the first cloud backend that could take it now, if any


@dataclass(frozen=True, slots=True)
class Estimate:
    cost_usd: float
    seconds: float


@dataclass(frozen=True, slots=True)
class AttemptView:
    backend: str
    model: str | None
    started_at: datetime
    ended_at: datetime | None
    outcome: Outcome
    error_code: str | None
    error_message: str | None
    gpu_seconds: float
    cost_usd: float
    notes: tuple[Text | str, ...] = ()  # Text: a change the user is told about; str: for the operator


@dataclass(frozen=True, slots=True)
class JobView:
    """A job as front ends show it."""

    id: str
    user: UserRef
    kind: JobKind
    prompt: str
    options: Options
    state: JobState
    origin: Origin
    seed: int
    created_at: datetime
    started_at: datetime | None = None
    finished_at: datetime | None = None
    backend: str | None = None
    model: str | None = None
    reserved_usd: float = 0.0
    charged_usd: float = 0.0
    result_path: Path | None = None
    error_code: str | None = None
    error_message: str | None = None  # in English, for the operator
    error_text: Text | str | None = None  # the same for users, worded in their language by the front end
    position: int | None = None  # 1 = next to run
    eta_s: float | None = None
    progress: tuple[int, int] | None = None  # (step, total) while running
    attempts: tuple[AttemptView, ...] = ()
    image_path: Path | None = None  # the stored input picture of an image-to-video job (for Retry)
    prompt_used: str | None = None  # what the model got when it is not ``prompt`` (translated to English)
    deleted: bool = False  # its owner or an admin pressed Delete: the video and picture are gone

    @property
    def seconds_taken(self) -> float | None:
        if self.started_at and self.finished_at:
            return (self.finished_at - self.started_at).total_seconds()
        return None


@dataclass(frozen=True, slots=True)
class Page(Generic[T]):
    """One page of a listing (``items``, from ``offset`` on, at most ``limit`` of them) and how many the
    whole listing has (``total``)."""

    items: tuple[T, ...]
    total: int
    offset: int
    limit: int

    @property
    def has_next(self) -> bool:
        return self.offset + len(self.items) < self.total

    @property
    def has_prev(self) -> bool:
        return self.offset > 0

    @property
    def next_offset(self) -> int:
        """Where the next page starts."""
        return self.offset + self.limit

    @property
    def prev_offset(self) -> int:
        """Where the previous page starts (0 at the latest)."""
        return max(0, self.offset - self.limit)


@dataclass(frozen=True, slots=True)
class ModelChoice:
    """One model a user may pick now (``/models``, Discord's autocomplete, the web form): what it makes, how
    long it typically takes and what a video costs where it would run first."""

    name: str
    kinds: tuple[JobKind, ...]  # text-to-video, image-to-video, or both
    backend: str | None  # where it would run first ("local", "replicate"); None: nowhere right now
    local: bool
    seconds: float | None  # the backend's estimate of one run
    cost_usd: float  # the price of one video there (0.0: free)

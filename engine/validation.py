"""Checks on what a user asked for, before anything is stored or charged.

Each problem raises :class:`~engine.errors.InvalidInput` naming the field, the value's problem and what to
do. Nothing is corrected silently (a 9-second prompt typo should not quietly become a different video),
except characters nobody can see: control, bidi and zero-width characters are dropped from text.

A chat user picks a model from the names the admin listed; only the operator at the server's terminal
(``reelbot generate``) may name a folder or a repository, so no chat message reaches the server's disk.
"""

from __future__ import annotations

import dataclasses
import math
import re
import unicodedata
from collections.abc import Collection
from dataclasses import dataclass

from engine.controls import checked
from engine.errors import InvalidInput
from engine.types import OPERATOR_PLATFORM, PLATFORMS, JobKind, JobState, Options, SubmitRequest, UserRef
from engine.words import N_, Text

MAX_SEED = 2**32 - 1
_NAME = re.compile(r"^[\w.\-/:]{1,200}$")
_PROVIDER = re.compile(r"^[a-z0-9_\-]{1,32}$")
_BACKEND = re.compile(r"^[A-Za-z0-9_.:\-]{1,64}$")
_DIGITS = re.compile(r"^[0-9]{1,32}$")  # Discord's and Telegram's user ids
_TOKEN = re.compile(r"^[A-Za-z0-9_.\-]{1,64}$")  # the web console's and the CLI's
MAX_PAGE = 100  # rows in one page of a listing
MAX_SEARCH_CHARS = 100
MAX_USER_LIMIT = 1_000_000  # beyond any real use, within every database's integer


@dataclass(frozen=True, slots=True)
class InputLimits:
    max_prompt_chars: int = 1000
    max_frames: int = 129
    max_fps: int = 60
    max_steps: int = 100
    max_video_pixels: int = 1280 * 720
    max_image_bytes: int = 20 * 1024 * 1024
    max_image_pixels: int = 40_000_000


def validate(
    request: SubmitRequest, limits: InputLimits, models: Collection[str] = frozenset()
) -> tuple[JobKind, str, Options]:
    """Return the job's kind, its cleaned prompt and its options, or raise InvalidInput. ``models``: the
    names chat users may pick (the operator may also give a folder or a repo id)."""
    if not request.user.platform or not request.user.user_id:
        raise InvalidInput("user", N_("The request does not say who sent it."))
    kind = JobKind.IMAGE_TO_VIDEO if request.image is not None else JobKind.TEXT_TO_VIDEO
    prompt = _text("prompt", request.prompt, limits.max_prompt_chars)
    if kind is JobKind.TEXT_TO_VIDEO and not prompt:
        raise InvalidInput(
            "prompt",
            N_("Describe the video you want."),
            hint=N_("For example: a cat surfing a wave at sunset. Or give a picture to animate."),
            reason="missing",
        )
    opts = request.options
    if opts.negative_prompt is not None:
        opts = dataclasses.replace(
            opts, negative_prompt=_text("negative_prompt", opts.negative_prompt, limits.max_prompt_chars)
        )
    _int_range("frames", opts.frames, 1, limits.max_frames)
    _int_range("fps", opts.fps, 1, limits.max_fps)
    _int_range("seed", opts.seed, 0, MAX_SEED)
    _int_range("steps", opts.steps, 1, limits.max_steps)
    _size(opts, limits)
    opts = checked(opts)  # --ar, --motion, --quality (engine/controls.py)
    if opts.model is not None and not _NAME.match(opts.model):
        raise InvalidInput(
            "model",
            N_("{model} is not a model name.", model=repr(opts.model[:40])),
            hint=N_("Use a model's name, or leave it out for the default."),
            reason="not_a_name",
        )
    if opts.model is not None and request.user.platform != OPERATOR_PLATFORM and opts.model not in models:
        raise InvalidInput(
            "model",
            N_("{model} is not a model here.", model=repr(opts.model[:60])),
            hint=N_("Models: {models}; or leave it out for the default. Other models (a folder, a Hugging Face "
                    "repo) are added by an admin with LOCAL_MODELS.", models=", ".join(sorted(models)))
            if models else N_("No models can be picked by name here; leave it out for the default. Other models "
                              "(a folder, a Hugging Face repo) are added by an admin with LOCAL_MODELS."),
        )
    if opts.provider is not None and not _PROVIDER.match(opts.provider):
        raise InvalidInput("provider", N_("{provider} is not a provider name.", provider=repr(opts.provider[:40])))
    # The picture is checked when it is stored (engine/images.py), after the cheap checks on the user.
    return kind, prompt, opts


def clean_text(text: str) -> str:
    """Text as it may reach a model, a caption or a status line: no control characters (tabs and line
    breaks become spaces), no bidi overrides or zero-width characters (Unicode "format" characters, which
    can make a caption read differently from what it says, or hide words from a reader)."""
    kept = []
    for ch in text:
        category = unicodedata.category(ch)
        if ch in "\t\n\r\u2028\u2029":
            kept.append(" ")
        elif category not in ("Cc", "Cf"):
            kept.append(ch)
    return "".join(kept)


def _text(field: str, value: object, max_chars: int) -> str:
    if not isinstance(value, str):
        raise InvalidInput(field, N_("The prompt must be text.") if field == "prompt"
                           else N_("The negative prompt must be text."))
    text = clean_text(value).strip()
    if len(text) > max_chars:
        said = N_("The prompt is {length:,} characters long; the limit is {limit:,}.", length=len(text),
                  limit=max_chars) if field == "prompt" else N_(
            "The negative prompt is {length:,} characters long; the limit is {limit:,}.", length=len(text),
            limit=max_chars)
        raise InvalidInput(field, said,
                           hint=N_("Shorten it: the models read only the first few dozen words anyway."))
    return text


# What each number is called where a message names it.
_NUMBERS: dict[str, Text] = {
    "frames": N_("frames"), "fps": N_("fps"), "seed": N_("seed"), "steps": N_("steps"), "width": N_("width"),
    "height": N_("height"),
}


def _int_range(field: str, value: object, low: int, high: int) -> None:
    if value is None:
        return
    name = _NUMBERS[field]
    if not isinstance(value, int) or isinstance(value, bool):
        raise InvalidInput(field, N_("{field} must be a whole number, not {value}.", field=name, value=repr(value)))
    if not low <= value <= high:
        if field in ("width", "height"):
            raise InvalidInput(field, N_("{field} must be between {low} and {high:,} pixels; you asked for "
                                         "{value:,}.", field=name, low=low, high=high, value=value))
        raise InvalidInput(field, N_("{field} must be between {low} and {high:,}; you asked for {value:,}.",
                                     field=name, low=low, high=high, value=value))


def _size(opts: Options, limits: InputLimits) -> None:
    if opts.width is None and opts.height is None:
        return
    if opts.width is None or opts.height is None:
        raise InvalidInput("size", N_("Give both width and height, or neither."))
    if opts.portrait:
        raise InvalidInput("size", N_("Use either --portrait or an explicit width and height, not both."))
    for field, value in (("width", opts.width), ("height", opts.height)):
        _int_range(field, value, 64, 4096)
        if value % 8:
            raise InvalidInput(field, N_("{field} must be a multiple of 8 (video models need it); got {value}.",
                                         field=_NUMBERS[field], value=value))
    pixels = opts.width * opts.height
    if pixels > limits.max_video_pixels:
        raise InvalidInput(
            "size",
            N_("{width}x{height} is {pixels:,} pixels per frame; the limit here is {limit:,}.", width=opts.width,
               height=opts.height, pixels=pixels, limit=limits.max_video_pixels),
            hint=N_("Ask for a smaller size."),
        )


# --- what admins type into the console: user keys, filters, pages, limits ----------------------------------


def parse_user_key(key: object) -> UserRef:
    """A user key as someone typed or posted it ("discord:123456", "web:ann"), or :class:`InvalidInput`.
    Discord and Telegram ids are numbers; the other platforms' are short tokens of letters, digits, ``_``,
    ``.`` and ``-``. The name is not known from a key: it is empty."""
    text = key.strip() if isinstance(key, str) else ""
    platform, colon, user_id = text.partition(":")
    if not colon or not platform or not user_id:
        raise InvalidInput("user", N_("{key} is not a user; write it as platform:id, like discord:123456.",
                                      key=repr(str(key)[:40])))
    platform = platform.lower()
    if platform not in PLATFORMS:
        raise InvalidInput("user", N_("{platform} is not a platform here; use one of: {platforms}.",
                                      platform=repr(platform[:40]), platforms=", ".join(PLATFORMS)))
    if not (_DIGITS if platform in ("discord", "telegram") else _TOKEN).match(user_id):
        raise InvalidInput(
            "user",
            N_("{user_id} is not a user id on {platform}.", user_id=repr(user_id[:40]), platform=platform),
            hint=N_("Discord and Telegram ids are numbers; other ids are letters, digits, _, . and -, up to "
                    "64 of them."),
        )
    return UserRef(platform, user_id)


def check_page(offset: object, limit: object) -> None:
    """A page of a listing starts at ``offset`` (0 or more) and holds ``limit`` rows (1 to MAX_PAGE)."""
    if not isinstance(offset, int) or isinstance(offset, bool) or offset < 0:
        raise InvalidInput("offset", N_("A page starts at row 0 or later, not {value}.", value=repr(offset)))
    if not isinstance(limit, int) or isinstance(limit, bool) or not 1 <= limit <= MAX_PAGE:
        raise InvalidInput("limit", N_("A page holds 1 to {most} rows, not {value}.", most=MAX_PAGE,
                                       value=repr(limit)))


def check_state(state: object) -> JobState:
    try:
        return JobState(str(state))
    except ValueError:
        raise InvalidInput("state", N_("{state} is not a job state; use one of: {states}.",
                                       state=repr(str(state)[:40]), states=", ".join(JobState))) from None


def check_backend(backend: object) -> str:
    """A backend's name (one no longer configured is still a name: its old jobs are found)."""
    if not isinstance(backend, str) or not _BACKEND.match(backend):
        raise InvalidInput("backend", N_("{backend} is not a backend name.", backend=repr(str(backend)[:40])))
    return backend


def check_platform(platform: object) -> str:
    """Where a job came from: one of the front ends."""
    if platform not in PLATFORMS:
        raise InvalidInput("origin", N_("{platform} is not a platform here; use one of: {platforms}.",
                                        platform=repr(str(platform)[:40]), platforms=", ".join(PLATFORMS)))
    return str(platform)


def check_search(search: object) -> str | None:
    """What to look for in users' names and ids; None when there is nothing to look for."""
    if search is None:
        return None
    if not isinstance(search, str):
        raise InvalidInput("search", N_("The search must be text."))
    text = clean_text(search).strip()
    if len(text) > MAX_SEARCH_CHARS:
        raise InvalidInput("search", N_("The search is {length:,} characters long; the limit is {limit:,}.",
                                        length=len(text), limit=MAX_SEARCH_CHARS))
    return text or None


# What each of a user's limits is called where a message names it.
_USER_LIMITS: dict[str, Text] = {
    "max_running": N_("videos in progress at a time"),
    "max_queued": N_("videos waiting or in progress"),
    "max_jobs_per_day": N_("videos a day"),
}


def check_user_limit(field: str, value: object) -> None:
    """One of a user's own limits: None (the setting applies), a whole number from 0 (none allowed), or
    for ``max_usd_per_month`` an amount of dollars from 0."""
    if value is None:
        return
    if field == "max_usd_per_month":
        if (not isinstance(value, int | float) or isinstance(value, bool) or not math.isfinite(value)
                or not 0 <= value <= MAX_USER_LIMIT):
            raise InvalidInput(field, N_("The monthly allowance must be from $0 to ${high:,}; got {value}.",
                                         high=MAX_USER_LIMIT, value=repr(value)))
        return
    if not isinstance(value, int) or isinstance(value, bool) or not 0 <= value <= MAX_USER_LIMIT:
        raise InvalidInput(field, N_("The limit of {field} must be a whole number from 0 to {high:,}; got "
                                     "{value}.", field=_USER_LIMITS[field], high=MAX_USER_LIMIT, value=repr(value)))

"""Checks on what a user asked for, before anything is stored or charged.

Each problem raises :class:`~engine.errors.InvalidInput` naming the field, the value's problem and what to
do. Nothing is corrected silently (a 9-second prompt typo should not quietly become a different video),
except characters nobody can see: control, bidi and zero-width characters are dropped from text.

A chat user picks a model from the names the admin listed; only the operator at the server's terminal
(``reelbot generate``) may name a folder or a repository, so no chat message reaches the server's disk.
"""

from __future__ import annotations

import dataclasses
import re
import unicodedata
from collections.abc import Collection
from dataclasses import dataclass

from engine.errors import InvalidInput
from engine.types import OPERATOR_PLATFORM, JobKind, Options, SubmitRequest
from engine.words import N_, Text

MAX_SEED = 2**32 - 1
_NAME = re.compile(r"^[\w.\-/:]{1,200}$")
_PROVIDER = re.compile(r"^[a-z0-9_\-]{1,32}$")


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

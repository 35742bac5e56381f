"""The controls users know from other video bots: ``--ar``, ``--motion`` and ``--quality``.

Chat front ends only read what was typed (``bot/parse.py``); what a value means is decided here, once for every
front end: which aspect ratios there are (``16x9`` and ``16/9`` are read as ``16:9``), how a ratio becomes a
frame size for a model (the model's own pixel area, kept roughly, on its size grid), how the 1-10 motion scale
becomes SVD's ``motion_bucket_id`` (1-255, 5 is its default 127), and how many denoising steps each quality
preset means for a model. A model without such a knob is never silently given one: the backend notes for the
user that the setting was not used.
"""

from __future__ import annotations

import dataclasses
import math
import re

from engine.errors import InvalidInput
from engine.types import Options
from engine.words import N_, Text

# The aspect ratios users may ask for, as (width, height) parts.
ASPECTS: dict[str, tuple[int, int]] = {"16:9": (16, 9), "9:16": (9, 16), "1:1": (1, 1), "4:5": (4, 5),
                                       "21:9": (21, 9)}
PORTRAIT, LANDSCAPE = "9:16", "16:9"  # what --portrait and --landscape stand for
QUALITIES = ("fast", "normal", "best")
# A quality in the words of each language reelbot speaks (the engine accepts them from everyone).
QUALITY_WORDS = {"빠르게": "fast", "빠름": "fast", "보통": "normal", "최고": "best", "최고화질": "best"}
MIN_MOTION, MAX_MOTION = 1, 10
DEFAULT_MOTION_BUCKET = 127  # SVD's own default, what --motion 5 means
MAX_MOTION_BUCKET = 255
_RATIO = re.compile(r"^\s*(\d{1,3})\s*[:xX×/]\s*(\d{1,3})\s*$")


def check_aspect(value: object) -> str:
    """The aspect ratio as it is written here ("16:9"), from "16:9", "16x9" or "16/9"; or InvalidInput naming
    the value and the choices."""
    match = _RATIO.match(value) if isinstance(value, str) else None
    if match is not None:
        a, b = int(match.group(1)), int(match.group(2))
        if b and (name := next((k for k, (x, y) in ASPECTS.items() if a * y == b * x), None)):
            return name
    shown = str(value).strip()[:20]
    raise InvalidInput("aspect", N_("{value} is not an aspect ratio I can make; use one of: {choices}.",
                                    value=repr(shown), choices=", ".join(ASPECTS)),
                       hint=N_("For example --ar 9:16 for a tall video, --ar 1:1 for a square one."),
                       reason="unknown_aspect")


def check_quality(value: object) -> str:
    """``fast``, ``normal`` or ``best`` (a language's own word for one, too); or InvalidInput with the choices."""
    word = value.strip().lower() if isinstance(value, str) else ""
    word = QUALITY_WORDS.get(word, word)
    if word in QUALITIES:
        return word
    raise InvalidInput("quality", N_("{value} is not a quality; use one of: {choices}.",
                                     value=repr(str(value).strip()[:20]), choices=", ".join(QUALITIES)),
                       hint=N_("fast makes it quicker, best finer and slower; --steps sets the steps exactly."),
                       reason="unknown_quality")


def check_motion(value: object) -> int:
    if not isinstance(value, int) or isinstance(value, bool) or not MIN_MOTION <= value <= MAX_MOTION:
        raise InvalidInput("motion", N_("Motion goes from {low} (almost still) to {high} (a lot of movement); "
                                        "{value} is not on that scale.", low=MIN_MOTION, high=MAX_MOTION,
                                        value=repr(value)),
                           hint=N_("Leave it out for the model's usual amount (5)."), reason="motion_range")
    return value


def checked(opts: Options) -> Options:
    """``opts`` with its controls in their one spelling, or InvalidInput (engine/validation.py calls it)."""
    aspect = check_aspect(opts.aspect) if opts.aspect is not None else None
    quality = check_quality(opts.quality) if opts.quality is not None else None
    if opts.motion is not None:
        check_motion(opts.motion)
    if aspect is not None and (opts.width is not None or opts.height is not None):
        raise InvalidInput("aspect", N_("Use either an aspect ratio (--ar) or an exact width and height "
                                        "(--size), not both."))
    if aspect is not None and opts.portrait and aspect != PORTRAIT:
        raise InvalidInput("aspect", N_("--portrait and --ar {aspect} contradict each other; keep one.",
                                        aspect=aspect))
    return dataclasses.replace(opts, aspect=aspect, quality=quality)


def wanted_aspect(opts: Options) -> str | None:
    """The aspect ratio asked for: ``--ar``, or 9:16 for the older ``portrait`` switch; None: the model's own."""
    if opts.aspect is not None:
        return opts.aspect
    return PORTRAIT if opts.portrait else None


def frame_size(width: int, height: int, aspect: str, multiple: int = 8) -> tuple[int, int]:
    """A frame of ``aspect`` with about the pixels of ``width`` x ``height``, each side a multiple of
    ``multiple`` (at least one multiple)."""
    a, b = ASPECTS[aspect]
    area = width * height
    w, h = math.sqrt(area * a / b), math.sqrt(area * b / a)
    return max(multiple, round(w / multiple) * multiple), max(multiple, round(h / multiple) * multiple)


def sized(width: int, height: int, multiple: int, opts: Options) -> tuple[int, int]:
    """The frame a model whose default frame is ``width`` x ``height`` makes for ``opts``: the exact size asked
    for, else its area in the asked aspect ratio, else its own frame (landscape; turned for ``portrait``)."""
    if opts.width and opts.height:
        return opts.width, opts.height
    if opts.aspect is None:  # the model's own frame; turned for the older portrait switch
        return (min(width, height), max(width, height)) if opts.portrait else (max(width, height), min(width, height))
    return frame_size(width, height, opts.aspect, multiple)


def ratio_name(width: int, height: int) -> str:
    """The known aspect ratio nearest to a frame's shape ("16:9" for 1280x720)."""
    return min(ASPECTS, key=lambda k: abs(math.log(width / height * ASPECTS[k][1] / ASPECTS[k][0])))


def same_shape(width: int, height: int, aspect: str, tolerance: float = 0.03) -> bool:
    """Whether a frame has (about) the shape of ``aspect``: rounding to a size grid is not a change to tell."""
    a, b = ASPECTS[aspect]
    return abs(math.log(width / height * b / a)) <= tolerance


def motion_bucket(motion: int) -> int:
    """The 1-10 motion scale as SVD's motion bucket: 1 -> 1, 5 -> 127 (its default), 10 -> 255."""
    if motion <= 5:
        return round(1 + (motion - 1) * (DEFAULT_MOTION_BUCKET - 1) / 4)
    return round(DEFAULT_MOTION_BUCKET + (motion - 5) * (MAX_MOTION_BUCKET - DEFAULT_MOTION_BUCKET) / 5)


def preset_steps(default_steps: int, presets: tuple[int, ...], quality: str) -> int:
    """The steps of a quality preset: the model's own presets (fast, normal, best), else half, all and one and a
    half times its default steps."""
    index = QUALITIES.index(quality)
    if len(presets) == len(QUALITIES):
        return presets[index]
    return max(1, round(default_steps * (0.5, 1.0, 1.5)[index]))


def steps_for(default_steps: int, presets: tuple[int, ...], opts: Options) -> int:
    """The steps a job runs: ``--steps`` if given, else its ``--quality`` preset, else the model's default."""
    if opts.steps:
        return opts.steps
    if opts.quality:
        return preset_steps(default_steps, presets, opts.quality)
    return default_steps


def not_used(setting: str, model: str) -> Text:
    """The note a user reads when the model they got has no such setting."""
    return N_("{setting} was not used: {model} has no such setting", setting=setting, model=model)


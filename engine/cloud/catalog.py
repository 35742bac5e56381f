"""Which model each provider runs for a job, with what inputs, at what price.

Each provider has an ordered list of :class:`CloudModel`; the first one of a job kind is that provider's
default for it, and a user's ``--model NAME`` picks the entry of that name (reelbot's model names are shared
with the local registry, so ``--model svd-xt`` means SVD-XT wherever it runs). Admins change models, inputs
and prices without code through ``CLOUD_MODELS`` (JSON, see :func:`load_catalog`).

Inputs are templates: a value written ``"{name}"`` is replaced by the job's value (left out when the job has
none), anything else is sent as is. Prices marked (?) in the README are estimates from public price pages:
check them against your own bills and set yours.

Each entry also carries the model's input rules (accepted frames, fps range, caps on frames, steps and size,
whether a prompt is required and how long it may be in the provider's units, the seed range). They are applied
in one place, :func:`job_values`, before any request: a value the model does not take becomes the nearest one
it does, with a note the user sees ("fps 7 → 10: fal's stable-video takes 10–100"). The caps also make the
estimate an upper bound: the reservation is computed from the same mapped values, and per-second compute is
bounded by ``max_run_seconds`` (Replicate cancels a prediction there itself: ``Cancel-After``).

Each entry says which prompt languages the model understands (``prompt_languages``): English unless its
provider documents more, so that a prompt in another language is translated first (``engine/translate``);
a model that takes the user's language gets the prompt as they wrote it.
"""

from __future__ import annotations

import math
import re
from collections.abc import Mapping
from dataclasses import dataclass, field, fields, replace
from typing import Any

from engine.controls import (
    DEFAULT_MOTION_BUCKET,
    frame_size,
    motion_bucket,
    not_used,
    preset_steps,
    ratio_name,
    same_shape,
)
from engine.json_setting import json_object
from engine.translate.languages import ENGLISH, language_codes
from engine.types import JobKind, JobSpec, Options
from engine.words import N_, Text

T2V, I2V = JobKind.TEXT_TO_VIDEO, JobKind.IMAGE_TO_VIDEO

# What a template may ask for.
PLACEHOLDERS = frozenset(
    {"prompt", "negative_prompt", "image", "seed", "fps", "frames", "steps", "width", "height", "duration",
     "aspect_ratio", "ratio", "motion_bucket_id"}
)
_PLACEHOLDER = re.compile(r"^\{(\w+)\}$")
DEFAULT_PROMPT = "Animate this picture with natural, gentle motion."  # for models that require a prompt
PROMPT_UNITS = ("characters", "utf-16")
# A fitted value's name in the note the user reads.
_FIELDS = {"fps": N_("fps"), "frames": N_("frames"), "steps": N_("steps")}


@dataclass(frozen=True, slots=True)
class CloudModel:
    name: str  # reelbot's name, as users type it after --model
    kind: JobKind
    model: str  # the provider's own id
    inputs: Mapping[str, Any] = field(default_factory=dict)
    usd_per_video: float = 0.0
    usd_per_second: float = 0.0  # per second of video made
    usd_per_run_second: float = 0.0  # per second of provider compute (Replicate's hardware price)
    seconds: float = 60.0  # typical time from submit to result, for ETAs and per-run-second estimates
    width: int = 1024
    height: int = 576
    frames: int = 25
    fps: int = 7
    durations: tuple[int, ...] = ()  # the video lengths (s) the model accepts; empty: any
    # --- input rules, applied before the request (see job_values) ---
    sizes: tuple[str, ...] = ()  # the frames ("W:H") the model makes; empty: any size within the caps
    min_fps: int = 1
    max_fps: int = 60
    max_frames: int = 0  # 0: the engine's own limit
    max_steps: int = 0  # 0: the engine's own limit
    max_width: int = 0  # 0: no cap beyond the engine's
    max_height: int = 0
    prompt_required: bool = False  # sent with DEFAULT_PROMPT when the user gave none
    max_prompt: int = 0  # 0: no limit; counted in prompt_units
    prompt_units: str = "characters"  # or "utf-16" (Runway counts UTF-16 code units)
    prompt_languages: frozenset[str] = ENGLISH  # what it understands; others are translated to English first
    max_seed: int = 2**32 - 1
    # --- billing ---
    usd_per_credit: float = 0.0  # providers that report their charge in credits (Runway)
    bills_started_work: bool = False  # the provider bills a job it started even when we stop it (no report)
    max_run_seconds: float = 0.0  # per-run-second prices: the most compute one run may use (0: the timeout)
    # --quality fast, normal, best: the steps sent where its inputs take "{steps}" (empty: --quality unused)
    step_presets: tuple[int, ...] = ()
    uses_prompt: bool = True  # False: it animates the picture without reading the words (SVD)

    def cost(self, video_seconds: float, run_seconds: float | None = None) -> float:
        run = self.seconds if run_seconds is None else run_seconds
        return self.usd_per_video + self.usd_per_second * video_seconds + self.usd_per_run_second * run

    def run_cap(self, timeout_s: float) -> float:
        """The most compute seconds one run can be billed: its own cap, never past the attempt's deadline."""
        return min(self.max_run_seconds or timeout_s, timeout_s)

    def worst_cost(self, video_seconds: float, timeout_s: float) -> float:
        """The estimate used to reserve: nothing a run of these inputs can bill is above it."""
        return self.cost(video_seconds, self.run_cap(timeout_s))

    def unfinished_cost(self, video_seconds: float, run_seconds: float | None, started: bool) -> float | None:
        """What a run that delivered nothing is billed, as far as we can tell without a report.

        The compute it used (``run_seconds``, where the provider reports it), plus the price of the video when
        the provider bills started work and the job had started. None: nothing billed that we know of.
        """
        total: float | None = None
        if run_seconds is not None and self.usd_per_run_second:
            total = self.usd_per_run_second * run_seconds
        if started and self.bills_started_work:
            total = (total or 0.0) + self.usd_per_video + self.usd_per_second * video_seconds
            if run_seconds is None and self.usd_per_run_second:
                total += self.usd_per_run_second * self.seconds
        return total


def job_values(job: JobSpec, model: CloudModel, notes: list[Text] | None = None) -> dict[str, Any]:
    """The job in the terms templates use, within the model's input rules (``image`` is filled in later).

    A value the user asked for that the model does not take is mapped to the nearest one it does, and
    ``notes`` gets a line saying so (for the user, so a :class:`Text`); values the user left to the defaults
    are fitted silently.
    """
    said = notes if notes is not None else []
    values = shape_values(job.options, model, said)
    values.update(
        prompt=_prompt(job.prompt, model, said),
        negative_prompt=job.options.negative_prompt,
        image=None,
        seed=_seed(job.seed, job.options.seed is not None, model, said),
        motion_bucket_id=_motion(job.options, model, said),
    )
    if job.options.aspect and not takes_shape(model, job.kind):
        said.append(not_used("--ar", model.name))
    return values


def _takes(model: CloudModel, *names: str) -> bool:
    """Whether the model's inputs ask for any of these values."""
    return any(_PLACEHOLDER.match(v) and v[1:-1] in names for v in model.inputs.values() if isinstance(v, str))


def takes_shape(model: CloudModel, kind: JobKind) -> bool:
    """Whether the model's video takes the shape asked for: its frames, a size or ratio in its inputs, or the
    picture it animates (cut to the shape before it is sent)."""
    return bool(model.sizes) or kind is I2V or _takes(model, "width", "height", "aspect_ratio", "ratio")


def _motion(opts: Options, model: CloudModel, notes: list[Text]) -> int:
    """SVD's motion bucket for ``--motion`` (127, its default, when not given); a model that has no such input
    gets a note instead."""
    if opts.motion is None:
        return DEFAULT_MOTION_BUCKET
    if not _takes(model, "motion_bucket_id"):
        notes.append(not_used("--motion", model.name))
    return motion_bucket(opts.motion)


def shape_values(opts: Options, model: CloudModel, notes: list[Text]) -> dict[str, Any]:
    """Frames, fps, steps, size and length: what decides the price (so the estimate uses exactly this)."""
    name = f"{model.name} ({model.model.split(':')[0]})"
    fps = _within("fps", opts.fps, model.fps, model.min_fps, model.max_fps, name, notes) or model.fps
    frames = _within("frames", opts.frames, model.frames, 1, model.max_frames or None, name, notes) or model.frames
    steps = _within("steps", opts.steps, None, 1, model.max_steps or None, name, notes)
    if steps is None and opts.quality:
        if model.step_presets and _takes(model, "steps"):
            steps = _within("steps", preset_steps(0, model.step_presets, opts.quality), None, 1,
                            model.max_steps or None, name, [])
        else:
            notes.append(not_used("--quality", model.name))
    if opts.aspect and not (opts.width or opts.height):
        width, height = frame_size(model.width, model.height, opts.aspect)
    else:
        width, height = opts.width or model.width, opts.height or model.height
        if opts.portrait:
            width, height = min(width, height), max(width, height)
        else:
            width, height = max(width, height), min(width, height)
    asked = (width, height)
    if model.sizes:
        width, height = nearest_frame(width, height, [_frame(s) for s in model.sizes])
    else:
        scale = min([1.0] + [cap / side for cap, side in ((model.max_width, width), (model.max_height, height))
                             if cap])
        if scale < 1.0:
            width, height = max(8, int(width * scale) // 8 * 8), max(8, int(height * scale) // 8 * 8)
    if (width, height) != asked and (opts.width or opts.height):
        was, made = "x".join(map(str, asked)), f"{width}x{height}"
        notes.append(N_("size {asked} → {made}: the nearest {model} makes", asked=was, made=made, model=name))
    elif opts.aspect and not same_shape(width, height, opts.aspect):
        made = "x".join(map(str, (width, height)))
        notes.append(N_("aspect ratio {asked} → {made}: the nearest {model} makes", asked=opts.aspect, made=made,
                        model=name))
    return {
        "fps": fps,
        "frames": frames,
        "steps": steps,
        "width": width,
        "height": height,
        "duration": video_seconds(model, frames, fps),
        "aspect_ratio": ratio_name(width, height) if opts.aspect else "9:16" if height > width else "16:9",
        "ratio": f"{width}:{height}",
    }


def nearest_frame(width: int, height: int, choices: list[tuple[int, int]]) -> tuple[int, int]:
    """The accepted frame whose shape is nearest the wanted one (ties: the larger frame)."""
    wanted = width / height
    return min(choices, key=lambda wh: (abs(math.log(wh[0] / wh[1] / wanted)), -wh[0] * wh[1]))


def _frame(text: str) -> tuple[int, int]:
    width, _, height = text.partition(":")
    return int(width), int(height)


def _within(field_name: str, asked: int | None, default: int | None, low: int, high: int | None, name: str,
            notes: list[Text]) -> int | None:
    value = asked if asked is not None else default
    if value is None:
        return None
    fitted = max(low, value if high is None else min(high, value))
    if asked is not None and fitted != asked:
        said = _FIELDS[field_name]
        notes.append(N_("{field} {asked} → {fitted}: {model} takes {low}–{high}", field=said, asked=asked,
                        fitted=fitted, model=name, low=low, high=high) if high is not None else
                     N_("{field} {asked} → {fitted}: {model} takes at least {low}", field=said, asked=asked,
                        fitted=fitted, model=name, low=low))
    return fitted


def _prompt(prompt: str, model: CloudModel, notes: list[Text]) -> str | None:
    text = prompt.strip() if prompt else ""
    if not text:
        return DEFAULT_PROMPT if model.prompt_required else None
    if model.max_prompt and prompt_length(text, model.prompt_units) > model.max_prompt:
        text = cut_prompt(text, model.max_prompt, model.prompt_units)
        notes.append(N_("prompt cut to {limit} UTF-16 units: the most {model} reads", limit=model.max_prompt,
                        model=model.name) if model.prompt_units == "utf-16" else
                     N_("prompt cut to {limit} characters: the most {model} reads", limit=model.max_prompt,
                        model=model.name))
    return text


def prompt_length(text: str, units: str) -> int:
    """A prompt's length as the provider counts it (Runway: UTF-16 code units, so 😀 counts 2)."""
    return len(text.encode("utf-16-le")) // 2 if units == "utf-16" else len(text)


def cut_prompt(text: str, limit: int, units: str) -> str:
    if units != "utf-16":
        return text[:limit]
    out, used = [], 0
    for ch in text:  # never split a surrogate pair
        size = 2 if ord(ch) > 0xFFFF else 1
        if used + size > limit:
            break
        out.append(ch)
        used += size
    return "".join(out)


def _seed(seed: int, asked: bool, model: CloudModel, notes: list[Text]) -> int:
    if 0 <= seed <= model.max_seed:
        return seed
    fitted = seed % (model.max_seed + 1)
    if asked:
        notes.append(N_("seed {asked} → {fitted}: {model} takes 0–{max_seed}", asked=seed, fitted=fitted,
                        model=model.name, max_seed=model.max_seed))
    return fitted


def video_seconds(model: CloudModel, frames: int, fps: int) -> float:
    """How long the video will be: the asked length, or the nearest one the model accepts."""
    wanted = frames / max(fps, 1)
    if not model.durations:
        return round(wanted, 2)
    return min(model.durations, key=lambda d: (abs(d - wanted), d))


def render_inputs(template: Mapping[str, Any], values: Mapping[str, Any]) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for key, value in template.items():
        match = _PLACEHOLDER.match(value) if isinstance(value, str) else None
        if match is None:
            out[key] = value
        elif (filled := values.get(match.group(1))) is not None:
            out[key] = filled
    return out


def pick(catalog: list[CloudModel], kind: JobKind, name: str | None) -> CloudModel | None:
    """The entry for ``--model name`` (or the provider's default for the kind)."""
    for entry in catalog:
        if entry.kind is kind and (name is None or name in (entry.name, entry.model)):
            return entry
    return None


def _m(name: str, kind: JobKind, model: str, **kw: Any) -> CloudModel:
    return CloudModel(name=name, kind=kind, model=model, **kw)


_SVD_REPLICATE = {
    "input_image": "{image}", "video_length": "25_frames_with_svd_xt", "sizing_strategy": "maintain_aspect_ratio",
    "frames_per_second": "{fps}", "motion_bucket_id": "{motion_bucket_id}", "cond_aug": 0.02, "decoding_t": 14, "seed": "{seed}",
}
_ZEROSCOPE_REPLICATE = {
    "prompt": "{prompt}", "negative_prompt": "{negative_prompt}", "width": "{width}", "height": "{height}",
    "num_frames": "{frames}", "fps": "{fps}", "num_inference_steps": "{steps}", "seed": "{seed}",
}
_FAL_SVD = {"image_url": "{image}", "motion_bucket_id": "{motion_bucket_id}", "cond_aug": 0.02, "fps": "{fps}", "seed": "{seed}"}
_FAL_LTX = {"prompt": "{prompt}", "negative_prompt": "{negative_prompt}", "seed": "{seed}",
            "num_inference_steps": "{steps}"}
_FAL_LTX_I2V = {**_FAL_LTX, "image_url": "{image}"}

_RUNWAY = {"max_prompt": 1000, "prompt_units": "utf-16", "max_seed": 4294967295, "usd_per_credit": 0.01}
_RUNWAY_GEN4_TURBO = ("1280:720", "720:1280", "1104:832", "832:1104", "960:960", "1584:672")
_RUNWAY_GEN45_T2V = ("1280:720", "720:1280")
# fal-ai/stable-video: fps 10-100, and no prompt input
_FAL_SVD_RULES = {"min_fps": 10, "max_fps": 100, "bills_started_work": True, "uses_prompt": False}
_FAL_LTX_RULES = {"max_steps": 50, "bills_started_work": True, "step_presets": (20, 30, 50)}
_EN_ZH = frozenset({"en", "zh"})
# Veo's model pages list English as its prompt language; Runway, LTX-Video (T5) and the CLIP-based models
# (zeroscope) document none other: English, the default.
_VEO = {"sizes": ("1280:720", "720:1280"), "prompt_required": True, "bills_started_work": True,
        "durations": (4, 6, 8)}

BUILTIN: dict[str, list[CloudModel]] = {
    "replicate": [
        # Replicate bills metrics.predict_time even for cancelled and failed predictions, and reports it.
        _m("svd-xt", I2V, "stability-ai/stable-video-diffusion:"
           "3f0457e4619daac51203dedb472816fd4af51f3149fa7a9e0b5ffcf1b8172438",
           inputs=_SVD_REPLICATE, usd_per_run_second=0.0014, seconds=75, frames=25, fps=6, min_fps=5, max_fps=30,
           max_run_seconds=150, uses_prompt=False),
        _m("zeroscope", T2V, "anotherjesse/zeroscope-v2-xl:"
           "9f747673945c62801b13b84701c783929c0ee784e4748ec062204894dda1a351",
           inputs=_ZEROSCOPE_REPLICATE, usd_per_run_second=0.000725, seconds=60, width=576, height=320,
           frames=24, fps=8, max_frames=48, max_steps=50, max_width=1024, max_height=576, max_run_seconds=180,
           step_presets=(20, 40, 50)),
        # MiniMax documents its video prompts in Chinese and English.
        _m("minimax", T2V, "minimax/video-01", inputs={"prompt": "{prompt}", "prompt_optimizer": True},
           usd_per_video=0.5, seconds=180, width=1280, height=720, frames=141, fps=25, max_run_seconds=600,
           prompt_languages=_EN_ZH),
        _m("minimax", I2V, "minimax/video-01",
           inputs={"prompt": "{prompt}", "first_frame_image": "{image}", "prompt_optimizer": True},
           usd_per_video=0.5, seconds=180, width=1280, height=720, frames=141, fps=25, prompt_required=True,
           max_run_seconds=600, prompt_languages=_EN_ZH),
    ],
    "huggingface": [
        # Hugging Face model id -> the provider that serves it through the router (fal-ai) and its app.
        _m("ltx-video", T2V, "fal-ai/ltx-video", inputs=_FAL_LTX, usd_per_video=0.02, seconds=40,
           width=768, height=512, frames=121, fps=24, **_FAL_LTX_RULES),
        _m("svd-xt", I2V, "fal-ai/stable-video", inputs=_FAL_SVD, usd_per_video=0.075, seconds=40, frames=25,
           fps=25, **_FAL_SVD_RULES),
        _m("ltx-video", I2V, "fal-ai/ltx-video/image-to-video", inputs=_FAL_LTX_I2V, usd_per_video=0.02,
           seconds=40, width=768, height=512, frames=121, fps=24, prompt_required=True, **_FAL_LTX_RULES),
    ],
    "stability": [
        # No cancel call: once submitted, the job runs to its end and is billed.
        _m("svd-xt", I2V, "v2beta/image-to-video", inputs={"seed": "{seed}", "cfg_scale": 1.8,
                                                            "motion_bucket_id": "{motion_bucket_id}"},
           usd_per_video=0.2, seconds=60, frames=25, fps=24, sizes=("1024:576", "576:1024", "768:768"),
           max_seed=4294967294, bills_started_work=True, uses_prompt=False),
    ],
    "runway": [
        # Runway reports each task's charge (cost.credits); the prices here are for the estimate.
        _m("gen4_turbo", I2V, "gen4_turbo", usd_per_second=0.05, seconds=60, width=1280, height=720,
           frames=120, fps=24, durations=(5, 10), sizes=_RUNWAY_GEN4_TURBO, **_RUNWAY),
        _m("gen4.5", T2V, "gen4.5", usd_per_second=0.12, seconds=90, width=1280, height=720, frames=120,
           fps=24, durations=(5, 10), sizes=_RUNWAY_GEN45_T2V, prompt_required=True, **_RUNWAY),
    ],
    "veo": [
        _m("veo-3-fast", T2V, "veo-3.0-fast-generate-001", usd_per_second=0.15, seconds=90, width=1280,
           height=720, frames=192, fps=24, **_VEO),
        _m("veo-3-fast", I2V, "veo-3.0-fast-generate-001", usd_per_second=0.15, seconds=90, width=1280,
           height=720, frames=192, fps=24, **_VEO),
    ],
    "fal": [
        _m("ltx-video", T2V, "fal-ai/ltx-video", inputs=_FAL_LTX, usd_per_video=0.02, seconds=40, width=768,
           height=512, frames=121, fps=24, **_FAL_LTX_RULES),
        _m("svd-xt", I2V, "fal-ai/stable-video", inputs=_FAL_SVD, usd_per_video=0.075, seconds=40, frames=25,
           fps=25, **_FAL_SVD_RULES),
        _m("ltx-video", I2V, "fal-ai/ltx-video/image-to-video", inputs=_FAL_LTX_I2V, usd_per_video=0.02,
           seconds=40, width=768, height=512, frames=121, fps=24, prompt_required=True, **_FAL_LTX_RULES),
    ],
}


def load_catalog(extra_json: str = "") -> dict[str, list[CloudModel]]:
    """The built-in models plus ``CLOUD_MODELS``: ``{"provider": [{"name", "kind", "model", ...}]}``.

    An entry with the name and kind of a built-in one changes only the fields it gives; entries from the
    setting come first in their provider's list, so the first of a kind there becomes the default.
    """
    catalog = {provider: list(entries) for provider, entries in BUILTIN.items()}
    if extra_json.strip():
        extra = json_object("CLOUD_MODELS", extra_json, '{"replicate": [{"name": ..., "kind": ...}]}')
        for provider, entries in extra.items():
            if provider not in catalog:
                raise ValueError(f"CLOUD_MODELS names an unknown provider {provider!r}; known: "
                                 f"{', '.join(sorted(catalog))}")
            if not isinstance(entries, list):
                raise ValueError(f"CLOUD_MODELS[{provider!r}] must be a list of model entries")
            mine = [_entry(provider, raw, catalog[provider]) for raw in entries]
            rest = [e for e in catalog[provider] if not any((e.name, e.kind) == (m.name, m.kind) for m in mine)]
            catalog[provider] = mine + rest
    for provider, entries in catalog.items():
        for entry in entries:
            _check_template(provider, entry)
    return catalog


def _entry(provider: str, raw: Any, builtin: list[CloudModel]) -> CloudModel:
    where = f"CLOUD_MODELS[{provider!r}]"
    if not isinstance(raw, dict) or "name" not in raw or "kind" not in raw:
        raise ValueError(f"each entry of {where} needs at least a name and a kind")
    known = {f.name for f in fields(CloudModel)}
    if unknown := set(raw) - known:
        raise ValueError(f"{where} entry {raw['name']!r} has unknown fields: {sorted(unknown)}")
    values = dict(raw)
    try:
        values["kind"] = JobKind(values["kind"])
    except ValueError:
        raise ValueError(f"{where} entry {raw['name']!r}: kind must be text-to-video or image-to-video") from None
    if "durations" in values:
        values["durations"] = tuple(int(d) for d in values["durations"])
    if "sizes" in values:
        values["sizes"] = tuple(str(size) for size in values["sizes"])
    if "step_presets" in values:
        presets = values["step_presets"]
        if not isinstance(presets, list) or len(presets) != 3 or not all(
                isinstance(v, int) and not isinstance(v, bool) and v >= 1 for v in presets):
            raise ValueError(f"{where} entry {raw['name']!r}: step_presets must be three whole numbers (fast, "
                             "normal, best), like [20, 40, 50]")
        values["step_presets"] = tuple(presets)
    if "prompt_languages" in values:
        values["prompt_languages"] = language_codes(values["prompt_languages"], f"{where} entry {raw['name']!r}")
    base = next((e for e in builtin if (e.name, e.kind) == (values["name"], values["kind"])), None)
    if base is not None:
        return replace(base, **values)
    if "model" not in values:
        raise ValueError(f"{where} entry {raw['name']!r} is new, so it needs the provider's model id")
    return CloudModel(**values)


def _check_template(provider: str, entry: CloudModel) -> None:
    where = f"{provider} model {entry.name!r}"
    for size in entry.sizes:
        if not re.fullmatch(r"[1-9]\d*:[1-9]\d*", size):
            raise ValueError(f"{where}: sizes must be written W:H (like 1280:720), not {size!r}")
    if not 1 <= entry.min_fps <= entry.max_fps:
        raise ValueError(f"{where}: min_fps must be at least 1 and at most max_fps")
    if entry.prompt_units not in PROMPT_UNITS:
        raise ValueError(f"{where}: prompt_units must be one of {', '.join(PROMPT_UNITS)}")
    for value in entry.inputs.values():
        match = _PLACEHOLDER.match(value) if isinstance(value, str) else None
        if match and match.group(1) not in PLACEHOLDERS:
            raise ValueError(f"{provider} model {entry.name!r}: unknown placeholder {value} in its inputs; "
                             f"known: {', '.join(sorted(PLACEHOLDERS))}")

"""Which model each provider runs for a job, with what inputs, at what price.

Each provider has an ordered list of :class:`CloudModel`; the first one of a job kind is that provider's
default for it, and a user's ``--model NAME`` picks the entry of that name (reelbot's model names are shared
with the local registry, so ``--model svd-xt`` means SVD-XT wherever it runs). Admins change models, inputs
and prices without code through ``CLOUD_MODELS`` (JSON, see :func:`load_catalog`).

Inputs are templates: a value written ``"{name}"`` is replaced by the job's value (left out when the job has
none), anything else is sent as is. Prices marked (?) in the README are estimates from public price pages:
check them against your own bills and set yours.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass, field, fields, replace
from typing import Any

from engine.json_setting import json_object
from engine.types import JobKind, JobSpec

T2V, I2V = JobKind.TEXT_TO_VIDEO, JobKind.IMAGE_TO_VIDEO

# What a template may ask for.
PLACEHOLDERS = frozenset(
    {"prompt", "negative_prompt", "image", "seed", "fps", "frames", "steps", "width", "height", "duration",
     "aspect_ratio", "ratio"}
)
_PLACEHOLDER = re.compile(r"^\{(\w+)\}$")


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

    def cost(self, video_seconds: float, run_seconds: float | None = None) -> float:
        run = self.seconds if run_seconds is None else run_seconds
        return self.usd_per_video + self.usd_per_second * video_seconds + self.usd_per_run_second * run


def job_values(job: JobSpec, model: CloudModel) -> dict[str, Any]:
    """The job in the terms templates use (``image`` is filled in by the provider, once uploaded)."""
    opts = job.options
    fps = opts.fps or model.fps
    frames = opts.frames or model.frames
    width, height = opts.width or model.width, opts.height or model.height
    if opts.portrait:
        width, height = min(width, height), max(width, height)
    else:
        width, height = max(width, height), min(width, height)
    return {
        "prompt": job.prompt or None,
        "negative_prompt": opts.negative_prompt,
        "image": None,
        "seed": job.seed,
        "fps": fps,
        "frames": frames,
        "steps": opts.steps,
        "width": width,
        "height": height,
        "duration": video_seconds(model, frames, fps),
        "aspect_ratio": "9:16" if opts.portrait else "16:9",
        "ratio": f"{width}:{height}",
    }


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
    "frames_per_second": "{fps}", "motion_bucket_id": 127, "cond_aug": 0.02, "decoding_t": 14, "seed": "{seed}",
}
_ZEROSCOPE_REPLICATE = {
    "prompt": "{prompt}", "negative_prompt": "{negative_prompt}", "width": "{width}", "height": "{height}",
    "num_frames": "{frames}", "fps": "{fps}", "num_inference_steps": "{steps}", "seed": "{seed}",
}
_FAL_SVD = {"image_url": "{image}", "motion_bucket_id": 127, "cond_aug": 0.02, "fps": "{fps}", "seed": "{seed}"}
_FAL_LTX = {"prompt": "{prompt}", "negative_prompt": "{negative_prompt}", "seed": "{seed}",
            "num_inference_steps": "{steps}"}
_FAL_LTX_I2V = {**_FAL_LTX, "image_url": "{image}"}

BUILTIN: dict[str, list[CloudModel]] = {
    "replicate": [
        _m("svd-xt", I2V, "stability-ai/stable-video-diffusion:"
           "3f0457e4619daac51203dedb472816fd4af51f3149fa7a9e0b5ffcf1b8172438",
           inputs=_SVD_REPLICATE, usd_per_run_second=0.0014, seconds=75, frames=25, fps=6),
        _m("zeroscope", T2V, "anotherjesse/zeroscope-v2-xl:"
           "9f747673945c62801b13b84701c783929c0ee784e4748ec062204894dda1a351",
           inputs=_ZEROSCOPE_REPLICATE, usd_per_run_second=0.000725, seconds=60, width=576, height=320,
           frames=24, fps=8),
        _m("minimax", T2V, "minimax/video-01", inputs={"prompt": "{prompt}", "prompt_optimizer": True},
           usd_per_video=0.5, seconds=180, width=1280, height=720, frames=141, fps=25),
        _m("minimax", I2V, "minimax/video-01",
           inputs={"prompt": "{prompt}", "first_frame_image": "{image}", "prompt_optimizer": True},
           usd_per_video=0.5, seconds=180, width=1280, height=720, frames=141, fps=25),
    ],
    "huggingface": [
        # Hugging Face model id -> the provider that serves it through the router (fal-ai) and its app.
        _m("ltx-video", T2V, "fal-ai/ltx-video", inputs=_FAL_LTX, usd_per_video=0.02, seconds=40,
           width=768, height=512, frames=121, fps=24),
        _m("svd-xt", I2V, "fal-ai/stable-video", inputs=_FAL_SVD, usd_per_video=0.075, seconds=40, frames=25,
           fps=25),
        _m("ltx-video", I2V, "fal-ai/ltx-video/image-to-video", inputs=_FAL_LTX_I2V, usd_per_video=0.02,
           seconds=40, width=768, height=512, frames=121, fps=24),
    ],
    "stability": [
        _m("svd-xt", I2V, "v2beta/image-to-video", inputs={"seed": "{seed}", "cfg_scale": 1.8,
                                                            "motion_bucket_id": 127},
           usd_per_video=0.2, seconds=60, frames=25, fps=24),
    ],
    "runway": [
        _m("gen4_turbo", I2V, "gen4_turbo", usd_per_second=0.05, seconds=60, width=1280, height=720,
           frames=120, fps=24, durations=(5, 10)),
        _m("gen4.5", T2V, "gen4.5", usd_per_second=0.12, seconds=90, width=1280, height=720, frames=120,
           fps=24, durations=(5, 10)),
    ],
    "veo": [
        _m("veo-3-fast", T2V, "veo-3.0-fast-generate-001", usd_per_second=0.15, seconds=90, width=1280,
           height=720, frames=192, fps=24, durations=(4, 6, 8)),
        _m("veo-3-fast", I2V, "veo-3.0-fast-generate-001", usd_per_second=0.15, seconds=90, width=1280,
           height=720, frames=192, fps=24, durations=(4, 6, 8)),
    ],
    "fal": [
        _m("ltx-video", T2V, "fal-ai/ltx-video", inputs=_FAL_LTX, usd_per_video=0.02, seconds=40, width=768,
           height=512, frames=121, fps=24),
        _m("svd-xt", I2V, "fal-ai/stable-video", inputs=_FAL_SVD, usd_per_video=0.075, seconds=40, frames=25,
           fps=25),
        _m("ltx-video", I2V, "fal-ai/ltx-video/image-to-video", inputs=_FAL_LTX_I2V, usd_per_video=0.02,
           seconds=40, width=768, height=512, frames=121, fps=24),
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
    base = next((e for e in builtin if (e.name, e.kind) == (values["name"], values["kind"])), None)
    if base is not None:
        return replace(base, **values)
    if "model" not in values:
        raise ValueError(f"{where} entry {raw['name']!r} is new, so it needs the provider's model id")
    return CloudModel(**values)


def _check_template(provider: str, entry: CloudModel) -> None:
    for value in entry.inputs.values():
        match = _PLACEHOLDER.match(value) if isinstance(value, str) else None
        if match and match.group(1) not in PLACEHOLDERS:
            raise ValueError(f"{provider} model {entry.name!r}: unknown placeholder {value} in its inputs; "
                             f"known: {', '.join(sorted(PLACEHOLDERS))}")

"""The local models: what each one is, where its weights live, what it makes and what it needs.

Admins add entries without code through ``LOCAL_MODELS`` (JSON, same fields as :class:`ModelSpec`). A
``--model`` that is a folder holding a diffusers pipeline (``model_index.json``) works too, from the CLI and
in settings (chat users pick registered names): it takes the defaults of the registered model with the same
pipeline class, overridden by the folder's own ``reelbot.json`` if it has one (``reelbot models make-tiny``
writes one with CPU-sized defaults), which may change the defaults of its videos but not where the weights
come from.

Each model also says which prompt languages its text encoder understands (``prompt_languages``, ISO 639-1
codes, ``"*"`` for any): a prompt in another language is translated to English before it runs (see
``engine/translate``).
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass, field, fields, replace
from pathlib import Path
from typing import Any

from engine.controls import sized, steps_for
from engine.errors import InvalidInput, ModelUnavailable
from engine.json_setting import json_object
from engine.translate.languages import ENGLISH, language_codes
from engine.types import JobKind, Options
from engine.words import N_, Text

T2V, I2V = JobKind.TEXT_TO_VIDEO, JobKind.IMAGE_TO_VIDEO


@dataclass(frozen=True, slots=True)
class ModelSpec:
    name: str
    pipeline: str  # diffusers pipeline class for text-to-video (or the only one)
    source: str  # Hugging Face repo id, or a local folder
    kinds: frozenset[JobKind]
    width: int
    height: int
    frames: int
    fps: int
    steps: int
    guidance: float | None = None
    image_pipeline: str | None = None  # class for image-to-video when it differs (LTX)
    vram_gib: float = 10.0  # what it needs without offload; less free VRAM starts with offload
    variant: str | None = "fp16"
    dtype: str = "float16"
    frame_step: int = 1  # frames must be frame_step * k + 1 (Wan 4, LTX 8); 1: any count
    size_multiple: int = 8
    seconds_estimate: float = 60.0  # until measured on this machine
    options: Mapping[str, Any] = field(default_factory=dict)  # model-specific call arguments
    # What its text encoder reads; other languages are translated to English first ("*": any language).
    prompt_languages: frozenset[str] = ENGLISH
    # --quality fast, normal, best: its steps (empty: half, all and 1.5 times ``steps``; engine/controls.py)
    step_presets: tuple[int, ...] = ()
    uses_prompt: bool = True  # False: it animates a picture without reading any words (SVD)

    def size(self, portrait: bool) -> tuple[int, int]:
        """(width, height): landscape by default, swapped for ``--portrait``."""
        w, h = self.width, self.height
        return (min(w, h), max(w, h)) if portrait else (max(w, h), min(w, h))

    def frame(self, options: Options) -> tuple[int, int]:
        """(width, height) of a job's video: the size asked for, else ``--ar`` on this model's pixel area and
        size grid, else its own frame."""
        return sized(self.width, self.height, self.size_multiple, options)

    def steps_for(self, options: Options) -> int:
        """``--steps``, else the ``--quality`` preset, else its default steps."""
        return steps_for(self.steps, self.step_presets, options)

    def valid_frames(self, frames: int) -> int:
        """The nearest frame count the model accepts, not above ``frames``."""
        if self.frame_step <= 1:
            return frames
        return max(1, (frames - 1) // self.frame_step * self.frame_step + 1)


SVD_OPTIONS = {"motion_bucket_id": 127, "noise_aug_strength": 0.02, "decode_chunk_size": 8,
               "min_guidance_scale": 1.0, "max_guidance_scale": 3.0}

# Prompt languages: zeroscope and AnimateDiff read prompts with CLIP, trained on English captions, so English
# (SVD takes no prompt: uses_prompt=False; its words go unread, and the user is told so). Wan and LTX-Video say theirs below.
BUILTIN: dict[str, ModelSpec] = {
    spec.name: spec
    for spec in (
        ModelSpec("svd-xt", "StableVideoDiffusionPipeline",
                  "stabilityai/stable-video-diffusion-img2vid-xt-1-1", frozenset({I2V}),
                  1024, 576, 25, 7, 25, vram_gib=12.0, seconds_estimate=60.0, options=SVD_OPTIONS,
                  step_presets=(12, 25, 40), uses_prompt=False),
        ModelSpec("svd", "StableVideoDiffusionPipeline", "stabilityai/stable-video-diffusion-img2vid",
                  frozenset({I2V}), 1024, 576, 14, 7, 25, vram_gib=10.0, seconds_estimate=35.0,
                  options=SVD_OPTIONS, step_presets=(12, 25, 40), uses_prompt=False),
        ModelSpec("zeroscope", "TextToVideoSDPipeline", "cerspense/zeroscope_v2_576w", frozenset({T2V}),
                  576, 320, 24, 8, 40, guidance=9.0, variant=None, vram_gib=8.0, seconds_estimate=20.0,
                  step_presets=(20, 40, 60)),
        ModelSpec("animatediff", "AnimateDiffPipeline", "emilianJR/epiCRealism", frozenset({T2V}),
                  512, 512, 16, 8, 25, guidance=7.5, variant=None, vram_gib=8.0, seconds_estimate=30.0,
                  options={"motion_adapter": "guoyww/animatediff-motion-adapter-v1-5-2"}, step_presets=(12, 25, 40)),
        ModelSpec("wan", "WanPipeline", "Wan-AI/Wan2.1-T2V-1.3B-Diffusers", frozenset({T2V}),
                  832, 480, 81, 16, 30, guidance=5.0, variant=None, dtype="bfloat16", frame_step=4,
                  size_multiple=16, vram_gib=16.0, seconds_estimate=120.0, step_presets=(15, 30, 50),
                  # umT5 reads most languages, but Wan learned video from English and Chinese captions only
                  prompt_languages=frozenset({"en", "zh"})),
        ModelSpec("ltx-video", "LTXPipeline", "Lightricks/LTX-Video", frozenset({T2V, I2V}),
                  704, 480, 121, 24, 40, guidance=3.0, image_pipeline="LTXImageToVideoPipeline",
                  variant=None, dtype="bfloat16", frame_step=8, size_multiple=32, vram_gib=16.0,
                  seconds_estimate=60.0, step_presets=(20, 40, 60)),  # its T5-XXL encoder was trained on English text (C4): English only
    )
}


def load_registry(extra_json: str = "") -> dict[str, ModelSpec]:
    """The built-in models plus the admin's ``LOCAL_MODELS`` (which may also override built-ins)."""
    registry = dict(BUILTIN)
    if not extra_json.strip():
        return registry
    entries = json_object("LOCAL_MODELS", extra_json, '{"name": {"pipeline": ..., "source": ...}}')
    for name, entry in entries.items():
        base = registry.get(name)
        registry[name] = _spec_from(name, entry, base)
    return registry


def resolve(name: str, registry: Mapping[str, ModelSpec]) -> ModelSpec:
    """A registered name, or a local folder with a diffusers pipeline in it.

    Raises InvalidInput when ``name`` is neither (another backend may have it), and ModelUnavailable when
    it is a folder that cannot be used, saying what is wrong with it. A registered name never reads the
    disk: an entry stays what the admin configured, whatever a folder holds. Only the operator's and the
    settings' names get here as folders (chat users pick registered names; see engine/validation.py).
    """
    if name in registry:
        return registry[name]
    folder = Path(name).expanduser()
    if not folder.is_dir():
        raise InvalidInput("model", N_("There is no model called {model}.", model=repr(name)),
                           hint=N_("Known models: {names}.", names=", ".join(sorted(registry))))
    index = _json_file(folder / "model_index.json", required=True)
    pipeline = index.get("_class_name", "")
    base = next((s for s in registry.values() if pipeline in (s.pipeline, s.image_pipeline)), None)
    if base is None:
        raise _unusable(folder, N_("holds a {pipeline} pipeline, which reelbot cannot drive",
                                   pipeline=pipeline) if pipeline else
                        N_("holds a pipeline of no known class, which reelbot cannot drive"),
                        N_("Use one of the video pipelines listed in the README."))
    options = {k: v for k, v in base.options.items() if k != "motion_adapter"}  # the folder is complete
    spec = replace(base, name=str(folder), source=str(folder), variant=None, options=options)
    own = _json_file(folder / "reelbot.json", required=False)
    if not own:
        return spec
    extra = own.get("options", {})
    if not isinstance(extra, dict):
        raise _unusable(folder, N_("has a reelbot.json whose options are not a JSON object"),
                        N_("Fix or remove it."))
    refused = sorted(set(own) - FOLDER_FIELDS) + (["options.motion_adapter"] if "motion_adapter" in extra else [])
    if refused:
        raise _unusable(folder, N_("has a reelbot.json that sets {refused}; a folder's reelbot.json may set only "
                                   "{allowed} (a folder model always loads its own weights)",
                                   refused=", ".join(refused), allowed=", ".join(sorted(FOLDER_FIELDS))),
                        N_("Remove those fields; an admin adds models from elsewhere with LOCAL_MODELS."))
    try:
        return _spec_from(str(folder), own, spec)
    except (TypeError, ValueError) as exc:
        raise _unusable(folder, N_("has a reelbot.json that cannot be used: {detail}", detail=str(exc)),
                        N_("Fix or remove reelbot.json.")) from None


# What a folder's own reelbot.json may change: the defaults of its videos, never where weights come from
# (``source``, a ``motion_adapter``), its name or the classes that load it.
FOLDER_FIELDS = frozenset({"kinds", "width", "height", "frames", "fps", "steps", "guidance", "frame_step",
                           "size_multiple", "seconds_estimate", "vram_gib", "options", "prompt_languages",
                           "step_presets", "uses_prompt"})


def _json_file(path: Path, *, required: bool) -> dict[str, Any]:
    """A folder's JSON file as an object ({} if it is absent and not required)."""
    if not path.is_file():
        if required:
            raise _unusable(path.parent, N_("has no {file}, so it is not a diffusers pipeline folder",
                                            file=path.name),
                            N_("Point --model at the folder save_pretrained or a download wrote (the one with "
                               "{file} in it).", file=path.name))
        return {}
    try:
        value = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError) as exc:
        raise _unusable(path.parent, N_("has a {file} that cannot be read ({detail})", file=path.name,
                                        detail=str(exc)),
                        N_("Check the file and its permissions.")) from None
    except json.JSONDecodeError as exc:
        raise _unusable(path.parent, N_("has a {file} that is not valid JSON ({detail} at line {line})",
                                        file=path.name, detail=exc.msg, line=exc.lineno),
                        N_("Save the pipeline again, or download it again.")) from None
    if not isinstance(value, dict):
        raise _unusable(path.parent, N_("has a {file} that is not a JSON object", file=path.name),
                        N_("Save the pipeline again, or download it again."))
    return value


def _unusable(folder: Path, problem: Text, hint: Text) -> ModelUnavailable:
    return ModelUnavailable(N_("The model folder {folder} {problem}.", folder=str(folder), problem=problem),
                            backend="local", hint=hint)


def _spec_from(name: str, entry: Any, base: ModelSpec | None) -> ModelSpec:
    if not isinstance(entry, dict):
        raise ValueError(f"LOCAL_MODELS[{name!r}] must be an object")
    known = {f.name for f in fields(ModelSpec)}
    unknown = set(entry) - known
    if unknown:
        raise ValueError(f"LOCAL_MODELS[{name!r}] has unknown fields: {sorted(unknown)}")
    values = dict(entry)
    if "kinds" in values:
        values["kinds"] = frozenset(JobKind(k) for k in values["kinds"])
    if "prompt_languages" in values:
        values["prompt_languages"] = language_codes(values["prompt_languages"], f"LOCAL_MODELS[{name!r}]")
    if "step_presets" in values:
        values["step_presets"] = _presets(name, values["step_presets"])
    if base is not None:
        return replace(base, **{**values, "name": name})
    missing = {"pipeline", "source", "kinds", "width", "height", "frames", "fps", "steps"} - set(values)
    if missing:
        raise ValueError(f"LOCAL_MODELS[{name!r}] needs {sorted(missing)}")
    return ModelSpec(name=name, **values)



def _presets(name: str, value: Any) -> tuple[int, ...]:
    """``step_presets``: the steps of --quality fast, normal and best, three whole numbers from 1."""
    if (not isinstance(value, list | tuple) or len(value) != 3
            or not all(isinstance(v, int) and not isinstance(v, bool) and v >= 1 for v in value)):
        raise ValueError(f"{name!r}: step_presets must be three whole numbers (fast, normal, best), like [12, 25, 40]")
    return tuple(value)

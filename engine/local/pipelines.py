"""Loading diffusers video pipelines and running one job on them. Runs on a GPU lane's thread only.

Loading maps every Hugging Face failure to words that say what to do (gated repo, missing download).
Running reports each denoising step and stops at the next step when the job is cancelled: by raising
from the step callback, which works on every family (SVD and zeroscope have no interrupt flag) and frees
the GPU without the VAE decode an interrupt would still run.

A run is two stages: the denoise (``output_type="latent"``), then the VAE decode of the kept latents with the
pipeline's own decode and post-processing (engine/local/decode.py), which gives the same frames as the one
call. On CUDA out-of-memory the job is retried down a ladder (``MemoryPlan.next``) that knows which stage ran
out: a decode is retried alone from the latents (the denoiser moved off the GPU, then smaller
``decode_chunk_size``), a denoise with model CPU offload and then fewer frames (25 to 15) if the user allowed
it; after that the router hands the job to the next backend. Which plan a job starts on is the memory
planner's choice (engine/local/planner.py).
"""

from __future__ import annotations

import inspect
import json
from collections.abc import Callable, Mapping
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any, Literal

import numpy as np
from PIL import Image

from engine.backends.base import Cancelled, RunContext
from engine.controls import motion_bucket, not_used
from engine.errors import BackendError, BackendUnavailable, ModelUnavailable
from engine.images import fit_image
from engine.local.decode import Latents, decode_latents
from engine.local.download import (
    ByteProgress,
    DiskFree,
    NotEnoughDisk,
    check_disk,
    disk_free,
    download,
    hub_endpoint,
    plan_download,
)
from engine.local.registry import ModelSpec
from engine.previews import halfway, latent_preview
from engine.types import JobSpec
from engine.words import N_, Text

Stage = Literal["denoise", "decode", "run"]  # what a try was doing when it ran out ("run": not known)


@dataclass(frozen=True, slots=True)
class MemoryPlan:
    frames: int
    decode_chunk_size: int | None  # None: the pipeline has no such knob
    offload: bool = False
    fewer_frames: bool = False  # once only: a much shorter clip is no longer what was asked for

    def next(self, spec: ModelSpec, allow_fewer_frames: bool, stage: Stage = "run"
             ) -> tuple[MemoryPlan, Text | str] | None:
        """The next rung of the out-of-memory ladder after ``stage`` ran out, with what changed in words; None at
        the bottom. A change the user notices (a slower run, fewer frames) is a :class:`Text` for them; one they
        would not (smaller decode chunks, the denoiser moved off the GPU for the decode alone) is a plain string
        for the operator.

        A denoise that ran out gains nothing from smaller decode chunks: it goes to offload, then fewer frames.
        A decode retried from the kept latents first moves everything but the VAE off the GPU (the weights it no
        longer needs; the frames stay the same), then decodes fewer frames at a time; at its bottom the
        backend goes on with the denoise ladder. ``"run"``: a try whose stage is not known (a pipeline whose
        decode reelbot cannot split), the ladder users are told to walk by hand."""
        if stage == "decode":
            if not self.offload:
                return replace(self, offload=True), "the decode ran alone on the GPU, the rest moved to main memory"
            if self.decode_chunk_size and self.decode_chunk_size > 1:
                smaller = max(1, self.decode_chunk_size // 2)
                return replace(self, decode_chunk_size=smaller), f"decode_chunk_size lowered to {smaller}"
            return None
        if stage == "run" and self.decode_chunk_size and self.decode_chunk_size > 1:
            smaller = max(1, self.decode_chunk_size // 2)
            return replace(self, decode_chunk_size=smaller), f"decode_chunk_size lowered to {smaller}"
        if not self.offload:
            return replace(self, offload=True), N_("it was made more slowly, with part of the model kept in main "
                                                   "memory")
        fewer = spec.valid_frames(max(1, round(self.frames * 0.6)))
        if allow_fewer_frames and not self.fewer_frames and fewer < self.frames:
            return replace(self, frames=fewer, fewer_frames=True), N_(
                "the video has {after} frames instead of {before}", before=self.frames, after=fewer)
        return None


def first_plan(spec: ModelSpec, pipeline: Any, frames: int, offload: bool) -> MemoryPlan:
    takes_chunks = "decode_chunk_size" in inspect.signature(pipeline.__call__).parameters
    chunk = int(spec.options.get("decode_chunk_size", 8)) if takes_chunks else None
    return MemoryPlan(frames=frames, decode_chunk_size=chunk, offload=offload)


def load_pipeline(
    spec: ModelSpec,
    device: str,
    *,
    token: str | None,
    cache_dir: Path | None,
    offline: bool,
    on_download: ByteProgress | None = None,
    on_load: Callable[[], None] | None = None,
    free: DiskFree = disk_free,
) -> Any:
    """Download what the model lacks (bytes reported to ``on_download``, after checking the disk has room),
    then load it from the local snapshot onto ``device`` (``on_load`` called first)."""
    import diffusers
    import torch

    on_gpu = device.startswith("cuda")
    dtype = getattr(torch, spec.dtype) if on_gpu else torch.float32
    common: dict[str, Any] = {"torch_dtype": dtype, "token": token, "local_files_only": offline}
    if cache_dir is not None:
        common["cache_dir"] = str(cache_dir)
    kwargs = dict(common)
    if spec.variant and on_gpu:
        kwargs["variant"] = spec.variant
    source, adapter = spec.source, spec.options.get("motion_adapter")
    try:
        if not offline and not is_folder(spec.source):
            # diffusers turns a refused download into "not cached locally"; ask the Hub first so a
            # gated model is explained as gated.
            from huggingface_hub import HfApi

            HfApi(endpoint=hub_endpoint()).auth_check(spec.source, token=token)
            plan = plan_download(spec, token=token, cache_dir=cache_dir, variant=kwargs.get("variant"))
            if not plan.complete:
                check_disk(spec, plan, cache_dir, free)
                download(spec, plan, token=token, cache_dir=cache_dir, progress=on_download or _quiet)
            source = str(plan.repos[0].folder)
            if adapter:
                adapter = str(plan.repos[1].folder)
        if on_load is not None:
            on_load()
        if adapter:
            kwargs["motion_adapter"] = diffusers.MotionAdapter.from_pretrained(adapter, **common)
        pipe = getattr(diffusers, spec.pipeline).from_pretrained(source, **kwargs)
    except NotEnoughDisk:
        raise
    except Exception as exc:
        raise explain_load_error(exc, spec, token is not None, offline) from exc
    pipe.set_progress_bar_config(disable=True)
    return pipe.to(device)


def _quiet(done: int, total: int) -> None:
    return None


def explain_load_error(exc: Exception, spec: ModelSpec, has_token: bool, offline: bool) -> BackendError:
    from huggingface_hub.errors import (
        GatedRepoError,
        HfHubHTTPError,
        LocalEntryNotFoundError,
        RepositoryNotFoundError,
    )

    repo = spec.source
    if is_folder(repo):  # whatever broke (a missing file, bad JSON, torn weights), it is this folder's fault
        folder = Path(repo).expanduser()
        hint = N_("Save the pipeline there again (save_pretrained) or download it again, or pick another model.")
        if not folder.is_dir():
            return ModelUnavailable(N_("The model {model} could not be loaded from the folder {folder}: it does not "
                                       "exist.", model=spec.name, folder=repo), backend="local", hint=hint)
        why = _folder_problem(folder) or (str(exc) if isinstance(exc, OSError) else f"{type(exc).__name__}: {exc}")
        return ModelUnavailable(N_("The model {model} could not be loaded from the folder {folder}: {why}",
                                   model=spec.name, folder=repo, why=why), backend="local", hint=hint)
    page = f"https://huggingface.co/{repo}"
    if isinstance(exc, GatedRepoError) or (
        isinstance(exc, HfHubHTTPError) and getattr(exc.response, "status_code", 0) in (401, 403)
    ):
        todo = (N_("Open {page}, accept its licence with the account your HF_TOKEN belongs to. Or pick another "
                   "model.", page=page)
                if has_token else N_("Open {page} and accept its licence, then set HF_TOKEN in .env (a read token "
                                     "from https://huggingface.co/settings/tokens). Or pick another model.", page=page))
        return ModelUnavailable(N_("The model {model} ({repo}) is gated and this machine has no access.",
                                   model=spec.name, repo=repo), backend="local", hint=todo)
    if isinstance(exc, RepositoryNotFoundError):
        return ModelUnavailable(N_("The model repository {repo} does not exist (or is private).", repo=repo),
                                backend="local", hint=N_("Check the name in LOCAL_MODELS, or set HF_TOKEN."))
    if isinstance(exc, LocalEntryNotFoundError) or offline:
        return ModelUnavailable(
            N_("The weights of {model} are not downloaded on this machine and HF_HUB_OFFLINE is set.",
               model=spec.name) if offline else
            N_("The weights of {model} are not downloaded on this machine and the Hugging Face Hub cannot be "
               "reached.", model=spec.name),
            backend="local", hint=N_("Run `huggingface-cli download {repo}` once with internet access.", repo=repo))
    if isinstance(exc, OSError):
        return ModelUnavailable(N_("The model {model} could not be loaded from {repo}: {detail}", model=spec.name,
                                   repo=repo, detail=str(exc)), backend="local")
    detail = f"{type(exc).__name__}: {exc}"
    return BackendUnavailable(N_("Loading {model} failed: {detail}", model=spec.name, detail=detail),
                              backend="local")


def _folder_problem(folder: Path) -> Text | None:
    """What is wrong with a pipeline folder's model_index.json or the parts it names, in words; None if
    nothing shows there (then the loader's own error is the best account)."""
    index_file = folder / "model_index.json"
    if not index_file.is_file():
        return None  # diffusers says so plainly
    try:
        index = json.loads(index_file.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None
    if not isinstance(index, dict):
        return N_("its model_index.json is not a JSON object.")
    missing = sorted(name for name, value in index.items()
                     if not name.startswith("_") and isinstance(value, list) and value and value[0] is not None
                     and not (folder / name).is_dir())
    if missing:
        return N_("its model_index.json lists {parts}, but the folder has no such subfolder.",
                  parts=", ".join(missing))
    return None


def is_folder(source: str) -> bool:
    """A model source on this machine's disk rather than a Hugging Face repo id (``owner/name``)."""
    return source.startswith(("/", ".", "~")) or Path(source).exists()


def optimize(pipe: Any, device: str) -> list[str]:
    """Speed settings for a CUDA lane, applied once per pipeline: TF32 matmuls and channels-last convs.
    ``torch.compile`` of the denoiser is the lane's warm-up's (engine/local/compiled.py), never a job's.
    Returns what was done, for the notes."""
    if getattr(pipe, "_reelbot_optimized", False) or not device.startswith("cuda"):
        return []
    import torch

    pipe._reelbot_optimized = True
    torch.backends.cuda.matmul.allow_tf32 = True
    torch.backends.cudnn.allow_tf32 = True
    done = []
    for name in ("unet", "transformer", "vae"):
        module = getattr(pipe, name, None)
        if module is None:
            continue
        convs = [m for m in module.modules() if isinstance(m, torch.nn.modules.conv._ConvNd)]
        # channels-last exists for 2-D convolutions only; 3-D ones (zeroscope's UNet, Wan's VAE) keep theirs
        if convs and all(isinstance(m, torch.nn.Conv2d) for m in convs):
            module.to(memory_format=torch.channels_last)
            done.append(f"{name} channels-last")
    return done


def apply_plan(pipe: Any, plan: MemoryPlan, device: str) -> None:
    """Put the pipeline in the state the plan asks for, both ways: model CPU offload with VAE slicing and
    tiling for an offloaded plan; for one that is not, a pipeline an earlier job offloaded goes back onto the
    GPU (hooks removed, every component moved back, slicing and tiling off), so that one short card's job
    does not leave every later job slow."""
    offloaded = getattr(pipe, "_reelbot_offloaded", False)
    if plan.offload and device.startswith("cuda") and not offloaded:
        pipe.enable_model_cpu_offload(gpu_id=int(device.split(":")[1]) if ":" in device else 0)
        pipe._reelbot_offloaded = True
    elif not plan.offload and offloaded:
        pipe.remove_all_hooks()
        pipe.to(device)
        pipe._reelbot_offloaded = False
    vae = getattr(pipe, "vae", None)
    for saver in ("slicing", "tiling"):
        if vae is None or not hasattr(vae, f"use_{saver}"):  # SVD's temporal VAE has neither
            continue
        try:
            getattr(vae, f"{'enable' if plan.offload else 'disable'}_{saver}")()
        except NotImplementedError:  # some video VAEs have no tiled decode
            pass


def call_arguments(pipe: Any, spec: ModelSpec, ctx: RunContext, plan: MemoryPlan) -> dict[str, Any]:
    """The pipeline call for the job on ``plan``: its inputs, a seeded CPU generator, and a step callback
    that reports progress and stops at the next step when the job is cancelled."""
    import torch

    job = ctx.job
    opts = job.options
    call = inspect.signature(pipe.__call__).parameters
    kwargs = pipeline_inputs(call, spec, job, plan, ctx.note)
    kwargs["generator"] = torch.Generator(device="cpu").manual_seed(job.seed)
    steps = kwargs["num_inference_steps"]
    if "image" in call:
        if job.image_path is None:
            raise ValueError(f"{spec.name} needs an input image")
        with Image.open(job.image_path) as picture:
            kwargs["image"] = fit_image(picture.convert("RGB"), kwargs["width"], kwargs["height"])

    frames_first = type(pipe).__name__.startswith("StableVideoDiffusion")  # SVD keeps batch x frames x channels

    def step_done(step: int, latents: Any = None) -> None:
        preview = None
        if opts.preview and latents is not None and halfway(step + 1, steps):
            try:  # a cheap look at the middle frame; the video never waits on it
                preview = latent_preview(latents.detach().float().cpu().numpy(), frames_first=frames_first)
            except Exception as exc:  # noqa: BLE001 - no preview is better than no video
                ctx.note(f"no preview: {type(exc).__name__}: {exc}")
        ctx.progress(step + 1, steps, preview)
        if ctx.cancel.is_set():
            raise Cancelled()

    if "callback_on_step_end" in call:
        def on_step_end(_pipe: Any, step: int, _t: Any, tensors: dict[str, Any]) -> dict[str, Any]:
            step_done(step, tensors.get("latents"))
            return {}

        kwargs["callback_on_step_end"] = on_step_end
    elif "callback" in call:  # older pipelines (zeroscope's TextToVideoSD)
        kwargs["callback"] = lambda step, _t, latents: step_done(step, latents)
        kwargs["callback_steps"] = 1
    return kwargs


def run_pipeline(pipe: Any, spec: ModelSpec, ctx: RunContext, plan: MemoryPlan) -> np.ndarray:
    """One generation in one pipeline call; returns frames as a (frames, height, width, 3) float array in
    [0, 1]. The backend runs the two stages apart (:func:`denoise`, then :func:`decode`) where it can; this is
    the path for a pipeline it cannot split, and the reference the split path is checked against."""
    import torch

    kwargs = call_arguments(pipe, spec, ctx, plan)
    ctx.raise_if_cancelled()
    with torch.inference_mode():
        result = pipe(**kwargs)
    frames = result.frames[0]
    return np.asarray(frames, dtype=np.float32)


def denoise(pipe: Any, spec: ModelSpec, ctx: RunContext, plan: MemoryPlan) -> Latents:
    """The denoising stage alone (``output_type="latent"``): the latents, kept for :func:`decode` and for a
    decode retried after running out of memory."""
    import torch

    kwargs = call_arguments(pipe, spec, ctx, plan)
    kwargs["output_type"] = "latent"
    ctx.raise_if_cancelled()
    with torch.inference_mode():
        latents = pipe(**kwargs).frames
    generator = kwargs["generator"]
    return Latents(latents, kwargs, generator, generator.get_state())


def decode(pipe: Any, kept: Latents, plan: MemoryPlan) -> np.ndarray:
    """The VAE decode of kept latents, in ``plan``'s decode chunks, as the pipeline's own call would have
    done it: the same frames, bit for bit. The generator is put back where the denoise left it each time, so
    a retried decode draws the same noise (LTX-Video's decode noise)."""
    import torch

    kept.generator.set_state(kept.generator_state)
    with torch.inference_mode():
        video = decode_latents(pipe, kept.latents, kept.call, plan.decode_chunk_size)
    pipe.maybe_free_model_hooks()  # what the pipeline's call ends with: offloaded models go back to main memory
    return np.asarray(video[0], dtype=np.float32)


def pipeline_inputs(call: Mapping[str, Any], spec: ModelSpec, job: JobSpec, plan: MemoryPlan,
                    note: Callable[[Text | str], None]) -> dict[str, Any]:
    """What the pipeline is called with for this job (all but the generator and the picture), for a pipeline
    whose ``__call__`` takes the parameters ``call``. The controls users set are the engine's mapping
    (engine/controls.py): ``--ar`` becomes a size on the model's grid, ``--quality`` its steps preset and
    ``--motion`` SVD's motion bucket; a model without a motion knob gets a note for the user instead."""
    opts = job.options
    width, height = spec.frame(opts)
    kwargs: dict[str, Any] = {
        "height": height, "width": width, "num_frames": plan.frames, "num_inference_steps": spec.steps_for(opts),
        "output_type": "np",
    }
    if "prompt" in call:
        kwargs["prompt"] = job.prompt
        if opts.negative_prompt and "negative_prompt" in call:
            kwargs["negative_prompt"] = opts.negative_prompt
    if spec.guidance is not None and "guidance_scale" in call:
        kwargs["guidance_scale"] = spec.guidance
    for name, value in spec.options.items():
        if name in call and name != "decode_chunk_size":
            kwargs[name] = value
    if opts.motion is not None:
        if "motion_bucket_id" in call:
            kwargs["motion_bucket_id"] = motion_bucket(opts.motion)
        else:
            note(not_used("--motion", spec.name))
    if "fps" in call:
        kwargs["fps"] = opts.fps or spec.fps
    if "frame_rate" in call:
        kwargs["frame_rate"] = opts.fps or spec.fps
    if plan.decode_chunk_size is not None:
        kwargs["decode_chunk_size"] = plan.decode_chunk_size
    return kwargs

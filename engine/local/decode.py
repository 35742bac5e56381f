"""The VAE decode of each video family, done apart from the denoise, exactly as the pipeline's own call does it.

The backend runs a pipeline with ``output_type="latent"`` and decodes the latents itself, so that a decode that
runs out of GPU memory is retried alone from the kept latents instead of denoising again (minutes on a GPU).
Each function below is the tail of its pipeline's ``__call__`` in diffusers (0.31 to 0.42), using the pipeline's
own ``decode_latents``, latent (un)packing and ``video_processor.postprocess_video``: for the same seed the
frames are the same as the one call's, bit for bit (tests/engine/local/test_decode.py checks every family's
tiny model). A pipeline class not listed here is run in one call, as before.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any


@dataclass(slots=True)
class Latents:
    """A denoise's result, kept for its decode: the latents as the pipeline left them, the call's arguments
    (sizes, decode options) and its generator with the state the denoise left it in."""

    latents: Any
    call: dict[str, Any]
    generator: Any
    generator_state: Any


def _svd(pipe: Any, latents: Any, call: dict[str, Any], chunk: int | None) -> Any:
    # StableVideoDiffusionPipeline: the VAE is back in fp16 after the image encode; None decodes all frames
    num_frames = latents.shape[1]
    frames = pipe.decode_latents(latents, num_frames, chunk if chunk is not None else num_frames)
    return pipe.video_processor.postprocess_video(video=frames, output_type="np")


def _text_to_video_sd(pipe: Any, latents: Any, call: dict[str, Any], chunk: int | None) -> Any:
    return pipe.video_processor.postprocess_video(video=pipe.decode_latents(latents), output_type="np")


def _animatediff(pipe: Any, latents: Any, call: dict[str, Any], chunk: int | None) -> Any:
    video = pipe.decode_latents(latents, chunk if chunk is not None else 16)  # 16: the pipeline's default
    return pipe.video_processor.postprocess_video(video=video, output_type="np")


def _wan(pipe: Any, latents: Any, call: dict[str, Any], chunk: int | None) -> Any:
    import torch
    from diffusers.utils.torch_utils import get_module_execution_device

    vae = pipe.vae
    latents = latents.to(get_module_execution_device(vae), dtype=vae.dtype)
    mean = torch.tensor(vae.config.latents_mean).view(1, vae.config.z_dim, 1, 1, 1).to(latents.device, latents.dtype)
    std = 1.0 / torch.tensor(vae.config.latents_std).view(1, vae.config.z_dim, 1, 1, 1).to(latents.device,
                                                                                           latents.dtype)
    latents = latents / std + mean
    video = vae.decode(latents, return_dict=False)[0]
    return pipe.video_processor.postprocess_video(video, output_type="np")


def _ltx(image_to_video: bool) -> Callable[[Any, Any, dict[str, Any], int | None], Any]:
    def decode(pipe: Any, latents: Any, call: dict[str, Any], chunk: int | None) -> Any:
        import torch
        from diffusers.utils.torch_utils import randn_tensor

        vae = pipe.vae
        device = pipe._execution_device
        latents = pipe._unpack_latents(
            latents,
            (call["num_frames"] - 1) // pipe.vae_temporal_compression_ratio + 1,
            call["height"] // pipe.vae_spatial_compression_ratio,
            call["width"] // pipe.vae_spatial_compression_ratio,
            pipe.transformer_spatial_patch_size,
            pipe.transformer_temporal_patch_size,
        )
        latents = pipe._denormalize_latents(latents, vae.latents_mean, vae.latents_std, vae.config.scaling_factor)
        latents = latents.to(pipe.text_encoder.dtype)  # the prompt embeddings' dtype, as the call casts them
        timestep = None
        if vae.config.timestep_conditioning:
            generator = call["generator"]
            noise = (torch.randn(latents.shape, generator=generator, device=device, dtype=latents.dtype)
                     if image_to_video else
                     randn_tensor(latents.shape, generator=generator, device=device, dtype=latents.dtype))
            decode_timestep = call.get("decode_timestep", 0.0)
            scale = call.get("decode_noise_scale")
            decode_timestep = decode_timestep if isinstance(decode_timestep, list) else [decode_timestep]
            scale = decode_timestep if scale is None else scale if isinstance(scale, list) else [scale]
            timestep = torch.tensor(decode_timestep, device=device, dtype=latents.dtype)
            noise_scale = torch.tensor(scale, device=device, dtype=latents.dtype)[:, None, None, None, None]
            latents = (1 - noise_scale) * latents + noise_scale * noise
        if not image_to_video:
            latents = latents.to(vae.dtype)
        video = vae.decode(latents, timestep, return_dict=False)[0]
        return pipe.video_processor.postprocess_video(video, output_type="np")

    return decode


DECODERS: dict[str, Callable[[Any, Any, dict[str, Any], int | None], Any]] = {
    "StableVideoDiffusionPipeline": _svd,
    "TextToVideoSDPipeline": _text_to_video_sd,
    "AnimateDiffPipeline": _animatediff,
    "WanPipeline": _wan,
    "LTXPipeline": _ltx(image_to_video=False),
    "LTXImageToVideoPipeline": _ltx(image_to_video=True),
}


def can_split(pipe: Any) -> bool:
    """Whether reelbot decodes this pipeline's latents itself (its class is one of :data:`DECODERS`)."""
    return type(pipe).__name__ in DECODERS


def decode_latents(pipe: Any, latents: Any, call: dict[str, Any], chunk: int | None) -> Any:
    """The frames of ``latents`` as ``pipe``'s call with ``output_type="np"`` returns them (a batch of videos,
    each (frames, height, width, 3) in [0, 1]), decoded ``chunk`` frames at a time where the family can."""
    return DECODERS[type(pipe).__name__](pipe, latents, call, chunk)

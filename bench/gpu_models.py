"""The full-size video models ``bench/gpu.py`` measures, as their published configs and builders.

SVD-XT 1.1 and zeroscope_v2_576w are built from the configs below (copied from the model repos'
``config.json`` files) with random weights: the same shapes as the real checkpoints, so the same FLOPs and
memory traffic, with nothing downloaded. :func:`build_full` makes a whole pipeline in seconds on a GPU, or
on the "meta" device without allocating anything (for counting parameters).
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator
from typing import Any

# The families that have full-size configs here.
FAMILIES = ("svd-xt", "zeroscope")

# ------------------------------------------------------------------------------------------------------------
# Published configs (copied from the model repos' config.json files; nothing is downloaded)
# ------------------------------------------------------------------------------------------------------------

# stabilityai/stable-video-diffusion-img2vid-xt-1-1, unet/config.json (= diffusers' class defaults).
SVD_XT_UNET: dict[str, Any] = {
    "sample_size": 96,
    "in_channels": 8,
    "out_channels": 4,
    "down_block_types": (
        "CrossAttnDownBlockSpatioTemporal",
        "CrossAttnDownBlockSpatioTemporal",
        "CrossAttnDownBlockSpatioTemporal",
        "DownBlockSpatioTemporal",
    ),
    "up_block_types": (
        "UpBlockSpatioTemporal",
        "CrossAttnUpBlockSpatioTemporal",
        "CrossAttnUpBlockSpatioTemporal",
        "CrossAttnUpBlockSpatioTemporal",
    ),
    "block_out_channels": (320, 640, 1280, 1280),
    "addition_time_embed_dim": 256,
    "projection_class_embeddings_input_dim": 768,
    "layers_per_block": 2,
    "cross_attention_dim": 1024,
    "transformer_layers_per_block": 1,
    "num_attention_heads": (5, 10, 20, 20),
    "num_frames": 25,
}
# vae/config.json: the SD VAE encoder with SVD's temporal decoder.
SVD_XT_VAE: dict[str, Any] = {
    "in_channels": 3,
    "out_channels": 3,
    "down_block_types": ("DownEncoderBlock2D",) * 4,
    "block_out_channels": (128, 256, 512, 512),
    "layers_per_block": 2,
    "latent_channels": 4,
    "sample_size": 768,
    "scaling_factor": 0.18215,
    "force_upcast": True,
}
# image_encoder/config.json: OpenCLIP ViT-H/14 vision tower with its 1024-d projection.
SVD_XT_IMAGE_ENCODER: dict[str, Any] = {
    "hidden_size": 1280,
    "intermediate_size": 5120,
    "projection_dim": 1024,
    "num_hidden_layers": 32,
    "num_attention_heads": 16,
    "num_channels": 3,
    "image_size": 224,
    "patch_size": 14,
    "hidden_act": "gelu",
    "layer_norm_eps": 1e-05,
}
# scheduler/scheduler_config.json (the same settings engine/local/tiny/svd.py copied).
SVD_XT_SCHEDULER: dict[str, Any] = {
    "beta_start": 0.00085,
    "beta_end": 0.012,
    "beta_schedule": "scaled_linear",
    "interpolation_type": "linear",
    "num_train_timesteps": 1000,
    "prediction_type": "v_prediction",
    "sigma_max": 700.0,
    "sigma_min": 0.002,
    "steps_offset": 1,
    "timestep_spacing": "leading",
    "timestep_type": "continuous",
    "trained_betas": None,
    "use_karras_sigmas": True,
}

# cerspense/zeroscope_v2_576w, unet/config.json (ModelScope's UNet3D = diffusers' class defaults).
ZEROSCOPE_UNET: dict[str, Any] = {
    "sample_size": 32,
    "in_channels": 4,
    "out_channels": 4,
    "down_block_types": ("CrossAttnDownBlock3D", "CrossAttnDownBlock3D", "CrossAttnDownBlock3D", "DownBlock3D"),
    "up_block_types": ("UpBlock3D", "CrossAttnUpBlock3D", "CrossAttnUpBlock3D", "CrossAttnUpBlock3D"),
    "block_out_channels": (320, 640, 1280, 1280),
    "layers_per_block": 2,
    "downsample_padding": 1,
    "mid_block_scale_factor": 1,
    "act_fn": "silu",
    "norm_num_groups": 32,
    "norm_eps": 1e-05,
    "cross_attention_dim": 1024,
    "attention_head_dim": 64,
}
# vae/config.json: the SD 1.x/2.x VAE.
ZEROSCOPE_VAE: dict[str, Any] = {
    "in_channels": 3,
    "out_channels": 3,
    "down_block_types": ("DownEncoderBlock2D",) * 4,
    "up_block_types": ("UpDecoderBlock2D",) * 4,
    "block_out_channels": (128, 256, 512, 512),
    "layers_per_block": 2,
    "act_fn": "silu",
    "latent_channels": 4,
    "norm_num_groups": 32,
    "sample_size": 512,
    "scaling_factor": 0.18215,
}
# text_encoder/config.json: the OpenCLIP ViT-H text tower cut at its penultimate layer (23 of 24), as SD 2.x.
# (CLIPTextModel has no projection layer, so projection_dim changes nothing here.)
ZEROSCOPE_TEXT_ENCODER: dict[str, Any] = {
    "vocab_size": 49408,
    "hidden_size": 1024,
    "intermediate_size": 4096,
    "projection_dim": 1024,
    "num_hidden_layers": 23,
    "num_attention_heads": 16,
    "max_position_embeddings": 77,
    "hidden_act": "gelu",
    "layer_norm_eps": 1e-05,
}
# scheduler/scheduler_config.json: DDIM with the SD betas (as engine/local/tiny/sd.py builds zeroscope).
ZEROSCOPE_SCHEDULER: dict[str, Any] = {
    "beta_start": 0.00085,
    "beta_end": 0.012,
    "beta_schedule": "scaled_linear",
    "num_train_timesteps": 1000,
    "clip_sample": False,
    "set_alpha_to_one": False,
    "steps_offset": 1,
    "prediction_type": "epsilon",
}


# Component builders. They construct under whatever device context the caller has set (the tests build on
# "meta" to count parameters without allocating); ``build_full`` adds cheap GPU weight initialisation.


def svd_xt_unet() -> Any:
    from diffusers import UNetSpatioTemporalConditionModel

    return UNetSpatioTemporalConditionModel(**SVD_XT_UNET)


def svd_xt_vae() -> Any:
    from diffusers import AutoencoderKLTemporalDecoder

    return AutoencoderKLTemporalDecoder(**SVD_XT_VAE)


def svd_xt_image_encoder() -> Any:
    from transformers import CLIPVisionConfig, CLIPVisionModelWithProjection

    return CLIPVisionModelWithProjection(CLIPVisionConfig(**SVD_XT_IMAGE_ENCODER)).eval()


def zeroscope_unet() -> Any:
    from diffusers import UNet3DConditionModel

    return UNet3DConditionModel(**ZEROSCOPE_UNET)


def zeroscope_vae() -> Any:
    from diffusers import AutoencoderKL

    return AutoencoderKL(**ZEROSCOPE_VAE)


def zeroscope_text_encoder(bos: int = 49406, eos: int = 49407) -> Any:
    from transformers import CLIPTextConfig, CLIPTextModel

    config = CLIPTextConfig(**ZEROSCOPE_TEXT_ENCODER, bos_token_id=bos, eos_token_id=eos, pad_token_id=eos)
    return CLIPTextModel(config).eval()


def param_count(module: Any) -> int:
    return sum(p.numel() for p in module.parameters())


@contextlib.contextmanager
def empty_weights(device: str) -> Iterator[None]:
    """Parameters on "meta" (no memory, no init time); buffers are made for real so position ids, sinusoidal
    tables and the like keep their values. For ``device == "meta"`` everything stays on meta."""
    import torch

    if device == "meta":
        with torch.device("meta"):
            yield
        return
    from accelerate import init_empty_weights

    with init_empty_weights(include_buffers=False):
        yield


def materialize(module: Any, device: str, dtype: Any, generator: Any) -> Any:
    """Give every meta parameter real storage on ``device``: weights N(0, 0.02), biases 0, norm scales 1."""
    import torch
    from torch import nn

    made: dict[int, nn.Parameter] = {}
    with torch.no_grad():
        for sub in module.modules():
            is_norm = isinstance(sub, nn.LayerNorm | nn.GroupNorm) or "Norm" in type(sub).__name__
            for name, param in list(sub._parameters.items()):
                if param is None or not param.is_meta:
                    continue
                if id(param) in made:  # tied weights stay tied
                    sub._parameters[name] = made[id(param)]
                    continue
                data = torch.empty(param.shape, device=device, dtype=dtype)
                if is_norm and name == "weight":
                    data.fill_(1.0)
                elif name == "bias" or name.endswith("_bias"):
                    data.zero_()
                else:
                    data.normal_(0.0, 0.02, generator=generator)
                new = nn.Parameter(data, requires_grad=param.requires_grad)
                made[id(param)] = new
                sub._parameters[name] = new
        for sub in module.modules():  # the buffers were made for real on the CPU: move them (and cast the
            for name, buf in list(sub._buffers.items()):  # floating ones, as from_pretrained's torch_dtype does)
                if buf is not None:
                    sub._buffers[name] = buf.to(device=device, dtype=dtype if buf.is_floating_point() else None)
    return module.eval()


def build_full(family: str, device: str, dtype: Any = None, *, seed: int = 0) -> Any:
    """The full-size pipeline for ``family`` with random weights, built in seconds on a GPU.

    ``device="meta"`` builds it without allocating anything (for counting parameters)."""
    import torch

    dtype = dtype or torch.float16
    # Only the models go under the empty-weights context: schedulers compute their tables for real.
    if family == "svd-xt":
        from diffusers import EulerDiscreteScheduler, StableVideoDiffusionPipeline
        from transformers import CLIPImageProcessor

        with empty_weights(device):
            parts: dict[str, Any] = {
                "unet": svd_xt_unet(), "vae": svd_xt_vae(), "image_encoder": svd_xt_image_encoder()}
        extra: dict[str, Any] = {
            "scheduler": EulerDiscreteScheduler(**SVD_XT_SCHEDULER),
            "feature_extractor": CLIPImageProcessor(crop_size=224, size=224),
        }
        cls: Any = StableVideoDiffusionPipeline
    elif family == "zeroscope":
        from diffusers import DDIMScheduler, TextToVideoSDPipeline

        from engine.local.tiny.text import clip_tokenizer

        tokenizer = clip_tokenizer()  # the tiny vocabulary: every id is < 49408, the text length is 77
        with empty_weights(device):
            parts = {"unet": zeroscope_unet(), "vae": zeroscope_vae(),
                     "text_encoder": zeroscope_text_encoder(tokenizer.bos_token_id, tokenizer.eos_token_id)}
        extra = {"scheduler": DDIMScheduler(**ZEROSCOPE_SCHEDULER), "tokenizer": tokenizer}
        cls = TextToVideoSDPipeline
    else:
        raise KeyError(f"no full-size config for {family!r}; known: {', '.join(FAMILIES)}")
    if device != "meta":
        generator = torch.Generator(device=device).manual_seed(seed)
        parts = {name: materialize(part, device, dtype, generator) for name, part in parts.items()}
    pipe = cls(**parts, **extra)
    pipe.set_progress_bar_config(disable=True)
    return pipe

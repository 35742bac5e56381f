"""Tiny SD-1.x-derived text-to-video families: zeroscope (a 3D UNet) and AnimateDiff (a 2D UNet with a motion
adapter), sharing the SD VAE and a CLIP text encoder."""

from __future__ import annotations

from typing import Any

from engine.local.tiny.text import clip_text_encoder, clip_tokenizer


def sd_vae_and_text_encoder(seed: int, tokenizer: Any) -> tuple[Any, Any]:
    """The SD-1.x-style VAE and CLIP text encoder that zeroscope and AnimateDiff share, tiny."""
    import torch
    from diffusers import AutoencoderKL

    torch.manual_seed(seed)
    vae = AutoencoderKL(
        block_out_channels=(16, 32),
        in_channels=3,
        out_channels=3,
        down_block_types=("DownEncoderBlock2D", "DownEncoderBlock2D"),
        up_block_types=("UpDecoderBlock2D", "UpDecoderBlock2D"),
        latent_channels=4,
        sample_size=32,
        norm_num_groups=4,
    )
    torch.manual_seed(seed)
    return vae, clip_text_encoder(len(tokenizer), tokenizer.bos_token_id, tokenizer.eos_token_id)


def build_zeroscope(seed: int) -> Any:
    import torch
    from diffusers import DDIMScheduler, TextToVideoSDPipeline, UNet3DConditionModel

    tokenizer = clip_tokenizer()
    torch.manual_seed(seed)
    unet = UNet3DConditionModel(
        block_out_channels=(16, 32),
        layers_per_block=1,
        sample_size=32,
        in_channels=4,
        out_channels=4,
        down_block_types=("CrossAttnDownBlock3D", "DownBlock3D"),
        up_block_types=("UpBlock3D", "CrossAttnUpBlock3D"),
        cross_attention_dim=32,
        attention_head_dim=8,
        norm_num_groups=4,
    )
    # DDIM with the SD-1.x betas, as damo-vilab/text-to-video-ms-1.7b (which zeroscope derives from) uses.
    scheduler = DDIMScheduler(
        beta_start=0.00085,
        beta_end=0.012,
        beta_schedule="scaled_linear",
        clip_sample=False,
        set_alpha_to_one=False,
        steps_offset=1,
    )
    vae, text_encoder = sd_vae_and_text_encoder(seed, tokenizer)
    return TextToVideoSDPipeline(
        vae=vae, text_encoder=text_encoder, tokenizer=tokenizer, unet=unet, scheduler=scheduler
    )


def build_animatediff(seed: int) -> Any:
    import torch
    from diffusers import AnimateDiffPipeline, DDIMScheduler, MotionAdapter, UNet2DConditionModel

    tokenizer = clip_tokenizer()
    torch.manual_seed(seed)
    unet = UNet2DConditionModel(
        block_out_channels=(16, 32),
        layers_per_block=1,
        sample_size=32,
        in_channels=4,
        out_channels=4,
        down_block_types=("CrossAttnDownBlock2D", "DownBlock2D"),
        up_block_types=("UpBlock2D", "CrossAttnUpBlock2D"),
        cross_attention_dim=32,
        attention_head_dim=8,
        norm_num_groups=2,
    )
    # The scheduler AnimateDiff's docs pair with a motion adapter.
    scheduler = DDIMScheduler(
        beta_start=0.00085,
        beta_end=0.012,
        beta_schedule="linear",
        clip_sample=False,
        steps_offset=1,
        timestep_spacing="linspace",
    )
    vae, text_encoder = sd_vae_and_text_encoder(seed, tokenizer)
    torch.manual_seed(seed)
    motion_adapter = MotionAdapter(
        block_out_channels=(16, 32),  # must match the unet
        motion_layers_per_block=1,  # must match the unet's layers_per_block
        motion_norm_num_groups=2,
        motion_num_attention_heads=4,
        motion_max_seq_length=32,
    )
    # AnimateDiffPipeline folds the UNet2DConditionModel and the adapter into a UNetMotionModel; that is what gets
    # saved as "unet" (next to the adapter itself), exactly like a pipeline saved from a real checkpoint.
    return AnimateDiffPipeline(
        vae=vae,
        text_encoder=text_encoder,
        tokenizer=tokenizer,
        unet=unet,
        motion_adapter=motion_adapter,
        scheduler=scheduler,
        feature_extractor=None,
        image_encoder=None,
    )

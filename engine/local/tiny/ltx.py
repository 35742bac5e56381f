"""Tiny LTX-Video: a video transformer with a T5 text encoder and a VAE of the real compression."""

from __future__ import annotations

from typing import Any

from engine.local.tiny.text import t5_encoder, t5_tokenizer


def build_ltx(seed: int) -> Any:
    import torch
    from diffusers import (
        AutoencoderKLLTXVideo,
        FlowMatchEulerDiscreteScheduler,
        LTXPipeline,
        LTXVideoTransformer3DModel,
    )

    tokenizer = t5_tokenizer()
    torch.manual_seed(seed)
    transformer = LTXVideoTransformer3DModel(
        in_channels=8,
        out_channels=8,
        patch_size=1,
        patch_size_t=1,
        num_attention_heads=4,
        attention_head_dim=8,
        cross_attention_dim=32,  # == heads * head_dim
        num_layers=1,
        caption_channels=32,  # == text encoder d_model
    )
    torch.manual_seed(seed)
    # Same compression as the real LTX-Video VAE (patch 4 x three 2x stages = 32x spatial, 8x temporal), so the
    # real frame rule (8k+1) and the pipeline's divisible-by-32 size check line up, but only 8 channels wide.
    vae = AutoencoderKLLTXVideo(
        latent_channels=8,
        block_out_channels=(8, 8, 8, 8),
        decoder_block_out_channels=(8, 8, 8, 8),
        layers_per_block=(1, 1, 1, 1, 1),
        decoder_layers_per_block=(1, 1, 1, 1, 1),
        spatio_temporal_scaling=(True, True, True, False),
        decoder_spatio_temporal_scaling=(True, True, True, False),
        decoder_inject_noise=(False, False, False, False, False),
        patch_size=4,
        patch_size_t=1,
        encoder_causal=True,
        decoder_causal=False,
    )
    # Lightricks/LTX-Video's scheduler config (resolution-dependent shift).
    scheduler = FlowMatchEulerDiscreteScheduler(
        num_train_timesteps=1000,
        shift=1.0,
        use_dynamic_shifting=True,
        base_shift=0.95,
        max_shift=2.05,
        base_image_seq_len=1024,
        max_image_seq_len=4096,
        shift_terminal=0.1,
    )
    torch.manual_seed(seed)
    text_encoder = t5_encoder("T5EncoderModel", len(tokenizer))
    return LTXPipeline(
        scheduler=scheduler, vae=vae, text_encoder=text_encoder, tokenizer=tokenizer, transformer=transformer
    )

"""Tiny Wan 2.1: a video transformer with a UMT5 text encoder and the Wan VAE."""

from __future__ import annotations

from typing import Any

from engine.local.tiny.text import t5_encoder, t5_tokenizer


def build_wan(seed: int) -> Any:
    import torch
    from diffusers import AutoencoderKLWan, UniPCMultistepScheduler, WanPipeline, WanTransformer3DModel

    tokenizer = t5_tokenizer()
    torch.manual_seed(seed)
    vae = AutoencoderKLWan(
        base_dim=3,
        z_dim=16,
        dim_mult=[1, 1, 1, 1],
        num_res_blocks=1,
        temperal_downsample=[False, True, True],  # 4x temporal, 8x spatial: num_frames = 4k+1
    )
    # Wan-AI/Wan2.1-T2V-1.3B-Diffusers ships UniPC with flow sigmas (flow_shift 3.0 for 480p).
    scheduler = UniPCMultistepScheduler(
        prediction_type="flow_prediction",
        use_flow_sigmas=True,
        num_train_timesteps=1000,
        flow_shift=3.0,
    )
    torch.manual_seed(seed)
    text_encoder = t5_encoder("UMT5EncoderModel", len(tokenizer))
    torch.manual_seed(seed)
    transformer = WanTransformer3DModel(
        patch_size=(1, 2, 2),
        num_attention_heads=2,
        attention_head_dim=12,
        in_channels=16,
        out_channels=16,
        text_dim=32,  # == text encoder d_model
        freq_dim=256,
        ffn_dim=32,
        num_layers=2,
        cross_attn_norm=True,
        qk_norm="rms_norm_across_heads",
        rope_max_seq_len=32,
    )
    return WanPipeline(
        tokenizer=tokenizer, text_encoder=text_encoder, vae=vae, scheduler=scheduler, transformer=transformer
    )

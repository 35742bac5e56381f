"""Tiny Stable Video Diffusion (svd, svd-xt): image-to-video with a spatio-temporal UNet and a CLIP image encoder."""

from __future__ import annotations

from typing import Any


def build_svd(seed: int, num_frames: int) -> Any:
    import torch
    from diffusers import (
        AutoencoderKLTemporalDecoder,
        EulerDiscreteScheduler,
        StableVideoDiffusionPipeline,
        UNetSpatioTemporalConditionModel,
    )
    from transformers import CLIPImageProcessor, CLIPVisionConfig, CLIPVisionModelWithProjection

    torch.manual_seed(seed)
    # Its resnets hard-code 32 GroupNorm groups, so 32 channels is the floor; (32, 32) x 1 layer keeps it < 2 MB.
    unet = UNetSpatioTemporalConditionModel(
        block_out_channels=(32, 32),
        layers_per_block=1,
        sample_size=32,
        in_channels=8,
        out_channels=4,
        down_block_types=("CrossAttnDownBlockSpatioTemporal", "DownBlockSpatioTemporal"),
        up_block_types=("UpBlockSpatioTemporal", "CrossAttnUpBlockSpatioTemporal"),
        cross_attention_dim=32,
        num_attention_heads=(2, 2),
        projection_class_embeddings_input_dim=96,  # 3 added time ids * addition_time_embed_dim
        addition_time_embed_dim=32,
        num_frames=num_frames,  # the pipeline's default num_frames: 14 for svd, 25 for svd-xt
    )
    # The scheduler config of stabilityai/stable-video-diffusion-img2vid(-xt).
    scheduler = EulerDiscreteScheduler(
        beta_start=0.00085,
        beta_end=0.012,
        beta_schedule="scaled_linear",
        interpolation_type="linear",
        num_train_timesteps=1000,
        prediction_type="v_prediction",
        sigma_max=700.0,
        sigma_min=0.002,
        steps_offset=1,
        timestep_spacing="leading",
        timestep_type="continuous",
        trained_betas=None,
        use_karras_sigmas=True,
    )
    torch.manual_seed(seed)
    vae = AutoencoderKLTemporalDecoder(
        block_out_channels=(32, 32),  # 2 blocks: 2x spatial downsampling; 32 GroupNorm groups are hard-coded
        in_channels=3,
        out_channels=3,
        down_block_types=("DownEncoderBlock2D", "DownEncoderBlock2D"),
        latent_channels=4,
    )
    torch.manual_seed(seed)
    # The pipeline resizes a PIL/numpy conditioning image to 224x224 before the CLIP image encoder, and CLIP's
    # vision embeddings refuse any other size, so image_size must stay 224 (14px patches, as SVD's ViT-H/14).
    image_encoder = CLIPVisionModelWithProjection(
        CLIPVisionConfig(
            hidden_size=32,
            projection_dim=32,  # == unet cross_attention_dim
            num_hidden_layers=2,
            num_attention_heads=4,
            intermediate_size=37,
            image_size=224,
            patch_size=14,
            hidden_act="gelu",
        )
    ).eval()
    feature_extractor = CLIPImageProcessor(crop_size=224, size=224)
    return StableVideoDiffusionPipeline(
        vae=vae,
        image_encoder=image_encoder,
        unet=unet,
        scheduler=scheduler,
        feature_extractor=feature_extractor,
    )

"""bench/gpu.py on a CPU: the tiny-model run end to end, and the full-size configs of bench/gpu_models.py
checked on "meta".

The full-size pipelines are never allocated here: they are built on the meta device, and their parameter
counts must be those of the published checkpoints, so the GPU numbers come from models of the real size.
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest
import torch

from bench import gpu_models as models

ROOT = Path(__file__).resolve().parents[2]
SCRIPT = ROOT / "bench" / "gpu.py"
KEYS = {
    "family", "device", "gpu_name", "plain_s", "reelbot_s", "speedup", "plain_peak_vram_gib",
    "reelbot_peak_vram_gib", "frames", "size", "steps", "tiny",
}

# Parameter counts of the published checkpoints (the sums of their safetensors tensors).
SVD_XT_UNET = 1_524_623_082  # stabilityai/stable-video-diffusion-img2vid-xt(-1-1) unet, "1.52 B"
ZEROSCOPE_UNET = 1_411_233_860  # cerspense/zeroscope_v2_576w unet (ModelScope's UNet3D), "1.41 B"
VIT_H_14_VISION = 632_076_800  # OpenCLIP ViT-H/14 vision tower + 1280->1024 projection, "632 M"
SD_VAE = 83_653_863  # the SD 1.x/2.x AutoencoderKL zeroscope ships
SVD_VAE = 97_742_847  # SD VAE encoder + SVD's temporal decoder
OPENCLIP_H_TEXT_23 = 340_387_840  # OpenCLIP ViT-H text tower, 23 of its 24 layers (as SD 2.x)


def close(measured: int, published: int, tolerance: float = 0.03) -> bool:
    return abs(measured - published) <= tolerance * published


@pytest.mark.parametrize("family", ["zeroscope", "svd-xt"])
def test_tiny_run_prints_one_json_line_with_cpu_timings_and_says_they_are_not_gpu_figures(family: str) -> None:
    proc = subprocess.run(
        [sys.executable, str(SCRIPT), "--tiny", "--family", family, "--runs", "1"],
        cwd=ROOT, capture_output=True, text=True, timeout=120,
    )
    assert proc.returncode == 0, proc.stderr
    lines = [line for line in proc.stdout.splitlines() if line.strip()]
    assert len(lines) == 1, proc.stdout
    record = json.loads(lines[0])
    assert KEYS <= set(record)
    assert record["family"] == family and record["tiny"] is True and record["device"] == "cpu"
    assert record["gpu_name"] is None
    assert record["plain_s"] > 0 and record["reelbot_s"] > 0 and record["speedup"] > 0
    assert record["plain_peak_vram_gib"] is None and record["reelbot_peak_vram_gib"] is None
    assert (record["frames"], record["size"], record["steps"]) == (8, "64x64", 4)
    assert "not GPU figures" in proc.stderr and "CPU timings of tiny" in proc.stderr


def test_asking_for_cuda_without_one_fails_with_plain_words() -> None:
    if torch.cuda.is_available():
        pytest.skip("this machine has a GPU")
    proc = subprocess.run(
        [sys.executable, str(SCRIPT), "--device", "cuda:0", "--family", "zeroscope"],
        cwd=ROOT, capture_output=True, text=True, timeout=120,
    )
    assert proc.returncode == 2 and proc.stdout == ""
    assert "--device cuda:0 was asked for" in proc.stderr and "CPU-only" in proc.stderr


def test_full_size_svd_xt_has_the_published_parameter_counts() -> None:
    with torch.device("meta"):
        unet, vae, image_encoder = models.svd_xt_unet(), models.svd_xt_vae(), models.svd_xt_image_encoder()
    assert next(unet.parameters()).is_meta  # nothing was allocated
    assert close(models.param_count(unet), SVD_XT_UNET), models.param_count(unet)
    assert close(models.param_count(image_encoder), VIT_H_14_VISION), models.param_count(image_encoder)
    assert close(models.param_count(vae), SVD_VAE), models.param_count(vae)
    assert unet.config.num_frames == 25 and unet.config.sample_size == 96


def test_full_size_zeroscope_has_the_published_parameter_counts() -> None:
    with torch.device("meta"):
        unet, vae = models.zeroscope_unet(), models.zeroscope_vae()
        text_encoder = models.zeroscope_text_encoder()
    assert close(models.param_count(unet), ZEROSCOPE_UNET), models.param_count(unet)
    assert close(models.param_count(vae), SD_VAE), models.param_count(vae)
    assert close(models.param_count(text_encoder), OPENCLIP_H_TEXT_23), models.param_count(text_encoder)


def test_the_configs_are_the_class_defaults_diffusers_documents_as_the_real_ones() -> None:
    import inspect

    from diffusers import UNet3DConditionModel, UNetSpatioTemporalConditionModel

    for cls, config in ((UNetSpatioTemporalConditionModel, models.SVD_XT_UNET),
                        (UNet3DConditionModel, models.ZEROSCOPE_UNET)):
        defaults = {k: p.default for k, p in inspect.signature(cls.__init__).parameters.items()}
        differs = {k: (v, defaults[k]) for k, v in config.items() if k != "sample_size" and defaults[k] != v}
        assert differs == {}, cls.__name__


@pytest.mark.parametrize(("family", "pipeline", "denoiser"), [
    ("svd-xt", "StableVideoDiffusionPipeline", SVD_XT_UNET),
    ("zeroscope", "TextToVideoSDPipeline", ZEROSCOPE_UNET),
])
def test_the_full_pipeline_assembles_on_meta(family: str, pipeline: str, denoiser: int) -> None:
    pipe = models.build_full(family, "meta")
    assert type(pipe).__name__ == pipeline
    assert pipe.unet.device.type == "meta" and models.param_count(pipe.unet) == denoiser


@pytest.mark.parametrize("family", ["svd-xt", "zeroscope"])
def test_schedulers_are_the_ones_tiny_copied_from_the_real_repos(family: str) -> None:
    from engine.local.tiny import build_tiny

    ours = models.SVD_XT_SCHEDULER if family == "svd-xt" else models.ZEROSCOPE_SCHEDULER
    theirs = dict(build_tiny(family).scheduler.config)
    assert {k: theirs[k] for k in ours} == {k: (list(v) if isinstance(v, tuple) else v) for k, v in ours.items()}


def test_cheap_init_gives_real_weights_and_keeps_the_buffers() -> None:
    from transformers import CLIPVisionConfig, CLIPVisionModelWithProjection

    config = CLIPVisionConfig(hidden_size=32, intermediate_size=37, num_hidden_layers=2, num_attention_heads=4,
                              image_size=224, patch_size=14, projection_dim=16)
    with models.empty_weights("cpu"):
        model = CLIPVisionModelWithProjection(config)
    assert any(p.is_meta for p in model.parameters())
    model = models.materialize(model, "cpu", torch.float32, torch.Generator().manual_seed(0))
    assert not any(t.is_meta for t in [*model.parameters(), *model.buffers()])
    embeddings = model.vision_model.embeddings
    assert torch.equal(embeddings.position_ids[0], torch.arange(embeddings.num_positions))
    norm = model.vision_model.post_layernorm
    assert torch.all(norm.weight == 1) and torch.all(norm.bias == 0)
    weight = model.visual_projection.weight.detach()
    assert 0.01 < float(weight.std()) < 0.03
    with torch.inference_mode():
        out = model(pixel_values=torch.randn(1, 3, 224, 224)).image_embeds
    assert out.shape == (1, 16) and torch.isfinite(out).all()

"""bench/gpu.py on a CPU: the device check's dry run end to end (every stage, tiny models), its time limits,
and the full-size configs of bench/gpu_models.py checked on "meta".

The full-size pipelines are never allocated here: they are built on the meta device, and their parameter
counts must be those of the published checkpoints, so the GPU numbers come from models of the real size.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
import torch

from bench import gpu
from bench import gpu_models as models

ROOT = Path(__file__).resolve().parents[2]
SCRIPT = ROOT / "bench" / "gpu.py"
# Every record each family gets, in the order they are written.
STAGES = ("compile-cold", "reelbot", "plain", "plan-vs-plain", "compile-warm", "card-12", "card-8", "summary")

# Parameter counts of the published checkpoints (the sums of their safetensors tensors).
SVD_XT_UNET = 1_524_623_082  # stabilityai/stable-video-diffusion-img2vid-xt(-1-1) unet, "1.52 B"
ZEROSCOPE_UNET = 1_411_233_860  # cerspense/zeroscope_v2_576w unet (ModelScope's UNet3D), "1.41 B"
VIT_H_14_VISION = 632_076_800  # OpenCLIP ViT-H/14 vision tower + 1280->1024 projection, "632 M"
SD_VAE = 83_653_863  # the SD 1.x/2.x AutoencoderKL zeroscope ships
SVD_VAE = 97_742_847  # SD VAE encoder + SVD's temporal decoder
OPENCLIP_H_TEXT_23 = 340_387_840  # OpenCLIP ViT-H text tower, 23 of its 24 layers (as SD 2.x)


def close(measured: int, published: int, tolerance: float = 0.03) -> bool:
    return abs(measured - published) <= tolerance * published


def _records(text: str) -> list[dict[str, Any]]:
    return [json.loads(line) for line in text.splitlines() if line.strip()]


@pytest.mark.timeout(900)  # about 70 s of CPU; minutes of wall clock on a loaded CI machine
def test_the_device_check_dry_run_writes_every_stage_of_both_families_with_the_goals(tmp_path: Path) -> None:
    env = dict(os.environ, DRY_RUN="1", PYTHON=sys.executable, OUT=str(tmp_path))
    proc = subprocess.run(["bash", str(ROOT / "bench" / "device_check.sh")], cwd=ROOT, env=env,
                          capture_output=True, text=True, timeout=880)
    assert proc.returncode == 0, proc.stderr[-3000:]
    records = _records(proc.stdout)
    assert records == _records((tmp_path / "gpu-bench.jsonl").read_text())  # the file has all of them too
    assert "CPU timings of tiny" in proc.stderr and "not GPU figures" in proc.stderr
    assert "speedup over plain diffusers" in (tmp_path / "gpu-bench.log").read_text()  # the goals table
    got = {(r["family"], r["stage"]): r for r in records}
    for family in ("svd-xt", "zeroscope"):
        for stage in STAGES:
            record = got[(family, stage)]
            assert record["tiny"] is True and "error" not in record, record
        reelbot, plain = got[(family, "reelbot")], got[(family, "plain")]
        for variant in (reelbot, plain):
            assert (variant["size"], variant["frames"], variant["steps"]) == ("32x32", 4, 2)
            assert variant["peak_vram_gib"] is None  # no GPU: no VRAM figure rather than a made-up one
            assert variant["denoise_s"] > 0 and variant["decode_s"] > 0
        assert reelbot["reelbot_s"] > 0 and plain["plain_s"] > 0 and reelbot["frames_made"] == 4
        assert reelbot["tries"] == 1 and reelbot["plan"]["frames"] == 4
        versus = got[(family, "plan-vs-plain")]
        assert versus["speedup"] == round(plain["plain_s"] / reelbot["reelbot_s"], 2)
        assert versus["bit_identical"] is True or versus["psnr_db"] >= 40  # the engine's frames are diffusers'
        for stage in ("compile-cold", "compile-warm"):
            assert got[(family, stage)]["method"] in ("warm_up", "first job", "none")
        summary = got[(family, "summary")]
        assert summary["goals"] and all(g["met"] is None for g in summary["goals"])  # no verdict off a GPU
        for goal in summary["goals"]:
            if goal["goal"].startswith("compile"):  # the engine compiles on CUDA lanes only: nothing to time here
                assert goal["why"] == "not measured: the engine compiles nothing on this lane", goal
            else:
                assert goal["why"] == "tiny models: not a GPU figure", goal
    # SVD-XT on the emulated cards, as a user's default job: 25 frames on 12 GB with offload, 14 on 8 GB,
    # each on the first try (no out-of-memory rung).
    card12, card8 = got[("svd-xt", "card-12")], got[("svd-xt", "card-8")]
    assert card12["first_try_ok"] and card12["frames_made"] == 25 and card12["plan"]["offload"] is True
    assert card8["first_try_ok"] and card8["frames_made"] == 14
    assert "nothing is enforced" in card12["emulated_by"]
    assert got[("zeroscope", "card-8")]["frames_made"] == 24


def test_a_budget_too_small_for_any_stage_says_so_for_every_figure(tmp_path: Path) -> None:
    out = tmp_path / "records.jsonl"
    proc = subprocess.run([sys.executable, str(SCRIPT), "--dry-run", "--budget-s", "1", "--out", str(out)],
                          cwd=ROOT, capture_output=True, text=True, timeout=120)
    assert proc.returncode == 1
    records = _records(out.read_text())
    assert records == _records(proc.stdout)
    assert {(r["family"], r["stage"]) for r in records} == {(f, s) for f in ("svd-xt", "zeroscope") for s in STAGES}
    for record in records:
        if record["stage"] == "summary":
            assert all(g["measured"] is None and g["why"].startswith("not measured: ") for g in record["goals"])
        else:
            assert record["error"].startswith("skipped: less than"), record


def test_a_stage_stopped_at_its_limit_keeps_what_it_wrote() -> None:
    child = ("import json, time; print(json.dumps({'stage': 'reelbot', 'family': 'svd-xt', 'reelbot_s': 9.5}),"
             " flush=True); print('a line for people', flush=True); time.sleep(600)")
    seen: list[dict[str, Any]] = []
    records, error = gpu.run_stage([sys.executable, "-c", child], env=None, timeout_s=5, emit=seen.append)
    assert records == seen == [{"stage": "reelbot", "family": "svd-xt", "reelbot_s": 9.5}]
    assert error is not None and error.startswith("timed out after 5 s")


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

"""What each model needs on the GPU: the per-model table and the formula the memory planner predicts peaks with.

Before the first try the backend asks how much VRAM the lane has free (``cuda_vram``, a seam tests replace with
a fake card), and the planner (engine/local/planner.py) predicts each candidate plan's peak for the job's shape
from :data:`FOOTPRINTS` and picks the fastest that fits. An unknown card (a CPU lane) or a model with no
footprint starts where it always did.

The figures are estimates until measured on a GPU (``bench/gpu.py`` records ``torch.cuda.max_memory_allocated``
per stage), and the planner corrects them on each card from what it measures and from every out-of-memory
(see the planner). They lean towards the safe side: a picture smaller than the reference is planned as the
reference one, and every peak carries :data:`MARGIN_GIB` for the allocator's slack.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING

from engine.local.pipelines import MemoryPlan
from engine.local.registry import BUILTIN, ModelSpec

if TYPE_CHECKING:
    from engine.lanes import GpuLane


@dataclass(frozen=True, slots=True)
class Vram:
    """A lane's GPU memory in GiB: what is free now, and the card's size (what users call "12 GB"); the card's
    name, which what the planner learns is kept under."""

    free_gib: float
    total_gib: float
    name: str = ""


VramProbe = Callable[["GpuLane"], Vram | None]


def cuda_vram(lane: GpuLane) -> Vram | None:
    """The lane's CUDA memory from ``torch.cuda.mem_get_info``; None for CPU and simulated lanes."""
    if not lane.device.startswith("cuda"):
        return None
    import torch

    device = torch.device(lane.device)
    free, total = torch.cuda.mem_get_info(device)
    return Vram(free / 2**30, total / 2**30, torch.cuda.get_device_name(device))


@dataclass(frozen=True, slots=True)
class Footprint:
    """What a model is expected to need on the GPU, in GiB, at the shape it was estimated for."""

    frames: int
    width: int
    height: int
    weights_gib: float  # every component on the GPU (no offload)
    denoiser_gib: float  # the UNet or transformer: what model CPU offload keeps on the GPU while denoising
    encoder_gib: float  # the largest other component, alone on the GPU for its turn under offload
    denoise_gib: float  # the denoiser's activations at that shape, guidance's doubled batch included
    decode_gib_per_frame: float  # the VAE decoding one frame of that size
    fewer_frames: int | None = None  # the shorter clip to make when even offload is not expected to fit
    vae_gib: float = 0.3  # the VAE alone: what offload keeps on the GPU while decoding

    def parts(self, plan: MemoryPlan, width: int, height: int) -> dict[str, tuple[float, float]]:
        """Each stage's expected need at ``width`` x ``height`` on ``plan``, as (weights, activations) in GiB:
        the weights on the GPU during it (all of them, or under offload only the component running), and what
        it allocates, which scales with the picture and the frames (decoded ones: a chunk at a time)."""
        pixels = max(1.0, width * height / (self.width * self.height))  # smaller: planned as the reference
        activations = self.denoise_gib * pixels * plan.frames / self.frames
        decoded_at_once = min(plan.decode_chunk_size or plan.frames, plan.frames)  # no knob: all at once
        decode = self.decode_gib_per_frame * pixels * decoded_at_once
        if plan.offload:
            return {"encode": (self.encoder_gib, 0.0), "denoise": (self.denoiser_gib, activations),
                    "decode": (self.vae_gib, decode)}
        return {"denoise": (self.weights_gib, activations), "decode": (self.weights_gib, decode)}

    def peak_gib(self, plan: MemoryPlan, width: int, height: int,
                 scales: Mapping[str, float] | None = None) -> float:
        """The expected peak of one run on ``plan`` at ``width`` x ``height``; ``scales`` corrects a stage's
        activations by what was learned on the card (1: the table as it is)."""
        scales = scales or {}
        return max(weights + activations * scales.get(stage, 1.0)
                   for stage, (weights, activations) in self.parts(plan, width, height).items()) + MARGIN_GIB


MARGIN_GIB = 0.5  # the caching allocator's fragmentation and cuDNN/cuBLAS workspaces

# Estimates at each registry model's default shape, until measured (see the module's docstring). Weights are
# parameter counts from each repo's configs and model card times 2 bytes (fp16/bf16). Activations and decode
# are sized from what users of these models report:
# - SVD / SVD-XT (UNet 1.52B, CLIP ViT-H/14 image encoder 0.63B, temporal VAE decoder 0.1B): decoding all 25
#   frames at once needs more than a 24 GB RTX 4090 (Stability-AI/generative-models issue #140: 17.8 GiB
#   allocated, 3.9 GiB more asked), about 0.7 GiB a frame, taken as 0.9; the diffusers SVD guide brings the
#   run under 8 GB only with offload, feed-forward chunking and decode_chunk_size 1 together, so without
#   feed-forward chunking (reelbot does not turn it on) the UNet's activations for 25 frames are taken as 7 GiB.
#   On a 12 GB card (about 11 GiB free beside a desktop) that leaves offload as the first rung that fits, with
#   25 frames at 1024x576; on an 8 GB card nothing at 25 frames does, so SVD-XT makes SVD's 14.
# - zeroscope_v2_576w (UNet 1.4B, OpenCLIP-H text encoder 0.35B): its model card gives 7.9 GB for 30 frames at
#   576x320; its pipeline decodes every frame in one batch.
# - AnimateDiff (SD 1.5 UNet with the v1-5-2 motion adapter, 1.3B together): 16 frames at 512x512.
# - Wan 2.1 1.3B (transformer 1.3B, umT5-XXL encoder 5.7B, bf16): its README gives 8.19 GB for 480p with the
#   T5 on the CPU; diffusers' offload moves the T5 to the GPU for its turn, so it sets the offload peak.
# - LTX-Video (transformer 2B, T5-XXL encoder 4.7B, bf16): its VAE compresses 32x32x8, so few tokens.
# vae_gib, the VAE alone (what offload keeps on the GPU for the decode): SVD's temporal decoder and SD's VAE
# about 0.1B parameters, Wan's 0.13B, LTX-Video's 0.4B, with room for their caches.
FOOTPRINTS: dict[str, Footprint] = {
    "svd-xt": Footprint(25, 1024, 576, weights_gib=4.2, denoiser_gib=2.9, encoder_gib=1.2, denoise_gib=7.0,
                        decode_gib_per_frame=0.9, fewer_frames=14, vae_gib=0.2),
    "svd": Footprint(14, 1024, 576, weights_gib=4.2, denoiser_gib=2.9, encoder_gib=1.2, denoise_gib=4.0,
                     decode_gib_per_frame=0.9, vae_gib=0.2),
    "zeroscope": Footprint(24, 576, 320, weights_gib=3.4, denoiser_gib=2.6, encoder_gib=0.7, denoise_gib=3.0,
                           decode_gib_per_frame=0.12, vae_gib=0.2),
    "animatediff": Footprint(16, 512, 512, weights_gib=3.0, denoiser_gib=2.6, encoder_gib=0.3, denoise_gib=5.0,
                             decode_gib_per_frame=0.3, vae_gib=0.2),
    "wan": Footprint(81, 832, 480, weights_gib=13.3, denoiser_gib=2.4, encoder_gib=10.6, denoise_gib=4.0,
                     decode_gib_per_frame=0.08, vae_gib=0.3),
    "ltx-video": Footprint(121, 704, 480, weights_gib=13.4, denoiser_gib=3.7, encoder_gib=8.9, denoise_gib=3.0,
                           decode_gib_per_frame=0.05, vae_gib=0.9),
}


def footprint_for(spec: ModelSpec) -> Footprint | None:
    """A registered model's footprint; a folder model takes that of the registered model whose defaults it
    took (the first with its pipeline class, as ``registry.resolve`` does); None when there is none."""
    if spec.name in FOOTPRINTS:
        return FOOTPRINTS[spec.name]
    base = next((name for name, s in BUILTIN.items() if spec.pipeline in (s.pipeline, s.image_pipeline)), None)
    return FOOTPRINTS.get(base) if base is not None else None


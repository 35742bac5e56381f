"""The backends the settings describe: this machine's GPUs (diffusers, or the simulated GPU) and each cloud
provider the operator enabled, with the reason for each one left out of the chains."""

from __future__ import annotations

from typing import Any

from engine.backends.base import Backend
from engine.backends.diffusers import DiffusersBackend
from engine.backends.simulated import SimulatedBackend
from engine.cloud.base import CloudBackend
from engine.cloud.catalog import load_catalog
from engine.cloud.config import CloudConfig
from engine.cloud.fal import FalBackend, HuggingFaceBackend
from engine.cloud.replicate import ReplicateBackend
from engine.cloud.runway import RunwayBackend
from engine.cloud.stability import StabilityBackend
from engine.cloud.veo import VeoBackend
from engine.distributed.pool import WorkerPool
from engine.lanes import GpuLane
from engine.local.registry import load_registry
from engine.translate.translator import PromptTranslator
from engine.types import JobKind
from engine.words import N_, Text
from reelbot.settings import Settings

# Cloud providers by chain name: the class, the setting that holds the key, the one that holds the base URL.
PROVIDERS: dict[str, type[CloudBackend]] = {
    "replicate": ReplicateBackend,
    "huggingface": HuggingFaceBackend,
    "stability": StabilityBackend,
    "runway": RunwayBackend,
    "veo": VeoBackend,
    "fal": FalBackend,
}
PROVIDER_KEYS = {name: cls.key_setting for name, cls in PROVIDERS.items()}
# Providers whose key also serves another purpose, so the key alone must not start spending: the setting
# that opts in to paying for them, and what the operator reads while it is off.
OPT_IN = {
    "huggingface": ("hf_inference",
                    N_("HF_TOKEN is only used for downloads; set HF_INFERENCE=true to pay for inference")),
}
PROVIDER_URLS = {
    "replicate": "replicate_base_url",
    "huggingface": "hf_inference_base_url",
    "stability": "stability_base_url",
    "runway": "runwayml_base_url",
    "veo": "gemini_base_url",
    "fal": "fal_base_url",
}



def cuda_devices(choice: str, torch: Any = None) -> list[tuple[int, str]]:
    """(index, name) of the CUDA GPUs to use: all visible ones for "auto", none for "none". ``torch``: the
    module to ask (the doctor passes its own; None: import it, no torch means no GPU). A choice that is not a
    comma list of indices raises ValueError."""
    if choice.strip().lower() == "none":
        return []
    if torch is None:
        try:
            import torch
        except ImportError:
            return []
    if not torch.cuda.is_available():
        return []
    visible: list[int] = list(range(torch.cuda.device_count()))
    if choice.strip().lower() != "auto":
        wanted = {int(part) for part in choice.split(",") if part.strip()}
        visible = [i for i in visible if i in wanted]
    return [(i, torch.cuda.get_device_name(i)) for i in visible]


def build_backends(
    settings: Settings, lanes: list[GpuLane], *, pool: bool = False
) -> tuple[dict[str, Backend], dict[str, Text]]:
    """The backends the settings describe, and for each chain entry that is missing, why. ``pool``: the
    front end of distributed mode, where "local" stands for the GPU workers."""
    backends: dict[str, Backend] = {}
    missing: dict[str, Text] = {}
    if pool:
        backends["local"] = WorkerPool(local_backend(settings))
    elif settings.local_backend == "simulated" or lanes:
        backends["local"] = local_backend(settings)
    else:
        missing["local"] = N_("no CUDA GPU found (check the driver and GPUS; GPUS=cpu runs tiny test models, "
                              "LOCAL_BACKEND=simulated tries reelbot without a GPU)")
    backends.update(build_providers(settings, missing))
    return backends, missing


def local_backend(settings: Settings) -> Backend:
    """The backend that runs jobs on this machine's GPU lanes."""
    if settings.local_backend == "simulated":
        return SimulatedBackend(
            "local",
            seconds=settings.simulated_seconds,
            load_seconds=settings.simulated_load_seconds,
            steps=settings.simulated_steps,
            render=settings.simulated_frames,
            fail_every=settings.simulated_fail_every,
            oom_every=settings.simulated_oom_every,
            default_models={
                JobKind.TEXT_TO_VIDEO: settings.default_text_model,
                JobKind.IMAGE_TO_VIDEO: settings.default_image_model,
            },
            scratch=settings.data_dir / "work",
        )
    return DiffusersBackend(
        load_registry(settings.local_models),
        default_models={
            JobKind.TEXT_TO_VIDEO: settings.default_text_model,
            JobKind.IMAGE_TO_VIDEO: settings.default_image_model,
        },
        token=settings.hf_token.get_secret_value() if settings.hf_token else None,
        cache_dir=settings.hf_home / "hub" if settings.hf_home else None,
        offline=settings.hf_hub_offline,
        compile_denoiser=settings.local_compile,
        state_dir=settings.data_dir,  # the memory planner's memory_plans.json
        compile_cache_dir=settings.compile_cache_dir,
    )


def build_translator(settings: Settings) -> PromptTranslator | None:
    """The prompt translator (loaded on its first prompt, then kept warm); None with PROMPT_TRANSLATION=off."""
    if settings.prompt_translation == "off":
        return None
    return PromptTranslator(
        settings.prompt_translation_model,
        device=settings.prompt_translation_device,
        token=settings.hf_token.get_secret_value() if settings.hf_token else None,
        cache_dir=settings.hf_home / "hub" if settings.hf_home else None,
        offline=settings.hf_hub_offline,
    )


def spending_off(settings: Settings) -> dict[str, Text]:
    """Providers whose key is set but that may not spend money, because the key exists for something else
    and the operator has not opted in (HF_TOKEN for gated downloads, without HF_INFERENCE): name -> why."""
    return {
        name: why for name, (setting, why) in OPT_IN.items()
        if getattr(settings, PROVIDER_KEYS[name]) is not None and not getattr(settings, setting)
    }


def build_providers(settings: Settings, missing: dict[str, Text]) -> dict[str, Backend]:
    """One backend per cloud provider the operator enabled (its key set and, where the key serves another
    purpose too, its opt-in); the others go to ``missing`` with the reason. A provider built here can
    spend money: the chains name it, and ``--provider`` may pick it."""
    catalog = load_catalog(settings.cloud_models)
    config = CloudConfig(
        # Unset, each provider keeps its own pace (Stability 10 s, Runway 6 s, ...); set, it is every provider's.
        poll_interval_s=(settings.cloud_poll_interval_s if "cloud_poll_interval_s" in settings.model_fields_set
                         else None),
        timeout_s=settings.cloud_timeout_s,
        max_download_bytes=round(settings.cloud_max_download_mb * 1024 * 1024),
    )
    built: dict[str, Backend] = {}
    off = spending_off(settings)
    for name, key in PROVIDER_KEYS.items():
        secret = getattr(settings, key)
        if secret is None:
            missing[name] = N_("{setting} is not set", setting=key.upper())
            continue
        if name in off:
            missing[name] = off[name]
            continue
        cls, base_url = PROVIDERS[name], getattr(settings, PROVIDER_URLS[name])
        built[name] = cls(key=secret.get_secret_value(), base_url=base_url, models=catalog[name], config=config)
    return built

"""Prompt translation: whether the translation model can load here, without loading it (and without asking
the Hub: what matters is whether it is on this machine, or can be fetched on first use)."""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import TYPE_CHECKING

from engine.words import N_
from reelbot.doctor.base import LOCAL_EXTRA, Check, error_text, import_module, truthy

if TYPE_CHECKING:
    from reelbot.settings import Settings

NAME = N_("Prompt translation")


def prompt_translation(settings: Settings, environ: Mapping[str, str]) -> Check:
    if settings.prompt_translation == "off":
        return Check(NAME, None, N_("off (PROMPT_TRANSLATION=off): every model gets prompts as written"))
    for library in ("torch", "transformers", "sentencepiece"):
        module, error = import_module(library)
        if module is None:
            said = (N_("{library} is not installed, so prompts in Korean reach English-only models untranslated",
                       library=library) if isinstance(error, ImportError)
                    else N_("{library} fails to import ({error}), so prompts in Korean reach English-only models "
                            "untranslated", library=library, error=str(error)))
            return Check(NAME, False, said, fix=N_("{install}, or set PROMPT_TRANSLATION=off.", install=LOCAL_EXTRA))
    model = settings.prompt_translation_model
    from engine.local.pipelines import is_folder

    if is_folder(model):
        folder = Path(model).expanduser()
        if (folder / "config.json").is_file():
            return Check(NAME, True, N_("{model}: local folder (loads on the first prompt that needs it)",
                                        model=model))
        said = (N_("the folder {model} does not exist, so prompts in Korean reach English-only models untranslated",
                   model=model) if not folder.is_dir()
                else N_("the folder {model} has no config.json, so prompts in Korean reach English-only models "
                        "untranslated", model=model))
        return Check(NAME, False, said,
                     fix=N_("Point PROMPT_TRANSLATION_MODEL at a folder a model's save_pretrained() wrote, or at "
                            "a Hugging Face repo id such as Helsinki-NLP/opus-mt-ko-en."))
    try:
        cached = _cached(model, settings.hf_home)
    except Exception as exc:
        return Check(NAME, None, N_("{model}: could not look in the cache ({error})", model=model,
                                    error=error_text(exc)))
    download = f"huggingface-cli download {model}"
    if cached:
        return Check(NAME, True, N_("{model}: downloaded (loads on the first prompt that needs it)", model=model))
    if settings.hf_hub_offline or truthy(environ.get("HF_HUB_OFFLINE", "")):
        return Check(NAME, False, N_("{model} is not downloaded and HF_HUB_OFFLINE is set, so prompts in Korean "
                                     "reach English-only models untranslated", model=model),
                     fix=N_("Run `{download}` once with internet access, or set PROMPT_TRANSLATION=off.",
                            download=download))
    return Check(NAME, None, N_("{model}: not downloaded yet; it is fetched from the Hugging Face Hub for the first "
                                "prompt that needs it", model=model),
                 fix=N_("Run `{download}` to fetch it now.", download=download))


def _cached(repo: str, hf_home: Path | None) -> bool:
    from huggingface_hub import try_to_load_from_cache

    found = try_to_load_from_cache(repo, "config.json", cache_dir=hf_home / "hub" if hf_home else None)
    return isinstance(found, str)

"""Prompt translation: whether the translation model can load here, without loading it (and without asking
the Hub: what matters is whether it is on this machine, or can be fetched on first use)."""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import TYPE_CHECKING

from reelbot.doctor.base import LOCAL_EXTRA, Check, error_text, import_module, truthy

if TYPE_CHECKING:
    from reelbot.settings import Settings

NAME = "Prompt translation"
_WITHOUT = "prompts in Korean reach English-only models untranslated"


def prompt_translation(settings: Settings, environ: Mapping[str, str]) -> Check:
    if settings.prompt_translation == "off":
        return Check(NAME, None, "off (PROMPT_TRANSLATION=off): every model gets prompts as written")
    for library in ("torch", "transformers", "sentencepiece"):
        module, error = import_module(library)
        if module is None:
            detail = "not installed" if isinstance(error, ImportError) else f"fails to import: {error}"
            return Check(NAME, False, f"{library} {detail}, so {_WITHOUT}",
                         fix=f"{LOCAL_EXTRA}, or set PROMPT_TRANSLATION=off.")
    model = settings.prompt_translation_model
    from engine.local.pipelines import is_folder

    if is_folder(model):
        folder = Path(model).expanduser()
        if (folder / "config.json").is_file():
            return Check(NAME, True, f"{model}: local folder (loads on the first prompt that needs it)")
        why = "does not exist" if not folder.is_dir() else "has no config.json"
        return Check(NAME, False, f"the folder {model} {why}, so {_WITHOUT}",
                     fix="Point PROMPT_TRANSLATION_MODEL at a folder a model's save_pretrained() wrote, or at "
                         "a Hugging Face repo id such as Helsinki-NLP/opus-mt-ko-en.")
    try:
        cached = _cached(model, settings.hf_home)
    except Exception as exc:
        return Check(NAME, None, f"{model}: could not look in the cache ({error_text(exc)})")
    download = f"huggingface-cli download {model}"
    if cached:
        return Check(NAME, True, f"{model}: downloaded (loads on the first prompt that needs it)")
    if settings.hf_hub_offline or truthy(environ.get("HF_HUB_OFFLINE", "")):
        return Check(NAME, False, f"{model} is not downloaded and HF_HUB_OFFLINE is set, so {_WITHOUT}",
                     fix=f"Run `{download}` once with internet access, or set PROMPT_TRANSLATION=off.")
    return Check(NAME, None, f"{model}: not downloaded yet; it is fetched from the Hugging Face Hub for the "
                             "first prompt that needs it", fix=f"Run `{download}` to fetch it now.")


def _cached(repo: str, hf_home: Path | None) -> bool:
    from huggingface_hub import try_to_load_from_cache

    found = try_to_load_from_cache(repo, "config.json", cache_dir=hf_home / "hub" if hf_home else None)
    return isinstance(found, str)

"""Tiny random-weight diffusers video pipelines, built offline from configs.

Each family is built the way diffusers' own fast tests build their ``get_dummy_components`` (tiny configs,
``torch.manual_seed`` before every component), assembled into the real pipeline class and written with
``save_pretrained``. The folder then loads through exactly the same ``Pipeline.from_pretrained(folder)`` call
that real weights go through, in well under a second on a CPU, and a 2-step generation takes a second or two.

Nothing here touches the network: the tokenizers are generated from a small built-in vocabulary (a byte-level
BPE for the CLIP families, a Unigram vocabulary for the T5/UMT5 families) instead of being downloaded.

Each family's tiny configs live in a module of their own (``svd``, ``sd`` for zeroscope and AnimateDiff,
``wan``, ``ltx``); the tokenizers and text encoders they share are in ``text``.

Usage::

    from engine.local.tiny import make_tiny
    folder = make_tiny("wan", tmp_path / "wan")
    pipe = diffusers.WanPipeline.from_pretrained(folder)
    frames = pipe("a cat", num_frames=5, height=32, width=32, num_inference_steps=2, output_type="np").frames
"""

from __future__ import annotations

import json
import shutil
from collections.abc import Callable
from pathlib import Path
from typing import Any

from engine.local.registry import BUILTIN
from engine.local.tiny.ltx import build_ltx
from engine.local.tiny.sd import build_animatediff, build_zeroscope
from engine.local.tiny.svd import build_svd
from engine.local.tiny.text import clip_vocab_and_merges
from engine.local.tiny.wan import build_wan

__all__ = ["CPU_DEFAULTS", "FAMILIES", "build_tiny", "make_all", "make_tiny"]

# Registry name -> diffusers pipeline class name: every built-in model has a tiny builder.
FAMILIES: dict[str, str] = {name: spec.pipeline for name, spec in BUILTIN.items()}

# Sizes a CPU makes in seconds with these models (the real models' defaults would take minutes); each
# folder gets them as its reelbot.json, which the registry reads for a folder model.
CPU_DEFAULTS: dict[str, dict[str, int | float]] = {
    "svd-xt": {"width": 64, "height": 64, "frames": 14, "steps": 4, "seconds_estimate": 3},
    "svd": {"width": 64, "height": 64, "frames": 8, "steps": 4, "seconds_estimate": 2},
    "zeroscope": {"width": 64, "height": 64, "frames": 16, "steps": 4, "seconds_estimate": 1},
    "animatediff": {"width": 64, "height": 64, "frames": 16, "steps": 4, "seconds_estimate": 1},
    "wan": {"width": 64, "height": 64, "frames": 17, "steps": 4, "seconds_estimate": 1},
    "ltx-video": {"width": 64, "height": 64, "frames": 17, "steps": 4, "seconds_estimate": 1},
}

_BUILDERS: dict[str, Callable[[int], Any]] = {
    "svd-xt": lambda seed: build_svd(seed, num_frames=25),
    "svd": lambda seed: build_svd(seed, num_frames=14),
    "zeroscope": build_zeroscope,
    "animatediff": build_animatediff,
    "wan": build_wan,
    "ltx-video": build_ltx,
}


def build_tiny(name: str, *, seed: int = 0) -> Any:
    """The in-memory tiny pipeline for registry entry ``name`` (what ``make_tiny`` saves)."""
    if name not in FAMILIES:
        raise KeyError(f"unknown video model family {name!r}; known: {', '.join(FAMILIES)}")
    import torch

    # Seed each component without disturbing the caller's global RNG stream.
    with torch.random.fork_rng(devices=[]):
        pipe = _BUILDERS[name](seed)
    if type(pipe).__name__ != FAMILIES[name]:
        raise AssertionError(f"{name}: built {type(pipe).__name__}, registry says {FAMILIES[name]}")
    return pipe


def make_tiny(name: str, folder: Path, *, seed: int = 0) -> Path:
    """Write a complete tiny pipeline folder (``model_index.json`` + every component) for ``name`` into
    ``folder`` and return it. Deterministic for a seed: the same seed gives the same weights, byte for byte."""
    folder = Path(folder)
    pipe = build_tiny(name, seed=seed)
    if folder.exists() and any(folder.iterdir()):
        if not (folder / "model_index.json").is_file():
            raise FileExistsError(
                f"{folder} is not empty and is not a pipeline folder; refusing to overwrite it"
            )
        shutil.rmtree(folder)  # a previous pipeline: replace it whole so no stale component survives
    folder.mkdir(parents=True, exist_ok=True)
    pipe.save_pretrained(folder, safe_serialization=True)
    _finish_folder(folder)
    (folder / "reelbot.json").write_text(json.dumps(CPU_DEFAULTS[name], indent=2))
    return folder


def _finish_folder(folder: Path) -> None:
    """Make the saved folder look like the real hub repos it stands in for.

    * transformers 5 without torchvision swaps ``CLIPImageProcessor`` for ``CLIPImageProcessorPil`` and the
      pipeline records that name; real repos (and transformers 4.x) say ``CLIPImageProcessor``, which loads as
      either backend, so record that instead.
    * transformers 5 saves a CLIP tokenizer as ``tokenizer.json`` only; real SD-family repos also carry
      ``vocab.json`` + ``merges.txt`` (what transformers 4.x's slow ``CLIPTokenizer`` reads), so write them too.
    """
    import transformers

    index_file = folder / "model_index.json"
    index = json.loads(index_file.read_text(encoding="utf-8"))
    changed = False
    for key, value in index.items():
        if (
            isinstance(value, list)
            and len(value) == 2
            and value[0] == "transformers"
            and isinstance(value[1], str)
            and value[1].endswith("Pil")
            and hasattr(transformers, value[1][: -len("Pil")])
        ):
            index[key] = ["transformers", value[1][: -len("Pil")]]
            changed = True
    if changed:  # same layout diffusers' ConfigMixin writes
        index_file.write_text(json.dumps(index, indent=2, sort_keys=True) + "\n", encoding="utf-8")

    if index.get("tokenizer") == ["transformers", "CLIPTokenizer"]:
        vocab, merges = clip_vocab_and_merges()
        tok_dir = folder / "tokenizer"
        if not (tok_dir / "vocab.json").exists():
            (tok_dir / "vocab.json").write_text(
                json.dumps(vocab, ensure_ascii=False) + "\n", encoding="utf-8"
            )
        if not (tok_dir / "merges.txt").exists():
            (tok_dir / "merges.txt").write_text(
                "#version: 0.2\n" + "\n".join(merges) + "\n", encoding="utf-8"
            )


def make_all(root: Path) -> dict[str, Path]:
    """``make_tiny`` every family into ``root/<name>``."""
    root = Path(root)
    return {name: make_tiny(name, root / name) for name in FAMILIES}

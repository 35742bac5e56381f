"""Tiny random-weight translation models, built offline from configs, like the tiny video pipelines.

``make_tiny_marian`` writes what ``Helsinki-NLP/opus-mt-ko-en`` holds (a MarianMT model with its two
SentencePiece models, ``vocab.json`` and generation config), and ``make_tiny_nllb`` what an NLLB repo holds
(an M2M100 model with its language-code tokenizer), at a few kilobytes. Both load through the same
``AutoTokenizer`` / ``AutoModelForSeq2SeqLM.from_pretrained(folder)`` the real ones do, and translate in
milliseconds on a CPU. Their weights are random, so what they write is gibberish, but the same gibberish for
the same text every time.
"""

from __future__ import annotations

import io
import json
from pathlib import Path
from typing import Any

# What the tokenizers learn their pieces from: prompts in both languages (any other character is <unk>).
_CORPUS = (
    "서핑하는 고양이", "a cat surfing", "비 오는 날 우산을 쓴 강아지", "a dog with an umbrella on a rainy day",
    "바다 위를 나는 새", "a bird flying over the sea", "밤의 네온 도시 거리", "a neon city street at night",
    "해변에서 달리는 개", "a dog running on the beach", "불꽃놀이", "fireworks over the river",
)
_SIZES: dict[str, Any] = {"d_model": 16, "encoder_layers": 1, "decoder_layers": 1, "encoder_attention_heads": 2,
          "decoder_attention_heads": 2, "encoder_ffn_dim": 32, "decoder_ffn_dim": 32, "max_position_embeddings": 512}


def _sentencepiece(folder: Path, vocab_size: int = 80) -> Path:
    """A SentencePiece unigram model trained on ``_CORPUS`` (deterministic: one thread, fixed input)."""
    import sentencepiece as spm

    model = io.BytesIO()
    spm.SentencePieceTrainer.train(
        sentence_iterator=iter(_CORPUS * 4), model_writer=model, vocab_size=vocab_size, model_type="unigram",
        character_coverage=1.0, hard_vocab_limit=False, unk_id=0, bos_id=-1, eos_id=-1, pad_id=-1,
        num_threads=1, minloglevel=2,
    )
    path = folder / "spm.model"
    path.write_bytes(model.getvalue())
    return path


def make_tiny_marian(folder: Path, *, seed: int = 0) -> Path:
    """A tiny MarianMT ko→en model in ``folder`` (laid out like ``Helsinki-NLP/opus-mt-ko-en``)."""
    import sentencepiece as spm
    from transformers import GenerationConfig, MarianConfig, MarianMTModel, MarianTokenizer

    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    build = folder / "build"
    build.mkdir(exist_ok=True)
    spm_file = _sentencepiece(build)
    pieces = spm.SentencePieceProcessor(model_file=str(spm_file))
    vocab = {"</s>": 0, "<unk>": 1}  # opus-mt's order: eos 0, unk 1, ..., pad last
    for i in range(pieces.get_piece_size()):
        vocab.setdefault(pieces.id_to_piece(i), len(vocab))
    vocab["<pad>"] = len(vocab)
    vocab_file = build / "vocab.json"
    vocab_file.write_text(json.dumps(vocab, ensure_ascii=False), encoding="utf-8")
    tokenizer = MarianTokenizer(source_spm=str(spm_file), target_spm=str(spm_file), vocab=str(vocab_file))
    pad, eos = tokenizer.pad_token_id, tokenizer.eos_token_id
    config = MarianConfig(vocab_size=len(vocab), pad_token_id=pad, eos_token_id=eos, decoder_start_token_id=pad,
                          forced_eos_token_id=eos, **_SIZES)
    model = _seeded(lambda: MarianMTModel(config), seed)
    model.generation_config = GenerationConfig(  # opus-mt-ko-en's own
        bad_words_ids=[[pad]], bos_token_id=0, decoder_start_token_id=pad, eos_token_id=eos,
        forced_eos_token_id=eos, max_length=512, num_beams=4, pad_token_id=pad)
    _save(model, tokenizer, folder)
    for part in build.iterdir():
        part.unlink()
    build.rmdir()
    return folder


def make_tiny_nllb(folder: Path, *, seed: int = 0) -> Path:
    """A tiny NLLB-style many-language model (M2M100 with FLORES-200 language tokens) in ``folder``."""
    from transformers import M2M100Config, M2M100ForConditionalGeneration, NllbTokenizer

    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    letters = sorted({ch for line in _CORPUS for ch in line if not ch.isspace()})
    tokens = ["<s>", "<pad>", "</s>", "<unk>", "▁"] + letters + ["▁" + ch for ch in letters]
    tokenizer = NllbTokenizer(vocab={t: i for i, t in enumerate(tokens)}, merges=[], src_lang="kor_Hang",
                              tgt_lang="eng_Latn")
    config = M2M100Config(vocab_size=len(tokenizer), pad_token_id=tokenizer.pad_token_id,
                          bos_token_id=tokenizer.bos_token_id, eos_token_id=tokenizer.eos_token_id,
                          decoder_start_token_id=tokenizer.eos_token_id, **_SIZES)
    model = _seeded(lambda: M2M100ForConditionalGeneration(config), seed)
    # Random weights pick language tokens as often as letters, and decoding drops them: keep to letters
    # (English's token stays free: it is forced first, as the translator asks).
    keep = {tokenizer.eos_token_id, tokenizer.convert_tokens_to_ids("eng_Latn")}
    model.generation_config.suppress_tokens = sorted(set(tokenizer.all_special_ids) - keep)
    _save(model, tokenizer, folder)
    return folder


def _seeded(build: Any, seed: int) -> Any:
    import torch

    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(seed)
        return build().eval()


def _save(model: Any, tokenizer: Any, folder: Path) -> None:
    model.save_pretrained(folder, safe_serialization=True)
    tokenizer.save_pretrained(folder)

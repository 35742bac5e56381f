"""Tiny tokenizers and text encoders, made offline.

The tokenizers are generated from a small built-in vocabulary (a byte-level BPE for the CLIP families, a
Unigram vocabulary for the T5/UMT5 families) instead of being downloaded; the text encoders are the real
transformers classes with tiny configs.
"""

from __future__ import annotations

import inspect
import json
import tempfile
from collections import Counter
from functools import lru_cache
from pathlib import Path
from typing import Any

# Text all the tiny tokenizers learn their merges / pieces from. Only its letters and common words matter:
# every byte still tokenizes for CLIP (byte-level base alphabet) and every unknown character maps to <unk> for T5.
_CORPUS = (
    "a painting of a squirrel eating a burger. dance monkey. a cat playing the piano in the rain, "
    "an astronaut riding a horse on the moon, a dog running on the beach at sunset, slow motion, "
    "cinematic, high quality, 4k, detailed, photo of a city street at night with neon lights and cars, "
    "waves crashing on the rocks, a bird flying over the mountains, fireworks over the river, "
    "worst quality, low quality, blurry, static, overexposed, ugly, deformed, bad anatomy."
)


# --- tokenizers ---------------------------------------------------------------------------------------------


def _bytes_to_unicode() -> dict[int, str]:
    """GPT-2/CLIP's reversible byte -> printable unicode character table (256 entries)."""
    bs = (
        list(range(ord("!"), ord("~") + 1))
        + list(range(ord("¡"), ord("¬") + 1))
        + list(range(ord("®"), ord("ÿ") + 1))
    )
    cs = bs[:]
    n = 0
    for b in range(256):
        if b not in bs:
            bs.append(b)
            cs.append(256 + n)
            n += 1
    return dict(zip(bs, (chr(c) for c in cs), strict=True))


@lru_cache(maxsize=1)
def clip_vocab_and_merges(num_merges: int = 200) -> tuple[dict[str, int], list[str]]:
    """A CLIP-style byte-level BPE: 256 base chars, their ``</w>`` variants, learned merges, then the specials.

    The merges are learned from ``_CORPUS`` with a tiny deterministic BPE trainer (ties broken by the pair
    itself), so the result never depends on hash seeds or library versions.
    """
    import re

    byte_encoder = _bytes_to_unicode()
    base = list(byte_encoder.values())
    vocab_list = base + [c + "</w>" for c in base]

    # CLIP's pre-tokenisation: lowercase, then letter runs, single digits, punctuation runs.
    words = re.findall(r"'s|'t|'re|'ve|'m|'ll|'d|[^\W\d_]+|\d|[^\s\w]+", _CORPUS.lower())
    counts: Counter[tuple[str, ...]] = Counter()
    for word in words:
        chars = [byte_encoder[b] for b in word.encode("utf-8")]
        chars[-1] += "</w>"
        counts[tuple(chars)] += 1

    merges: list[str] = []
    known = set(vocab_list)
    for _ in range(num_merges):
        pairs: Counter[tuple[str, str]] = Counter()
        for symbols, count in counts.items():
            for pair in zip(symbols, symbols[1:], strict=False):
                pairs[pair] += count
        if not pairs:
            break
        (a, b), _count = max(pairs.items(), key=lambda kv: (kv[1], kv[0]))
        merges.append(f"{a} {b}")
        if a + b not in known:
            known.add(a + b)
            vocab_list.append(a + b)
        merged: Counter[tuple[str, ...]] = Counter()
        for symbols, count in counts.items():
            out: list[str] = []
            i = 0
            while i < len(symbols):
                if i + 1 < len(symbols) and symbols[i] == a and symbols[i + 1] == b:
                    out.append(a + b)
                    i += 2
                else:
                    out.append(symbols[i])
                    i += 1
            merged[tuple(out)] += count
        counts = merged

    vocab_list += ["<|startoftext|>", "<|endoftext|>"]
    return {tok: i for i, tok in enumerate(vocab_list)}, merges


def clip_tokenizer() -> Any:
    """A ``CLIPTokenizer`` over the generated vocabulary (max length 77, like every SD-family CLIP)."""
    from transformers import CLIPTokenizer

    vocab, merges = clip_vocab_and_merges()
    if "vocab" in inspect.signature(CLIPTokenizer.__init__).parameters:
        # transformers 5.x: the tokenizers-backed CLIPTokenizer takes the vocabulary and merge pairs directly.
        # (Its annotation says list[str], but the tokenizers BPE model wants (left, right) pairs.)
        pairs: Any = [tuple(m.split(" ")) for m in merges]
        return CLIPTokenizer(vocab=dict(vocab), merges=pairs, model_max_length=77)
    # transformers 4.x reads vocab.json + merges.txt.
    with tempfile.TemporaryDirectory() as tmp:  # pragma: no cover
        vocab_file = Path(tmp) / "vocab.json"
        merges_file = Path(tmp) / "merges.txt"
        vocab_file.write_text(json.dumps(vocab, ensure_ascii=False), encoding="utf-8")
        merges_file.write_text("#version: 0.2\n" + "\n".join(merges) + "\n", encoding="utf-8")
        tokenizer = CLIPTokenizer(
            vocab_file=str(vocab_file), merges_file=str(merges_file), model_max_length=77
        )
    return tokenizer


@lru_cache(maxsize=1)
def t5_pieces() -> list[tuple[str, float]]:
    """A SentencePiece-style Unigram vocabulary: ``<pad>``, ``</s>``, ``<unk>`` (ids 0, 1, 2 as in T5), then
    ``▁``, single characters, and the corpus' words. Longer pieces score higher so whole words win."""
    import string

    pieces: list[tuple[str, float]] = [("<pad>", 0.0), ("</s>", 0.0), ("<unk>", 0.0), ("▁", -2.0)]
    seen = {p for p, _ in pieces}

    def add(piece: str, score: float) -> None:
        if piece not in seen:
            seen.add(piece)
            pieces.append((piece, score))

    for ch in string.ascii_lowercase + string.ascii_uppercase + string.digits + string.punctuation:
        add("▁" + ch, -6.0)
        add(ch, -7.0)
    words = sorted({w.strip(string.punctuation) for w in _CORPUS.split()} - {""})
    for w in words:
        add("▁" + w, -3.0 - 0.01 * len(pieces))
    return pieces


def t5_tokenizer() -> Any:
    """A T5 tokenizer (``T5TokenizerFast``, the class real Wan / LTX repos ship) built from ``t5_pieces``."""
    import transformers

    # transformers 5.x: an alias of the (tokenizers-backed) T5Tokenizer; 4.x: the fast tokenizer.
    T5TokenizerFast = getattr(transformers, "T5TokenizerFast", None) or transformers.T5Tokenizer

    pieces = t5_pieces()
    extra_ids = 8
    kwargs: dict[str, Any] = dict(
        eos_token="</s>", unk_token="<unk>", pad_token="<pad>", extra_ids=extra_ids, model_max_length=512
    )
    if "vocab" in inspect.signature(T5TokenizerFast.__init__).parameters:
        # transformers 5.x: the tokenizers-backed T5 tokenizer takes the Unigram pieces directly.
        return T5TokenizerFast(vocab=pieces, **kwargs)
    # transformers 4.x: assemble the same tokenizers pipeline T5's converter builds and wrap it.
    from tokenizers import Tokenizer, decoders, pre_tokenizers, processors
    from tokenizers.models import Unigram

    backend = Tokenizer(Unigram(pieces, unk_id=2, byte_fallback=False))
    backend.pre_tokenizer = pre_tokenizers.Sequence(
        [pre_tokenizers.WhitespaceSplit(), pre_tokenizers.Metaspace(replacement="▁", prepend_scheme="always")]
    )
    backend.decoder = decoders.Metaspace(replacement="▁", prepend_scheme="always")
    backend.post_processor = processors.TemplateProcessing(
        single=["$A", "</s>"], pair=["$A", "</s>", "$B", "</s>"], special_tokens=[("</s>", 1)]
    )
    return T5TokenizerFast(tokenizer_object=backend, **kwargs)


# --- text encoders ------------------------------------------------------------------------------------------


def clip_text_encoder(vocab_size: int, bos: int, eos: int) -> Any:
    from transformers import CLIPTextConfig, CLIPTextModel

    config = CLIPTextConfig(
        vocab_size=vocab_size,
        hidden_size=32,
        intermediate_size=37,
        projection_dim=32,
        num_hidden_layers=2,
        num_attention_heads=4,
        max_position_embeddings=77,
        layer_norm_eps=1e-05,
        hidden_act="quick_gelu",
        bos_token_id=bos,
        eos_token_id=eos,
        pad_token_id=eos,
    )
    return CLIPTextModel(config).eval()


def t5_config(cls_name: str, vocab_size: int) -> Any:
    import transformers

    config_cls = {"UMT5EncoderModel": transformers.UMT5Config, "T5EncoderModel": transformers.T5Config}[
        cls_name
    ]
    return config_cls(
        vocab_size=vocab_size,
        d_model=32,
        d_kv=8,
        d_ff=37,
        num_layers=2,
        num_heads=4,
        relative_attention_num_buckets=8,
        relative_attention_max_distance=16,
        feed_forward_proj="gated-gelu",
        is_encoder_decoder=False,
        use_cache=False,
        pad_token_id=0,
        eos_token_id=1,
        decoder_start_token_id=0,
    )


def t5_encoder(cls_name: str, vocab_size: int) -> Any:
    import transformers

    return getattr(transformers, cls_name)(t5_config(cls_name, vocab_size)).eval()

"""Tiny random-weight diffusers video pipelines, built offline from configs.

Each family is built the way diffusers' own fast tests build their ``get_dummy_components`` (tiny configs,
``torch.manual_seed`` before every component), assembled into the real pipeline class and written with
``save_pretrained``. The folder then loads through exactly the same ``Pipeline.from_pretrained(folder)`` call
that real weights go through, in well under a second on a CPU, and a 2-step generation takes a second or two.

Nothing here touches the network: the tokenizers are generated from a small built-in vocabulary (a byte-level
BPE for the CLIP families, a Unigram vocabulary for the T5/UMT5 families) instead of being downloaded.

Usage::

    from engine.local.tiny import make_tiny
    folder = make_tiny("wan", tmp_path / "wan")
    pipe = diffusers.WanPipeline.from_pretrained(folder)
    frames = pipe("a cat", num_frames=5, height=32, width=32, num_inference_steps=2, output_type="np").frames
"""

from __future__ import annotations

import inspect
import json
import shutil
import tempfile
from collections import Counter
from collections.abc import Callable
from functools import lru_cache
from pathlib import Path
from typing import Any

from engine.local.registry import BUILTIN

__all__ = ["CPU_DEFAULTS", "FAMILIES", "build_tiny", "make_all", "make_tiny"]

# Registry name -> diffusers pipeline class name: every built-in model has a tiny builder below.
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

# Text all the tiny tokenizers learn their merges / pieces from. Only its letters and common words matter:
# every byte still tokenizes for CLIP (byte-level base alphabet) and every unknown character maps to <unk> for T5.
_CORPUS = (
    "a painting of a squirrel eating a burger. dance monkey. a cat playing the piano in the rain, "
    "an astronaut riding a horse on the moon, a dog running on the beach at sunset, slow motion, "
    "cinematic, high quality, 4k, detailed, photo of a city street at night with neon lights and cars, "
    "waves crashing on the rocks, a bird flying over the mountains, fireworks over the river, "
    "worst quality, low quality, blurry, static, overexposed, ugly, deformed, bad anatomy."
)

# --------------------------------------------------------------------------------------------------------------
# Tokenizers
# --------------------------------------------------------------------------------------------------------------


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
def _clip_vocab_and_merges(num_merges: int = 200) -> tuple[dict[str, int], list[str]]:
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


def _clip_tokenizer() -> Any:
    """A ``CLIPTokenizer`` over the generated vocabulary (max length 77, like every SD-family CLIP)."""
    from transformers import CLIPTokenizer

    vocab, merges = _clip_vocab_and_merges()
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
def _t5_pieces() -> list[tuple[str, float]]:
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


def _t5_tokenizer() -> Any:
    """A T5 tokenizer (``T5TokenizerFast``, the class real Wan / LTX repos ship) built from ``_t5_pieces``."""
    import transformers

    # transformers 5.x: an alias of the (tokenizers-backed) T5Tokenizer; 4.x: the fast tokenizer.
    T5TokenizerFast = getattr(transformers, "T5TokenizerFast", None) or transformers.T5Tokenizer

    pieces = _t5_pieces()
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


# --------------------------------------------------------------------------------------------------------------
# Text / image encoders
# --------------------------------------------------------------------------------------------------------------


def _clip_text_encoder(vocab_size: int, bos: int, eos: int) -> Any:
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


def _t5_config(cls_name: str, vocab_size: int) -> Any:
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


def _t5_encoder(cls_name: str, vocab_size: int) -> Any:
    import transformers

    return getattr(transformers, cls_name)(_t5_config(cls_name, vocab_size)).eval()


# --------------------------------------------------------------------------------------------------------------
# Families
# --------------------------------------------------------------------------------------------------------------


def _svd(seed: int, num_frames: int) -> Any:
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


def _sd_vae_and_text_encoder(seed: int, tokenizer: Any) -> tuple[Any, Any]:
    """The SD-1.x-style VAE and CLIP text encoder that zeroscope and AnimateDiff share, tiny."""
    import torch
    from diffusers import AutoencoderKL

    torch.manual_seed(seed)
    vae = AutoencoderKL(
        block_out_channels=(16, 32),
        in_channels=3,
        out_channels=3,
        down_block_types=("DownEncoderBlock2D", "DownEncoderBlock2D"),
        up_block_types=("UpDecoderBlock2D", "UpDecoderBlock2D"),
        latent_channels=4,
        sample_size=32,
        norm_num_groups=4,
    )
    torch.manual_seed(seed)
    return vae, _clip_text_encoder(len(tokenizer), tokenizer.bos_token_id, tokenizer.eos_token_id)


def _zeroscope(seed: int) -> Any:
    import torch
    from diffusers import DDIMScheduler, TextToVideoSDPipeline, UNet3DConditionModel

    tokenizer = _clip_tokenizer()
    torch.manual_seed(seed)
    unet = UNet3DConditionModel(
        block_out_channels=(16, 32),
        layers_per_block=1,
        sample_size=32,
        in_channels=4,
        out_channels=4,
        down_block_types=("CrossAttnDownBlock3D", "DownBlock3D"),
        up_block_types=("UpBlock3D", "CrossAttnUpBlock3D"),
        cross_attention_dim=32,
        attention_head_dim=8,
        norm_num_groups=4,
    )
    # DDIM with the SD-1.x betas, as damo-vilab/text-to-video-ms-1.7b (which zeroscope derives from) uses.
    scheduler = DDIMScheduler(
        beta_start=0.00085,
        beta_end=0.012,
        beta_schedule="scaled_linear",
        clip_sample=False,
        set_alpha_to_one=False,
        steps_offset=1,
    )
    vae, text_encoder = _sd_vae_and_text_encoder(seed, tokenizer)
    return TextToVideoSDPipeline(
        vae=vae, text_encoder=text_encoder, tokenizer=tokenizer, unet=unet, scheduler=scheduler
    )


def _animatediff(seed: int) -> Any:
    import torch
    from diffusers import AnimateDiffPipeline, DDIMScheduler, MotionAdapter, UNet2DConditionModel

    tokenizer = _clip_tokenizer()
    torch.manual_seed(seed)
    unet = UNet2DConditionModel(
        block_out_channels=(16, 32),
        layers_per_block=1,
        sample_size=32,
        in_channels=4,
        out_channels=4,
        down_block_types=("CrossAttnDownBlock2D", "DownBlock2D"),
        up_block_types=("UpBlock2D", "CrossAttnUpBlock2D"),
        cross_attention_dim=32,
        attention_head_dim=8,
        norm_num_groups=2,
    )
    # The scheduler AnimateDiff's docs pair with a motion adapter.
    scheduler = DDIMScheduler(
        beta_start=0.00085,
        beta_end=0.012,
        beta_schedule="linear",
        clip_sample=False,
        steps_offset=1,
        timestep_spacing="linspace",
    )
    vae, text_encoder = _sd_vae_and_text_encoder(seed, tokenizer)
    torch.manual_seed(seed)
    motion_adapter = MotionAdapter(
        block_out_channels=(16, 32),  # must match the unet
        motion_layers_per_block=1,  # must match the unet's layers_per_block
        motion_norm_num_groups=2,
        motion_num_attention_heads=4,
        motion_max_seq_length=32,
    )
    # AnimateDiffPipeline folds the UNet2DConditionModel and the adapter into a UNetMotionModel; that is what gets
    # saved as "unet" (next to the adapter itself), exactly like a pipeline saved from a real checkpoint.
    return AnimateDiffPipeline(
        vae=vae,
        text_encoder=text_encoder,
        tokenizer=tokenizer,
        unet=unet,
        motion_adapter=motion_adapter,
        scheduler=scheduler,
        feature_extractor=None,
        image_encoder=None,
    )


def _wan(seed: int) -> Any:
    import torch
    from diffusers import AutoencoderKLWan, UniPCMultistepScheduler, WanPipeline, WanTransformer3DModel

    tokenizer = _t5_tokenizer()
    torch.manual_seed(seed)
    vae = AutoencoderKLWan(
        base_dim=3,
        z_dim=16,
        dim_mult=[1, 1, 1, 1],
        num_res_blocks=1,
        temperal_downsample=[False, True, True],  # 4x temporal, 8x spatial: num_frames = 4k+1
    )
    # Wan-AI/Wan2.1-T2V-1.3B-Diffusers ships UniPC with flow sigmas (flow_shift 3.0 for 480p).
    scheduler = UniPCMultistepScheduler(
        prediction_type="flow_prediction",
        use_flow_sigmas=True,
        num_train_timesteps=1000,
        flow_shift=3.0,
    )
    torch.manual_seed(seed)
    text_encoder = _t5_encoder("UMT5EncoderModel", len(tokenizer))
    torch.manual_seed(seed)
    transformer = WanTransformer3DModel(
        patch_size=(1, 2, 2),
        num_attention_heads=2,
        attention_head_dim=12,
        in_channels=16,
        out_channels=16,
        text_dim=32,  # == text encoder d_model
        freq_dim=256,
        ffn_dim=32,
        num_layers=2,
        cross_attn_norm=True,
        qk_norm="rms_norm_across_heads",
        rope_max_seq_len=32,
    )
    return WanPipeline(
        tokenizer=tokenizer, text_encoder=text_encoder, vae=vae, scheduler=scheduler, transformer=transformer
    )


def _ltx(seed: int) -> Any:
    import torch
    from diffusers import (
        AutoencoderKLLTXVideo,
        FlowMatchEulerDiscreteScheduler,
        LTXPipeline,
        LTXVideoTransformer3DModel,
    )

    tokenizer = _t5_tokenizer()
    torch.manual_seed(seed)
    transformer = LTXVideoTransformer3DModel(
        in_channels=8,
        out_channels=8,
        patch_size=1,
        patch_size_t=1,
        num_attention_heads=4,
        attention_head_dim=8,
        cross_attention_dim=32,  # == heads * head_dim
        num_layers=1,
        caption_channels=32,  # == text encoder d_model
    )
    torch.manual_seed(seed)
    # Same compression as the real LTX-Video VAE (patch 4 x three 2x stages = 32x spatial, 8x temporal), so the
    # real frame rule (8k+1) and the pipeline's divisible-by-32 size check line up, but only 8 channels wide.
    vae = AutoencoderKLLTXVideo(
        latent_channels=8,
        block_out_channels=(8, 8, 8, 8),
        decoder_block_out_channels=(8, 8, 8, 8),
        layers_per_block=(1, 1, 1, 1, 1),
        decoder_layers_per_block=(1, 1, 1, 1, 1),
        spatio_temporal_scaling=(True, True, True, False),
        decoder_spatio_temporal_scaling=(True, True, True, False),
        decoder_inject_noise=(False, False, False, False, False),
        patch_size=4,
        patch_size_t=1,
        encoder_causal=True,
        decoder_causal=False,
    )
    # Lightricks/LTX-Video's scheduler config (resolution-dependent shift).
    scheduler = FlowMatchEulerDiscreteScheduler(
        num_train_timesteps=1000,
        shift=1.0,
        use_dynamic_shifting=True,
        base_shift=0.95,
        max_shift=2.05,
        base_image_seq_len=1024,
        max_image_seq_len=4096,
        shift_terminal=0.1,
    )
    torch.manual_seed(seed)
    text_encoder = _t5_encoder("T5EncoderModel", len(tokenizer))
    return LTXPipeline(
        scheduler=scheduler, vae=vae, text_encoder=text_encoder, tokenizer=tokenizer, transformer=transformer
    )


_BUILDERS: dict[str, Callable[[int], Any]] = {
    "svd-xt": lambda seed: _svd(seed, num_frames=25),
    "svd": lambda seed: _svd(seed, num_frames=14),
    "zeroscope": _zeroscope,
    "animatediff": _animatediff,
    "wan": _wan,
    "ltx-video": _ltx,
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
        vocab, merges = _clip_vocab_and_merges()
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

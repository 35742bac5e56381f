"""Tiny random-weight video pipelines: built offline, saved, and loaded through the real ``from_pretrained`` path."""

from __future__ import annotations

import inspect
import socket
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import diffusers
import numpy as np
import pytest
import torch

from engine.local.tiny import FAMILIES, make_all, make_tiny

pytestmark = [
    # diffusers 0.42 EulerDiscreteScheduler (SVD) does np.array(<torch tensor> ** 0.5); with numpy 2.x torch's
    # Tensor.__array__ lacks the `copy` keyword, which numpy reports as a DeprecationWarning. Not ours to fix.
    pytest.mark.filterwarnings(
        "ignore:__array__ implementation doesn't accept a copy keyword:DeprecationWarning"
        ":diffusers.schedulers.scheduling_euler_discrete"
    ),
]

# Pipelines whose loop honours ``pipe._interrupt`` (checked at the top of each denoising step). SVD takes
# ``callback_on_step_end`` but has no interrupt; TextToVideoSD (zeroscope) only has the legacy ``callback``.
INTERRUPTIBLE = {"animatediff", "wan", "ltx-video"}
LEGACY_CALLBACK_ONLY = {"zeroscope"}

MAX_FOLDER_BYTES = 5 * 1024 * 1024


def _image() -> Any:
    from PIL import Image

    pixels = (np.arange(32 * 32 * 3, dtype=np.uint32).reshape(32, 32, 3) * 7 % 255).astype(np.uint8)
    return Image.fromarray(pixels)


def _call_kwargs(name: str) -> dict[str, Any]:
    """A small 2-step call per family (sizes obey each pipeline's divisibility and frame rules)."""
    if name.startswith("svd"):
        # 2x-downsampling tiny VAE: any multiple of 8; num_frames >= 2.
        return {"image": _image(), "num_frames": 4, "decode_chunk_size": 2, "height": 32, "width": 32}
    if name in ("zeroscope", "animatediff"):
        return {"prompt": "a cat playing the piano", "num_frames": 4, "height": 32, "width": 32}
    if name == "wan":
        # 8x spatial VAE x 2x2 patches: multiples of 16; 4x temporal VAE: num_frames = 4k + 1.
        return {
            "prompt": "a cat playing the piano",
            "negative_prompt": "blurry",
            "num_frames": 5,
            "height": 32,
            "width": 48,
            "max_sequence_length": 16,
        }
    if name == "ltx-video":
        # Real LTX compression (32x spatial, 8x temporal): multiples of 32; num_frames = 8k + 1.
        return {
            "prompt": "a cat playing the piano",
            "negative_prompt": "blurry",
            "num_frames": 9,
            "height": 32,
            "width": 64,
            "max_sequence_length": 16,
        }
    raise AssertionError(name)


def _run(pipe: Any, name: str, **extra: Any) -> np.ndarray:
    kwargs = {**_call_kwargs(name), "num_inference_steps": 2, "output_type": "np", **extra}
    kwargs.setdefault("generator", torch.Generator().manual_seed(1))
    frames = pipe(**kwargs).frames
    return np.asarray(frames)


def _read_all(folder: Path) -> dict[str, bytes]:
    return {str(p.relative_to(folder)): p.read_bytes() for p in sorted(folder.rglob("*")) if p.is_file()}


@pytest.fixture(scope="module", autouse=True)
def offline() -> Iterator[None]:
    """No network for this module: hub offline flags set, and any IP connection attempt fails loudly."""
    import huggingface_hub.constants as hub_constants

    def refuse(self: socket.socket, *args: Any, **kwargs: Any) -> None:
        if self.family in (socket.AF_INET, socket.AF_INET6):
            raise AssertionError(f"tiny pipelines tried to open a network connection: {args!r}")
        return real_connect(self, *args, **kwargs)

    real_connect = socket.socket.connect
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("HF_HUB_OFFLINE", "1")
        mp.setenv("TRANSFORMERS_OFFLINE", "1")
        mp.setenv("HF_DATASETS_OFFLINE", "1")
        # huggingface_hub reads the variable once, at import: set the constant too.
        mp.setattr(hub_constants, "HF_HUB_OFFLINE", True)
        mp.setattr(socket.socket, "connect", refuse)
        yield


@pytest.fixture(scope="module")
def folders(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    return make_all(tmp_path_factory.mktemp("tiny"))


@pytest.fixture(scope="module")
def loaded() -> dict[str, Any]:
    return {}


@pytest.fixture
def pipe(name: str, folders: dict[str, Path], loaded: dict[str, Any]) -> Any:
    """Each folder loaded once per module through ``<Pipeline>.from_pretrained(folder)``."""
    if name not in loaded:
        cls = getattr(diffusers, FAMILIES[name])
        started = time.perf_counter()
        pipeline = cls.from_pretrained(folders[name])
        elapsed = time.perf_counter() - started
        assert elapsed < 10, f"{name}: loading took {elapsed:.1f}s"
        pipeline.set_progress_bar_config(disable=True)
        loaded[name] = pipeline
    return loaded[name]


parametrize_families = pytest.mark.parametrize("name", list(FAMILIES))
TEXT_FAMILIES = [name for name in FAMILIES if not name.startswith("svd")]  # SVD is image-conditioned only


def test_every_registered_model_has_a_tiny_builder_with_cpu_defaults() -> None:
    from engine.local.registry import BUILTIN
    from engine.local.tiny import _BUILDERS, CPU_DEFAULTS

    assert set(_BUILDERS) == set(BUILTIN) == set(CPU_DEFAULTS)
    for cls_name in FAMILIES.values():
        assert hasattr(diffusers, cls_name)


def test_make_all_writes_every_family(folders: dict[str, Path]) -> None:
    assert set(folders) == set(FAMILIES)
    for name, folder in folders.items():
        assert folder.name == name
        assert (folder / "model_index.json").is_file()
        size = sum(p.stat().st_size for p in folder.rglob("*") if p.is_file())
        assert size < MAX_FOLDER_BYTES, f"{name}: {size} bytes"


@parametrize_families
def test_folder_is_complete(name: str, folders: dict[str, Path]) -> None:
    import json

    index = json.loads((folders[name] / "model_index.json").read_text())
    assert index["_class_name"] == FAMILIES[name]
    components = {k: v for k, v in index.items() if not k.startswith("_") and isinstance(v, list)}
    present = {k for k, (lib, _cls) in components.items() if lib is not None}
    assert present, name
    for component in present:
        assert (folders[name] / component).is_dir(), f"{name}: missing {component}/"
    weights = list(folders[name].rglob("*.safetensors"))
    assert weights and not list(folders[name].rglob("*.bin"))


@parametrize_families
def test_loads_and_generates(name: str, pipe: Any) -> None:
    assert type(pipe).__name__ == FAMILIES[name]
    if name == "animatediff":
        assert type(pipe.unet).__name__ == "UNetMotionModel"
    kwargs = _call_kwargs(name)
    frames = _run(pipe, name)  # (how long it takes is bench/'s business: a timed test fails on a busy machine)
    assert frames.shape == (1, kwargs["num_frames"], kwargs["height"], kwargs["width"], 3)
    assert frames.dtype == np.float32
    assert np.isfinite(frames).all()
    assert frames.min() >= 0.0 and frames.max() <= 1.0
    assert frames.std() > 0  # random weights, but not a constant image


@parametrize_families
def test_same_generator_seed_same_frames(name: str, pipe: Any) -> None:
    first = _run(pipe, name, generator=torch.Generator().manual_seed(1))
    second = _run(pipe, name, generator=torch.Generator().manual_seed(1))
    np.testing.assert_array_equal(first, second)


@parametrize_families
def test_make_tiny_is_deterministic(name: str, tmp_path: Path, folders: dict[str, Path]) -> None:
    again = _read_all(make_tiny(name, tmp_path / "again"))
    assert again == _read_all(folders[name])
    assert any(k.endswith(".safetensors") for k in again)

    other = _read_all(make_tiny(name, tmp_path / "other", seed=1))
    assert other.keys() == again.keys()
    weights = [k for k in again if k.endswith(".safetensors")]
    assert all(other[k] != again[k] for k in weights), "seed must change every weight file"


def test_make_tiny_keeps_global_rng(tmp_path: Path) -> None:
    torch.manual_seed(123)
    expected = torch.rand(3)
    torch.manual_seed(123)
    make_tiny("wan", tmp_path / "wan")
    assert torch.equal(torch.rand(3), expected)


def test_make_tiny_replaces_a_pipeline_folder_but_not_other_dirs(tmp_path: Path) -> None:
    folder = make_tiny("wan", tmp_path / "p")
    (folder / "stale.txt").write_text("x")
    make_tiny("ltx-video", folder)
    assert not (folder / "stale.txt").exists()
    assert '"LTXPipeline"' in (folder / "model_index.json").read_text()

    other = tmp_path / "not-a-pipeline"
    other.mkdir()
    (other / "keep.txt").write_text("x")
    with pytest.raises(FileExistsError):
        make_tiny("wan", other)
    assert (other / "keep.txt").exists()


def test_unknown_family(tmp_path: Path) -> None:
    with pytest.raises(KeyError, match="unknown video model family"):
        make_tiny("sora", tmp_path / "x")


def test_svd_variants_differ_only_in_default_frames(folders: dict[str, Path]) -> None:
    import json

    svd, xt = _read_all(folders["svd"]), _read_all(folders["svd-xt"])
    assert svd.keys() == xt.keys()
    differing = sorted(k for k in svd if svd[k] != xt[k])
    assert differing == ["reelbot.json", "unet/config.json"]
    assert json.loads(svd["unet/config.json"])["num_frames"] == 14
    assert json.loads(xt["unet/config.json"])["num_frames"] == 25
    assert (json.loads(svd["reelbot.json"])["frames"], json.loads(xt["reelbot.json"])["frames"]) == (8, 14)


@pytest.mark.parametrize("name", TEXT_FAMILIES)
def test_tokenizer_handles_any_prompt(name: str, pipe: Any) -> None:
    tokenizer = pipe.tokenizer
    ids = tokenizer("Ünïcödé ✓ 日本語 emoji 🎬 and plain words", return_tensors="pt").input_ids
    assert ids.shape[1] > 5
    assert int(ids.max()) < pipe.text_encoder.config.vocab_size


@parametrize_families
def test_step_callback_sees_every_step(name: str, pipe: Any) -> None:
    steps: list[int] = []
    if name in LEGACY_CALLBACK_ONLY:
        assert "callback_on_step_end" not in inspect.signature(pipe.__call__).parameters

        def legacy(step: int, timestep: Any, latents: Any) -> None:
            steps.append(step)

        _run(pipe, name, callback=legacy, callback_steps=1)
    else:

        def on_step_end(p: Any, step: int, timestep: Any, callback_kwargs: dict[str, Any]) -> dict[str, Any]:
            steps.append(step)
            return callback_kwargs

        _run(pipe, name, callback_on_step_end=on_step_end)
    assert steps == [0, 1]


@pytest.mark.parametrize("name", [n for n in FAMILIES if n not in LEGACY_CALLBACK_ONLY])
def test_interrupt_from_callback(name: str, pipe: Any) -> None:
    steps: list[int] = []

    def stop_after_first(p: Any, step: int, timestep: Any, callback_kwargs: dict[str, Any]) -> dict[str, Any]:
        steps.append(step)
        p._interrupt = True
        return callback_kwargs

    frames = _run(pipe, name, callback_on_step_end=stop_after_first)
    kwargs = _call_kwargs(name)
    assert frames.shape == (1, kwargs["num_frames"], kwargs["height"], kwargs["width"], 3)
    if name in INTERRUPTIBLE:
        assert steps == [0], f"{name}: interrupt did not stop the loop"
        # The flag is reset at the start of every call, so the next run goes the full distance.
        after: list[int] = []

        def record(p: Any, step: int, timestep: Any, callback_kwargs: dict[str, Any]) -> dict[str, Any]:
            after.append(step)
            return callback_kwargs

        _run(pipe, name, callback_on_step_end=record)
        assert after == [0, 1]
    else:
        assert steps == [0, 1], f"{name} now honours interrupt: add it to INTERRUPTIBLE"
        pipe._interrupt = False

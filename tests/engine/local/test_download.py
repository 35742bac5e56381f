"""The first job for a model downloads it from the Hub, then loads it: the user hears of both, in that order.

A local server speaks the Hugging Face Hub's protocol (``tests/fakes/hf_hub.py``) for a tiny SVD-XT saved by
``engine/local/tiny``, under the real repo's name; ``HF_ENDPOINT`` points at it. Nothing leaves the machine.
"""

from __future__ import annotations

import io
from collections.abc import Iterator
from dataclasses import replace
from pathlib import Path

import pytest
from PIL import Image

from engine.backends.diffusers import DiffusersBackend
from engine.events import Event, Loading, Progress, Started
from engine.lanes import GpuLane
from engine.local.download import pick_files
from engine.local.registry import BUILTIN
from engine.local.tiny import make_tiny
from engine.types import JobKind, JobState, Options, Origin, SubmitRequest, UserRef
from tests.fakes.hf_hub import FakeHub

I2V = JobKind.IMAGE_TO_VIDEO
SVD_XT = replace(BUILTIN["svd-xt"], width=64, height=64, frames=4, steps=2)


@pytest.fixture(scope="module")
def tiny_svd(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return make_tiny("svd-xt", tmp_path_factory.mktemp("tiny") / "svd-xt")


@pytest.fixture
def hub(tiny_svd: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[FakeHub]:
    server = FakeHub()
    # The real repo also holds a single-file checkpoint at its root, which diffusers never loads.
    server.add(SVD_XT.source, tiny_svd, extra={"svd_xt_1_1.safetensors": b"\0" * 4096})
    server.start()
    monkeypatch.setenv("HF_ENDPOINT", server.url)
    yield server
    server.stop()


def picture() -> bytes:
    buf = io.BytesIO()
    Image.new("RGB", (96, 64), (30, 120, 200)).save(buf, format="PNG")
    return buf.getvalue()


async def run_one(app_factory, tmp_path: Path, **backend: object) -> tuple[list[Event], object]:
    local = DiffusersBackend({"svd-xt": SVD_XT}, default_models={I2V: "svd-xt"}, cache_dir=tmp_path / "hf",
                             **backend)  # type: ignore[arg-type]
    app = await app_factory(backends={"local": local}, settings={"chain_image_to_video": ["local"]},
                            lanes=[GpuLane(0, device="cpu")])
    seen: list[Event] = []

    async def keep(event: Event) -> None:
        seen.append(event)

    app.service.subscribe(keep)
    view = await app.service.submit(SubmitRequest(UserRef("test", "u1"), "", Origin("test"), Options(), picture()))
    done = await app.service.wait(view.id)
    await app.service.events.drain()
    return [e for e in seen if e.job_id == view.id], done


async def test_the_first_job_shows_the_download_then_the_load_then_the_steps(app_factory, hub, tmp_path):
    events, done = await run_one(app_factory, tmp_path)
    assert done.state is JobState.SUCCEEDED, done.error_message
    kinds = [type(e).__name__ + (f":{e.phase}" if isinstance(e, Loading) else "") for e in events]
    first_download, first_load = kinds.index("Loading:download"), kinds.index("Loading:load")
    first_step = next(i for i, e in enumerate(events) if isinstance(e, Progress))
    assert kinds.index("Started") < first_download < first_load < first_step
    downloads = [e for e in events if isinstance(e, Loading) and e.phase == "download"]
    # The pipeline's index and its component folders; not the files at the root (a checkpoint, reelbot.json).
    total = sum(f.stat().st_size for name, f in hub.files(SVD_XT.source).items()
                if "/" in name or name == "model_index.json")
    assert {e.total_bytes for e in downloads} == {total}
    assert [e.done_bytes for e in downloads] == sorted(e.done_bytes for e in downloads)
    assert downloads[-1].done_bytes == total and downloads[0].done_bytes < total
    assert all(e.model == "svd-xt" and not e.gpu for e in events if isinstance(e, Loading))
    assert "svd_xt_1_1.safetensors" not in " ".join(hub.downloads)  # the root checkpoint is not fetched


async def test_weights_already_downloaded_are_only_loaded(app_factory, hub, tmp_path):
    await run_one(app_factory, tmp_path)
    fetched = len(hub.downloads)
    events, done = await run_one(app_factory, tmp_path)  # a new process: same cache, nothing warm
    assert done.state is JobState.SUCCEEDED
    assert [e.phase for e in events if isinstance(e, Loading)] == ["load"]
    assert len(hub.downloads) == fetched


async def test_a_disk_too_small_refuses_before_downloading_and_says_how_much(app_factory, hub, tmp_path):
    events, done = await run_one(app_factory, tmp_path, disk_free=lambda path: 200_000_000)
    assert done.state is JobState.FAILED and done.error_code == "model_unavailable"
    assert "Not enough disk space to download svd-xt: it needs 0.5 GB and only 0.2 GB is free" in done.error_message
    assert [e for e in events if isinstance(e, Loading)] == [] and any(isinstance(e, Started) for e in events)
    assert [path for path in hub.downloads if path.endswith(".safetensors")] == []


def test_the_files_chosen_are_the_ones_diffusers_loads():
    listing = {name: 1 for name in (
        "model_index.json", "svd_xt.safetensors", "README.md", "unet/config.json",
        "unet/diffusion_pytorch_model.safetensors", "unet/diffusion_pytorch_model.fp16.safetensors",
        "vae/config.json", "vae/diffusion_pytorch_model.bin", "vae/diffusion_pytorch_model.safetensors",
        "text_encoder/config.json", "text_encoder/model-00001-of-00002.safetensors",
        "text_encoder/model-00002-of-00002.safetensors", "text_encoder/model.safetensors.index.json",
        "tokenizer/spiece.model", "tokenizer/tokenizer_config.json", "scheduler/scheduler_config.json")}
    components = ["unet", "vae", "text_encoder", "tokenizer", "scheduler"]
    fp16 = pick_files(listing, components, "fp16")
    assert "unet/diffusion_pytorch_model.fp16.safetensors" in fp16
    assert "unet/diffusion_pytorch_model.safetensors" not in fp16  # the variant where the folder has one
    assert "vae/diffusion_pytorch_model.safetensors" in fp16 and "vae/diffusion_pytorch_model.bin" not in fp16
    assert {"text_encoder/model-00001-of-00002.safetensors", "text_encoder/model.safetensors.index.json",
            "tokenizer/spiece.model", "model_index.json"} <= set(fp16)
    assert "svd_xt.safetensors" not in fp16 and "README.md" not in fp16
    full = pick_files(listing, components, None)
    assert "unet/diffusion_pytorch_model.safetensors" in full
    assert "unet/diffusion_pytorch_model.fp16.safetensors" not in full

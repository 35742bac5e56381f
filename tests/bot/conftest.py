"""What the front ends' stories share: a local Hugging Face Hub serving a tiny SVD-XT under the real repo's
name, and the settings that make the bot download it from there and run it on the CPU."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from engine.local.registry import BUILTIN
from engine.local.tiny import make_tiny
from tests.fakes.hf_hub import FakeHub

# What the model stories read, per language: the download, the load, and the note on words a model leaves out.
MODEL_SAYS = {
    "en": {
        "downloading": "Downloading model svd-xt: ",
        "loading": "Loading svd-xt into memory…",
        "unused": "Note: svd-xt animates the picture without using your words; to have them used, pick a model "
                  "that reads them: --model ltx-video.",
    },
    "ko": {
        "downloading": "모델 svd-xt 내려받는 중: ",
        "loading": "svd-xt을(를) 메모리에 올리는 중…",
        "unused": "참고: svd-xt은(는) 글을 읽지 않고 사진만 움직여요. 적은 글을 반영하려면 글을 읽는 모델을 골라 "
                  "주세요: --model ltx-video.",
    },
}


@pytest.fixture(scope="session")
def tiny_svd_xt(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return make_tiny("svd-xt", tmp_path_factory.mktemp("tiny") / "svd-xt")


@pytest.fixture
def svd_hub(tiny_svd_xt: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[FakeHub]:
    """The Hub, on a slow link (each weights file takes a moment), so that the download can be seen."""
    hub = FakeHub(weights_delay_s=0.5)
    hub.add(BUILTIN["svd-xt"].source, tiny_svd_xt)
    hub.start()
    monkeypatch.setenv("HF_ENDPOINT", hub.url)
    yield hub
    hub.stop()


def from_the_hub(tmp_path: Path) -> dict[str, Any]:
    """Settings for real diffusers on the CPU: SVD-XT (sized for a CPU) downloaded into tmp_path/hf."""
    return {"local_backend": "diffusers", "hf_home": tmp_path / "hf", "chain_image_to_video": ["local"],
            "local_models": json.dumps({"svd-xt": {"width": 64, "height": 64, "frames": 4, "steps": 2}})}

"""`reelbot models pull NAME` and `reelbot models list` against a local server speaking the Hub's protocol
(``tests/fakes/hf_hub.py``) for a tiny SVD-XT under the real repo's name: no internet."""

from __future__ import annotations

import io
from collections.abc import Iterator
from pathlib import Path

import pytest

from bot.i18n import ENGLISH
from engine.local.registry import BUILTIN
from engine.local.tiny import make_tiny
from reelbot import models
from reelbot.cli import main
from tests.conftest import make_settings
from tests.fakes.hf_hub import FakeHub

SVD_XT = BUILTIN["svd-xt"].source


@pytest.fixture(scope="module")
def tiny_svd(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return make_tiny("svd-xt", tmp_path_factory.mktemp("tiny") / "svd-xt")


@pytest.fixture
def hub(tiny_svd: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[FakeHub]:
    server = FakeHub()
    server.add(SVD_XT, tiny_svd)
    server.start()
    monkeypatch.chdir(tmp_path)  # no .env of the developer's
    for name, value in {"HF_ENDPOINT": server.url, "HF_HOME": str(tmp_path / "hf"), "GPUS": "cpu",
                        "DATA_DIR": str(tmp_path / "data"), "DEFAULT_LANGUAGE": "en"}.items():
        monkeypatch.setenv(name, value)
    yield server
    server.stop()


def weights(hub: FakeHub) -> list[str]:
    return [path for path in hub.downloads if path.endswith(".safetensors")]


def test_pull_downloads_with_progress_and_list_shows_it(hub, tmp_path, capsys):
    assert main(["models", "list"]) == 0
    before = capsys.readouterr().out
    size = "3.7 MB"
    assert f"svd-xt  (image-to-video; takes no prompt)  {SVD_XT}\n    not downloaded ({size})" in before
    assert "ltx-video  (image-to-video, text-to-video; reads the prompt)" in before

    assert main(["models", "pull", "svd-xt"]) == 0
    said = capsys.readouterr().out
    assert f"Downloading svd-xt from {SVD_XT}:" in said
    bars = [line for line in said.splitlines() if line.startswith("[")]
    assert len(bars) >= 2 and bars[-1].endswith(f"100% {size} / {size}")
    assert f"svd-xt is downloaded ({size})." in said
    assert (tmp_path / "hf" / "hub" / f"models--{SVD_XT.replace('/', '--')}").is_dir()
    assert "unet/diffusion_pytorch_model.safetensors" in " ".join(weights(hub))

    assert main(["models", "list"]) == 0
    assert f"svd-xt  (image-to-video; takes no prompt)  {SVD_XT}\n    downloaded ({size})" in capsys.readouterr().out
    fetched = len(hub.downloads)
    assert main(["models", "pull", "svd-xt"]) == 0
    assert f"svd-xt is already downloaded ({size})." in capsys.readouterr().out
    assert len(hub.downloads) == fetched


def test_pull_refuses_when_the_disk_is_short_and_says_how_much(hub, tmp_path):
    settings = make_settings(tmp_path, hf_home=tmp_path / "hf", gpus="cpu")
    out = io.StringIO()
    assert models.pull(settings, "svd-xt", ENGLISH, out=out, free=lambda path: 300_000_000) == 2
    said = out.getvalue()
    assert said.startswith("reelbot: Not enough disk space to download svd-xt: it needs 0.5 GB and only 0.3 GB is "
                           f"free in {tmp_path / 'hf' / 'hub'}.")
    assert "set HF_HOME to a disk with more room" in said
    assert weights(hub) == []


def test_pull_of_an_unknown_model_names_the_known_ones(hub, capsys):
    assert main(["models", "pull", "nope"]) == 2
    said = capsys.readouterr().out
    assert "There is no model called 'nope'." in said and "svd-xt" in said

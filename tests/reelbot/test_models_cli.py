"""`reelbot models make-tiny DIR`, then `reelbot generate --model DIR/<name>` on a CPU lane: real
diffusers loading and running, on any machine."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

from PIL import Image

from engine.video import probe


def reelbot(*args: str, cwd: Path) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("LOCAL_", "GPUS", "DATA_DIR"))}
    env.update({"GPUS": "cpu", "DATA_DIR": str(cwd / "data"), "HF_HUB_OFFLINE": "1"})
    return subprocess.run([sys.executable, "-m", "reelbot.cli", *args], cwd=cwd, env=env,
                          capture_output=True, text=True, timeout=300)


def test_make_tiny_writes_every_family_and_generate_runs_them(tmp_path):
    made = reelbot("models", "make-tiny", "tiny", cwd=tmp_path)
    assert made.returncode == 0, made.stderr
    for name in ("svd-xt", "svd", "zeroscope", "animatediff", "wan", "ltx-video"):
        assert (tmp_path / "tiny" / name / "model_index.json").is_file()
        assert (tmp_path / "tiny" / name / "reelbot.json").is_file()
        assert f"tiny/{name}" in made.stdout
    Image.new("RGB", (300, 200), (200, 100, 50)).save(tmp_path / "photo.png")
    run = reelbot("generate", "--image", "photo.png", "--model", "tiny/svd-xt", "--frames", "8",
                  "--out", "svd.mp4", cwd=tmp_path)
    assert run.returncode == 0, run.stderr
    info = probe(tmp_path / "svd.mp4")
    assert (info.frames, info.width, info.height) == (8, 64, 64)
    assert "on local (tiny/svd-xt)" in run.stdout
    text = reelbot("generate", "--prompt", "a cat surfing", "--model", "tiny/wan", "--out", "wan.mp4",
                   cwd=tmp_path)
    assert text.returncode == 0, text.stderr
    assert probe(tmp_path / "wan.mp4").frames == 17


def test_an_image_model_asked_for_text_is_refused_in_plain_words(tmp_path):
    assert reelbot("models", "make-tiny", "tiny", cwd=tmp_path).returncode == 0
    run = reelbot("generate", "--prompt", "a cat", "--model", "tiny/svd-xt", "--out", "x.mp4", cwd=tmp_path)
    assert run.returncode == 2 and "Traceback" not in run.stderr
    assert "tiny/svd-xt makes image-to-video videos only (send a picture to animate" in run.stderr

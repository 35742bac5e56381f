"""Loading real pipelines: a gated model is explained in plain words and the job moves on.

The Hugging Face client talks to a local server that answers like the Hub does for a gated repo
(401 with ``X-Error-Code: GatedRepo``).
"""

from __future__ import annotations

import http.server
import io
import json
import threading
from collections.abc import Iterator

import huggingface_hub.constants
import pytest
from PIL import Image

from engine.backends.diffusers import DiffusersBackend
from engine.backends.simulated import SimulatedBackend
from engine.lanes import GpuLane
from engine.local.registry import BUILTIN
from engine.types import JobKind, JobState, Options, Origin, SubmitRequest, UserRef


@pytest.fixture
def gated_hub(monkeypatch) -> Iterator[list[str]]:
    seen: list[str] = []

    class Hub(http.server.BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            seen.append(self.path)
            body = json.dumps({"error": "Access to this model is restricted."}).encode()
            self.send_response(401)
            self.send_header("X-Error-Code", "GatedRepo")
            self.send_header("X-Error-Message", "Access to model is restricted and you are not in the list.")
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        do_HEAD = do_GET

        def log_message(self, *args: object) -> None:
            pass

    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Hub)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    monkeypatch.setattr(huggingface_hub.constants, "ENDPOINT", f"http://127.0.0.1:{server.server_port}")
    yield seen
    server.shutdown()
    server.server_close()


def picture() -> bytes:
    buf = io.BytesIO()
    Image.new("RGB", (320, 180), (30, 120, 200)).save(buf, format="PNG")
    return buf.getvalue()


async def test_a_gated_model_is_explained_and_the_job_moves_to_the_cloud(app_factory, gated_hub, tmp_path):
    local = DiffusersBackend({"svd-xt": BUILTIN["svd-xt"]}, default_models={JobKind.IMAGE_TO_VIDEO: "svd-xt"},
                             cache_dir=tmp_path / "hf")
    runway = SimulatedBackend("runway", local=False, usd_per_run=0.25, seconds=0.02, steps=2)
    app = await app_factory(
        backends={"local": local, "runway": runway},
        settings={"chain_image_to_video": ["local", "runway"]},
        lanes=[GpuLane(0, device="cpu")],
    )
    request = SubmitRequest(UserRef("test", "u1"), "", Origin("test"), Options(frames=6), picture())
    done = await app.service.wait((await app.service.submit(request)).id)
    assert done.state is JobState.SUCCEEDED and done.backend == "runway"
    gated = done.attempts[0]
    assert (gated.backend, gated.error_code) == ("local", "model_unavailable")
    assert "gated" in gated.error_message
    assert any(path.endswith("/auth-check") for path in gated_hub)
    # The local backend is not rested for one model's licence, and the Hub is not asked again.
    asked = len(gated_hub)
    local_health = next(h for h in (await app.service.report()).backends if h.name == "local")
    assert local_health.cooling_s == 0
    again = await app.service.wait((await app.service.submit(request)).id)
    assert [a.error_code for a in again.attempts] == ["model_unavailable", None] and len(gated_hub) == asked


async def test_the_gated_message_says_exactly_what_to_do(gated_hub, tmp_path):
    from engine.errors import ModelUnavailable
    from engine.local.pipelines import load_pipeline

    for token, expected in ((None, "then set HF_TOKEN in .env"), ("hf_x", "with the account your HF_TOKEN")):
        with pytest.raises(ModelUnavailable) as err:
            load_pipeline(BUILTIN["svd-xt"], "cpu", token=token, cache_dir=tmp_path, offline=False)
        text = str(err.value)
        assert "svd-xt" in text and "gated" in text and expected in text
        assert "https://huggingface.co/stabilityai/stable-video-diffusion-img2vid-xt-1-1" in text
        assert "hf_x" not in text


def test_offline_without_the_weights_says_how_to_download_them(tmp_path):
    from engine.errors import ModelUnavailable
    from engine.local.pipelines import load_pipeline

    with pytest.raises(ModelUnavailable) as err:
        load_pipeline(BUILTIN["zeroscope"], "cpu", token=None, cache_dir=tmp_path, offline=True)
    assert "not downloaded" in str(err.value) and "huggingface-cli download cerspense/zeroscope_v2_576w" in str(
        err.value)

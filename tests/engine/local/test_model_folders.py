"""Model folders on the server's disk, through the whole engine on a tiny random-weight zeroscope and a CPU
lane: the operator may name one by path, chat users reach one only through a name the admin listed, and a
broken folder ends the job with words (or hands it to the next backend), never a stuck job."""

from __future__ import annotations

import json
import shutil
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from engine.backends.diffusers import DiffusersBackend
from engine.backends.simulated import SimulatedBackend
from engine.lanes import GpuLane
from engine.local.registry import BUILTIN, load_registry
from engine.local.tiny import make_tiny
from engine.types import (
    OPERATOR_PLATFORM,
    JobKind,
    JobState,
    JobView,
    Options,
    Origin,
    SubmitRequest,
    UserRef,
)

T2V, I2V = JobKind.TEXT_TO_VIDEO, JobKind.IMAGE_TO_VIDEO
SMALL = {"width": 64, "height": 64, "frames": 4, "steps": 2, "fps": 6}


@pytest.fixture(scope="module")
def tiny_zeroscope(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return make_tiny("zeroscope", tmp_path_factory.mktemp("tiny") / "zeroscope")


@pytest.fixture
def folder(tiny_zeroscope: Path, tmp_path: Path) -> Path:
    """A copy of the tiny pipeline that a test may break."""
    return Path(shutil.copytree(tiny_zeroscope, tmp_path / "models" / "house-style"))


def house_registry(folder: Path) -> dict[str, Any]:
    """The admin's LOCAL_MODELS entry for a folder of their own."""
    entry = {"pipeline": "TextToVideoSDPipeline", "source": str(folder), "kinds": ["text-to-video"],
             "width": 64, "height": 64, "frames": 4, "fps": 6, "steps": 2, "variant": None}
    return load_registry(json.dumps({"house-style": entry}))


async def local_app(app_factory: Any, registry: Any = BUILTIN, *, default: str = "zeroscope",
                    cloud: bool = False) -> Any:
    local = DiffusersBackend(registry, default_models={T2V: default, I2V: "svd-xt"})
    extra = {"runway": SimulatedBackend("runway", local=False, seconds=0.01, steps=1, usd_per_run=0.25)}
    chain = ["local", "runway"] if cloud else ["local"]
    return await app_factory(backends={"local": local, **(extra if cloud else {})}, lanes=[GpuLane(0, device="cpu")],
                             settings={"chain_text_to_video": chain, "chain_image_to_video": chain})


def operator(model: str | None) -> SubmitRequest:
    return SubmitRequest(UserRef(OPERATOR_PLATFORM, "root"), "a cat surfing", Origin(OPERATOR_PLATFORM),
                         Options(model=model, **SMALL))


def chat_user(model: str | None) -> SubmitRequest:
    return SubmitRequest(UserRef("telegram", "42", "Eve"), "a cat surfing", Origin("telegram", "7"),
                         Options(model=model, **SMALL))


async def run(app: Any, request: SubmitRequest) -> JobView:
    return await app.service.wait((await app.service.submit(request)).id)


async def assert_local_not_rested(app: Any) -> None:
    local = next(h for h in (await app.service.report()).backends if h.name == "local")
    assert local.cooling_s == 0  # one broken folder: the backend's other models still work


async def test_the_cli_operator_may_load_a_folder_by_path(app_factory, folder):
    app = await local_app(app_factory)
    done = await run(app, operator(str(folder)))
    assert done.state is JobState.SUCCEEDED, done.error_message
    assert (done.backend, done.model) == ("local", str(folder))


async def test_a_chat_user_reaches_an_admins_folder_by_its_listed_name(app_factory, folder):
    app = await local_app(app_factory, house_registry(folder))
    done = await run(app, chat_user("house-style"))
    assert done.state is JobState.SUCCEEDED, done.error_message
    assert done.model == "house-style"


async def test_a_malformed_model_index_ends_the_job_with_a_message(app_factory, folder):
    (folder / "model_index.json").write_text('{"_class_name": "TextToVideoSDPipeline",')
    app = await local_app(app_factory)
    done = await run(app, operator(str(folder)))
    assert done.state is JobState.FAILED and done.error_code == "model_unavailable"
    assert done.error_message == (f"The model folder {folder} has a model_index.json that is not valid JSON "
                                  "(Expecting property name enclosed in double quotes at line 1).")
    [attempt] = done.attempts
    assert (attempt.backend, attempt.error_code) == ("local", "model_unavailable")
    await assert_local_not_rested(app)


def _write(name: str, content: str) -> Callable[[Path], Any]:
    return lambda folder: (folder / name).write_text(content)


def _tear_weights(folder: Path) -> None:
    weights = next((folder / "unet").glob("*.safetensors"))
    weights.write_bytes(weights.read_bytes()[:100])


BREAKAGES: list[tuple[str, Callable[[Path], Any], str]] = [
    ("malformed model_index.json", _write("model_index.json", "{not json"), "model_index.json"),
    ("model_index.json not an object", _write("model_index.json", "[]"), "its model_index.json is not a JSON object."),
    ("no model_index.json", lambda folder: (folder / "model_index.json").unlink(), "model_index.json"),
    ("a component missing", lambda folder: shutil.rmtree(folder / "unet"),
     "its model_index.json lists unet, but the folder has no such subfolder."),
    ("torn weights", _tear_weights, "Unable to load weights"),
    ("the folder gone", shutil.rmtree, "it does not exist"),
]


@pytest.mark.parametrize(("breakage", "fragment"), [(b, f) for _, b, f in BREAKAGES],
                         ids=[name for name, _, _ in BREAKAGES])
async def test_a_broken_folder_behind_a_listed_name_ends_the_job_with_a_message(
    app_factory, folder, breakage, fragment
):
    breakage(folder)
    app = await local_app(app_factory, house_registry(folder))
    done = await run(app, chat_user("house-style"))
    assert done.state is JobState.FAILED and done.error_code == "model_unavailable"
    assert done.error_message.startswith(f"The model house-style could not be loaded from the folder {folder}: ")
    assert fragment in done.error_message
    await assert_local_not_rested(app)


async def test_a_broken_default_folder_hands_the_job_to_the_cloud(app_factory, folder):
    (folder / "model_index.json").write_text("{not json")
    app = await local_app(app_factory, default=str(folder), cloud=True)
    done = await run(app, chat_user(None))
    assert done.state is JobState.SUCCEEDED and done.backend == "runway"
    assert done.attempts[0].error_code == "model_unavailable"
    assert "model_index.json that is not valid JSON" in done.attempts[0].error_message


async def test_a_folders_reelbot_json_cannot_send_the_job_to_a_hub_repo(app_factory, folder):
    (folder / "reelbot.json").write_text(json.dumps({"width": 64, "source": "someone/else"}))
    app = await local_app(app_factory)
    done = await run(app, operator(str(folder)))
    assert done.state is JobState.FAILED and done.error_code == "model_unavailable"
    assert f"The model folder {folder} has a reelbot.json that sets source;" in done.error_message

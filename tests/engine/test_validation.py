"""Who may name which model: chat users pick from the names the admin listed; only the operator at the
server's terminal (`reelbot generate`) may name a folder or a repository. Refusals come before anything is
stored or charged, and say which names there are."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import text

from engine.backends.diffusers import DiffusersBackend
from engine.cloud.catalog import load_catalog
from engine.cloud.replicate import ReplicateBackend
from engine.errors import InvalidInput
from engine.lanes import GpuLane
from engine.local.registry import BUILTIN
from engine.router import Router
from engine.types import JobKind, JobState, Options, Origin, SubmitRequest, UserRef
from engine.validation import InputLimits, validate

T2V = JobKind.TEXT_TO_VIDEO


def from_chat(model: str, platform: str = "telegram") -> SubmitRequest:
    return SubmitRequest(UserRef(platform, "42", "Eve"), "a cat surfing", Origin(platform, "7"),
                         Options(model=model))


def pipeline_folder(path: Path) -> Path:
    """A folder the local registry would take for a zeroscope pipeline, were it allowed to look."""
    path.mkdir(parents=True)
    (path / "model_index.json").write_text(json.dumps({"_class_name": "TextToVideoSDPipeline"}))
    return path


async def diffusers_app(app_factory: Any, **settings: Any) -> Any:
    local = DiffusersBackend(BUILTIN, default_models={T2V: "zeroscope", JobKind.IMAGE_TO_VIDEO: "svd-xt"})
    return await app_factory(backends={"local": local}, lanes=[GpuLane(0, device="cpu")],
                             settings={"chain_text_to_video": ["local"], "chain_image_to_video": ["local"],
                                       **settings})


def job_count(app: Any) -> int:
    with app.db.transaction() as conn:
        return int(conn.execute(text("SELECT count(*) FROM jobs")).scalar_one())


async def refused(app: Any, request: SubmitRequest) -> InvalidInput:
    before = job_count(app)
    with pytest.raises(InvalidInput) as err:
        await app.service.submit(request)
    assert job_count(app) == before  # nothing stored, nothing charged
    assert (await app.service.usage(request.user)).jobs_today == 0
    assert err.value.field == "model"
    return err.value


@pytest.mark.parametrize("platform", ["telegram", "discord"])
async def test_a_chat_user_cannot_load_a_folder_by_path(app_factory, tmp_path, platform):
    folder = pipeline_folder(tmp_path / "someone-elses-model")
    app = await diffusers_app(app_factory)
    for name in (str(folder), "/etc", "/root/.cache/huggingface/hub/models--org--x/snapshots/0123abc"):
        error = await refused(app, from_chat(name, platform))
        assert error.message == f"{name[:60]!r} is not a model here."
        assert "Models: animatediff, ltx-video, svd, svd-xt, wan, zeroscope;" in error.hint
        assert "leave it out for the default" in error.hint and "LOCAL_MODELS" in error.hint


async def test_a_chat_user_cannot_climb_out_with_dot_dot(app_factory, tmp_path, monkeypatch):
    (tmp_path / "bot").mkdir()
    monkeypatch.chdir(tmp_path / "bot")  # the bot's working directory, with a model one floor up
    pipeline_folder(tmp_path / "private")
    app = await diffusers_app(app_factory)
    for name in ("../private", "svd-xt/../../private", "./../private"):
        error = await refused(app, from_chat(name))
        assert "is not a model here" in error.message


async def test_a_chat_admin_cannot_name_a_path_either(app_factory, tmp_path):
    folder = pipeline_folder(tmp_path / "m")
    app = await diffusers_app(app_factory, discord_admin_ids="42")  # Eve is an admin of the bot
    error = await refused(app, from_chat(str(folder), "discord"))
    assert "is not a model here" in error.message


def test_a_chat_user_cannot_name_a_hub_repo_or_a_providers_own_id():
    catalog = load_catalog()
    replicate = ReplicateBackend(key="r8_test", base_url="http://127.0.0.1:9", models=catalog["replicate"])
    local = DiffusersBackend(BUILTIN, default_models={T2V: "zeroscope"})
    router = Router({"local": local, "replicate": replicate}, {T2V: ["local", "replicate"]})
    names = router.model_names()
    assert {"minimax", "zeroscope", "svd-xt", "wan"} <= names
    for name in ("someone/private-model", "minimax/video-01", "cerspense/zeroscope_v2_576w"):
        with pytest.raises(InvalidInput, match="is not a model here") as err:
            validate(from_chat(name), InputLimits(), names)
        assert "minimax" in err.value.hint and "minimax/video-01" not in err.value.hint
    # Reelbot's own names stay open to everyone, wherever they run.
    assert validate(from_chat("minimax"), InputLimits(), names)[2].model == "minimax"


async def test_a_registry_name_still_works_from_chat(app_factory):
    app = await app_factory()  # the simulated GPU stands in for every registered model
    error = await refused(app, from_chat("sora"))
    assert error.message == "'sora' is not a model here."
    job = await app.service.submit(from_chat("wan", "discord"))
    done = await app.service.wait(job.id)
    assert done.state is JobState.SUCCEEDED and done.model == "wan"

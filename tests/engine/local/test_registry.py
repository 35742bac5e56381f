"""The model registry: built-ins, admins' additions, local folders, and the out-of-memory ladder."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from engine.errors import InvalidInput, ModelUnavailable
from engine.local.pipelines import MemoryPlan
from engine.local.registry import BUILTIN, load_registry, resolve
from engine.types import JobKind
from engine.words import Text


def test_the_builtin_models_cover_both_kinds_with_their_published_defaults():
    svd = BUILTIN["svd-xt"]
    assert svd.source == "stabilityai/stable-video-diffusion-img2vid-xt-1-1"
    assert (svd.width, svd.height, svd.frames, svd.kinds) == (1024, 576, 25, {JobKind.IMAGE_TO_VIDEO})
    assert svd.size(portrait=True) == (576, 1024) and BUILTIN["svd"].frames == 14
    assert BUILTIN["zeroscope"].source == "cerspense/zeroscope_v2_576w"
    assert (BUILTIN["zeroscope"].width, BUILTIN["zeroscope"].height) == (576, 320)
    assert {"animatediff", "wan", "ltx-video"} <= set(BUILTIN)
    assert JobKind.IMAGE_TO_VIDEO in BUILTIN["ltx-video"].kinds
    assert BUILTIN["wan"].valid_frames(25) == 25 and BUILTIN["wan"].valid_frames(24) == 21
    assert BUILTIN["ltx-video"].valid_frames(30) == 25


def test_admins_add_and_change_models_in_settings_without_code():
    registry = load_registry(json.dumps({
        "zeroscope-xl": {"pipeline": "TextToVideoSDPipeline", "source": "cerspense/zeroscope_v2_XL",
                         "kinds": ["text-to-video"], "width": 1024, "height": 576, "frames": 24,
                         "fps": 8, "steps": 40},
        "svd-xt": {"steps": 30},
    }))
    assert registry["zeroscope-xl"].width == 1024 and registry["svd-xt"].steps == 30
    assert registry["svd-xt"].frames == 25  # the rest of the built-in stays


def test_each_model_says_which_prompt_languages_it_reads():
    assert {name: set(spec.prompt_languages) for name, spec in BUILTIN.items()} == {
        "svd-xt": {"en"}, "svd": {"en"}, "zeroscope": {"en"}, "animatediff": {"en"},  # CLIP
        "wan": {"en", "zh"}, "ltx-video": {"en"},  # Wan's captions; LTX's English T5
    }
    registry = load_registry(json.dumps({"zeroscope": {"prompt_languages": ["*"]}}))
    assert registry["zeroscope"].prompt_languages == {"*"}


@pytest.mark.parametrize(("value", "message"), [
    ('{"zeroscope": {"prompt_languages": []}}', "prompt_languages must be a list of language codes"),
    ("{not json", "not valid JSON"),
    ('["a"]', "must be a JSON object"),
    ('{"m": {"pipeline": "X"}}', "needs"),
    ('{"svd-xt": {"colour": "red"}}', "unknown fields"),
])
def test_a_broken_local_models_setting_says_what_is_wrong(value, message):
    with pytest.raises(ValueError, match=message):
        load_registry(value)


def test_a_folder_with_a_pipeline_is_a_model_with_its_own_defaults(tmp_path):
    folder = tmp_path / "my-svd"
    folder.mkdir()
    (folder / "model_index.json").write_text(json.dumps({"_class_name": "StableVideoDiffusionPipeline"}))
    (folder / "reelbot.json").write_text(json.dumps({"width": 64, "height": 64, "steps": 2}))
    spec = resolve(str(folder), BUILTIN)
    assert spec.source == str(folder) and spec.pipeline == "StableVideoDiffusionPipeline"
    assert (spec.width, spec.height, spec.steps, spec.frames) == (64, 64, 2, 25)
    assert spec.variant is None


def test_unknown_models_and_foreign_pipelines_are_refused_with_the_known_names(tmp_path):
    with pytest.raises(InvalidInput, match="no model called 'sora'") as err:
        resolve("sora", BUILTIN)
    assert "svd-xt" in err.value.hint
    (tmp_path / "model_index.json").write_text(json.dumps({"_class_name": "StableDiffusionPipeline"}))
    with pytest.raises(ModelUnavailable, match="cannot drive"):
        resolve(str(tmp_path), BUILTIN)


def test_the_out_of_memory_ladder_walks_the_steps_users_take_by_hand():
    spec = BUILTIN["svd-xt"]
    plan, changes = MemoryPlan(frames=25, decode_chunk_size=8), []
    while (step := plan.next(spec, allow_fewer_frames=True)) is not None:
        plan, change = step
        changes.append((str(change), isinstance(change, Text)))
    assert changes == [  # what the user notices is told them (a Text); smaller decode chunks are the operator's
        ("decode_chunk_size lowered to 4", False), ("decode_chunk_size lowered to 2", False),
        ("decode_chunk_size lowered to 1", False),
        ("it was made more slowly, with part of the model kept in main memory", True),
        ("the video has 15 frames instead of 25", True),
    ]
    strict = MemoryPlan(frames=25, decode_chunk_size=None, offload=True)
    assert strict.next(spec, allow_fewer_frames=False) is None


def zeroscope_folder(path: Path, reelbot: dict | None = None) -> Path:
    path.mkdir(parents=True, exist_ok=True)
    (path / "model_index.json").write_text(json.dumps({"_class_name": "TextToVideoSDPipeline"}))
    if reelbot is not None:
        (path / "reelbot.json").write_text(json.dumps(reelbot))
    return path


@pytest.mark.parametrize(("own", "named"), [
    ({"source": "someone/else"}, "source"),
    ({"width": 64, "options": {"motion_adapter": "someone/adapter"}}, "options.motion_adapter"),
    ({"pipeline": "StableDiffusionPipeline"}, "pipeline"),
    ({"name": "svd-xt"}, "name"),
    ({"variant": "../../elsewhere"}, "variant"),
])
def test_a_folders_reelbot_json_cannot_send_the_job_to_other_weights(tmp_path, own, named):
    folder = zeroscope_folder(tmp_path / "m", own)
    with pytest.raises(ModelUnavailable, match=f"reelbot.json that sets {named};") as err:
        resolve(str(folder), BUILTIN)
    assert "loads its own weights" in err.value.message and "LOCAL_MODELS" in err.value.hint


def test_a_registry_entry_stays_what_the_admin_configured_whatever_its_folder_says(tmp_path):
    folder = zeroscope_folder(tmp_path / "house", {"source": "someone/else", "width": 1024})
    registry = load_registry(json.dumps({"house": {"pipeline": "TextToVideoSDPipeline", "source": str(folder),
                                                   "kinds": ["text-to-video"], "width": 64, "height": 64,
                                                   "frames": 8, "fps": 8, "steps": 2}}))
    spec = resolve("house", registry)
    assert (spec.source, spec.width) == (str(folder), 64)


@pytest.mark.parametrize(("index", "problem"), [
    ("{not json", "has a model_index.json that is not valid JSON (Expecting property name enclosed in double "
                  "quotes at line 1)"),
    ("[1, 2]", "has a model_index.json that is not a JSON object"),
    (None, "has no model_index.json, so it is not a diffusers pipeline folder"),
])
def test_a_broken_model_index_is_named_with_what_to_do(tmp_path, index, problem):
    folder = tmp_path / "broken"
    folder.mkdir()
    if index is not None:
        (folder / "model_index.json").write_text(index)
    with pytest.raises(ModelUnavailable) as err:
        resolve(str(folder), BUILTIN)
    assert err.value.message == f"The model folder {folder} {problem}."
    assert err.value.hint


def test_a_broken_reelbot_json_is_named_too(tmp_path):
    folder = zeroscope_folder(tmp_path / "m")
    (folder / "reelbot.json").write_text("{width: 64}")
    with pytest.raises(ModelUnavailable, match="has a reelbot.json that is not valid JSON"):
        resolve(str(folder), BUILTIN)
    (folder / "reelbot.json").write_text(json.dumps({"kinds": ["text-to-audio"]}))
    with pytest.raises(ModelUnavailable, match="has a reelbot.json that cannot be used: 'text-to-audio'"):
        resolve(str(folder), BUILTIN)

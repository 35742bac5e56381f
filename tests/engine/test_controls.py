"""--ar, --motion and --quality as the engine reads them, once for every front end: which values there are,
the size each model makes for a ratio, the motion bucket SVD is called with, the steps of each preset, and
the note a user reads when their model has no such knob."""

from __future__ import annotations

import inspect
from typing import Any

import pytest

from bot.i18n import words
from bot.render import describe_error
from engine.cloud.catalog import BUILTIN as CLOUD
from engine.cloud.catalog import job_values, load_catalog, pick, render_inputs
from engine.controls import ASPECTS, frame_size, motion_bucket, same_shape
from engine.errors import InvalidInput
from engine.local.pipelines import MemoryPlan, pipeline_inputs
from engine.local.registry import BUILTIN, load_registry
from engine.types import JobKind, JobSpec, Options, Origin, SubmitRequest, UserRef
from engine.validation import InputLimits, validate
from engine.words import Text

T2V, I2V = JobKind.TEXT_TO_VIDEO, JobKind.IMAGE_TO_VIDEO


def checked(**options: Any) -> Options:
    request = SubmitRequest(UserRef("telegram", "42", "Ann"), "a cat", Origin("telegram", "7"), Options(**options))
    return validate(request, InputLimits())[2]


def refusal(**options: Any) -> InvalidInput:
    with pytest.raises(InvalidInput) as caught:
        checked(**options)
    return caught.value


# --- the values ----------------------------------------------------------------------------------------------


@pytest.mark.parametrize("typed", ["16:9", "16x9", "16/9", "16×9", " 16 : 9 ", "32:18"])
def test_an_aspect_ratio_may_be_written_the_ways_people_write_it(typed: str) -> None:
    assert checked(aspect=typed).aspect == "16:9"


def test_a_ratio_not_on_the_list_is_refused_naming_it_and_the_choices_in_both_languages() -> None:
    error = refusal(aspect="4:3")
    assert error.field == "aspect"
    assert error.message == "'4:3' is not an aspect ratio I can make; use one of: 16:9, 9:16, 1:1, 4:5, 21:9."
    korean = describe_error(words("ko"), error)
    assert "'4:3'" in korean and "16:9, 9:16, 1:1, 4:5, 21:9" in korean and "비율" in korean


def test_quality_and_motion_take_their_words_and_scale() -> None:
    assert checked(quality="FAST").quality == "fast"
    assert checked(quality="최고").quality == "best"  # a Korean user's word for it
    error = refusal(quality="ultra")
    assert error.message == "'ultra' is not a quality; use one of: fast, normal, best."
    assert checked(motion=10).motion == 10
    error = refusal(motion=11)
    assert error.field == "motion" and "1 (almost still) to 10" in error.message and "11" in error.message
    assert "움직임" in describe_error(words("ko"), error)


def test_a_ratio_and_an_exact_size_together_are_refused() -> None:
    error = refusal(aspect="1:1", width=512, height=512)
    assert "not both" in error.message


# --- sizes per model ----------------------------------------------------------------------------------------


@pytest.mark.parametrize("aspect", list(ASPECTS))
@pytest.mark.parametrize("name", sorted(BUILTIN))
def test_every_local_model_makes_each_ratio_on_its_own_grid_at_about_its_own_area(name: str, aspect: str) -> None:
    spec = BUILTIN[name]
    width, height = spec.frame(Options(aspect=aspect))
    assert width % spec.size_multiple == 0 and height % spec.size_multiple == 0
    assert 0.85 <= width * height / (spec.width * spec.height) <= 1.15
    assert same_shape(width, height, aspect, tolerance=0.08)


def test_the_usual_shapes_keep_the_sizes_the_models_were_trained_at() -> None:
    svd = BUILTIN["svd-xt"]
    assert svd.frame(Options()) == (1024, 576) == svd.frame(Options(aspect="16:9"))
    assert svd.frame(Options(aspect="9:16")) == (576, 1024) == svd.frame(Options(portrait=True))
    assert BUILTIN["zeroscope"].frame(Options(aspect="9:16")) == (320, 576)
    assert BUILTIN["svd-xt"].frame(Options(aspect="1:1")) == (768, 768)
    assert BUILTIN["ltx-video"].frame(Options(aspect="21:9")) == frame_size(704, 480, "21:9", 32)


# --- motion ----------------------------------------------------------------------------------------------


def test_the_motion_scale_covers_svds_buckets_with_5_at_its_default() -> None:
    buckets = [motion_bucket(m) for m in range(1, 11)]
    assert buckets[0] == 1 and buckets[4] == 127 and buckets[-1] == 255
    assert buckets == sorted(set(buckets))  # every step moves more


def _call(model: str, **options: Any) -> tuple[dict[str, Any], list[Text | str]]:
    import diffusers

    spec = BUILTIN[model]
    parameters = inspect.signature(getattr(diffusers, spec.pipeline).__call__).parameters
    job = JobSpec("j", next(iter(spec.kinds)), "a cat", Options(**options), None, 7)
    notes: list[Text | str] = []
    return pipeline_inputs(parameters, spec, job, MemoryPlan(spec.frames, 8), notes.append), notes


def test_svd_is_called_with_the_motion_bucket_of_the_users_motion() -> None:
    assert _call("svd-xt")[0]["motion_bucket_id"] == 127
    kwargs, notes = _call("svd-xt", motion=8)
    assert kwargs["motion_bucket_id"] == 204 and notes == []
    assert _call("svd", motion=1)[0]["motion_bucket_id"] == 1


def test_a_model_without_a_motion_knob_says_the_setting_was_not_used() -> None:
    kwargs, notes = _call("zeroscope", motion=9)
    assert "motion_bucket_id" not in kwargs
    assert [str(n) for n in notes] == ["--motion was not used: zeroscope has no such setting"]
    assert "--motion" in words("ko").text(notes[0])


# --- steps presets -----------------------------------------------------------------------------------------


@pytest.mark.parametrize(("model", "presets"), [("svd-xt", (12, 25, 40)), ("zeroscope", (20, 40, 60))])
def test_quality_picks_each_models_steps_and_steps_still_win(model: str, presets: tuple[int, int, int]) -> None:
    made = tuple(_call(model, quality=q)[0]["num_inference_steps"] for q in ("fast", "normal", "best"))
    assert made == presets
    assert _call(model, quality="fast", steps=33)[0]["num_inference_steps"] == 33
    assert _call(model)[0]["num_inference_steps"] == BUILTIN[model].steps


def test_an_admins_model_without_presets_gets_half_and_one_and_a_half_times_its_steps() -> None:
    registry = load_registry('{"mine": {"pipeline": "TextToVideoSDPipeline", "source": "me/mine", '
                             '"kinds": ["text-to-video"], "width": 512, "height": 288, "frames": 16, "fps": 8, '
                             '"steps": 30}, "svd": {"step_presets": [5, 10, 20]}}')
    mine = registry["mine"]
    assert [mine.steps_for(Options(quality=q)) for q in ("fast", "normal", "best")] == [15, 30, 45]
    assert registry["svd"].steps_for(Options(quality="best")) == 20
    with pytest.raises(ValueError, match="three whole numbers"):
        load_registry('{"svd": {"step_presets": [1, 2]}}')


def test_quality_runs_in_the_size_and_steps_a_sized_call_gets() -> None:
    kwargs, _ = _call("svd-xt", aspect="9:16", quality="fast", motion=3)
    assert (kwargs["width"], kwargs["height"], kwargs["num_inference_steps"], kwargs["motion_bucket_id"]) == (
        576, 1024, 12, 64)


# --- cloud models ---------------------------------------------------------------------------------------------


def _cloud(provider: str, kind: JobKind, name: str | None = None, **options: Any) -> tuple[dict[str, Any], list[str]]:
    entry = pick(CLOUD[provider], kind, name)
    assert entry is not None
    notes: list[Text] = []
    values = job_values(JobSpec("j", kind, "a fox", Options(**options), None, 99), entry, notes)
    return {"values": values, "inputs": render_inputs(entry.inputs, values)}, [str(n) for n in notes]


def test_a_cloud_model_gets_its_nearest_ratio_and_the_user_is_told_when_it_differs() -> None:
    got, notes = _cloud("stability", I2V, aspect="4:5")
    assert (got["values"]["width"], got["values"]["height"]) == (768, 768)
    assert notes == ["aspect ratio 4:5 → 768x768: the nearest svd-xt (v2beta/image-to-video) makes"]
    got, notes = _cloud("veo", T2V, aspect="9:16")
    assert got["values"]["aspect_ratio"] == "9:16" and notes == []


def test_a_cloud_svd_is_sent_the_motion_bucket_and_others_say_motion_was_not_used() -> None:
    for provider in ("replicate", "fal", "stability"):
        got, notes = _cloud(provider, I2V, "svd-xt", motion=8)
        assert got["inputs"]["motion_bucket_id"] == 204 and notes == [], provider
    assert _cloud("fal", I2V, "svd-xt")[0]["inputs"]["motion_bucket_id"] == 127
    _, notes = _cloud("runway", I2V, motion=8)
    assert notes == ["--motion was not used: gen4_turbo has no such setting"]


def test_cloud_quality_sends_steps_where_the_model_takes_them_and_says_so_where_not() -> None:
    got, notes = _cloud("replicate", T2V, "zeroscope", quality="fast")
    assert got["inputs"]["num_inference_steps"] == 20 and notes == []
    assert _cloud("fal", T2V, "ltx-video", quality="best")[0]["inputs"]["num_inference_steps"] == 50
    _, notes = _cloud("runway", I2V, quality="best")
    assert notes == ["--quality was not used: gen4_turbo has no such setting"]
    _, notes = _cloud("replicate", T2V, "minimax", aspect="1:1")
    assert notes == ["--ar was not used: minimax has no such setting"]


def test_admins_set_cloud_presets_and_bad_ones_are_refused() -> None:
    catalog = load_catalog('{"fal": [{"name": "ltx-video", "kind": "text-to-video", "step_presets": [8, 16, 24]}]}')
    assert pick(catalog["fal"], T2V, "ltx-video").step_presets == (8, 16, 24)
    with pytest.raises(ValueError, match="three whole numbers"):
        load_catalog('{"fal": [{"name": "ltx-video", "kind": "text-to-video", "step_presets": "fast"}]}')

"""Model mapping and prices: what a job asks for, in each provider's terms, and what admins can change."""

from __future__ import annotations

import pytest

from engine.cloud.catalog import BUILTIN, job_values, load_catalog, pick, render_inputs
from engine.types import JobKind, JobSpec, Options

T2V, I2V = JobKind.TEXT_TO_VIDEO, JobKind.IMAGE_TO_VIDEO


def _job(kind=T2V, **options) -> JobSpec:
    return JobSpec("j", kind, "a fox", Options(**options), None, 99)


def test_every_provider_has_a_default_for_each_kind_it_lists() -> None:
    for provider, entries in BUILTIN.items():
        kinds = {e.kind for e in entries}
        for kind in kinds:
            assert pick(entries, kind, None) is not None, provider
    assert {e.kind for e in BUILTIN["stability"]} == {I2V}  # no text-to-video: kept out of that chain


def test_model_names_are_shared_with_the_local_registry() -> None:
    replicate = BUILTIN["replicate"]
    assert pick(replicate, I2V, "svd-xt").model.startswith("stability-ai/stable-video-diffusion:")
    assert pick(replicate, T2V, "zeroscope").model.startswith("anotherjesse/zeroscope-v2-xl:")
    assert pick(replicate, T2V, "minimax").model == "minimax/video-01"
    assert pick(replicate, T2V, "animatediff") is None  # a local-only model: not offered here


def test_job_values_turn_portrait_and_durations_into_provider_terms() -> None:
    runway = pick(BUILTIN["runway"], I2V, None)
    values = job_values(_job(I2V, portrait=True, frames=49, fps=7), runway)
    assert (values["width"], values["height"]) == (720, 1280)
    assert values["aspect_ratio"] == "9:16" and values["duration"] == 5  # 7 s asked: 5 is nearest of 5/10
    assert job_values(_job(I2V, frames=240, fps=24), runway)["duration"] == 10


def test_templates_fill_what_the_job_has_and_drop_what_it_has_not() -> None:
    template = {"prompt": "{prompt}", "negative_prompt": "{negative_prompt}", "steps": "{steps}", "fixed": 3}
    assert render_inputs(template, job_values(_job(), pick(BUILTIN["fal"], T2V, None))) == {
        "prompt": "a fox", "fixed": 3}


def test_prices_give_the_estimate_users_see() -> None:
    runway = pick(BUILTIN["runway"], I2V, None)
    assert runway.cost(5) == pytest.approx(0.25)
    replicate_svd = pick(BUILTIN["replicate"], I2V, "svd-xt")
    assert replicate_svd.cost(4, run_seconds=100) == pytest.approx(0.14)  # billed hardware seconds


def test_admins_change_prices_and_add_models_without_code() -> None:
    catalog = load_catalog(
        '{"runway": [{"name": "gen4_turbo", "kind": "image-to-video", "usd_per_second": 0.08}],'
        ' "replicate": [{"name": "wan", "kind": "text-to-video", "model": "wan-video/wan-2.2-t2v-fast",'
        ' "inputs": {"prompt": "{prompt}"}, "usd_per_video": 0.05}]}'
    )
    assert pick(catalog["runway"], I2V, None).usd_per_second == 0.08
    assert pick(catalog["runway"], I2V, None).durations == (5, 10)  # unchanged fields kept
    assert pick(catalog["replicate"], T2V, None).name == "wan"  # the admin's entry is now the default
    assert pick(catalog["replicate"], T2V, "zeroscope") is not None


def test_models_read_english_unless_their_provider_says_more_and_admins_can_say_so() -> None:
    languages = {(provider, e.name, e.kind): e.prompt_languages for provider, entries in BUILTIN.items()
                 for e in entries}
    assert languages.pop(("replicate", "minimax", T2V)) == languages.pop(("replicate", "minimax", I2V)) == {
        "en", "zh"}
    assert set(languages.values()) == {frozenset({"en"})}  # Veo, Runway, LTX-Video, zeroscope, SVD
    catalog = load_catalog('{"replicate": [{"name": "zeroscope", "kind": "text-to-video",'
                           ' "prompt_languages": ["en", "KO"]}]}')
    assert pick(catalog["replicate"], T2V, "zeroscope").prompt_languages == {"en", "ko"}


@pytest.mark.parametrize(
    ("raw", "words"),
    [
        ('{"fal": [{"name": "ltx-video", "kind": "text-to-video", "prompt_languages": "ko"}]}',
         'prompt_languages must be a list of language codes, like ["en", "ko"]'),
        ("{not json", "CLOUD_MODELS is not valid JSON"),
        ('{"pika": []}', "unknown provider 'pika'"),
        ('{"fal": {"name": "x"}}', "must be a list"),
        ('{"fal": [{"name": "x"}]}', "needs at least a name and a kind"),
        ('{"fal": [{"name": "x", "kind": "video"}]}', "kind must be text-to-video or image-to-video"),
        ('{"fal": [{"name": "x", "kind": "text-to-video"}]}', "needs the provider's model id"),
        ('{"fal": [{"name": "x", "kind": "text-to-video", "model": "a/b", "price": 1}]}', "unknown fields"),
        ('{"fal": [{"name": "x", "kind": "text-to-video", "model": "a/b", "inputs": {"p": "{promt}"}}]}',
         "unknown placeholder {promt}"),
    ],
)
def test_bad_cloud_models_setting_says_what_is_wrong(raw: str, words: str) -> None:
    with pytest.raises(ValueError) as caught:
        load_catalog(raw)
    assert words in str(caught.value)


def test_a_bad_cloud_models_setting_stops_start_up_with_the_reason(tmp_path) -> None:
    import subprocess
    import sys

    env = {"PATH": "/usr/bin:/bin", "DATA_DIR": str(tmp_path), "CLOUD_MODELS": '{"fal": [{"name": "x"}]}'}
    done = subprocess.run([sys.executable, "-m", "reelbot.cli", "doctor"], env=env, capture_output=True,
                          text=True, cwd=tmp_path, timeout=60)
    assert done.returncode == 2
    assert "CLOUD_MODELS" in done.stderr and "needs at least a name and a kind" in done.stderr

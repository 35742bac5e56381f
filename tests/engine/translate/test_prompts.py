"""Korean prompts on a model that reads English, through the whole engine: a tiny zeroscope pipeline on a CPU
lane and a tiny translation model, both loaded by the real loading code from settings.

The pipeline's prompt encoder is watched (``encode_prompt``, which every call of the pipeline goes through),
so each story checks what the model really got: the translation, or the user's own words.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from bot.parse import parse_prompt
from engine.backends.diffusers import DiffusersBackend
from engine.events import Event, Started
from engine.lanes import GpuLane
from engine.local.pipelines import load_pipeline
from engine.local.registry import BUILTIN, resolve
from engine.local.tiny import make_tiny
from engine.translate.model import load_translation_model
from engine.translate.prompts import UNTRANSLATED, UNTRANSLATED_TOLD
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
KOREAN = "서핑하는 고양이"


@pytest.fixture(scope="module")
def zeroscope(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return make_tiny("zeroscope", tmp_path_factory.mktemp("tiny") / "zeroscope")


class Story:
    """An app with the tiny zeroscope warm on its CPU lane, what its prompt encoder got, and the events."""

    def __init__(self, app: Any, folder: Path) -> None:
        self.app = app
        self.folder = folder
        self.prompts: list[tuple[str, str | None]] = []  # (prompt, negative prompt), as the pipeline got them
        self.events: list[Event] = []
        spec = resolve(str(folder), BUILTIN)
        pipe = load_pipeline(spec, "cpu", token=None, cache_dir=None, offline=True)
        encode = pipe.encode_prompt

        def watched(prompt: str, device: Any, count: int, guidance: bool, negative: str | None = None,
                    **kwargs: Any) -> Any:
            self.prompts.append((prompt, negative))
            return encode(prompt, device, count, guidance, negative, **kwargs)

        pipe.encode_prompt = watched
        app.lanes[0].put_warm(spec.name, pipe)  # the lane's model: no job has run yet

        async def record(event: Event) -> None:
            self.events.append(event)

        app.service.subscribe(record)

    async def make(self, text: str) -> JobView:
        """``text`` as a user types it (flags and all), made at 64x64 in 2 steps."""
        parsed = parse_prompt(text, base=Options(model=str(self.folder), width=64, height=64, steps=2,
                                                 frames=4, fps=6, seed=7))
        request = SubmitRequest(UserRef(OPERATOR_PLATFORM, "u1"), parsed.prompt, Origin(OPERATOR_PLATFORM),
                                parsed.options)
        done = await self.app.service.wait((await self.app.service.submit(request)).id)
        await self.app.service.events.drain()
        assert done.state is JobState.SUCCEEDED, done.error_message
        return done

    def started(self) -> list[Started]:
        return [event for event in self.events if isinstance(event, Started)]


@pytest.fixture
def story(app_factory, zeroscope, tiny_marian) -> Any:
    async def open_story(**settings: Any) -> Story:
        backend = DiffusersBackend(BUILTIN, default_models={T2V: "zeroscope", I2V: "svd-xt"})
        app = await app_factory(
            backends={"local": backend}, lanes=[GpuLane(0, device="cpu")],
            settings={"chain_text_to_video": ["local"], "prompt_translation": "auto",
                      "prompt_translation_model": str(tiny_marian), **settings})
        return Story(app, zeroscope)

    return open_story


async def test_a_korean_prompt_reaches_an_english_model_translated_and_the_job_says_what_it_got(
        story, tiny_marian):
    s = await story()
    done = await s.make(f'{KOREAN} --neg "흐릿한 화면"')
    translator = load_translation_model(str(tiny_marian))  # a model of its own: the same weights, the same text
    english, negative = translator.translate(KOREAN, "ko"), translator.translate("흐릿한 화면", "ko")
    assert english and english != KOREAN
    assert s.prompts == [(english, negative)]
    assert (done.prompt, done.prompt_used) == (KOREAN, english)
    assert [(e.prompt_used, e.translation_failed) for e in s.started()] == [(english, False)]
    assert not any(UNTRANSLATED in str(note) for note in done.attempts[0].notes)


async def test_raw_sends_the_korean_as_typed(story):
    s = await story()
    done = await s.make(f"{KOREAN} --raw")
    assert s.prompts == [(KOREAN, None)]
    assert done.prompt_used is None and s.started()[0].prompt_used is None
    assert not s.app.translator.loaded  # nothing asked for it


async def test_an_english_prompt_with_a_korean_name_is_not_translated(story):
    s = await story()
    done = await s.make("a cat named 나비 surfing")
    assert s.prompts == [("a cat named 나비 surfing", None)] and done.prompt_used is None
    assert not s.app.translator.loaded


async def test_without_a_translation_model_the_job_still_runs_and_the_user_is_told(story, tmp_path):
    s = await story(prompt_translation_model=str(tmp_path / "not-downloaded"))
    done = await s.make(KOREAN)
    assert s.prompts == [(KOREAN, None)] and done.prompt_used is None
    assert [e.translation_failed for e in s.started()] == [True]
    notes = done.attempts[0].notes
    assert UNTRANSLATED_TOLD in notes  # the user's, worded in their language by the front end
    operator = [note for note in notes if isinstance(note, str) and note.startswith(UNTRANSLATED)]
    assert operator == [f"{UNTRANSLATED}The translation model {tmp_path / 'not-downloaded'} could not be loaded: "
                    "the folder does not exist."]


async def test_prompt_translation_off_sends_every_prompt_as_written(story):
    s = await story(prompt_translation="off")
    done = await s.make(KOREAN)
    assert s.app.translator is None
    assert s.prompts == [(KOREAN, None)] and done.prompt_used is None
    assert [e.translation_failed for e in s.started()] == [False]

"""Running a community through the engine: blocked words, the Delete button, and what admins hear when a
model cannot be loaded. Each as the story an admin, a user or a stranger lives."""

from __future__ import annotations

import asyncio
from typing import Any

import pytest

from engine.backends.simulated import SimulatedBackend
from engine.blocklist import first_blocked, normalize, parse_words
from engine.errors import InvalidInput, ModelUnavailable, NotAllowed
from engine.events import Ended, Event, ModelAlert
from engine.types import JobState, Options, Origin, SubmitRequest, UserRef
from engine.words import N_

ADMIN = UserRef("discord", "1001", "ada")
ANN, EVE = UserRef("discord", "2002", "ann"), UserRef("telegram", "3003", "eve")
ADMINS = {"discord_admin_ids": "1001"}


def req(user: UserRef, prompt: str = "a heron", negative: str | None = None) -> SubmitRequest:
    return SubmitRequest(user, prompt, Origin(user.platform, "chan"), Options(frames=4, negative_prompt=negative))


# --- the blocklist ----------------------------------------------------------------------------------------


def test_the_cheap_ways_round_a_blocked_word_do_not_get_through() -> None:
    words = parse_words("gore, 고양이, blood bath")
    assert words == ["gore", "고양이", "blood bath"]
    assert first_blocked(["A GORE scene"], words) == "gore"
    assert first_blocked(["ｇｏｒｅ everywhere"], words) == "gore"  # full-width letters
    assert first_blocked(["g\u200bore"], words) == "gore"  # a zero-width space inside
    assert first_blocked(["blood   bath at dawn"], words) == "blood bath"  # spaces in a run
    assert first_blocked(["고양이가 서핑해요"], words) == "고양이"  # a Korean particle glued on
    # A Latin word is a whole word: these prompts are fine.
    assert first_blocked(["a gorey novel cover", "ogre king"], words) is None
    assert normalize("  Ｃａｔ\u200d  ") == "cat"


def test_an_admin_types_nothing_or_a_novel_and_is_told_what_is_wrong() -> None:
    with pytest.raises(InvalidInput, match="at least one word"):
        parse_words(" , ,")
    with pytest.raises(InvalidInput, match="too long"):
        parse_words("x" * 101)


async def test_an_admin_blocks_a_word_and_the_next_prompt_holding_it_is_refused_without_a_charge(
        app_factory) -> None:
    app = await app_factory(settings={**ADMINS, "blocked_words": "gore"})
    service = app.service
    added = await service.block(ADMIN, "Nude, 고양이, gore")
    assert added == ["nude", "고양이"]  # gore is the setting's already
    listed = await service.blocked_words(ADMIN)
    assert (listed.configured, listed.added) == (("gore",), ("nude", "고양이"))

    for prompt, negative in (("a NUDE statue", None), ("고양이가 서핑해요", None), ("a heron", "gore")):
        with pytest.raises(InvalidInput) as refused:
            await service.submit(req(ANN, prompt, negative))
        assert refused.value.reason == "blocked_word"
        assert "which this bot does not allow" in str(refused.value)
    assert (await service.usage(ANN)).jobs_today == 0 and await service.history(ANN) == await service.history(EVE)
    assert (await service.history(ANN)).total == 0  # nothing stored, nothing charged

    # Taken off the list, the word is fine again; the setting's word can only go through the setting.
    assert await service.unblock(ADMIN, "nude, never-blocked") == ["nude"]
    assert (await service.submit(req(ANN, "a nude statue"))).state is JobState.QUEUED
    with pytest.raises(NotAllowed, match="BLOCKED_WORDS setting") as kept:
        await service.unblock(ADMIN, "gore")
    assert "restart reelbot" in str(kept.value.hint_text)


async def test_a_user_cannot_see_or_change_the_blocklist(app_factory) -> None:
    app = await app_factory(settings=ADMINS)
    for attempt in (app.service.block(EVE, "anything"), app.service.unblock(EVE, "x"),
                    app.service.blocked_words(EVE)):
        with pytest.raises(NotAllowed, match="Only the bot's admins"):
            await attempt
    assert (await app.service.blocked_words(ADMIN)).all == ()


# --- Delete -----------------------------------------------------------------------------------------------


async def test_the_owner_deletes_a_result_and_its_files_go_while_the_books_stay(app_factory) -> None:
    app = await app_factory(settings={**ADMINS, "simulated_seconds": 0.02})
    service = app.service
    done = await service.wait((await service.submit(req(ANN))).id)
    assert done.result_path is not None and done.result_path.exists()
    video = done.result_path

    with pytest.raises(NotAllowed, match="only they or an admin can delete it"):
        await service.delete(EVE, done.id)
    assert video.exists()

    gone = await service.delete(ANN, done.id)
    assert gone.deleted and gone.result_path is None and not video.exists()
    assert gone.state is JobState.SUCCEEDED and gone.charged_usd == done.charged_usd
    assert (await service.history(ANN)).items[0].deleted  # still in the history, marked deleted


async def test_an_admin_deletes_anyones_result_but_not_a_job_still_running(app_factory) -> None:
    app = await app_factory(settings={**ADMINS, "simulated_seconds": 30},
                            backends={"local": SimulatedBackend("local", seconds=30, steps=300)}, gpus=1)
    running = await app.service.submit(req(ANN))
    with pytest.raises(NotAllowed, match="not finished yet; cancel it first"):
        await app.service.delete(ADMIN, running.id)
    await app.service.cancel(ADMIN, running.id)
    assert (await app.service.delete(ADMIN, running.id)).deleted


# --- a model that cannot be loaded ------------------------------------------------------------------------


async def test_a_gated_model_tells_the_admins_once_and_the_user_only_that_they_know(app_factory) -> None:
    def gated(_count: int, _job: Any) -> BaseException:
        return ModelUnavailable(N_("The model {model} is gated on Hugging Face.", model="svd-xt"), backend="local",
                                hint=N_("Accept its licence, then set HF_TOKEN in .env."))

    local = SimulatedBackend("local", seconds=0.01, steps=2, failure=gated, default_models={})
    app = await app_factory(settings=ADMINS, backends={"local": local}, gpus=1)
    alerts: list[ModelAlert] = []
    ended: list[str] = []
    heard_both = asyncio.Event()

    async def hear(event: Event) -> None:  # events reach a subscriber in the order they happened
        if isinstance(event, ModelAlert):
            alerts.append(event)
        if isinstance(event, Ended):
            ended.append(event.job_id)
            if len(ended) == 2:
                heard_both.set()

    app.service.subscribe(hear)
    first = await app.service.wait((await app.service.submit(req(ANN))).id)
    second = await app.service.wait((await app.service.submit(req(ANN, "a crane"))).id)
    for job in (first, second):
        assert job.state is JobState.FAILED and job.charged_usd == 0
        said = str(job.error_text)
        assert "cannot be used on this bot right now; its admins have been told why" in said
        assert "gated" not in said and "HF_TOKEN" not in said  # the technical reason is the admins'
    await asyncio.wait_for(heard_both.wait(), 30)
    assert len(alerts) == 1  # once, not once per job
    assert "gated" in str(alerts[0].message) and "HF_TOKEN" in str(alerts[0].message)
    assert alerts[0].backend == "local"

"""The controls users know, in the web console's form: shape, motion, quality and what to leave out go through
the same options as the chats' flags, a bad value is named with the choices, and the page lists the models
that can run now with their speed and price."""

from __future__ import annotations

import httpx

from engine.types import JobState, UserRef
from tests.bot.web.conftest import Web, csrf_of

ALICE = UserRef("discord", "222222222222222222", "alice")


async def make(client: httpx.AsyncClient, csrf: str, **fields: str) -> httpx.Response:
    return await client.post("/make", data=fields, headers={"Accept": "application/json", "X-CSRF-Token": csrf})


async def test_the_forms_controls_reach_the_job(web: Web) -> None:
    alice = web.person(ALICE)
    csrf = await csrf_of(alice)
    answer = await make(alice, csrf, prompt="a cat surfing", frames="4", aspect="9:16", motion="8", quality="fast",
                        negative="blurry")
    assert answer.status_code == 200, answer.text
    job_id = answer.json()["job"]
    await web.wait(job_id)
    view = await web.app.service.get(job_id)
    assert view.state is JobState.SUCCEEDED
    assert (view.options.aspect, view.options.motion, view.options.quality, view.options.negative_prompt) == (
        "9:16", 8, "fast", "blurry")


async def test_a_bad_ratio_or_motion_is_named_with_the_choices(web: Web) -> None:
    alice = web.person(ALICE)
    csrf = await csrf_of(alice)
    answer = await make(alice, csrf, prompt="x", aspect="3:2")
    assert answer.status_code == 400
    assert answer.json()["error"].startswith("'3:2' is not an aspect ratio I can make; use one of: 16:9, 9:16, 1:1,")
    answer = await make(alice, csrf, prompt="x", motion="11")
    assert answer.status_code == 400 and "1 (almost still) to 10" in answer.json()["error"]
    assert (await web.app.service.history(ALICE)).total == 0


async def test_the_make_page_lists_the_models_you_can_use_now(web: Web) -> None:
    alice = web.person(ALICE)
    page = await alice.get("/")
    assert page.status_code == 200
    assert 'id="models"' in page.text and "Models you can use now" in page.text
    assert "zeroscope — " in page.text and " · free</li>" in page.text
    assert '<option value="21:9"' in page.text and '<option value="best"' in page.text

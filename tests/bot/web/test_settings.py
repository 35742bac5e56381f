"""The settings page: a signed-in person sets their defaults (the same ones as /settings in chat), sees them
back with whether each is theirs or the default, is told plainly when a value is refused, and resets them."""

from __future__ import annotations

from engine.types import UserRef
from tests.bot.web.conftest import Web, csrf_of
from tests.bot.web.test_make import make

ALICE = UserRef("discord", "222222222222222222", "alice")
FORM = {"language": "auto", "model": "default", "frames": "", "fps": "", "delivery": "public"}


async def test_the_settings_page_sets_and_shows_the_defaults_that_every_job_then_gets(web: Web) -> None:
    alice = web.person(ALICE)
    csrf = await csrf_of(alice)
    page = await alice.get("/settings")
    assert page.status_code == 200
    assert "<li>frames: the model&#39;s default (default)</li>" in page.text
    assert "<li>delivery: public, in the chat where you asked (default)</li>" in page.text

    saved = await alice.post("/settings", data={**FORM, "csrf": csrf, "frames": "14", "model": "zeroscope",
                                                "delivery": "private"})
    assert saved.status_code == 200 and "Saved." in saved.text
    assert "<li>frames: 14 (your choice)</li>" in saved.text and "<li>model: zeroscope (your choice)</li>" in saved.text
    assert "<li>delivery: private, sent to you alone (your choice)</li>" in saved.text
    assert 'value="14"' in saved.text and '<option value="private" selected>' in saved.text
    shown = await web.app.service.settings_of(ALICE)  # the same settings Discord reads for this person
    assert shown.get("frames").value == 14 and shown.delivery == "private"

    answer = await make(alice, csrf, prompt="a cat surfing")  # no frames given: the default applies
    job_id = answer.json()["job"]
    await web.wait(job_id)
    assert (await web.app.service.get(job_id)).options.frames == 14

    # The shape and the motion, as --ar and --motion would set them (a job's own flags still win).
    shaped = await alice.post("/settings", data={**FORM, "csrf": csrf, "frames": "14", "aspect": "9:16", "motion": "8"})
    assert "<li>aspect ratio: 9:16 (your choice)</li>" in shaped.text and "<li>motion: 8 (your choice)</li>" in shaped.text
    assert '<option value="9:16" selected>' in shaped.text
    tall = (await make(alice, csrf, prompt="a cat surfing")).json()["job"]
    await web.wait(tall)
    assert ((made := await web.app.service.get(tall)).options.aspect, made.options.motion) == ("9:16", 8)
    wide = (await make(alice, csrf, prompt="a cat surfing", aspect="16:9")).json()["job"]
    await web.wait(wide)
    assert (await web.app.service.get(wide)).options.aspect == "16:9"

    refused = await alice.post("/settings", data={**FORM, "csrf": csrf, "frames": "500"})
    assert refused.status_code == 400
    assert ("frames must be between 1 and 129; you asked for 500. Choose another value, or default to let each "
            "model choose.") in refused.text

    reset = await alice.post("/settings", data={**FORM, "csrf": csrf, "action": "reset"})
    assert "All your settings are back to their defaults." in reset.text
    assert "<li>frames: the model&#39;s default (default)</li>" in reset.text


async def test_the_settings_page_speaks_korean_to_a_korean_browser(web: Web) -> None:
    alice = web.person(ALICE, headers={"Accept-Language": "ko-KR,ko;q=0.9"})
    csrf = await csrf_of(alice)
    saved = await alice.post("/settings", data={**FORM, "csrf": csrf, "fps": "8"})
    assert "저장했어요." in saved.text
    assert "<li>fps: 8 (직접 고름)</li>" in saved.text
    assert "<li>전달 방식: 공개, 요청한 채팅방에 올려요 (기본값)</li>" in saved.text

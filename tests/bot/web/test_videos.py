"""My videos: the signed-in person's history from every front end, newest first, a page at a time; and the
console in the reader's language."""

from __future__ import annotations

from engine.types import Options, Origin, SubmitRequest, UserRef
from tests.bot.web.conftest import Web, csrf_of
from tests.bot.web.test_make import make

ALICE = UserRef("discord", "222222222222222222", "alice")
BOB = UserRef("discord", "555555555555555555", "bob")


async def test_my_videos_lists_my_jobs_from_every_front_end_newest_first_in_pages(web: Web) -> None:
    service = web.app.service
    ids = []
    for n in range(23):  # made in Discord: the same person's history on the web
        view = await service.submit(SubmitRequest(ALICE, f"clip number {n}", Origin("discord", "1"),
                                                  Options(frames=8)))
        ids.append(view.id)
    for job_id in ids:
        await web.wait(job_id)
    await service.submit(SubmitRequest(BOB, "bob's secret", Origin("discord", "1"), Options(frames=8)))
    alice = web.person(ALICE)

    first = await alice.get("/videos")
    second = await alice.get("/videos?page=2")

    assert first.status_code == second.status_code == 200
    assert first.text.index("clip number 22") < first.text.index("clip number 3")
    assert "clip number 2<" not in first.text and "clip number 2<" in second.text
    assert "Page 1 of 2" in first.text and 'rel="next"' in first.text and 'rel="prev"' in second.text
    assert f'<img src="/videos/{ids[-1]}.jpg"' in first.text
    assert "bob" not in first.text + second.text
    assert (await alice.get(f"/videos/{ids[0]}.mp4")).status_code == 200


async def test_a_korean_browser_gets_the_console_in_korean_and_a_choice_sticks(web: Web) -> None:
    alice = web.person(ALICE, headers={"Accept-Language": "ko-KR,ko;q=0.9,en;q=0.8"})

    page = await alice.get("/")

    assert '<html lang="ko">' in page.text and "영상 만들기" in page.text
    csrf = await csrf_of(alice)
    chosen = await alice.post("/settings", data={"csrf": csrf, "language": "en"})
    assert chosen.status_code == 200 and '<html lang="en">' in chosen.text
    assert await web.app.service.language_of(ALICE) == "en"  # the same choice as /settings language in chat
    refused = await make(alice, csrf, prompt="x", frames="lots")
    assert refused.json()["error"] == "Frames must be a whole number, not 'lots'."

"""Extend from the web console's video page: the same engine, owner check and quota as in chat."""

from __future__ import annotations

import httpx

from engine.types import JobState, UserRef
from engine.video import probe
from tests.bot.web.conftest import Web, csrf_of

ALICE = UserRef("discord", "222222222222222222", "alice")
BOB = UserRef("discord", "333333333333333333", "bob")


async def make(client: httpx.AsyncClient, csrf: str, **fields: str) -> str:
    answer = await client.post("/make", data=fields, headers={"Accept": "application/json", "X-CSRF-Token": csrf})
    return answer.json()["job"]


async def test_extend_from_the_video_page_makes_it_longer_and_again(web: Web) -> None:
    alice = web.person(ALICE)
    csrf = await csrf_of(alice)
    first = await make(alice, csrf, prompt="a red kite", frames="8", fps="4", seed="9")
    await web.wait(first)
    page = await alice.get(f"/jobs/{first}")
    assert f'action="/jobs/{first}/extend"' in page.text and ">Extend</button>" in page.text

    extended = await alice.post(f"/jobs/{first}/extend", data={"csrf": csrf})
    assert extended.status_code == 303
    second = extended.headers["location"].rsplit("/", 1)[1]
    await web.wait(second)
    video = await alice.get(f"/videos/{second}.mp4")
    path = web.app.settings.results_dir / "downloaded.mp4"
    path.write_bytes(video.content)
    info = probe(path)
    assert (info.frames, info.fps) == (15, 4)

    again = await alice.post(f"/jobs/{second}/extend", data={"csrf": csrf})
    third = again.headers["location"].rsplit("/", 1)[1]
    await web.wait(third)
    done = await web.app.service.get(third)
    assert done.state is JobState.SUCCEEDED and probe(done.result_path).frames == 22


async def test_someone_elses_video_cannot_be_extended(web: Web) -> None:
    alice, bob = web.person(ALICE), web.person(BOB)
    first = await make(alice, await csrf_of(alice), prompt="a red kite", frames="4")
    await web.wait(first)
    refused = await bob.post(f"/jobs/{first}/extend", data={"csrf": await csrf_of(bob)})
    assert refused.status_code == 403
    assert "Only the person who asked for that video can extend it." in refused.text

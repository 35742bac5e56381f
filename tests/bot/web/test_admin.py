"""The admin's stories: the live status matches `reelbot status`, the check-up, users (ban, limits), jobs."""

from __future__ import annotations

import json
import re
from html import unescape

from bot.i18n import ENGLISH
from bot.render import status_text
from engine.types import JobState, UserRef
from tests.bot.web.conftest import ADMIN_DISCORD_ID, Web, csrf_of
from tests.bot.web.test_make import make

ALICE = UserRef("discord", "222222222222222222", "alice")
BOB = UserRef("telegram", "444444", "bob")
ADMIN = UserRef("discord", ADMIN_DISCORD_ID, "boss")


def text_of(html: str) -> str:
    """The page's words, as a person reads them (headings' colons aside)."""
    return " ".join(unescape(re.sub(r"<[^>]+>", " ", html)).replace(":", " ").split())


async def test_the_status_page_shows_what_reelbot_status_shows(web: Web) -> None:
    alice = web.person(ALICE)
    job_id = (await make(alice, await csrf_of(alice), prompt="for the books", frames="8")).json()["job"]
    await web.wait(job_id)
    admin = web.person(ADMIN)

    page = await admin.get("/admin")

    assert page.status_code == 200
    shown = text_of(page.text)
    report = await web.app.service.report()
    for line in status_text(ENGLISH, report).splitlines():
        if "busy with" not in line:  # a lane's busy time moves between the two reads
            assert " ".join(line.replace(":", " ").split()) in shown, line
    assert 'data-figure="queued">0<' in page.text and 'data-figure="running">0<' in page.text
    chart = await admin.get("/admin/chart.png")
    assert chart.status_code == 200 and chart.content[:8] == b"\x89PNG\r\n\x1a\n"


async def test_the_status_is_pushed_live(web: Web) -> None:
    admin = await web.operator()
    async with admin.stream("GET", "/admin/status/events") as stream:
        async for line in stream.aiter_lines():
            if line.startswith("data: "):
                html = json.loads(line[6:])["html"]
                break
    assert "Jobs: 0 queued, 0 running" in html and "gpu0" in html


async def test_the_check_up_page_lists_each_check_with_its_fix(web: Web) -> None:
    page = await (await web.operator()).get("/admin/doctor")

    assert page.status_code == 200
    assert "Python" in page.text and ("All good." in page.text or "problem" in page.text)
    assert page.text.count('<li class="') >= 5


async def test_an_admin_bans_a_user_and_their_next_video_is_refused(web: Web) -> None:
    admin, bob = web.person(ADMIN), web.person(BOB)
    first = await make(bob, await csrf_of(bob), prompt="before", frames="8")
    assert first.status_code == 200
    csrf = await csrf_of(admin, "/admin/users")

    banned = await admin.post("/admin/users/ban", data={"csrf": csrf, "user": BOB.key})

    assert banned.status_code == 303
    listing = await admin.get(banned.headers["location"])
    assert "telegram:444444 is banned: their next request is refused." in listing.text
    assert 'data-user="telegram:444444" class="banned"' in listing.text
    refused = await make(bob, await csrf_of(bob), prompt="after", frames="8")
    assert refused.status_code == 400
    assert refused.json()["error"] == "You are not allowed to make videos with this bot."
    await admin.post("/admin/users/unban", data={"csrf": csrf, "user": BOB.key})
    assert (await make(bob, await csrf_of(bob), prompt="again", frames="8")).status_code == 200


async def test_an_admin_cannot_be_banned_and_bad_keys_are_named(web: Web) -> None:
    admin = await web.operator()
    csrf = await csrf_of(admin, "/admin/users")

    self_ban = await admin.post("/admin/users/ban", data={"csrf": csrf, "user": ADMIN.key})
    nonsense = await admin.post("/admin/users/ban", data={"csrf": csrf, "user": "myspace:tom"})

    assert "is an admin of this bot and cannot be banned" in (await admin.get(self_ban.headers["location"])).text
    assert "myspace" in (await admin.get(nonsense.headers["location"])).text


async def test_per_user_limits_from_the_users_page(web: Web) -> None:
    admin, alice = web.person(ADMIN), web.person(ALICE)
    await make(alice, await csrf_of(alice), prompt="one", frames="8")
    csrf = await csrf_of(admin, "/admin/users")

    saved = await admin.post("/admin/users/limits", data={
        "csrf": csrf, "user": ALICE.key, "max_jobs_per_day": "1", "max_usd_per_month": "", "max_queued": "",
        "max_running": ""})

    assert "Limits of discord:222222222222222222 saved." in (await admin.get(saved.headers["location"])).text
    refused = await make(alice, await csrf_of(alice), prompt="two", frames="8")
    assert "the limit is 1 a day" in refused.json()["error"]
    bad = await admin.post("/admin/users/limits", data={"csrf": csrf, "user": ALICE.key, "max_jobs_per_day": "many"})
    assert "videos a day must be a number, not &#39;many&#39;." in (await admin.get(bad.headers["location"])).text


async def test_all_jobs_with_filters_and_the_reason_of_each_failure(tmp_path) -> None:
    from tests.bot.web.conftest import close_web, open_web

    web = await open_web(tmp_path, simulated_fail_every=2, max_interruptions=0, allowed_fails=100,
                         chain_text_to_video=["local"])
    try:
        alice, bob = web.person(ALICE), web.person(BOB)
        ids = []
        for who, prompt in ((alice, "alpha"), (bob, "bravo"), (alice, "charlie"), (bob, "delta")):
            ids.append((await make(who, await csrf_of(who), prompt=prompt, frames="8")).json()["job"])
            await web.wait(ids[-1])
        states = {i: (await web.app.service.get(i)).state for i in ids}
        assert JobState.FAILED in states.values() and JobState.SUCCEEDED in states.values()
        admin = await web.operator()

        every = await admin.get("/admin/jobs")
        failed = await admin.get("/admin/jobs?state=failed")
        bobs = await admin.get(f"/admin/jobs?user={BOB.key}&origin=web")

        assert all(f'data-job="{i}"' in every.text for i in ids)
        for job_id, state in states.items():
            assert (f'data-job="{job_id}"' in failed.text) == (state is JobState.FAILED)
        assert "simulated failure" in failed.text.lower() or "failed" in failed.text
        assert 'data-job="' + ids[1] + '"' in bobs.text and 'data-job="' + ids[0] + '"' not in bobs.text
        unknown = await admin.get("/admin/jobs?state=exploded", headers={"Accept": "text/html"})
        assert unknown.status_code == 400
    finally:
        await close_web(web)

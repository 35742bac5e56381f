"""Running the community from the web console: the blocklist on the users page, and Delete on a video's page
(its owner's or an admin's)."""

from __future__ import annotations

from engine.types import UserRef
from tests.bot.web.conftest import ADMIN_DISCORD_ID, Web, csrf_of
from tests.bot.web.test_make import make

ALICE = UserRef("discord", "222222222222222222", "alice")
EVE = UserRef("telegram", "666666", "eve")
ADMIN = UserRef("discord", ADMIN_DISCORD_ID, "boss")


async def test_an_admin_blocks_a_word_and_a_prompt_holding_it_is_refused_on_the_make_page(web: Web) -> None:
    admin, alice = web.person(ADMIN), web.person(ALICE)
    csrf = await csrf_of(admin)
    added = await admin.post("/admin/users/block", data={"csrf": csrf, "words": "Heron, 고양이"})
    assert added.status_code == 303
    page = await admin.get(added.headers["location"])
    assert "Blocked from now on: heron, 고양이." in page.text
    assert 'data-word="heron"' in page.text and 'data-word="고양이"' in page.text

    refused = await make(alice, await csrf_of(alice), prompt="a grey HERON", frames="8")
    assert refused.status_code == 400
    assert "Your prompt contains “heron”, which this bot does not allow." in refused.json()["error"]

    # Alice cannot take it off the list; the admin can.
    sneaky = await alice.post("/admin/users/unblock", data={"csrf": await csrf_of(alice), "words": "heron"})
    assert sneaky.status_code == 403
    assert (await web.app.service.blocked_words(ADMIN)).added == ("heron", "고양이")
    await admin.post("/admin/users/unblock", data={"csrf": csrf, "words": "heron"})
    assert (await make(alice, await csrf_of(alice), prompt="a grey heron", frames="8")).status_code == 200


async def test_the_owner_deletes_a_video_from_its_page_and_a_stranger_cannot(web: Web) -> None:
    alice, eve = web.person(ALICE), web.person(EVE)
    job_id = (await make(alice, await csrf_of(alice), prompt="my garden", frames="8")).json()["job"]
    await web.wait(job_id)
    done = await web.app.service.get(job_id)
    assert done.result_path is not None and done.result_path.exists()
    page = await alice.get(f"/jobs/{job_id}")
    assert f'action="/jobs/{job_id}/delete"' in page.text

    refused = await eve.post(f"/jobs/{job_id}/delete", data={"csrf": await csrf_of(eve)})
    assert refused.status_code == 403 and "only they or an admin can delete it" in refused.text
    assert done.result_path.exists()

    deleted = await alice.post(f"/jobs/{job_id}/delete", data={"csrf": await csrf_of(alice)})
    assert deleted.status_code == 303 and deleted.headers["location"] == "/videos"
    assert not done.result_path.exists()
    page = await alice.get(f"/jobs/{job_id}")
    assert "This video was deleted." in page.text and f'action="/jobs/{job_id}/delete"' not in page.text
    assert (await alice.get(f"/videos/{job_id}.mp4")).status_code == 404

"""Making a video in the browser: the same engine, quotas and books as chat; progress pushed, not polled."""

from __future__ import annotations

import asyncio
import io
import json

import httpx
from PIL import Image
from starlette.types import Message

from engine.events import Progress
from engine.types import JobState, UserRef
from tests.bot.web.conftest import Web, close_web, csrf_of, open_web

ALICE = UserRef("discord", "222222222222222222", "alice")


def picture(width: int = 320, height: int = 240) -> bytes:
    out = io.BytesIO()
    Image.new("RGB", (width, height), (200, 120, 40)).save(out, format="PNG")
    return out.getvalue()


async def make(client: httpx.AsyncClient, csrf: str, files: dict | None = None, **fields: str) -> httpx.Response:
    return await client.post("/make", data=fields, files=files or {},
                             headers={"Accept": "application/json", "X-CSRF-Token": csrf})


async def test_a_prompt_becomes_a_video_the_page_plays(web: Web) -> None:
    alice = web.person(ALICE)
    csrf = await csrf_of(alice)

    answer = await make(alice, csrf, prompt="a cat surfing", frames="8", seed="7")

    assert answer.status_code == 200, answer.text
    job_id = answer.json()["job"]
    await web.wait(job_id)
    view = await web.app.service.get(job_id)
    assert view.state is JobState.SUCCEEDED and view.seed == 7 and view.user.key == ALICE.key
    assert view.origin.platform == "web"
    page = await alice.get(f"/jobs/{job_id}")
    assert f'src="/videos/{job_id}.mp4"' in page.text and "a cat surfing" in page.text and "seed 7" in page.text
    video = await alice.get(f"/videos/{job_id}.mp4")
    assert video.status_code == 200 and video.headers["content-type"] == "video/mp4"
    assert video.content[4:8] == b"ftyp"
    poster = await alice.get(f"/videos/{job_id}.jpg")
    assert poster.status_code == 200 and poster.content[:2] == b"\xff\xd8"
    download = await alice.get(f"/videos/{job_id}.mp4?download=1")
    assert download.headers["content-disposition"].startswith("attachment")


async def test_a_picture_is_animated_after_the_engines_image_checks(web: Web) -> None:
    alice = web.person(ALICE)
    csrf = await csrf_of(alice)

    answer = await make(alice, csrf, files={"image": ("photo.png", picture(), "image/png")}, prompt="", frames="8")

    job_id = answer.json()["job"]
    await web.wait(job_id)
    view = await web.app.service.get(job_id)
    assert view.kind.value == "image-to-video" and view.state is JobState.SUCCEEDED


async def test_a_file_that_is_not_a_picture_is_refused_and_nothing_is_queued(web: Web) -> None:
    alice = web.person(ALICE)
    csrf = await csrf_of(alice)

    answer = await make(alice, csrf, files={"image": ("photo.png", b"MZ\x90\x00 not a picture", "image/png")},
                        prompt="x")

    assert answer.status_code == 400
    assert "picture" in answer.json()["error"].lower()
    history = await web.app.service.history(ALICE)
    assert history.total == 0


async def test_a_bad_number_is_named_and_the_form_keeps_what_was_typed(web: Web) -> None:
    alice = web.person(ALICE)
    csrf = await csrf_of(alice)

    answer = await alice.post("/make", data={"csrf": csrf, "prompt": "waves at night", "frames": "lots"},
                              headers={"Accept": "text/html"})

    assert answer.status_code == 400
    assert "Frames must be a whole number, not &#39;lots&#39;." in answer.text
    assert ">waves at night</textarea>" in answer.text


async def test_progress_is_pushed_until_the_end(tmp_path) -> None:
    web = await open_web(tmp_path, simulated_seconds=1.5, simulated_steps=6)
    try:
        alice = web.person(ALICE)
        csrf = await csrf_of(alice)
        job_id = (await make(alice, csrf, prompt="a slow river", frames="8")).json()["job"]

        updates = []
        async with alice.stream("GET", f"/jobs/{job_id}/events") as stream:
            assert stream.headers["content-type"].startswith("text/event-stream")
            async for line in stream.aiter_lines():
                if line.startswith("data: "):
                    updates.append(json.loads(line[6:]))
                    if updates[-1].get("ended"):
                        break
    finally:
        await close_web(web)

    assert updates[-1] == {"state": "succeeded", "ended": True}
    steps = [u["step"] for u in updates if "step" in u]
    assert len(set(steps)) >= 2 and steps == sorted(steps) and steps[-1] == 6  # the bar moved, to the end
    assert {u["total"] for u in updates if u.get("step")} == {6}
    assert any(u["state"] == "running" and u["line"].startswith("Running on local") for u in updates)


async def test_a_fast_models_steps_move_the_bar_a_few_times_a_second_from_the_first_to_the_last(tmp_path) -> None:
    web = await open_web(tmp_path, simulated_seconds=60, simulated_steps=2)  # its own steps: far apart
    try:
        alice = web.person(ALICE)
        job_id = (await make(alice, await csrf_of(alice), prompt="a hummingbird", frames="8")).json()["job"]
        events = web.app.service.events
        steps: list[int] = []
        async with alice.stream("GET", f"/jobs/{job_id}/events") as stream:
            lines = stream.aiter_lines()

            async def next_step() -> int:
                async with asyncio.timeout(10):  # paced: a deadline, not a measure
                    async for line in lines:
                        if line.startswith("data: ") and "step" in (update := json.loads(line[6:])) \
                                and update["step"]:
                            steps.append(update["step"])
                            return int(update["step"])
                raise AssertionError("the stream ended")

            # A distilled model: 60 steps in a moment, each an engine event.
            for step in range(1, 61):
                events.publish(Progress(job_id, "web", step, 100))
            assert await next_step() == 1  # the first at once
            assert await next_step() == 60  # the latest held back, once its time came; 2-59 superseded
            for step in range(61, 101):
                events.publish(Progress(job_id, "web", step, 100))
            while await next_step() < 100:  # the last at once
                pass
    finally:
        await close_web(web)

    assert steps == sorted(steps) and len(steps) <= 5, steps


async def test_a_browser_gone_before_its_progress_stream_began_is_not_followed_on(web: Web) -> None:
    alice = web.person(ALICE)
    job_id = (await make(alice, await csrf_of(alice), prompt="a slow river", frames="8")).json()["job"]
    cookie = alice.cookies["reelbot_session"]
    # The browser asks for the stream and is gone at once: uvicorn says so before the stream is read.
    said: list[Message] = [{"type": "http.request", "body": b"", "more_body": False}, {"type": "http.disconnect"}]

    async def receive() -> Message:
        return said.pop(0) if said else {"type": "http.disconnect"}

    async def send(message: Message) -> None:
        return None

    await web.frontend.server.app({
        "type": "http", "asgi": {"version": "3.0", "spec_version": "2.3"}, "http_version": "1.1", "method": "GET",
        "scheme": "http", "path": f"/jobs/{job_id}/events", "raw_path": f"/jobs/{job_id}/events".encode(),
        "query_string": b"", "root_path": "", "client": ("127.0.0.1", 50000), "server": ("127.0.0.1", 80),
        "headers": [(b"host", b"127.0.0.1"), (b"cookie", f"reelbot_session={cookie}".encode())],
    }, receive, send)

    assert web.frontend.console.live.following == 0


async def test_cancel_retry_and_same_seed_from_the_page(web: Web) -> None:
    alice = web.person(ALICE)
    csrf = await csrf_of(alice)
    first = (await make(alice, csrf, prompt="a red kite", frames="8", seed="42")).json()["job"]
    await web.wait(first)

    same = await alice.post(f"/jobs/{first}/same", data={"csrf": csrf})
    retry = await alice.post(f"/jobs/{first}/retry", data={"csrf": csrf})

    assert same.status_code == retry.status_code == 303
    same_id = same.headers["location"].rsplit("/", 1)[1]
    retry_id = retry.headers["location"].rsplit("/", 1)[1]
    same_view = await web.app.service.get(same_id)
    assert same_view.seed == 42 and same_view.prompt == "a red kite"
    assert (await web.app.service.get(retry_id)).prompt == "a red kite"
    cancel = await alice.post(f"/jobs/{retry_id}/cancel", data={"csrf": csrf})
    assert cancel.status_code == 303
    await web.wait(retry_id)
    assert (await web.app.service.get(retry_id)).state in (JobState.CANCELLED, JobState.SUCCEEDED)


async def test_the_web_user_has_the_quota_they_have_in_chat(web: Web, tmp_path) -> None:
    await web.app.service.set_limits(UserRef("web", "operator"), ALICE.key, max_jobs_per_day=1)
    alice = web.person(ALICE)
    csrf = await csrf_of(alice)
    first = await make(alice, csrf, prompt="one", frames="8")
    assert first.status_code == 200

    second = await make(alice, csrf, prompt="two", frames="8")

    assert second.status_code == 400
    assert "You have made 1 videos today; the limit is 1 a day." in second.json()["error"]


async def test_a_waiting_job_can_move_to_the_cloud_from_its_page(tmp_path) -> None:
    from engine.backends.simulated import SimulatedBackend

    local = SimulatedBackend("local", seconds=30, steps=30)
    cloud = SimulatedBackend("cloudsim", local=False, seconds=0.2, steps=2, usd_per_run=0.05)
    web = await open_web(tmp_path, backends={"local": local, "cloudsim": cloud},
                         chain_text_to_video="local,cloudsim", local_max_wait_s=3600)
    try:
        operator, alice = await web.operator(), web.person(ALICE)
        first = (await make(operator, await csrf_of(operator), prompt="first in line")).json()["job"]
        csrf = await csrf_of(alice)
        second = (await make(alice, csrf, prompt="second in line")).json()["job"]
        page = await alice.get(f"/jobs/{second}")
        assert "Run on cloud now (cloudsim ≈ $0.050)" in page.text

        moved = await alice.post(f"/jobs/{second}/cloud", data={"csrf": csrf})

        assert moved.status_code == 303
        await web.wait(second)
        view = await web.app.service.get(second)
        assert view.state is JobState.SUCCEEDED and view.backend == "cloudsim"
        assert (await web.app.service.get(first)).state is JobState.RUNNING
    finally:
        await close_web(web)

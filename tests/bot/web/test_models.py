"""The web console's make form: a model's first job shows its download then its load, and words sent with a
picture go to a model that reads them (or the page says they were not used), in English and in Korean."""

from __future__ import annotations

import json

import httpx
import pytest

from engine.types import UserRef
from tests.bot.conftest import MODEL_SAYS, from_the_hub
from tests.bot.web.conftest import close_web, csrf_of, open_web
from tests.bot.web.test_make import make, picture

ALICE = UserRef("discord", "222222222222222222", "alice")
SAYS = MODEL_SAYS
in_each_language = pytest.mark.parametrize("lang", list(SAYS))


async def updates_of(person: httpx.AsyncClient, job_id: str) -> list[dict]:
    said = []
    async with person.stream("GET", f"/jobs/{job_id}/events") as stream:
        async for line in stream.aiter_lines():
            if line.startswith("data: "):
                said.append(json.loads(line[6:]))
                if said[-1].get("ended"):
                    break
    return said


@in_each_language
async def test_the_first_picture_shows_the_model_download_then_the_load(tmp_path, svd_hub, lang) -> None:
    web = await open_web(tmp_path, gpus="cpu", **from_the_hub(tmp_path))
    try:
        alice = web.person(ALICE, headers={"Accept-Language": lang})
        answer = await make(alice, await csrf_of(alice), files={"image": ("photo.png", picture(), "image/png")},
                            prompt="")
        updates = await updates_of(alice, answer.json()["job"])
    finally:
        await close_web(web)
    assert updates[-1] == {"state": "succeeded", "ended": True}
    lines = [u.get("line") or "" for u in updates]
    download = next(i for i, line in enumerate(lines) if SAYS[lang]["downloading"] in line)
    load = next(i for i, line in enumerate(lines) if SAYS[lang]["loading"] in line)
    assert download < load and updates[download]["phase"] == "download" and "MB" in lines[download]


@in_each_language
async def test_words_with_a_picture_go_to_a_model_that_reads_them_unless_svd_xt_is_picked(tmp_path, lang) -> None:
    web = await open_web(tmp_path, simulated_seconds=0.6, simulated_steps=4)
    try:
        alice = web.person(ALICE, headers={"Accept-Language": lang})
        csrf = await csrf_of(alice)
        read = await make(alice, csrf, files={"image": ("photo.png", picture(), "image/png")}, prompt="waves")
        await web.wait(read.json()["job"])
        assert (await web.app.service.get(read.json()["job"])).model == "ltx-video"

        picked = await make(alice, csrf, files={"image": ("photo.png", picture(), "image/png")}, prompt="waves",
                            model="svd-xt")
        job_id = picked.json()["job"]
        updates = await updates_of(alice, job_id)
        page = await alice.get(f"/jobs/{job_id}")
    finally:
        await close_web(web)
    assert any(SAYS[lang]["unused"] in (u.get("line") or "") for u in updates)
    assert SAYS[lang]["unused"].split(":", 1)[1].strip()[:20] in page.text

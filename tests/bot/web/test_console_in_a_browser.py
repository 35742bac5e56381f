"""The console's stories in a real headless Chromium: a member makes a video from a picture and watches it,
the admin checks the bot and bans someone, a stranger gets nowhere. Each page is also written as a
screenshot (``.screenshots/``) for a person to look at."""

from __future__ import annotations

import asyncio
import io
from collections.abc import AsyncIterator
from pathlib import Path

import pytest
from PIL import Image

from bot.i18n import ENGLISH
from bot.render import status_text
from engine.types import UserRef
from tests.bot.web.conftest import Web, with_discord
from tests.browser import Browser
from tests.fakes.discord_api import FakeDiscord

MINJI = 888000111222333444


@pytest.fixture
async def world(tmp_path: Path) -> AsyncIterator[tuple[Web, FakeDiscord]]:
    async with with_discord(tmp_path, simulated_seconds=2.0, simulated_steps=8) as console:
        yield console


def a_photo(folder: Path) -> Path:
    path = folder / "우리 고양이 photo.png"  # a name with Hangul and a space, as people's files have
    image = Image.new("RGB", (640, 480), (30, 90, 160))
    for x in range(0, 640, 40):
        image.paste((240, 200, 60), (x, 200, x + 20, 280))
    buffer = io.BytesIO()
    image.save(buffer, format="PNG")
    path.write_bytes(buffer.getvalue())
    return path


async def sign_in_with_discord(browser: Browser, web: Web, discord: FakeDiscord, user_id: int, name: str) -> None:
    discord.sign_in_as(discord.user(user_id, name))
    await browser.aio.open(web.url + "/login")
    await browser.aio.screenshot(f"login-{browser.lang}")
    await browser.aio.click("a.button.discord")
    await browser.aio.wait_for(lambda d: d.current_url.rstrip("/") == web.url, 10, "not back on the make page")


async def test_a_member_animates_a_photo_watches_it_and_finds_it_in_my_videos(
        browser_ko: Browser, world: tuple[Web, FakeDiscord], tmp_path: Path) -> None:
    web, discord = world
    browser = browser_ko  # the first community speaks Korean
    await sign_in_with_discord(browser, web, discord, MINJI, "minji")
    assert "영상 만들기" in await browser.aio.text("h1")

    photo = a_photo(tmp_path)
    await asyncio.to_thread(lambda: browser.find("#image").send_keys(str(photo)))
    await browser.aio.wait_for(lambda d: browser.js("return !document.getElementById('image-preview').hidden"), 5,
                               "the chosen picture is not previewed")
    await browser.aio.fill("textarea[name=prompt]", "파도 위의 고양이")
    await browser.aio.screenshot("make-ko")
    await browser.aio.click("#generate")

    await browser.aio.wait_for(lambda d: "/jobs/" in d.current_url, 10, "Generate did not open the job's page")
    job_id = browser.driver.current_url.rsplit("/", 1)[1]
    seen: set[int] = set()

    def progress_moved(_: object) -> bool:
        value = browser.js("const p = document.getElementById('progress'); return p ? p.value : null")
        if value:
            seen.add(int(value))
        return len(seen) >= 2

    await browser.aio.wait_for(progress_moved, 20, "the progress bar did not move")
    await browser.aio.screenshot("job-running-ko")
    duration = await browser.aio.wait_for(lambda d: browser.js(
        "const v = document.getElementById('video');"
        "return v && v.readyState >= 1 && v.duration > 0 ? v.duration : null"), 30, "the video never played")
    view = await web.app.service.get(job_id)
    assert view.kind.value == "image-to-video" and view.user.key == f"discord:{MINJI}"
    assert duration == pytest.approx(view.options.frames / view.options.fps if view.options.frames and
                                     view.options.fps else duration, rel=0.2)
    await browser.aio.screenshot("job-done-ko")

    await browser.aio.open(web.url + "/videos")
    assert "파도 위의 고양이" in await browser.aio.text(".videos")
    assert await browser.aio.wait_for(lambda d: browser.js(
        "const i = document.querySelector('.videos img'); return i && i.complete && i.naturalWidth > 0"), 10)
    await browser.aio.screenshot("my-videos-ko")


async def test_the_admin_checks_the_bot_and_bans_a_member(
        browser: Browser, browser_ko: Browser, world: tuple[Web, FakeDiscord]) -> None:
    web, discord = world
    member = browser_ko
    await sign_in_with_discord(member, web, discord, MINJI, "minji")
    await member.aio.fill("textarea[name=prompt]", "첫 영상")
    await member.aio.click("#generate")
    await member.aio.wait_for(lambda d: "/jobs/" in d.current_url, 10)
    await web.wait(member.driver.current_url.rsplit("/", 1)[1])

    await browser.aio.open(f"{web.url}/login/link/{web.frontend.console.links.new()}")
    await browser.aio.open(web.url + "/admin")
    report = await web.app.service.report()
    cli = status_text(ENGLISH, report)  # what `reelbot status` prints
    shown = " ".join((await browser.aio.text("#status")).replace(":", " ").split())
    assert report.jobs_by_state.get("succeeded") == 1
    assert await browser.aio.text("[data-figure=jobs-line]") == cli.splitlines()[0]
    for line in cli.splitlines():
        if not line.endswith(":") and "busy with" not in line:
            assert " ".join(line.replace(":", " ").split()) in shown, line
    await browser.aio.wait_for(lambda d: browser.js(
        "const i = document.querySelector('img.chart'); return i.complete && i.naturalWidth > 0"), 10)
    await browser.aio.screenshot("admin-status")
    await browser.aio.open(web.url + "/admin/doctor")
    await browser.aio.screenshot("admin-doctor")
    await browser.aio.open(web.url + "/admin/jobs")
    await browser.aio.screenshot("admin-jobs")

    # From bed: the same pages on a phone's screen, nothing wider than it; and in the dark.
    await browser.aio.js("document.getElementById('theme').click()")
    dark = await browser.aio.js("return getComputedStyle(document.body).backgroundColor")
    await asyncio.to_thread(browser.driver.set_window_size, 390, 844)
    try:
        for page in ("/admin", "/admin/users", "/admin/jobs", "/"):
            await browser.aio.open(web.url + page)
            assert await browser.aio.js("return document.documentElement.scrollWidth <= window.innerWidth"), page
        assert await browser.aio.js("return getComputedStyle(document.body).backgroundColor") == dark != \
            "rgb(246, 247, 251)"  # the theme chosen stays chosen
        await browser.aio.open(web.url + "/admin")
        await browser.aio.screenshot("admin-status-phone-dark")
        await browser.aio.js("document.getElementById('theme').click()")
    finally:
        await asyncio.to_thread(browser.driver.set_window_size, 1280, 900)

    await browser.aio.open(web.url + "/admin/users")
    await browser.aio.click(f'tr[data-user="discord:{MINJI}"] button.danger')
    await browser.aio.wait_for_text("p.ok", "is banned")
    await browser.aio.screenshot("admin-users")

    await member.aio.open(web.url + "/")
    await member.aio.fill("textarea[name=prompt]", "두 번째 영상")
    await member.aio.click("#generate")
    refusal = await member.aio.wait_for_text("#make-error", "영상")
    assert refusal == "이 봇으로 영상을 만들 수 없도록 제한되어 있어요."
    assert member.driver.current_url.rstrip("/") == web.url  # still on the form, nothing lost
    assert await member.aio.js("return document.querySelector('textarea[name=prompt]').value") == "두 번째 영상"


async def test_a_stranger_gets_nowhere(browser: Browser, world: tuple[Web, FakeDiscord]) -> None:
    web, discord = world
    await browser.aio.open(web.url + "/admin/users")
    assert browser.driver.current_url == web.url + "/login"

    await sign_in_with_discord(browser, web, discord, 123456789012345678, "eve")
    await browser.aio.open(web.url + "/admin")
    assert "Only the bot's admins can see this page." in await browser.aio.text("main")
    await browser.aio.open(web.url + "/")
    await browser.aio.js("document.querySelector('meta[name=csrf]').content = 'forged';"
                         "document.querySelector('input[name=csrf]').value = 'forged';")
    await browser.aio.fill("textarea[name=prompt]", "sneaky")
    await browser.aio.click("#generate")
    assert "did not come from this page" in await browser.aio.wait_for_text("#make-error", "page")
    assert (await web.app.service.history(UserRef("discord", "123456789012345678"))).total == 0

"""The real browser the web console's tests use (``tests/browser.py``), proved on a tiny local page: a
Chromium fills a form and reads the answer in its own language, and plays an MP4 that reelbot's encoder
made, as the console will show finished videos. The page is a Starlette app with Jinja2 templates, served
by uvicorn on the test's own loop, the way the console runs inside the engine's loop."""

from __future__ import annotations

import signal
from pathlib import Path

import aiohttp
import jinja2
import numpy as np
import pytest
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import FileResponse, Response
from starlette.routing import Route
from starlette.templating import Jinja2Templates

from bot.i18n import pick
from engine.video import encode_frames, probe
from tests.browser import Browser, launch, serve

WORDS = {
    "en": {"greeting": "Hello, {name}!", "ask": "Your name", "send": "Say hello", "stranger": "stranger"},
    "ko": {"greeting": "안녕하세요, {name}님!", "ask": "이름", "send": "인사하기", "stranger": "손님"},
}
PAGE = """<!doctype html>
<html lang="{{ lang }}"><head><meta charset="utf-8"><title>reelbot</title></head>
<body>
  <h1 id="greeting">{{ greeting }}</h1>
  <form method="post" action="/hello">
    <label>{{ words.ask }} <input id="name" name="name"></label> <button id="send">{{ words.send }}</button>
  </form>
</body></html>"""
WATCH = """<!doctype html>
<html><head><meta charset="utf-8"><title>clip</title></head>
<body><video id="clip" src="/clip.mp4" width="384" muted playsinline preload="auto"></video></body></html>"""


def page_app(clip: Path | None = None) -> Starlette:
    templates = Jinja2Templates(env=jinja2.Environment(
        loader=jinja2.DictLoader({"hello.html": PAGE, "watch.html": WATCH}), autoescape=True))

    def language(request: Request) -> str:
        """The first language of the browser's Accept-Language that reelbot speaks."""
        wanted = [part.split(";")[0].strip() for part in request.headers.get("accept-language", "").split(",")]
        return pick(*wanted)

    async def hello(request: Request) -> Response:
        lang = language(request)
        name = str((await request.form()).get("name") or "") if request.method == "POST" else ""
        words = WORDS[lang]
        greeting = words["greeting"].format(name=name.strip() or words["stranger"])
        return templates.TemplateResponse(request, "hello.html", {"lang": lang, "greeting": greeting, "words": words})

    async def watch(request: Request) -> Response:
        return templates.TemplateResponse(request, "watch.html")

    async def video(request: Request) -> Response:
        assert clip is not None
        return FileResponse(clip, media_type="video/mp4")

    return Starlette(routes=[Route("/", hello), Route("/hello", hello, methods=["POST"]), Route("/watch", watch),
                             Route("/clip.mp4", video)])


async def test_a_visitor_fills_in_the_form_and_is_greeted_by_name(browser: Browser) -> None:
    async with serve(page_app()) as url:
        await browser.aio.open(url)
        assert await browser.aio.text("#greeting") == "Hello, stranger!"
        await browser.aio.fill("#name", "Ann")
        await browser.aio.click("#send")
        assert await browser.aio.wait_for_text("#greeting", "Ann") == "Hello, Ann!"
        assert browser.driver.current_url == url + "/hello"
        await browser.aio.screenshot("browser-form-en")


async def test_a_korean_browser_asks_for_korean_and_reads_it(browser_ko: Browser) -> None:
    async with serve(page_app()) as url:
        await browser_ko.aio.open(url)
        assert await browser_ko.aio.js("return navigator.language") == "ko-KR"
        assert await browser_ko.aio.text("#send") == "인사하기"
        await browser_ko.aio.fill("#name", "민지")
        await browser_ko.aio.click("#send")
        assert await browser_ko.aio.wait_for_text("#greeting", "민지") == "안녕하세요, 민지님!"
        await browser_ko.aio.screenshot("browser-form-ko")


async def test_the_browser_plays_an_mp4_that_reelbot_made(browser: Browser, tmp_path: Path) -> None:
    """H.264 (yuv420p, BT.709 tags, +faststart) in MP4: what every finished job is. Debian's Chromium
    plays it: the length and size it reads are what was encoded, and the picture moves when played."""
    frames = [np.full((64, 96, 3), (i * 20, 120, 200 - i * 15), np.uint8) for i in range(12)]
    clip = tmp_path / "clip.mp4"
    made = encode_frames(frames, 8, clip)
    assert (made.codec, made.pix_fmt, made.width, made.height) == ("h264", "yuv420p", 96, 64)
    async with serve(page_app(clip)) as url:
        await browser.aio.open(url + "/watch")
        loaded = await browser.aio.wait_for(
            lambda d: d.execute_script("const v = document.getElementById('clip');"
                                       "return v.error ? {error: v.error.code} : v.readyState >= 1 && "
                                       "{duration: v.duration, width: v.videoWidth, height: v.videoHeight}"),
            message="the video never loaded")
        assert loaded.get("error") is None, f"Chromium could not play it (MediaError code {loaded['error']})"
        assert loaded["duration"] == pytest.approx(probe(clip).duration_s, abs=0.05) == pytest.approx(1.5, abs=0.05)
        assert (loaded["width"], loaded["height"]) == (96, 64)
        played = await browser.aio.js_async(
            "const done = arguments[arguments.length - 1], v = document.getElementById('clip');"
            "v.addEventListener('timeupdate', () => v.currentTime > 0 && done({at: v.currentTime}));"
            "v.play().catch(e => done({refused: String(e)}));")
        assert "refused" not in played and played["at"] > 0
        await browser.aio.screenshot("browser-video")


async def test_serving_leaves_ctrl_c_to_whoever_runs_the_loop() -> None:
    """uvicorn's own ``Server.serve`` takes SIGINT and SIGTERM while it runs (and raises them again when it
    stops); served in someone else's loop it must not: the engine's stop sequence stops it."""
    before = signal.getsignal(signal.SIGINT), signal.getsignal(signal.SIGTERM)
    async with serve(page_app()) as url, aiohttp.ClientSession() as http, http.get(url) as page:
        assert "Hello, stranger!" in await page.text()
        assert (signal.getsignal(signal.SIGINT), signal.getsignal(signal.SIGTERM)) == before


def test_a_wait_that_never_comes_true_fails_saying_what_the_page_showed(browser: Browser) -> None:
    browser.open("data:text/html,<p>Queued (3rd)</p>")
    with pytest.raises(AssertionError) as failed:
        browser.wait_for_text("p", "Done", timeout=0.3)
    assert "p never showed 'Done'" in str(failed.value) and "Queued (3rd)" in str(failed.value)


def test_screenshots_go_where_people_look(browser: Browser, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("SCREENSHOTS_DIR", str(tmp_path / "shots"))
    browser.open("data:text/html,<h1>reelbot</h1>")
    saved = browser.screenshot("the console / home")
    assert saved == tmp_path / "shots" / "the_console_home.png"
    assert saved.read_bytes().startswith(b"\x89PNG")


def test_without_chromium_the_tests_are_skipped_saying_why_but_fail_in_ci(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("PATH", "/nonexistent")
    monkeypatch.delenv("CHROMIUM", raising=False)
    monkeypatch.delenv("CHROMEDRIVER", raising=False)
    monkeypatch.setattr("tests.browser.DRIVERS", ("chromedriver",))
    monkeypatch.delenv("CI", raising=False)
    with pytest.raises(pytest.skip.Exception, match="install chromium and chromium-driver"):
        launch("en")
    monkeypatch.setenv("CI", "true")
    with pytest.raises(pytest.fail.Exception, match="CI=true: the browser tests must run"):
        launch("en")

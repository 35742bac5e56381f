"""A real browser for the web console's tests: Debian's headless Chromium, driven by Selenium.

The pages are tested the way people use them: a real Chromium loads them, fills their forms, plays their
videos and shows its own language (English or Korean) to the server. ``chromium`` and ``chromium-driver``
are system packages (``.ci/run`` installs them); without them the browser tests are skipped, except in CI
(``CI=true``), where a missing browser fails them instead of letting them pass unseen. The driver is always
named (``Service(executable_path=...)``), so Selenium Manager never tries to download one.

Selenium is blocking: a test whose server runs on the test's own event loop (the web console inside the
engine's loop) drives the browser off the loop, ``await browser.aio.open(url)``, so the loop keeps serving
the page the browser is waiting for. :func:`serve` runs any ASGI app that way on a free loopback port.

Screenshots for people to look at go to ``SCREENSHOTS_DIR`` (default ``<repo>/.screenshots/``).
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import re
import shutil
import socket
from collections.abc import AsyncIterator, Awaitable, Callable, Iterator
from pathlib import Path
from typing import Any, TypeVar

import pytest
import uvicorn
from selenium import webdriver
from selenium.common.exceptions import (
    NoSuchElementException,
    StaleElementReferenceException,
    TimeoutException,
)
from selenium.webdriver.chrome.service import Service
from selenium.webdriver.common.by import By
from selenium.webdriver.support.wait import WebDriverWait

T = TypeVar("T")

ROOT = Path(__file__).resolve().parents[1]
WINDOW = (1280, 900)
# What each language's browser sends as Accept-Language (Chromium adds the q-values) and calls itself.
ACCEPT_LANGUAGES = {"en": "en-US,en", "ko": "ko-KR,ko,en-US,en"}
BROWSERS = ("chromium", "chromium-browser", "google-chrome")  # Debian's name first
DRIVERS = ("chromedriver", "/usr/lib/chromium/chromedriver")


def find_chromium() -> tuple[str, str] | str:
    """(browser, driver) paths, or why there are none. ``CHROMIUM`` and ``CHROMEDRIVER`` name them
    elsewhere."""
    browser = _program(os.environ.get("CHROMIUM"), BROWSERS)
    driver = _program(os.environ.get("CHROMEDRIVER"), DRIVERS)
    missing = [package for package, path in (("chromium", browser), ("chromium-driver", driver)) if not path]
    if browser is None or driver is None:
        return (f"no headless browser: install {' and '.join(missing)} "
                "(apt-get install chromium chromium-driver; .ci/run does)")
    return browser, driver


def require_chromium() -> tuple[str, str]:
    """(browser, driver) for a test that needs them; without them the test is skipped, or fails where
    ``CI=true``."""
    found = find_chromium()
    if isinstance(found, str):
        if os.environ.get("CI", "").lower() == "true":
            pytest.fail(f"{found}. CI=true: the browser tests must run, not be skipped.", pytrace=False)
        pytest.skip(found)
    return found


def _program(named: str | None, names: tuple[str, ...]) -> str | None:
    return shutil.which(named) if named else next(filter(None, map(shutil.which, names)), None)


def screenshots_dir() -> Path:
    folder = Path(os.environ.get("SCREENSHOTS_DIR") or ROOT / ".screenshots")
    folder.mkdir(parents=True, exist_ok=True)
    return folder


def screenshot(driver: Any, name: str) -> Path:
    """The browser's window as ``<SCREENSHOTS_DIR>/<name>.png`` (any character a file name would not take
    becomes ``_``), for people to look at; returns the file."""
    path = screenshots_dir() / (re.sub(r"[^\w.-]+", "_", name).strip("_") + ".png")
    driver.save_screenshot(str(path))
    return path


def wait_for(driver: Any, predicate: Callable[[Any], T], timeout: float = 10.0, message: str = "") -> T:
    """What ``predicate(driver)`` returns once it is truthy (Selenium's WebDriverWait polls it; an element
    not there yet or replaced meanwhile counts as not yet). On timeout: an AssertionError with ``message``,
    the page's address and the start of its text, as a person would have seen it."""
    waiter = WebDriverWait(driver, timeout, poll_frequency=0.05,
                           ignored_exceptions=(NoSuchElementException, StaleElementReferenceException))
    try:
        return waiter.until(predicate)
    except TimeoutException:
        try:
            seen = driver.execute_script("return document.body ? document.body.innerText : ''")[:600]
        except Exception as exc:  # the page itself may be what broke
            seen = f"(could not read the page: {exc})"
        raise AssertionError(f"{message or 'timed out waiting'} after {timeout:g} s at {driver.current_url}; "
                             f"the page said:\n{seen}") from None


class Browser:
    """One headless Chromium speaking ``lang``; a thin layer over Selenium's WebDriver (``driver``) with the
    few things the console's tests do, by CSS selector."""

    def __init__(self, driver: Any, lang: str) -> None:
        self.driver = driver
        self.lang = lang
        self.aio = OffLoop(self)

    def open(self, url: str) -> None:
        self.driver.get(url)

    def find(self, css: str) -> Any:
        return self.driver.find_element(By.CSS_SELECTOR, css)

    def text(self, css: str = "body") -> str:
        """What the element shows (its rendered text, as a person reads it)."""
        return str(self.find(css).text)

    def fill(self, css: str, value: str) -> None:
        field = self.find(css)
        field.clear()
        field.send_keys(value)

    def click(self, css: str) -> None:
        self.find(css).click()

    def js(self, script: str, *args: Any) -> Any:
        return self.driver.execute_script(script, *args)

    def js_async(self, script: str, *args: Any) -> Any:
        """Run ``script``, which calls ``arguments[arguments.length - 1](result)`` when done (a promise's
        result, an event's); what it passed."""
        return self.driver.execute_async_script(script, *args)

    def wait_for(self, predicate: Callable[[Any], T], timeout: float = 10.0, message: str = "") -> T:
        return wait_for(self.driver, predicate, timeout, message)

    def wait_for_text(self, css: str, text: str, timeout: float = 10.0) -> str:
        """The element's text once it contains ``text``."""

        def shown(_: Any) -> str | None:
            seen = self.text(css)
            return seen if text in seen else None

        return self.wait_for(shown, timeout, f"{css} never showed {text!r}")

    def screenshot(self, name: str) -> Path:
        return screenshot(self.driver, name)

    def forget(self) -> None:
        """A fresh visitor: no cookies for any site (not only the open page's, as WebDriver's own call
        does), on a blank page."""
        self.driver.execute_cdp_cmd("Network.clearBrowserCookies", {})
        self.driver.get("about:blank")

    def quit(self) -> None:
        self.driver.quit()


class OffLoop:
    """The browser's methods as coroutines that run in a worker thread: ``await browser.aio.fill(...)``."""

    def __init__(self, browser: Browser) -> None:
        self._browser = browser

    def __getattr__(self, name: str) -> Callable[..., Awaitable[Any]]:
        method = getattr(self._browser, name)

        async def call(*args: Any, **kwargs: Any) -> Any:
            return await asyncio.to_thread(method, *args, **kwargs)

        return call


def launch(lang: str = "en", *, window: tuple[int, int] = WINDOW) -> Browser:
    """A headless Chromium whose pages and requests are in ``lang`` ("en", "ko"): ``--lang`` for the
    browser's own language (``navigator.language``) and ``intl.accept_languages`` for what it asks servers
    for (Accept-Language). Skips the test (fails it under ``CI=true``) when there is no Chromium."""
    binary, driver_path = require_chromium()
    options = webdriver.ChromeOptions()
    options.binary_location = binary
    for argument in (
        "--headless=new", "--no-sandbox", "--disable-dev-shm-usage", f"--window-size={window[0]},{window[1]}",
        f"--lang={ACCEPT_LANGUAGES.get(lang, lang).split(',')[0]}",
        # Nothing outside the machine is reached: no sync, updates, field trials or first-run pages.
        "--no-first-run", "--disable-background-networking", "--disable-component-update", "--disable-sync",
        "--disable-default-apps", "--disable-features=Translate,MediaRouter,OptimizationHints",
        "--mute-audio", "--autoplay-policy=no-user-gesture-required",
    ):
        options.add_argument(argument)
    options.add_experimental_option("prefs", {"intl.accept_languages": ACCEPT_LANGUAGES.get(lang, lang)})
    driver = webdriver.Chrome(service=Service(executable_path=driver_path), options=options)
    driver.set_page_load_timeout(30)
    driver.set_script_timeout(30)
    return Browser(driver, lang)


@contextlib.contextmanager
def launched(lang: str) -> Iterator[Browser]:
    browser = launch(lang)
    try:
        yield browser
    finally:
        browser.quit()


@pytest.fixture(scope="module")
def browser() -> Iterator[Browser]:
    """One English Chromium for a test module (a start costs about a second). Each test begins with it as
    a fresh visitor where the web tests' conftest asks for it (``forget``)."""
    with launched("en") as opened:
        yield opened


@pytest.fixture(scope="module")
def browser_ko() -> Iterator[Browser]:
    """The same in Korean: a Korean Chromium that asks servers for Korean first."""
    with launched("ko") as opened:
        yield opened


# --- serving a page in the test's loop ---------------------------------------------------------------------


class QuietServer(uvicorn.Server):
    """uvicorn's server without its signal handlers: ``serve()`` would otherwise take SIGINT and SIGTERM from
    whoever runs the loop (here pytest) until it stops."""

    @contextlib.contextmanager
    def capture_signals(self) -> Iterator[None]:
        yield


@contextlib.asynccontextmanager
async def serve(app: Any) -> AsyncIterator[str]:
    """Serve an ASGI app with uvicorn on the running loop, on a free loopback port; yields its base URL.

    The socket is bound and listening before uvicorn starts, so the port is known at once and a browser
    that connects early waits in the backlog instead of being refused."""
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.bind(("127.0.0.1", 0))
    sock.listen(64)
    port = sock.getsockname()[1]
    config = uvicorn.Config(app, log_config=None, access_log=False, ws="none", lifespan="auto",
                            timeout_graceful_shutdown=5)
    server = QuietServer(config)
    task = asyncio.create_task(server.serve(sockets=[sock]))
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        server.should_exit = True
        await asyncio.wait_for(task, 15)
        sock.close()

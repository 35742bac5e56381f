"""The web console's tests: real headless browsers (``tests/browser.py``), each test starting as a fresh
visitor, and a screenshot of every browser a failed test used (``SCREENSHOTS_DIR``, default
``.screenshots/``), to see what went wrong."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest

from tests.browser import Browser, browser, browser_ko  # noqa: F401 - the fixtures, for every test here

BROWSER_FIXTURES = ("browser", "browser_ko")
_OUTCOME = pytest.StashKey[pytest.TestReport]()


@pytest.hookimpl(wrapper=True)
def pytest_runtest_makereport(item: pytest.Item, call: pytest.CallInfo[None]) -> Iterator[Any]:
    report = yield
    if report.when == "call":
        item.stash[_OUTCOME] = report
    return report


@pytest.fixture(autouse=True)
def _fresh_visitor(request: pytest.FixtureRequest) -> Iterator[None]:
    used: list[Browser] = [request.getfixturevalue(name) for name in BROWSER_FIXTURES
                           if name in request.fixturenames]
    for opened in used:
        opened.forget()
    yield
    report = request.node.stash.get(_OUTCOME, None)
    if report is not None and report.failed:
        for opened in used:
            opened.screenshot(f"FAILED-{request.node.name}-{opened.lang}")

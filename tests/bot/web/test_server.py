"""The console starts with the engine, in its loop, says where it is, and says plainly when it cannot."""

from __future__ import annotations

import socket
from pathlib import Path

import pytest

from bot.web.frontend import WebFrontend
from bot.web.server import WebSetupError
from reelbot.app import App
from reelbot.frontends import not_started
from tests.bot.web.conftest import Web
from tests.conftest import make_settings


async def test_run_says_where_the_console_is_and_that_it_is_the_way_in(tmp_path: Path) -> None:
    said: list[str] = []
    settings = make_settings(tmp_path, web_enabled=True, web_port=0)
    app = await App.launch(settings, lock=False, frontends=True, say=lambda line: said.append(str(line)))
    try:
        web = next(f for f in app.frontends if isinstance(f, WebFrontend))
        port = web.server.port
        assert port > 0
        assert any(line.startswith(f"Web console: http://127.0.0.1:{port}/login/link/") for line in said)
        assert ("No chat bot is set up yet: open the web console below to make videos, or set DISCORD_TOKEN or "
                "TELEGRAM_TOKEN in .env.") in said
    finally:
        await app.close()
    with socket.socket() as probe:  # stopped: the port is free again
        probe.bind(("127.0.0.1", port))


async def test_web_enabled_false_serves_nothing(tmp_path: Path) -> None:
    settings = make_settings(tmp_path, web_enabled=False)
    app = await App.launch(settings, lock=False, frontends=True)
    try:
        assert not any(isinstance(f, WebFrontend) for f in app.frontends)
    finally:
        await app.close()
    assert "Web console: off (WEB_ENABLED=false)." in [str(line) for line in not_started(settings)]


async def test_a_port_in_use_is_said_plainly_and_nothing_is_left_running(tmp_path: Path) -> None:
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen(1)
        port = taken.getsockname()[1]
        settings = make_settings(tmp_path, web_enabled=True, web_port=port)
        with pytest.raises(WebSetupError) as refused:
            await App.launch(settings, lock=False, frontends=True)
    assert refused.value.message == f"Port {port} on 127.0.0.1 is already in use, so the web console cannot start."
    assert "WEB_PORT" in (refused.value.hint or "")
    app = await App.launch(make_settings(tmp_path), lock=False)  # the data folder and database were let go
    await app.close()


async def test_with_nothing_to_make_videos_with_run_uses_the_simulated_gpu_and_says_so(tmp_path: Path) -> None:
    settings = make_settings(tmp_path, local_backend="diffusers", gpus="none")
    said: list[str] = []
    app = await App.launch(settings, lock=False, demo=True, say=lambda line: said.append(str(line)))
    try:
        assert [lane.label for lane in app.lanes] == ["simulated GPU"]
        assert app.demo is not None and said[0] == str(app.demo)
        assert str(app.demo).startswith("No GPU and no cloud key were found, so videos come from the simulated GPU")
    finally:
        await app.close()
    plain = await App.launch(settings, lock=False)  # without demo (tests, workers): nothing is pretended
    try:
        assert plain.lanes == [] and plain.demo is None
    finally:
        await plain.close()


async def test_each_update_leaves_at_once_instead_of_waiting_for_the_browsers_acknowledgement(web: Web) -> None:
    # Nagle's algorithm holds a small write (a progress update, a page's body after its headers) until the
    # browser has acknowledged the one before, which on a kept-alive connection costs up to 40 ms each time.
    # asyncio turns it off (TCP_NODELAY) on the connections of a TCP socket, so the console's own is one.
    operator = await web.operator()
    assert (await operator.get("/")).status_code == 200  # a kept-alive connection, open now

    assert web.frontend.server._server is not None
    connections = list(web.frontend.server._server.server_state.connections)
    sockets = [connection.transport.get_extra_info("socket") for connection in connections]  # type: ignore[attr-defined]
    assert sockets and all(s.getsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY) for s in sockets)

"""uvicorn inside the engine's own event loop: one process, one loop, no second server.

uvicorn's ``Server.serve`` installs its own SIGINT/SIGTERM handlers (``capture_signals``), which would take
Ctrl-C away from ``reelbot run``; the composition root wires signals once (``reelbot.cli.until_signalled``),
so :class:`InLoopServer` leaves them alone. The socket is bound here, before the server starts, so a port
that is taken is said plainly at start-up, and a test can ask for port 0 and read the port it got.
"""

from __future__ import annotations

import asyncio
import contextlib
import errno
import logging
import socket
from collections.abc import Iterator

import uvicorn
from starlette.types import ASGIApp

from engine.errors import ReelbotError
from engine.words import N_

log = logging.getLogger(__name__)


class WebSetupError(ReelbotError):
    code = "web_setup"


class InLoopServer(uvicorn.Server):
    @contextlib.contextmanager
    def capture_signals(self) -> Iterator[None]:
        yield  # the composition root owns the signals


class WebServer:
    """Serve an ASGI app on ``host:port`` from the running loop; ``port`` 0 picks a free one."""

    def __init__(self, app: ASGIApp, host: str, port: int) -> None:
        self.app = app
        self.host = host
        self.port = port
        self._server: InLoopServer | None = None
        self._socket: socket.socket | None = None
        self._task: asyncio.Task[None] | None = None

    def bind(self) -> int:
        """Take the address now (before anything else starts); returns the port."""
        family = socket.AF_INET6 if ":" in self.host else socket.AF_INET
        # IPPROTO_TCP named: asyncio then sets TCP_NODELAY on every connection (as on the servers it opens
        # itself), so a progress update is not held back until the browser acknowledges the one before.
        sock = socket.socket(family, socket.SOCK_STREAM, socket.IPPROTO_TCP)
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            sock.bind((self.host, self.port))
        except OSError as exc:
            sock.close()
            if exc.errno == errno.EADDRINUSE:
                raise WebSetupError(
                    N_("Port {port} on {host} is already in use, so the web console cannot start.",
                       port=self.port, host=self.host),
                    hint=N_("Stop the other program, or choose another port with WEB_PORT (or turn the console "
                            "off with WEB_ENABLED=false)."),
                ) from exc
            raise WebSetupError(
                N_("The web console cannot listen on {host}:{port}: {detail}.", host=self.host, port=self.port,
                   detail=exc.strerror or str(exc)),
                hint=N_("Check WEB_HOST and WEB_PORT."),
            ) from exc
        sock.listen(128)
        sock.setblocking(False)
        self._socket = sock
        self.port = sock.getsockname()[1]
        return self.port

    async def start(self) -> None:
        """Serve from a task of the running loop. The socket already listens, so a browser that comes before
        the first tick waits in its backlog instead of being refused."""
        if self._socket is None:
            self.bind()
        assert self._socket is not None
        config = uvicorn.Config(self.app, lifespan="off", log_config=None, access_log=False, ws="none",
                                timeout_graceful_shutdown=3, server_header=False, proxy_headers=False)
        self._server = InLoopServer(config)
        self._task = asyncio.get_running_loop().create_task(self._server.serve(sockets=[self._socket]),
                                                            name="reelbot-web")

    async def stop(self) -> None:
        server, task = self._server, self._task
        self._server = self._task = None
        if server is not None and task is not None:
            server.should_exit = True
            await asyncio.gather(task, return_exceptions=True)
        if self._socket is not None:
            self._socket.close()
            self._socket = None

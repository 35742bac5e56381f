"""Distributed mode on the machine's real PostgreSQL: a front end in the test, real `reelbot worker`
processes beside it (simulated GPUs), one shared data folder as a shared volume would give."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import threading
import time
from collections.abc import AsyncIterator, Iterator
from pathlib import Path
from typing import Any

import pytest

from reelbot.app import App
from tests.conftest import RecordingDeliverer, make_settings

ROOT = Path(__file__).resolve().parents[2]
pytestmark = pytest.mark.postgres


class WorkerProcess:
    def __init__(self, env: dict[str, str], *args: str) -> None:
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "reelbot.cli", "worker", *args], env=env, cwd=ROOT,
            stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
        )
        self.output: list[str] = []
        self._reader = threading.Thread(target=self._read, daemon=True)
        self._reader.start()
        deadline = time.monotonic() + 60
        while not any("is running" in line for line in self.output):
            if self.proc.poll() is not None or time.monotonic() > deadline:
                raise AssertionError("the worker did not start:\n" + "".join(self.output))
            time.sleep(0.05)  # paced: a poll with a deadline
        self.name = next(line for line in self.output if "is running" in line).split()[2]

    def _read(self) -> None:
        assert self.proc.stdout is not None
        for line in self.proc.stdout:
            self.output.append(line)

    def kill(self) -> None:
        self.proc.send_signal(signal.SIGKILL)
        self.proc.wait(10)
        self._close()

    def stop(self) -> int:
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(30)
            except subprocess.TimeoutExpired:
                self.proc.kill()
        code = self.proc.wait(10)
        self._close()
        return code

    def _close(self) -> None:
        self._reader.join(5)
        if self.proc.stdout is not None and not self.proc.stdout.closed:
            self.proc.stdout.close()


@pytest.fixture
def cluster_env(tmp_path: Path, pg_url: str) -> dict[str, Any]:
    return {
        "database_url": pg_url, "queue": "procrastinate", "data_dir": tmp_path / "data",
        "worker_heartbeat_s": 0.5, "worker_stalled_s": 3.0, "simulated_seconds": 0.3, "simulated_steps": 3,
    }


@pytest.fixture
def workers(cluster_env: dict[str, Any]) -> Iterator[Any]:
    started: list[WorkerProcess] = []
    env = {**os.environ, "LOG_LEVEL": "WARNING", "LOCAL_BACKEND": "simulated"}
    env.update({k.upper(): str(v) for k, v in cluster_env.items()})
    for key in ("DISCORD_TOKEN", "TELEGRAM_TOKEN"):
        env.pop(key, None)

    def start(*args: str, **overrides: Any) -> WorkerProcess:
        worker = WorkerProcess({**env, **{k.upper(): str(v) for k, v in overrides.items()}}, *args)
        started.append(worker)
        return worker

    yield start
    for worker in started:
        worker.stop()


@pytest.fixture
async def front(cluster_env: dict[str, Any], tmp_path: Path) -> AsyncIterator[Any]:
    opened: list[App] = []

    async def open_front(**overrides: Any) -> tuple[App, RecordingDeliverer]:
        settings = make_settings(tmp_path, **{**cluster_env, **overrides})
        deliverer = RecordingDeliverer()
        app = await App.launch(settings, deliverers={"test": deliverer})
        opened.append(app)
        return app, deliverer

    yield open_front
    for app in opened:
        await app.close()

"""Running one cloud backend against its fake: a job spec, a run context, and the backend built as the app
builds it (from Settings, through ``reelbot.backends.build_providers``).

The backend and its fake share one virtual clock: the backend keeps each provider's real poll pace (10 s for
Stability) and the fake rate-limits looks that come faster, but no test waits for it in real time.
"""

from __future__ import annotations

import dataclasses
import threading
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from PIL import Image

from engine.backends.base import RunContext
from engine.cloud.base import CloudBackend
from engine.types import JobKind, JobSpec, Options
from reelbot.backends import PROVIDER_KEYS, PROVIDER_URLS, build_providers
from tests.conftest import make_settings
from tests.fakes.providers.base import FakeProvider
from tests.fakes.providers.clock import VirtualClock


class Run:
    """One attempt's context, with the progress it reported."""

    def __init__(self, job: JobSpec, workdir: Path) -> None:
        self.steps: list[tuple[int, int]] = []
        self.ctx = RunContext(job=job, workdir=workdir, cancel=threading.Event(),
                              progress_fn=lambda s, t, p: self.steps.append((s, t)))


@pytest.fixture
def picture(tmp_path: Path) -> Path:
    """An uploaded picture as the engine stores it (RGB PNG), 900x700 so every provider must crop it."""
    rng = np.random.default_rng(3)
    path = tmp_path / "upload.png"
    Image.fromarray(rng.integers(0, 255, (700, 900, 3), dtype=np.uint8)).save(path)
    return path


@pytest.fixture
def make_job(picture: Path, tmp_path: Path) -> Any:
    def make(kind: JobKind = JobKind.IMAGE_TO_VIDEO, prompt: str = "a cat surfing", **options: Any) -> Run:
        image = picture if kind is JobKind.IMAGE_TO_VIDEO else None
        job = JobSpec(f"job{len(list(tmp_path.iterdir()))}", kind, prompt, Options(**options), image, 1234)
        return Run(job, tmp_path / "work" / job.id)

    return make


def backend_for(name: str, fake: FakeProvider, tmp_path: Path, **settings: Any) -> CloudBackend:
    values = {PROVIDER_KEYS[name]: fake.key, PROVIDER_URLS[name]: fake.url,
              "hf_inference": True, **settings}  # HF_TOKEN alone is for downloads: opt in to paid inference
    backend = build_providers(make_settings(tmp_path, **values), {})[name]
    assert isinstance(backend, CloudBackend)
    return on_clock(backend, fake)


async def run_once(backend: CloudBackend, run: Any) -> Any:
    """One attempt of ``run`` (a :func:`make_job` result) on ``backend``, whose session is closed after."""
    try:
        return await backend.run(run.ctx)
    finally:
        await backend.aclose()


def on_clock(backend: Any, fake: FakeProvider) -> Any:
    """The backend keeps time on its fake's clock (the tests' virtual one)."""
    if fake.clock is not None:
        backend.config = dataclasses.replace(backend.config, clock=fake.clock)
    return backend


@pytest.fixture
def clock() -> VirtualClock:
    return VirtualClock()


@pytest.fixture
async def served(clock: VirtualClock) -> AsyncIterator[Any]:
    """Start fakes on demand: ``fake = await served(FakeX)``, on the test's virtual clock (so they rate-limit
    looks faster than the provider allows); all stopped at the end."""
    started: list[FakeProvider] = []

    async def serve(cls: type[FakeProvider]) -> Any:
        fake = await cls().start()
        fake.clock = clock
        started.append(fake)
        return fake

    yield serve
    for fake in started:
        await fake.stop()

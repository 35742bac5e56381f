"""Attacks on the engine itself, whichever front end they come through: each as the story a stranger tries."""

from __future__ import annotations

import asyncio
import io
import os
import stat
import time
from datetime import timedelta
from typing import Any

import numpy as np
import pytest
from alembic import command
from alembic.config import Config
from PIL import Image
from sqlalchemy import text

from engine.clock import utcnow
from engine.errors import InvalidInput, NotAllowed, QuotaExceeded
from engine.ratelimit import RateLimiter
from engine.types import JobState, Options, Origin, SubmitRequest, UserRef
from storage.db import MIGRATIONS, Database
from tests.conftest import RecordingDeliverer, make_settings, open_app

ANN, EVE = UserRef("discord", "1001", "ann"), UserRef("discord", "1666", "eve")


def photo(width: int = 96, height: int = 64, fmt: str = "PNG") -> bytes:
    buffer = io.BytesIO()
    gradient = np.linspace(0, 255, width * height * 3).astype(np.uint8).reshape(height, width, 3)
    Image.fromarray(gradient).save(buffer, fmt)
    return buffer.getvalue()


def req(user: UserRef = ANN, prompt: str = "a heron", image: Any = None, **options: Any) -> SubmitRequest:
    return SubmitRequest(user, prompt, Origin(user.platform, "chan"), Options(frames=4, **options), image)


async def rows(app: Any, sql: str) -> list[tuple]:
    def query() -> list[tuple]:
        with app.db.transaction() as conn:
            return [tuple(r) for r in conn.execute(text(sql))]
    return await asyncio.to_thread(query)


class CountingFetch:
    """A chat attachment's download, counting whether the engine ever asked for it."""

    def __init__(self, data: bytes) -> None:
        self.data, self.calls = data, 0

    async def __call__(self) -> bytes:
        self.calls += 1
        return self.data


# --- admins ---------------------------------------------------------------------------------------------


async def test_only_listed_ids_are_admins_and_removing_one_takes_the_powers_away(tmp_path) -> None:
    settings = make_settings(tmp_path, discord_admin_ids="1001", simulated_seconds=30)
    app = await open_app(settings)
    try:
        victim = await app.service.submit(req(UserRef("discord", "2002", "bob")))
        mine = await app.service.submit(req(ANN))
        assert await rows(app, f"SELECT priority FROM jobs WHERE id = '{mine.id}'") == [(10,)]
        assert await rows(app, "SELECT DISTINCT role FROM users") == [("user",)]  # admin-ness is never stored
        with pytest.raises(NotAllowed):
            await app.service.cancel(EVE, victim.id)  # a stranger is no admin
    finally:
        await app.close()
    app = await open_app(make_settings(tmp_path, discord_admin_ids="", simulated_seconds=30))
    try:
        with pytest.raises(NotAllowed, match="someone else's"):
            await app.service.cancel(ANN, victim.id)  # no longer listed: no longer an admin
        with pytest.raises(NotAllowed, match="Only the bot's admins"):
            await app.service.status(ANN)
    finally:
        await app.close()


def test_the_migration_takes_away_admin_roles_stored_from_a_per_server_flag(tmp_path) -> None:
    db = Database(f"sqlite:///{tmp_path}/old.db")
    cfg = Config()
    cfg.set_main_option("script_location", str(MIGRATIONS))
    with db.transaction() as conn:
        cfg.attributes["connection"] = conn
        command.upgrade(cfg, "0002")
        conn.execute(text("INSERT INTO users (platform, external_id, name, role, created_at) VALUES "
                          "('discord', '1666', 'mallory', 'admin', '2026-11-01 00:00:00'), "
                          "('discord', '1667', 'spammer', 'banned', '2026-11-01 00:00:00')"))
    db.migrate()
    with db.transaction() as conn:
        roles = dict(conn.execute(text("SELECT external_id, role FROM users")).all())
    db.close()
    assert roles == {"1666": "user", "1667": "banned"}


async def test_a_server_manager_sees_only_their_own_servers_jobs(app_factory) -> None:
    app = await app_factory(settings={"simulated_seconds": 30})
    here, elsewhere = "discord:guild:1", "discord:guild:2"
    for user, scope in ((ANN, here), (UserRef("discord", "3", "cy"), elsewhere)):
        await app.service.submit(SubmitRequest(user, "a heron", Origin("discord", "c", scope=scope),
                                               Options(frames=4)))
    view = await app.service.status(UserRef("discord", "9", "mod", manages=here))
    assert (view.scope, view.queued + view.running) == (here, 1)
    with pytest.raises(NotAllowed):
        await app.service.status(UserRef("discord", "9", "mod"))  # managing nothing here


# --- cheap checks before expensive work ----------------------------------------------------


async def test_a_refused_user_costs_no_download_and_no_decode(app_factory) -> None:
    app = await app_factory(settings={"max_jobs_per_day": 1})
    await app.service.wait((await app.service.submit(req())).id)
    fetch = CountingFetch(photo())
    with pytest.raises(QuotaExceeded, match="limit is 1 a day"):
        await app.service.submit(req(image=fetch))
    assert fetch.calls == 0
    assert list(app.settings.uploads_dir.iterdir()) == []


async def test_a_banned_user_costs_no_download(app_factory) -> None:
    app = await app_factory()
    await app.service.wait((await app.service.submit(req(EVE))).id)

    def ban() -> None:
        with app.db.transaction() as conn:
            conn.execute(text("UPDATE users SET role = 'banned' WHERE external_id = '1666'"))
    await asyncio.to_thread(ban)
    fetch = CountingFetch(photo())
    with pytest.raises(NotAllowed, match="not allowed to make videos"):
        await app.service.submit(req(EVE, image=fetch))
    assert fetch.calls == 0


async def test_a_user_sending_too_fast_is_told_when_to_try_again_before_any_download(app_factory) -> None:
    app = await app_factory(settings={"rate_limit_per_minute": 2, "simulated_seconds": 30})
    for _ in range(2):
        await app.service.submit(req(ANN))
    fetch = CountingFetch(photo())
    with pytest.raises(QuotaExceeded) as refused:
        await app.service.submit(req(ANN, image=fetch))
    assert refused.value.limit == "rate" and "at most 2 a minute" in refused.value.message
    assert 0 < refused.value.retry_after <= 60 and refused.value.hint.startswith("Try again in ")
    assert fetch.calls == 0
    await app.service.submit(req(EVE))  # someone else is not slowed down by Ann
    await app.service.submit(req(UserRef("cli", "operator")))  # nor is the operator


def test_the_rate_limit_frees_a_place_a_minute_after_each_request() -> None:
    now = [1000.0]
    limiter = RateLimiter(2, clock=lambda: now[0])
    assert limiter.hit("a") is None and limiter.hit("a") is None
    now[0] += 20
    assert limiter.hit("a") == pytest.approx(40.0)
    now[0] += 40
    assert limiter.hit("a") is None


async def test_a_40_megapixel_photo_is_kept_at_the_jobs_frame_not_full_size(app_factory) -> None:
    app = await app_factory()
    wide = await app.service.wait((await app.service.submit(req(image=photo(4000, 3000, "JPEG")))).id)
    tall = await app.service.wait((await app.service.submit(req(image=photo(3000, 4000, "JPEG"),
                                                                 portrait=True))).id)
    small = await app.service.wait((await app.service.submit(req(image=photo(320, 180)))).id)
    sizes = []
    for done in (wide, tall, small):
        assert done.state is JobState.SUCCEEDED
        with Image.open(done.image_path) as kept:
            sizes.append(kept.size)
    assert sizes == [(1280, 720), (720, 1280), (320, 180)]  # cropped to 16:9 or 9:16, never enlarged
    assert wide.image_path.stat().st_size < 4 * 1024 * 1024


# --- seeds and what a failed submit leaves ------------------------------------------------------------------


@pytest.mark.parametrize("database", ["sqlite", "postgresql"])
async def test_a_huge_seed_is_refused_and_leaves_no_file_and_the_largest_is_kept(database, tmp_path, request):
    url = request.getfixturevalue("pg_url") if database == "postgresql" else ""
    app = await open_app(make_settings(tmp_path, database_url=url))
    try:
        fetch = CountingFetch(photo())
        with pytest.raises(InvalidInput, match="seed must be between 0 and 4,294,967,295"):
            await app.service.submit(req(image=fetch, seed=2**32))
        assert fetch.calls == 0 and list(app.settings.uploads_dir.iterdir()) == []
        done = await app.service.wait((await app.service.submit(req(image=photo(), seed=2**32 - 1))).id)
        assert done.state is JobState.SUCCEEDED and done.seed == 2**32 - 1
        assert await rows(app, "SELECT seed FROM jobs") == [(2**32 - 1,)]
    finally:
        await app.close()


async def test_any_failure_during_submit_removes_the_stored_picture(app_factory) -> None:
    app = await app_factory()

    async def broken_admit(**_: Any) -> Any:
        raise ConnectionError("the database went away")

    app.service.repo.admit = broken_admit  # type: ignore[method-assign]
    with pytest.raises(ConnectionError):
        await app.service.submit(req(image=photo()))
    assert list(app.settings.uploads_dir.iterdir()) == []


async def test_uploads_no_job_points_to_are_swept_and_others_kept(app_factory) -> None:
    app = await app_factory(deliverer=RecordingDeliverer(), platform="discord")
    done = await app.service.wait((await app.service.submit(req(image=photo()))).id)
    orphan = app.settings.uploads_dir / "zzzzzzzz.png"
    orphan.write_bytes(photo())
    fresh = app.settings.uploads_dir / "yyyyyyyy.png"  # a submit under way right now
    fresh.write_bytes(photo())
    hour_ago = time.time() - 2 * 3600
    for path in (orphan, done.image_path):
        os.utime(path, (hour_ago, hour_ago))
    await app.service.sweep_files()
    assert not orphan.exists() and fresh.exists() and done.image_path.exists()
    await app.service.sweep_files(now=utcnow() + timedelta(days=8))
    assert not done.image_path.exists()


# --- text and files -------------------------------------------------------------------------------------


async def test_prompts_and_names_lose_bidi_overrides_zero_width_and_control_characters(app_factory) -> None:
    app = await app_factory()
    sneaky = UserRef("discord", "7", "admin\u202e\u200bnimda")
    view = await app.service.submit(SubmitRequest(
        sneaky, "a cat\u202egnifrus\u200b\u2066 on\x00 a\tboard", Origin("discord", "c"),
        Options(frames=4, negative_prompt="blur\u200dry\x07")))
    assert view.prompt == "a catgnifrus on a board"
    assert view.options.negative_prompt == "blurry"
    assert await rows(app, "SELECT name FROM users") == [("adminnimda",)]


async def test_data_dir_and_everything_in_it_are_private_to_reelbot(tmp_path) -> None:
    data = tmp_path / "data"
    (data / "uploads").mkdir(parents=True)
    old = data / "uploads" / "old.png"
    old.write_bytes(b"x")
    os.chmod(data, 0o755)
    os.chmod(old, 0o644)
    app = await open_app(make_settings(tmp_path))
    try:
        done = await app.service.wait((await app.service.submit(req(image=photo()))).id)
        paths = [data, data / "reelbot.db", data / "uploads", old, done.image_path, done.result_path]
        modes = {str(p.relative_to(tmp_path)): stat.S_IMODE(p.stat().st_mode) & 0o077 for p in paths}
        assert modes == dict.fromkeys(modes, 0)
    finally:
        await app.close()

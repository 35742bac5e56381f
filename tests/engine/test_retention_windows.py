"""Old files leave the disk on Windows too: a file open in another program (a player, a chat upload, an antivirus
scan) cannot be deleted there, so it is kept and tried again at the next sweep; a file still being written is
never deleted; the data folder sits under a user folder with a space and Hangul in its name."""

from __future__ import annotations

import logging
import os
from datetime import timedelta
from pathlib import Path

import pytest

from engine import retention
from engine.clock import utcnow
from engine.types import JobState
from tests.conftest import RecordingDeliverer
from tests.engine.test_retention import _png, req


@pytest.fixture
def korean_data_dir(tmp_path: Path) -> dict[str, Path]:
    return {"data_dir": tmp_path / "Users" / "김민수" / "김민수 영상" / "reelbot data"}


@pytest.fixture
def open_elsewhere(monkeypatch: pytest.MonkeyPatch) -> set[Path]:
    """Files another program holds open, as Windows treats them: deleting one raises PermissionError."""
    held: set[Path] = set()
    unlink = Path.unlink

    def windows_unlink(self: Path, missing_ok: bool = False) -> None:
        if self in held:
            raise PermissionError(32, "The process cannot access the file because it is being used by another "
                                      "process", str(self))
        unlink(self, missing_ok=missing_ok)

    monkeypatch.setattr(Path, "unlink", windows_unlink)
    return held


async def test_an_open_video_is_kept_said_once_and_deleted_at_the_next_sweep(
    app_factory, korean_data_dir, open_elsewhere, caplog
) -> None:
    app = await app_factory(deliverer=RecordingDeliverer(), settings=korean_data_dir)
    done = await app.service.wait((await app.service.submit(req(image=_png()))).id)
    assert "김민수 영상" in str(done.result_path) and done.result_path.exists()
    open_elsewhere.add(done.result_path)  # someone is watching it

    with caplog.at_level(logging.WARNING, logger="engine.retention"):
        assert await app.service.sweep_files(now=utcnow() + timedelta(days=8)) == 0
        assert await app.service.sweep_files(now=utcnow() + timedelta(days=9)) == 0
    assert done.result_path.exists()
    assert not done.image_path.exists()  # what could go, went
    kept = await app.service.get(done.id)
    assert kept.result_path == done.result_path  # still known: the next sweep tries again
    in_use = [r.getMessage() for r in caplog.records if "in use" in r.getMessage()]
    assert len(in_use) == 1 and str(done.result_path) in in_use[0]  # one warning, not one per sweep

    open_elsewhere.clear()  # the player was closed
    assert await app.service.sweep_files(now=utcnow() + timedelta(days=10)) == 1
    assert not done.result_path.exists()
    after = await app.service.get(done.id)
    assert after.state is JobState.SUCCEEDED and after.result_path is None and after.image_path is None


async def test_one_open_file_does_not_hold_up_the_others(app_factory, korean_data_dir, open_elsewhere) -> None:
    app = await app_factory(deliverer=RecordingDeliverer(), settings=korean_data_dir)
    first = await app.service.wait((await app.service.submit(req(user="a"))).id)
    second = await app.service.wait((await app.service.submit(req(user="b"))).id)
    open_elsewhere.add(first.result_path)

    assert await app.service.sweep_files(now=utcnow() + timedelta(days=8)) == 1
    assert first.result_path.exists() and not second.result_path.exists()


async def test_a_file_still_being_written_is_never_deleted(app_factory, korean_data_dir) -> None:
    app = await app_factory(deliverer=RecordingDeliverer(), settings=korean_data_dir)
    done = await app.service.wait((await app.service.submit(req())).id)
    later = utcnow() + timedelta(days=8)
    busy = later.timestamp() - retention.BUSY_S / 2  # written to moments before the sweep
    os.utime(done.result_path, (busy, busy))

    assert await app.service.sweep_files(now=later) == 0
    assert done.result_path.exists()
    assert await app.service.sweep_files(now=later + timedelta(seconds=retention.BUSY_S)) == 1
    assert not done.result_path.exists()


async def test_an_orphan_picture_that_is_open_does_not_stop_the_sweep(app_factory, korean_data_dir,
                                                                      open_elsewhere) -> None:
    app = await app_factory(deliverer=RecordingDeliverer(), settings=korean_data_dir)
    done = await app.service.wait((await app.service.submit(req())).id)
    orphan = app.settings.uploads_dir / "nobodys-job.png"
    orphan.parent.mkdir(parents=True, exist_ok=True)
    orphan.write_bytes(_png())
    open_elsewhere.add(orphan)

    assert await app.service.sweep_files(now=utcnow() + timedelta(days=8)) == 1  # the rest of the sweep ran
    assert orphan.exists() and not done.result_path.exists()
    open_elsewhere.clear()
    await app.service.sweep_files(now=utcnow() + timedelta(days=9))
    assert not orphan.exists()

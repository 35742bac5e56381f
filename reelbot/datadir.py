"""The data folder: private to reelbot's user, and owned by one reelbot at a time in embedded mode."""

from __future__ import annotations

import fcntl
import logging
import os
import stat
from pathlib import Path
from typing import IO

from engine.errors import EngineBusy
from engine.words import N_

log = logging.getLogger(__name__)


def private_data_dir(data_dir: Path) -> None:
    """DATA_DIR holds the database, people's pictures and videos: readable by reelbot's user alone.
    Everything reelbot creates from here on is 0600 (folders 0700); what an older version left readable
    to others is closed once, here (a folder that is already private needs no walk: nobody else can reach
    inside it, so a start-up does not stat every video)."""
    os.umask(0o077)
    data_dir.mkdir(parents=True, exist_ok=True)
    if not data_dir.stat().st_mode & 0o077:
        return
    for folder, dirs, files in os.walk(data_dir):
        for name in [folder, *(os.path.join(folder, d) for d in dirs), *(os.path.join(folder, f) for f in files)]:
            try:
                mode = os.stat(name, follow_symlinks=False).st_mode
                if stat.S_ISLNK(mode) or not mode & 0o077:
                    continue
                os.chmod(name, stat.S_IMODE(mode) & 0o700)
            except OSError as exc:
                log.warning("could not make %s private: %s", name, exc)


def acquire_lock(data_dir: Path) -> IO[str]:
    data_dir.mkdir(parents=True, exist_ok=True)
    path = data_dir / "reelbot.lock"
    handle = open(path, "a+")  # noqa: SIM115 - held open for the life of the process
    try:
        fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
        handle.seek(0)
        pid = handle.read().strip() or "?"
        handle.close()
        raise EngineBusy(
            N_("Another reelbot (pid {pid}) is already running on {folder}.", pid=pid, folder=str(data_dir)),
            hint=N_("Stop it first, or give this one its own DATA_DIR."),
        ) from None
    handle.seek(0)
    handle.truncate()
    handle.write(str(os.getpid()))
    handle.flush()
    return handle


def release_lock(handle: IO[str] | None) -> None:
    if handle is not None:
        fcntl.flock(handle, fcntl.LOCK_UN)
        handle.close()

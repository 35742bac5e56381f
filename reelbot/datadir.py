"""The data folder: private to reelbot's user, and owned by one reelbot at a time in embedded mode.

Portable: the single-instance lock is ``filelock`` (``flock`` on Linux and macOS, ``msvcrt.locking`` on
Windows), and nothing here imports a POSIX-only module.
"""

from __future__ import annotations

import contextlib
import logging
import os
import stat
import sys
from pathlib import Path

from filelock import FileLock, Timeout

from engine.errors import EngineBusy
from engine.words import N_

log = logging.getLogger(__name__)

LOCK_FILE = "reelbot.lock"
# Who holds the lock, for the refusal's words. Its own file: Windows does not let another process read a
# file region that is locked.
PID_FILE = "reelbot.pid"


def private_data_dir(data_dir: Path) -> None:
    """DATA_DIR holds the database, people's pictures and videos: readable by reelbot's user alone.
    Everything reelbot creates from here on is 0600 (folders 0700); what an older version left readable
    to others is closed once, here (a folder that is already private needs no walk: nobody else can reach
    inside it, so a start-up does not stat every video).

    On Windows, modes are not permissions (``chmod`` only sets or clears read-only, and every file reports
    itself readable to all): the folder's ACL, inherited from the user's profile, is what keeps it private,
    so the folder is only made."""
    if sys.platform == "win32":
        data_dir.mkdir(parents=True, exist_ok=True)
        return
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


def acquire_lock(data_dir: Path) -> FileLock:
    """Own ``data_dir`` for the life of this process, or refuse with the owner's pid. The operating system
    drops the lock when the process ends, however it ends."""
    data_dir.mkdir(parents=True, exist_ok=True)
    lock = FileLock(str(data_dir / LOCK_FILE), thread_local=False)
    try:
        lock.acquire(timeout=0)
    except Timeout:
        try:
            pid = (data_dir / PID_FILE).read_text().strip() or "?"
        except OSError:
            pid = "?"
        raise EngineBusy(
            N_("Another reelbot (pid {pid}) is already running on {folder}.", pid=pid, folder=str(data_dir)),
            hint=N_("Stop it first, or give this one its own DATA_DIR."),
        ) from None
    try:
        (data_dir / PID_FILE).write_text(str(os.getpid()))
    except OSError as exc:  # the lock holds without it; only the refusal's pid would be missing
        log.warning("could not write %s: %s", data_dir / PID_FILE, exc)
    return lock


def release_lock(lock: FileLock | None) -> None:
    if lock is not None:
        with contextlib.suppress(OSError):
            (Path(lock.lock_file).parent / PID_FILE).unlink(missing_ok=True)
        lock.release(force=True)

"""Old videos and pictures leave the disk; the jobs, attempts and books stay.

A finished job's files (its video, the smaller copies made to fit a chat's upload limit, its uploaded
picture) are kept ``KEEP_FILES_DAYS`` after it ended and its delivery is done, so Retry and Same seed work for
that long, and then deleted. Only files reelbot wrote for that job are touched (its id in its name, inside
the results or uploads folder). Scratch folders of attempts go as soon as the job ends.

On Windows a file that is open (a player, an upload to a chat, an antivirus scan) cannot be deleted: such a
file is skipped with one warning, its job keeps its paths, and the next sweep tries again. A file written to
in the last ``BUSY_S`` is never deleted (something is still writing it); files being written are named
``.<name>.part`` until they are complete, which the job's ``<id>.*`` never matches.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable
from datetime import datetime, timedelta
from pathlib import Path

from storage.repo import Repository

log = logging.getLogger(__name__)

BUSY_S = 600.0  # a file modified this recently is still someone's: kept until a later sweep
_warned: set[Path] = set()  # files already said to be in use (one warning each, not one per sweep)


async def sweep_files(repo: Repository, *, results_dir: Path, uploads_dir: Path, keep_files_s: float,
                      now: datetime) -> int:
    """Delete the files of jobs that ended more than ``keep_files_s`` ago and were delivered; returns how
    many jobs lost their files. The rows, attempts and ledger stay."""
    orphans = await asyncio.to_thread(orphan_uploads, uploads_dir, now)
    ids = list(orphans)
    for start in range(0, len(ids), 500):  # a bounded IN (...) per query
        for job_id in await repo.unknown_job_ids(ids[start:start + 500]):
            # a picture whose job was never stored (a crash mid-submit): nobody's
            await asyncio.to_thread(_delete, orphans[job_id], now)
    if keep_files_s <= 0:
        return 0
    cutoff = now - timedelta(seconds=keep_files_s)
    swept = 0
    kept: set[str] = set()  # jobs with a file in use: tried again at the next sweep, not in this one
    while rows := [row for row in await repo.files_to_forget(cutoff) if row[0] not in kept]:
        done = []
        for job_id, result, image in rows:
            if await asyncio.to_thread(delete_job_files, job_id, result, image, results_dir=results_dir,
                                       uploads_dir=uploads_dir, now=now) is None:
                kept.add(job_id)
            else:
                done.append(job_id)
        await repo.forget_files(done)
        swept += len(done)
    if swept:
        log.info("deleted the files of %d jobs that ended over %.0f days ago", swept, keep_files_s / 86400)
    return swept


async def sweep_regularly(sweep: Callable[[], Awaitable[int]], interval_s: float) -> None:
    """Run ``sweep`` every ``interval_s`` for as long as the engine runs."""
    while True:
        try:
            await sweep()
        except Exception:  # a full disk is worse than a skipped sweep: try again next time
            log.exception("could not delete old files")
        await asyncio.sleep(interval_s)


def delete_job_files(job_id: str, result_path: str | None, image_path: str | None, *, results_dir: Path,
                     uploads_dir: Path, now: datetime | None = None) -> int | None:
    """Delete one job's files; returns how many were deleted, or None when one of them is in use (open on
    Windows, or written to lately) and was kept for the next sweep."""
    gone = 0
    busy = False
    candidates = list(results_dir.glob(f"{job_id}.*")) + list(uploads_dir.glob(f"{job_id}.*"))
    for named in (result_path, image_path):
        if named and _owned(Path(named), job_id, (results_dir, uploads_dir)):
            candidates.append(Path(named))
    for path in dict.fromkeys(candidates):
        outcome = _delete(path, now)
        gone += outcome is True
        busy |= outcome is None
    return None if busy else gone


def _delete(path: Path, now: datetime | None) -> bool | None:
    """Delete ``path``: True if it went, False if it was not there (or cannot be deleted for good), None if
    it is in use (open, or modified within ``BUSY_S``) and should be tried again later."""
    try:
        if now is not None and now.timestamp() - path.stat().st_mtime < BUSY_S:
            return None
        path.unlink()
    except FileNotFoundError:
        return False
    except PermissionError as exc:  # Windows: open in another program (or read-only)
        if path not in _warned:
            _warned.add(path)
            log.warning("could not delete %s, it is in use; trying again at the next sweep (%s)", path, exc)
        return None
    except OSError as exc:
        log.warning("could not delete %s: %s", path, exc)
        return False
    _warned.discard(path)
    return True


def orphan_uploads(uploads_dir: Path, now: datetime, min_age_s: float = 3600.0) -> dict[str, Path]:
    """Pictures in the uploads folder older than ``min_age_s``, by the job id in their name. Those whose
    job row does not exist were left by a submit that died half-way, and are nobody's to keep."""
    found: dict[str, Path] = {}
    try:
        entries = list(uploads_dir.iterdir())
    except FileNotFoundError:
        return found
    for path in entries:
        try:
            if path.is_file() and now.timestamp() - path.stat().st_mtime > min_age_s:
                found[path.name.split(".", 1)[0]] = path
        except OSError:
            continue
    return found


def _owned(path: Path, job_id: str, folders: tuple[Path, ...]) -> bool:
    """A path reelbot wrote for this job: inside one of its folders, named after the job."""
    try:
        resolved = path.resolve()
        return path.name.startswith(f"{job_id}.") and any(resolved.parent == f.resolve() for f in folders)
    except OSError:
        return False

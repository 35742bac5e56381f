"""Old videos and pictures leave the disk; the jobs, attempts and books stay.

A finished job's files (its video, the smaller copies made to fit a chat's upload limit, its uploaded
picture) are kept ``KEEP_FILES_DAYS`` after it ended and its delivery is done, so Retry and Same seed work for
that long, and then deleted. Only files reelbot wrote for that job are touched (its id in its name, inside
the results or uploads folder). Scratch folders of attempts go as soon as the job ends.
"""

from __future__ import annotations

import logging
from datetime import datetime
from pathlib import Path

log = logging.getLogger(__name__)


def delete_job_files(job_id: str, result_path: str | None, image_path: str | None, *, results_dir: Path,
                     uploads_dir: Path) -> int:
    """Delete one job's files; returns how many were deleted."""
    gone = 0
    candidates = list(results_dir.glob(f"{job_id}.*")) + list(uploads_dir.glob(f"{job_id}.*"))
    for named in (result_path, image_path):
        if named and _owned(Path(named), job_id, (results_dir, uploads_dir)):
            candidates.append(Path(named))
    for path in dict.fromkeys(candidates):
        try:
            path.unlink()
            gone += 1
        except FileNotFoundError:
            pass
        except OSError as exc:
            log.warning("could not delete %s: %s", path, exc)
    return gone


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

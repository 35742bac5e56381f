"""Extend: a finished video made longer, from its last frame, as one joined video.

Pressing Extend under a result is a new image-to-video job (priced, quota-checked and admitted like any
other) whose picture is the result's last frame, with the same prompt and seed; its options name the job it
continues (``Options.extend_of``: the lineage, kept with the job). When it is done the runner joins the two:
the original's frames, then the new ones without their first (the original's last frame again), at the
original's frame rate and size (:func:`engine.video.join_extension`). The extended video can be extended
again. Only the video's owner may extend it (as with Retry), and only while its file is kept.
"""

from __future__ import annotations

import io
from collections.abc import Mapping
from pathlib import Path

from engine.backends.base import Output
from engine.errors import InvalidInput
from engine.types import Again, JobKind, JobState, JobView, Options
from engine.video import VideoInfo, decoded_frames, join_extension, last_frame
from engine.words import N_


def extendable(view: JobView) -> Path:
    """The video file of ``view`` to continue; :class:`InvalidInput` when it is not a finished video or its
    file is no longer kept (``KEEP_FILES_DAYS``)."""
    if view.state is not JobState.SUCCEEDED:
        raise InvalidInput("job", N_("Only a finished video can be extended; job {job_id} has none.",
                                     job_id=view.id), hint=N_("Wait until it is done, or make a new one."))
    path = view.result_path
    if path is None or not path.is_file():
        raise InvalidInput("job", N_("The video of job {job_id} is no longer kept, so it cannot be extended.",
                                     job_id=view.id),
                           hint=N_("Videos are deleted after a while; make a new one and extend that."),
                           reason="gone")
    return path


def extension(view: JobView) -> Again:
    """What pressing Extend under ``view`` submits: its last frame, its prompt, its seed, its settings, and
    which job it continues. A text-to-video job's model cannot animate a picture, so the default
    image-to-video model takes over (``--model`` and ``--provider`` are left out)."""
    path = extendable(view)
    picture = io.BytesIO()
    last_frame(path).save(picture, format="PNG")
    chosen = view.options.to_dict()
    if view.kind is JobKind.TEXT_TO_VIDEO:
        chosen.pop("model", None)
        chosen.pop("provider", None)
    chosen.update(seed=view.seed, extend_of=view.id)
    return Again(view.prompt, Options.from_dict(chosen), picture.getvalue())


def join(parent: Path, output: Output, target: Path, tags: Mapping[str, str]) -> VideoInfo:
    """The finished extension as one video at ``target``: ``parent``'s frames, then the new ones."""
    more = output.frames if output.frames is not None else (
        decoded_frames(output.video_path) if output.video_path is not None else None)
    if more is None:
        raise ValueError("the backend returned no video")
    return join_extension(parent, more, target, metadata=tags)

"""The prompt inside the file: a video's title and comment tags, read back, and written onto an MP4 that a
cloud provider made, without re-encoding it.

Local videos get their tags when they are encoded (``encode_frames(..., metadata=...)``); a provider's MP4 is
kept as it came when it plays everywhere, so its tags are added by copying its streams into a new MP4.
"""

from __future__ import annotations

import logging
import os
import shutil
import tempfile
from collections.abc import Mapping
from pathlib import Path

import av

from engine.video import TAGS, VideoInfo, clean_tags, probe

log = logging.getLogger(__name__)


def video_tags(path: Path) -> dict[str, str]:
    """The tags reelbot writes (title, comment) as ``path`` carries them."""
    with av.open(str(path)) as container:
        return {key: value for key, value in container.metadata.items() if key in TAGS}


def with_tags(src: Path, out: Path, metadata: Mapping[str, str]) -> VideoInfo:
    """``src`` moved to ``out`` with ``metadata`` added: its streams copied as they are (no re-encode), the
    index first. A file that cannot be remuxed is moved as it is: tags are never worth losing a video."""
    src, out = Path(src), Path(out)
    out.parent.mkdir(parents=True, exist_ok=True)
    fd, name = tempfile.mkstemp(dir=out.parent, prefix=f".{out.stem}.", suffix=".part")
    os.close(fd)
    tmp = Path(name)
    try:
        with av.open(str(src)) as inp, av.open(str(tmp), "w", format="mp4",
                                              container_options={"movflags": "+faststart"}) as dst:
            dst.metadata.update(clean_tags({**inp.metadata, **metadata}))
            kept = [s for s in inp.streams if s.type in ("video", "audio")]
            copies = {s.index: dst.add_stream_from_template(s) for s in kept}
            for packet in inp.demux(*kept):
                if packet.dts is not None:  # the demuxer's flush packets carry nothing
                    packet.stream = copies[packet.stream.index]
                    dst.mux(packet)
        os.replace(tmp, out)
        src.unlink(missing_ok=True)
    except (av.error.FFmpegError, ValueError) as exc:
        log.info("could not tag %s (%s); keeping it as it came", src.name, exc)
        shutil.move(src, out)
    finally:
        tmp.unlink(missing_ok=True)
    return probe(out)

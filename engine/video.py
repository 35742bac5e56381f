"""Frames in, an MP4 a chat app will play inline out.

Every backend ends in frames (local pipelines) or an MP4 (cloud providers); the front ends need one file
that Telegram and Discord play while it downloads, and that fits under their upload cap. So: H.264 in
yuv420p (the only pairing every phone decodes), ``+faststart`` (the index first, so playback starts before
the whole file has arrived), and :func:`fit_to_size` to trade quality, then resolution, for bytes.

A video carries its prompt as the MP4 ``title`` tag (and a ``comment``), UTF-8, so a Korean prompt reads the
same in any player; every re-encode here keeps them (``engine/video_tags.py`` adds them to a provider's MP4).
"""

from __future__ import annotations

import os
import shutil
import tempfile
from collections.abc import Iterable, Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass
from fractions import Fraction
from pathlib import Path

import av
import numpy as np
import PIL.Image
from av.video.frame import PictureType, VideoFrame

from engine.errors import VideoTooLarge

__all__ = ["TAGS", "VideoInfo", "clean_tags", "decoded_frames", "encode_frames", "fit_to_size", "join_extension",
           "last_frame", "playable_mp4", "probe"]

_PIX_FMT = "yuv420p"
# BT.709, limited range, tagged in the stream: browsers and phones assume BT.709 for anything near HD, and
# an untagged BT.601 conversion (swscale's default) shows up as shifted greens and reds there.
_COLORSPACE = "ITU709"
_COLOR_RANGE = "MPEG"
# (matrix, primaries, transfer, range) as FFmpeg numbers them: BT.709 is 1 in the first three, limited is 1.
_BT709_TAGS = (1, 1, 1, 1)

# fit_to_size: the share of the budget the video stream aims for (rate control overshoots a little), the
# MP4 index's cost (about a kilobyte plus a few bytes a frame), the scales it may shrink to, and how many
# bitrate tries each scale gets.
_BUDGET_SHARE = 0.92
_INDEX_BYTES = 1024
_INDEX_BYTES_PER_FRAME = 16
_SCALES = (1.0, 0.75, 0.5, 0.35)
_TRIES_AT_FULL_SIZE = 3
_TRIES_PER_SCALE = 2
# Below about this many bits per pixel x264's output turns to blocks, and the same bytes spent on fewer
# pixels look better: a scale that would get less is skipped without trying it.
_MIN_BITS_PER_PIXEL = 0.02
_MIN_BITRATE = 2_000  # bits/s; x264 is at its coarsest quantiser long before this
TAGS = ("title", "comment")  # the container tags reelbot writes, and carries over a re-encode


@dataclass(frozen=True, slots=True)
class VideoInfo:
    path: Path
    frames: int
    width: int
    height: int
    fps: float
    size_bytes: int
    codec: str
    pix_fmt: str
    duration_s: float


def encode_frames(
    frames: Iterable[np.ndarray | PIL.Image.Image],
    fps: float,
    out: Path,
    *,
    crf: int = 18,
    bitrate: int | None = None,
    scale: float = 1.0,
    metadata: Mapping[str, str] | None = None,
) -> VideoInfo:
    """Encode RGB frames (uint8 0-255, float 0-1 as diffusers returns them, or PIL images) to ``out``.

    yuv420p needs even sizes, so an odd width or height loses its last column or row: a one-pixel crop keeps
    every other pixel exact, where scaling would resample the whole frame. ``bitrate`` (bits/s) replaces
    ``crf`` with a capped rate so the size is predictable; ``scale`` below 1 shrinks the frame, aspect kept.
    ``out`` is replaced only once the new file is complete, so a reader never sees half a video.
    ``metadata``: container tags, e.g. ``{"title": prompt}`` (UTF-8; empty values are left out).
    """
    if fps <= 0:
        raise ValueError(f"fps must be positive, got {fps}")
    if not 0 < scale <= 1:
        raise ValueError(f"scale must be in (0, 1], got {scale}")
    it = iter(frames)
    first = next(it, None)
    if first is None:
        raise ValueError("No frames to encode: the frame list is empty.")
    rgb = _to_rgb(first, 0)
    height, width = rgb.shape[:2]
    if width < 2 or height < 2:
        raise ValueError(f"Frames of {width}x{height} are too small for a video (at least 2x2).")
    even_w, even_h = width & ~1, height & ~1
    out_w, out_h = _scaled(even_w, even_h, scale)

    def video_frames() -> Iterator[VideoFrame]:
        for index, image in enumerate(_chain(rgb, it)):
            array = image if index == 0 else _to_rgb(image, index)
            if array.shape[:2] != (height, width):
                raise ValueError(
                    f"Frame {index} is {array.shape[1]}x{array.shape[0]}; the first frame was {width}x{height}."
                )
            frame = VideoFrame.from_ndarray(np.ascontiguousarray(array[:even_h, :even_w]), format="rgb24")
            yield frame.reformat(
                width=out_w,
                height=out_h,
                format=_PIX_FMT,
                dst_colorspace=_COLORSPACE,
                dst_color_range=_COLOR_RANGE,
                interpolation="AREA" if (out_w, out_h) != (even_w, even_h) else "BICUBIC",
            )

    out = Path(out)
    with _beside(out) as tmp:
        _encode(video_frames(), tmp, out_w, out_h, _rate(fps), _BT709_TAGS, crf=crf, bitrate=bitrate,
                metadata=metadata)
        os.replace(tmp, out)
    return probe(out)



def probe(path: Path) -> VideoInfo:
    """Describe the first video stream of ``path``; raises ``ValueError`` when there is none."""
    path = Path(path)
    with av.open(str(path)) as container:
        if not container.streams.video:
            raise ValueError(f"{path.name} has no video stream.")
        stream = container.streams.video[0]
        ctx = stream.codec_context
        rate = stream.average_rate or stream.guessed_rate or stream.base_rate
        fps = float(rate) if rate else 0.0
        frames = stream.frames
        if not frames:
            # Some containers (fragmented MP4, WebM, raw streams) carry no frame count: count packets.
            frames = sum(1 for packet in container.demux(stream) if packet.size)
        if stream.duration and stream.time_base:
            duration = float(stream.duration * stream.time_base)
        elif container.duration:
            duration = container.duration / av.time_base
        else:
            duration = frames / fps if fps else 0.0
        return VideoInfo(
            path=path,
            frames=frames,
            width=ctx.width,
            height=ctx.height,
            fps=fps,
            size_bytes=path.stat().st_size,
            codec=ctx.name,
            pix_fmt=ctx.pix_fmt or "",
            duration_s=duration,
        )


def write_poster(video: Path, out: Path, *, width: int = 320) -> Path:
    """A small JPEG of the video's first frame (the web console's thumbnails), written beside ``out``
    first and moved into place, so a reader never sees half a file."""
    with av.open(str(video)) as container:
        frame = next(container.decode(video=0))
        image = frame.to_image()
    if image.width > width:
        image = image.resize((width, max(1, round(image.height * width / image.width))))
    with _beside(out) as tmp:
        image.convert("RGB").save(tmp, format="JPEG", quality=80)
        os.replace(tmp, out)
    return out


def fit_to_size(src: Path, max_bytes: int, out: Path | None = None) -> VideoInfo:
    """Return ``src`` as is when it fits in ``max_bytes``; otherwise re-encode it smaller into ``out``.

    Bitrate goes first, since viewers notice lost sharpness less than lost pixels; the resolution steps
    down once the budget is too thin for the pixels (see ``_MIN_BITS_PER_PIXEL``) or x264 is at its
    coarsest and the file will not shrink. Frames are decoded once and kept: clips here are seconds long.
    ``out`` (default ``<stem>.fit.mp4`` beside ``src``) is written only with a result that fits. Audio, if
    ``src`` has any, is not carried over: every backend here makes silent video.
    """
    src = Path(src)
    if max_bytes <= 0:
        raise ValueError(f"max_bytes must be positive, got {max_bytes}")
    info = probe(src)
    target = Path(out) if out is not None else src.with_name(f"{src.stem}.fit.mp4")
    if info.size_bytes <= max_bytes:
        if out is None or _same_file(src, target):
            return info
        with _beside(target) as tmp:
            shutil.copyfile(src, tmp)
            os.replace(tmp, target)
        return probe(target)

    frames, rate, colours, metadata = _decode(src)
    width, height = frames[0].width & ~1, frames[0].height & ~1
    duration = len(frames) / rate
    overhead = _INDEX_BYTES + _INDEX_BYTES_PER_FRAME * len(frames)
    payload = max(max_bytes - overhead, 1)
    start_bitrate = max(int(_BUDGET_SHARE * payload * 8 / duration), _MIN_BITRATE)
    sizes = [_scaled(width, height, scale) for scale in _SCALES]
    # The first scale whose pixels the budget can feed; the smallest one when none can.
    first = next(
        (i for i, (w, h) in enumerate(sizes) if start_bitrate / (w * h * rate) >= _MIN_BITS_PER_PIXEL),
        len(sizes) - 1,
    )
    smallest: int | None = None
    with _beside(target) as tmp:
        for index in range(first, len(sizes)):
            out_w, out_h = sizes[index]
            bitrate = start_bitrate
            previous: int | None = None
            for _ in range(_TRIES_AT_FULL_SIZE if index == 0 else _TRIES_PER_SCALE):
                _encode(_resized(frames, out_w, out_h), tmp, out_w, out_h, rate, colours, crf=None,
                        bitrate=bitrate, metadata=metadata)
                size = tmp.stat().st_size
                if size <= max_bytes:
                    os.replace(tmp, target)
                    return probe(target)
                smallest = size if smallest is None else min(smallest, size)
                if bitrate <= _MIN_BITRATE or (previous is not None and size > 0.97 * previous):
                    break  # x264 is at its coarsest for this size: only fewer pixels will help
                previous = size
                # Scale by the miss on the stream itself (the index does not shrink), by at least 15%.
                miss = payload / max(size - overhead, 1)
                bitrate = max(int(bitrate * min(0.85, 0.95 * miss)), _MIN_BITRATE)
    raise VideoTooLarge(max_bytes, smallest if smallest is not None else info.size_bytes)


def playable_mp4(src: Path, out: Path) -> VideoInfo:
    """A provider's video as an MP4 every chat app plays: kept as is when it already is H.264 yuv420p in an
    MP4, else re-encoded into ``out`` (WebM, ProRes, 10-bit or 4:4:4 from a cloud provider).
    Raises ``ValueError`` when ``src`` is not a video at all."""
    src = Path(src)
    try:
        info = probe(src)
    except av.error.FFmpegError as exc:
        raise ValueError(f"{src.name} is not a video ({exc}).") from None
    with open(src, "rb") as handle:
        is_mp4 = handle.read(12)[4:8] == b"ftyp"
    if is_mp4 and info.codec == "h264" and info.pix_fmt == _PIX_FMT:
        if not _same_file(src, out):
            shutil.move(src, out)
        return probe(out)
    frames, rate, _, metadata = _decode(src)
    return encode_frames((f.to_ndarray(format="rgb24") for f in frames), float(rate), Path(out), metadata=metadata)


# --- helpers --------------------------------------------------------------------------------------------


def _encode(
    frames: Iterable[VideoFrame],
    path: Path,
    width: int,
    height: int,
    rate: Fraction,
    color_tags: tuple[int, int, int, int],
    *,
    crf: int | None,
    bitrate: int | None,
    metadata: Mapping[str, str] | None = None,
) -> None:
    options: dict[str, str] = {}
    if bitrate is not None:
        bitrate = max(int(bitrate), _MIN_BITRATE)
        # One-pass ABR alone overshoots on short clips; a VBV buffer of one second holds it to the target.
        options.update(maxrate=str(bitrate), bufsize=str(bitrate))
    else:
        options["crf"] = str(18 if crf is None else crf)
    # The format is named because the temp file's suffix is not ".mp4"; the path is passed as a string
    # because +faststart re-opens the file by name to move the index to the front.
    with av.open(str(path), "w", format="mp4", container_options={"movflags": "+faststart"}) as container:
        container.metadata.update(clean_tags(metadata or {}))
        stream = container.add_stream("libx264", rate=rate, options=options)
        stream.width, stream.height = width, height
        stream.pix_fmt = _PIX_FMT
        # One tick per frame. Kept in a local: the muxer swaps in its own stream time base (1/16384 and
        # the like) once the header is written, and a frame stamped with that would be read as ~0 s.
        time_base = Fraction(rate.denominator, rate.numerator)
        stream.time_base = time_base
        ctx = stream.codec_context
        ctx.time_base = time_base
        # PyAV defaults to slice threads, which split every frame into slices and cost bits; x264's own
        # frame threads compress better at the same speed.
        ctx.thread_type = "FRAME"
        if bitrate is not None:
            ctx.bit_rate = bitrate
        ctx.colorspace, ctx.color_primaries, ctx.color_trc, ctx.color_range = color_tags
        for index, frame in enumerate(frames):
            frame.pts = index
            frame.time_base = time_base
            # A decoded frame keeps its I/P/B type, and x264 obeys a type it is handed: let it choose.
            frame.pict_type = PictureType.NONE
            container.mux(stream.encode(frame))
        container.mux(stream.encode(None))


def _decode(src: Path) -> tuple[list[VideoFrame], Fraction, tuple[int, int, int, int], dict[str, str]]:
    """Every frame of ``src`` in yuv420p, its frame rate, its colour tags, re-used as they are so the
    re-encode neither converts colours nor mislabels them, and its title and comment, to keep."""
    with av.open(str(src)) as container:
        metadata = {key: value for key, value in container.metadata.items() if key in TAGS}
        stream = container.streams.video[0]
        stream.thread_type = "AUTO"
        rate = stream.average_rate or stream.guessed_rate or Fraction(24)
        frames = []
        for frame in container.decode(stream):
            if frame.format.name != _PIX_FMT:
                frame = frame.reformat(format=_PIX_FMT)
            frames.append(frame)
    if not frames:
        raise ValueError(f"{src.name} has no frames to re-encode.")
    first = frames[0]
    colours = (int(first.colorspace), int(first.color_primaries), int(first.color_trc), int(first.color_range))
    return frames, _rate(rate), colours, metadata


def clean_tags(metadata: Mapping[str, str]) -> dict[str, str]:
    """reelbot's tags with a value, as valid UTF-8 (a stray surrogate would stop the muxer)."""
    return {key: value.encode("utf-8", "replace").decode("utf-8")
            for key, value in metadata.items() if key in TAGS and value}


def _resized(frames: list[VideoFrame], width: int, height: int) -> Iterator[VideoFrame]:
    for frame in frames:
        if (frame.width, frame.height) == (width, height):
            yield frame
        else:
            yield frame.reformat(width=width, height=height, interpolation="AREA")


def _to_rgb(image: np.ndarray | PIL.Image.Image, index: int) -> np.ndarray:
    if isinstance(image, PIL.Image.Image):
        return np.asarray(image.convert("RGB"))
    array = np.asarray(image)
    if array.ndim == 2:
        array = np.repeat(array[:, :, None], 3, axis=2)
    if array.ndim != 3 or array.shape[2] not in (3, 4):
        raise ValueError(f"Frame {index} has shape {array.shape}; expected height x width x 3 (RGB).")
    array = array[:, :, :3]
    if np.issubdtype(array.dtype, np.floating):
        return (np.clip(np.nan_to_num(array), 0.0, 1.0) * 255.0 + 0.5).astype(np.uint8)
    if array.dtype == np.bool_:
        return array.astype(np.uint8) * 255
    if array.dtype != np.uint8:
        raise ValueError(f"Frame {index} is {array.dtype}; expected uint8 0-255 or float 0-1.")
    return array


def _chain(first: np.ndarray, rest: Iterator) -> Iterator:
    yield first
    yield from rest


def _scaled(width: int, height: int, scale: float) -> tuple[int, int]:
    if scale >= 1.0:
        return width, height
    return max(2, round(width * scale / 2) * 2), max(2, round(height * scale / 2) * 2)


def _rate(fps: float | Fraction) -> Fraction:
    # 7 and 8 stay 7 and 8; 23.976 and 29.97 become their exact NTSC fractions.
    rate = Fraction(fps).limit_denominator(1001)
    for base in (24, 30, 60):
        ntsc = Fraction(base * 1000, 1001)
        if abs(float(rate) - float(ntsc)) < 1e-3:
            return ntsc
    return rate


def _same_file(a: Path, b: Path) -> bool:
    try:
        return a.resolve() == b.resolve() or (b.exists() and os.path.samefile(a, b))
    except OSError:
        return False


@contextmanager
def _beside(out: Path) -> Iterator[Path]:
    """A temp path in ``out``'s folder (so ``os.replace`` is atomic), removed unless it was moved."""
    out.parent.mkdir(parents=True, exist_ok=True)
    fd, name = tempfile.mkstemp(dir=out.parent, prefix=f".{out.stem}.", suffix=".part")
    os.close(fd)
    tmp = Path(name)
    try:
        yield tmp
    finally:
        tmp.unlink(missing_ok=True)



# --- Extend: the last frame of a result, and a result made longer ------------------------------------------


def last_frame(path: Path) -> PIL.Image.Image:
    """The last frame of ``path`` as an RGB picture: where an extension starts."""
    last = None
    with av.open(str(path)) as container:
        for frame in container.decode(video=0):
            last = frame
    if last is None:
        raise ValueError(f"{Path(path).name} has no frames.")
    return last.to_image().convert("RGB")


def join_extension(
    original: Path, more: Iterable[np.ndarray | PIL.Image.Image], out: Path, *,
    metadata: Mapping[str, str] | None = None,
) -> VideoInfo:
    """``original``'s frames, then ``more`` (an extension made from its last frame) without its first frame
    (that frame is the original's last one again), as one video at ``original``'s frame rate and size: a new
    frame of another size is resized to it, so nothing jumps where the two meet."""
    with av.open(str(original)) as container:
        stream = container.streams.video[0]
        rate = stream.average_rate or stream.guessed_rate or Fraction(24)
        frames = [frame.to_ndarray(format="rgb24") for frame in container.decode(stream)]
    if not frames:
        raise ValueError(f"{Path(original).name} has no frames to extend.")
    height, width = frames[0].shape[:2]

    def fitted() -> Iterator[np.ndarray]:
        for index, image in enumerate(more):
            if index == 0:
                continue
            array = _to_rgb(image, index)
            if array.shape[:2] != (height, width):
                array = np.asarray(PIL.Image.fromarray(array).resize((width, height), PIL.Image.Resampling.LANCZOS))
            yield array

    return encode_frames(_chain(frames[0], iter([*frames[1:], *fitted()])), float(rate), Path(out),
                         metadata=metadata)


def decoded_frames(path: Path) -> list[np.ndarray]:
    """Every frame of ``path`` as RGB arrays (a provider's mp4, to extend a video with)."""
    with av.open(str(path)) as container:
        return [frame.to_ndarray(format="rgb24") for frame in container.decode(video=0)]

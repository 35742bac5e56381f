"""Turning whatever a chat user uploads into a frame a video model can start from.

Uploads are hostile by default: they may be huge, truncated, not images at all, or decompression bombs (a
few kilobytes that declare a 100-megapixel canvas). Everything here therefore looks at the header first,
decides, and only then decodes, and every refusal is an :class:`~engine.errors.InvalidImage` whose message
a person in a chat can act on.

Pillow's own bomb guard (``Image.MAX_IMAGE_PIXELS``) is process-global and tuned for a different limit, so
it is neither relied on nor changed: the caller's ``max_pixels`` is the limit. Pillow's guard still fires
inside ``Image.open`` for canvases over twice its limit (about 179 megapixels by default); those are refused
here too, with the same kind of message.

The steps live in their own modules: :mod:`~engine.images.header` (limits and the header parse, before any
decoding), :mod:`~engine.images.colour` (orientation, bit depth, transparency, colour profiles) and
:mod:`~engine.images.refusals` (the words for each refusal).
"""

from __future__ import annotations

from dataclasses import dataclass

from PIL import Image

from engine.images.colour import orientation, to_rgb, upright
from engine.images.header import (
    ALLOWED_FORMATS,
    MIN_SIDE,
    check_bytes,
    check_limits,
    format_of,
    open_upload,
    quiet_pillow,
)
from engine.images.refusals import damaged

__all__ = [
    "ALLOWED_FORMATS",
    "MIN_SIDE",
    "ImageInfo",
    "fit_image",
    "frame_upload",
    "inspect_image",
    "load_image",
]


@dataclass(frozen=True, slots=True)
class ImageInfo:
    """What the submit path needs to accept or refuse an upload before any pixel is decoded."""

    format: str
    width: int  # after EXIF orientation: the shape the user sees on their phone
    height: int
    mode: str  # as stored, before any conversion


def inspect_image(data: bytes, *, max_bytes: int, max_pixels: int) -> ImageInfo:
    """Refuse a bad upload at submit time, cheaply, so no job is queued for an image that cannot run.

    Runs every check :func:`load_image` runs except those that need the pixels decoded: a truncated PNG is
    caught (its chunk checksums are read), a truncated JPEG is only caught by :func:`load_image`.
    """
    check_limits(max_bytes, max_pixels)
    check_bytes(data, max_bytes)
    with quiet_pillow():
        image = open_upload(data, max_pixels)
        with image:
            fmt = format_of(image)
            width, height = image.size
            if orientation(image) in (5, 6, 7, 8):
                width, height = height, width
            info = ImageInfo(format=fmt, width=width, height=height, mode=image.mode)
            if fmt == "PNG":
                try:
                    image.verify()
                except MemoryError:
                    raise
                except Exception as exc:
                    raise damaged(fmt) from exc
    return info


def load_image(data: bytes, *, max_bytes: int, max_pixels: int) -> Image.Image:
    """Decode an upload into the one shape every backend accepts: upright, 8-bit, RGB, in sRGB.

    Transparency becomes white (what the picture looked like in the chat), animations give their first
    frame, and metadata is dropped: the result carries no EXIF, so no location leaks into outputs.
    """
    check_limits(max_bytes, max_pixels)
    check_bytes(data, max_bytes)
    with quiet_pillow():
        image = open_upload(data, max_pixels)
        with image:
            fmt = format_of(image)
            try:
                image.load()
            except MemoryError:
                raise
            except Exception as exc:
                raise damaged(fmt) from exc
            rgb = to_rgb(upright(image))
    rgb.info.clear()
    return rgb


def fit_image(image: Image.Image, width: int, height: int) -> Image.Image:
    """Fill a model's fixed frame without stretching faces: scale to cover, then crop the overflow evenly.

    The crop is done in source coordinates (``resize(box=...)``) so the scale is the same on both axes up to
    sub-pixel precision, and only the part that survives the crop is resampled.
    """
    if width <= 0 or height <= 0:
        raise ValueError(f"fit_image needs a positive size, got {width}x{height}")
    src_w, src_h = image.size
    if src_w <= 0 or src_h <= 0:
        raise ValueError(f"fit_image got an empty image ({src_w}x{src_h})")
    if (src_w, src_h) == (width, height):
        return image.copy()
    target_ratio = width / height
    if src_w / src_h > target_ratio:  # wider than the frame: trim the sides
        crop_w = src_h * target_ratio
        left = (src_w - crop_w) / 2
        box = (left, 0.0, left + crop_w, float(src_h))
    else:  # taller than the frame: trim top and bottom
        crop_h = src_w / target_ratio
        top = (src_h - crop_h) / 2
        box = (0.0, top, float(src_w), top + crop_h)
    return image.resize((width, height), Image.Resampling.LANCZOS, box=box)


def frame_upload(image: Image.Image, width: int, height: int) -> Image.Image:
    """An upload as it is kept for its job: cropped to the shape of a ``width`` x ``height`` frame and, if
    larger, scaled down to it (never up: a small picture keeps its pixels, the model scales it)."""
    src_w, src_h = image.size
    ratio = width / height
    crop_w, crop_h = (src_h * ratio, float(src_h)) if src_w / src_h > ratio else (float(src_w), src_w / ratio)
    scale = min(1.0, width / crop_w)
    return fit_image(image, max(1, round(crop_w * scale)), max(1, round(crop_h * scale)))

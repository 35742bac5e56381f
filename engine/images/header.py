"""Looking at an upload before decoding it: size limits, the header parse, the allowed formats.

Everything here decides from the bytes and the header alone, so a decompression bomb is refused before a
decoder allocates its canvas.
"""

from __future__ import annotations

import io
import warnings
from collections.abc import Iterator
from contextlib import contextmanager

from PIL import Image, ImageFile, UnidentifiedImageError

from engine.errors import InvalidImage
from engine.images.refusals import SUPPORTED_WORDS, bomb, damaged, not_an_image, pair, sniff_allowed
from engine.words import N_

ALLOWED_FORMATS = frozenset({"PNG", "JPEG", "WEBP", "GIF", "BMP"})

# Only these decoders ever see an upload: fewer parsers, less attack surface. Pillow's JPEG opener returns
# an MPO image by itself when the file carries Multi-Picture data (most iPhone JPEGs), so "MPO" needs no
# entry of its own (and has no opener registered under that name).
_OPEN_FORMATS = ("PNG", "JPEG", "WEBP", "GIF", "BMP")
_FORMAT_ALIASES = {"MPO": "JPEG"}

MIN_SIDE = 16


def check_limits(max_bytes: int, max_pixels: int) -> None:
    if max_bytes <= 0 or max_pixels <= 0:
        raise ValueError(f"limits must be positive, got max_bytes={max_bytes}, max_pixels={max_pixels}")


def check_bytes(data: bytes, max_bytes: int) -> None:
    if not data:
        raise InvalidImage(
            N_("That file is empty (0 bytes), so there is no picture in it."),
            hint=N_("Send the picture again; the upload may have failed."),
        )
    if len(data) > max_bytes:
        size, limit = pair(len(data) / 1_000_000, max_bytes / 1_000_000)
        raise InvalidImage(
            N_("That image is {size} MB; the limit is {limit} MB.", size=size, limit=limit),
            hint=N_("Send a smaller or more compressed version (a JPEG or a screenshot of it works)."),
        )


def check_pixels(width: int, height: int, max_pixels: int) -> None:
    pixels = width * height
    if pixels > max_pixels:
        mp, limit = pair(pixels / 1_000_000, max_pixels / 1_000_000)
        raise InvalidImage(
            N_("That image is {width}x{height} pixels ({mp} megapixels); the limit is {limit} megapixels.",
               width=width, height=height, mp=mp, limit=limit),
            hint=N_("Send a smaller picture or a screenshot of it."),
        )
    if width < MIN_SIDE or height < MIN_SIDE:
        raise InvalidImage(
            N_("That image is only {width}x{height} pixels, too small to animate; both sides need at least "
               "{min_side} pixels.", width=width, height=height, min_side=MIN_SIDE),
            hint=N_("Send a larger picture."),
        )


def open_upload(data: bytes, max_pixels: int) -> ImageFile.ImageFile:
    """Parse only the header, refusing anything too large before a decoder allocates for it."""
    # The WebP opener builds its decoder, canvas included, inside Image.open: check its size first.
    canvas = webp_size(data)
    if canvas is not None:
        check_pixels(*canvas, max_pixels)
    try:
        image = Image.open(io.BytesIO(data), formats=_OPEN_FORMATS)
    except UnidentifiedImageError as exc:
        raise not_an_image(data) from exc
    except Image.DecompressionBombError as exc:
        raise bomb(exc, max_pixels) from exc
    except MemoryError:
        raise
    except Exception as exc:  # any parser failure on a recognised header means a broken file
        raise damaged(sniff_allowed(data)) from exc
    fmt = format_of(image)
    if fmt not in ALLOWED_FORMATS:  # not reachable with _OPEN_FORMATS; kept so the two cannot drift
        image.close()
        raise InvalidImage(N_("{format} images aren't supported.", format=fmt),
                           hint=N_("Send it as {formats} instead.", formats=SUPPORTED_WORDS))
    try:
        check_pixels(*image.size, max_pixels)
    except InvalidImage:
        image.close()
        raise
    return image


@contextmanager
def quiet_pillow() -> Iterator[None]:
    """Keep Pillow's bomb warning (its global limit, not ours) and its complaints about a user's odd
    metadata out of the logs and out of warnings-as-errors test runs.

    ``catch_warnings`` swaps the process-wide filter list, so threads decoding at the same moment may see
    each other's filters; they only ever add these same "ignore" entries.
    """
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", Image.DecompressionBombWarning)
        warnings.filterwarnings("ignore", category=UserWarning, module=r"PIL(\.|$)")
        yield


def format_of(image: Image.Image) -> str:
    fmt = (image.format or "").upper()
    return _FORMAT_ALIASES.get(fmt, fmt)


def webp_size(data: bytes) -> tuple[int, int] | None:
    """Canvas size from a WebP header, without decoding (same fields libwebp reads)."""
    if len(data) < 30 or data[:4] != b"RIFF" or data[8:12] != b"WEBP":
        return None
    chunk = data[12:16]
    if chunk == b"VP8 " and data[23:26] == b"\x9d\x01\x2a":
        width = int.from_bytes(data[26:28], "little") & 0x3FFF
        height = int.from_bytes(data[28:30], "little") & 0x3FFF
        return width, height
    if chunk == b"VP8X":
        return int.from_bytes(data[24:27], "little") + 1, int.from_bytes(data[27:30], "little") + 1
    if chunk == b"VP8L" and data[20] == 0x2F:
        bits = int.from_bytes(data[21:25], "little")
        return (bits & 0x3FFF) + 1, ((bits >> 14) & 0x3FFF) + 1
    return None

"""Turning whatever a chat user uploads into a frame a video model can start from.

Uploads are hostile by default: they may be huge, truncated, not images at all, or decompression bombs (a
few kilobytes that declare a 100-megapixel canvas). Everything here therefore looks at the header first,
decides, and only then decodes, and every refusal is an :class:`~engine.errors.InvalidImage` whose message
a person in a chat can act on.

Pillow's own bomb guard (``Image.MAX_IMAGE_PIXELS``) is process-global and tuned for a different limit, so
it is neither relied on nor changed: the caller's ``max_pixels`` is the limit. Pillow's guard still fires
inside ``Image.open`` for canvases over twice its limit (about 179 megapixels by default); those are refused
here too, with the same kind of message.
"""

from __future__ import annotations

import io
import logging
import re
import warnings
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass

import numpy as np
from PIL import ExifTags, Image, ImageFile, ImageOps, UnidentifiedImageError

try:  # littlecms is optional in Pillow builds; without it colour profiles are ignored.
    from PIL import ImageCms
except ImportError:  # pragma: no cover - depends on the Pillow build
    ImageCms = None  # type: ignore[assignment]

from engine.errors import InvalidImage

log = logging.getLogger(__name__)

ALLOWED_FORMATS = frozenset({"PNG", "JPEG", "WEBP", "GIF", "BMP"})

# Only these decoders ever see an upload: fewer parsers, less attack surface. Pillow's JPEG opener returns
# an MPO image by itself when the file carries Multi-Picture data (most iPhone JPEGs), so "MPO" needs no
# entry of its own (and has no opener registered under that name).
_OPEN_FORMATS = ("PNG", "JPEG", "WEBP", "GIF", "BMP")
_FORMAT_ALIASES = {"MPO": "JPEG"}

MIN_SIDE = 16

_SUPPORTED_WORDS = "PNG, JPEG, WebP, GIF or BMP"
_SEND_SUPPORTED = f"Send a photo or picture as {_SUPPORTED_WORDS}."
_SIXTEEN_BIT_MODES = frozenset({"I;16", "I;16L", "I;16B", "I;16N", "I", "F"})
_ALPHA_MODES = frozenset({"RGBA", "RGBa", "LA", "La", "PA"})
_BOMB_PIXELS = re.compile(r"\((\d+) pixels\)")


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
    _check_limits(max_bytes, max_pixels)
    _check_bytes(data, max_bytes)
    with _quiet_pillow():
        image = _open(data, max_pixels)
        with image:
            fmt = _format_of(image)
            width, height = image.size
            if _orientation(image) in (5, 6, 7, 8):
                width, height = height, width
            info = ImageInfo(format=fmt, width=width, height=height, mode=image.mode)
            if fmt == "PNG":
                try:
                    image.verify()
                except MemoryError:
                    raise
                except Exception as exc:
                    raise _damaged(fmt) from exc
    return info


def load_image(data: bytes, *, max_bytes: int, max_pixels: int) -> Image.Image:
    """Decode an upload into the one shape every backend accepts: upright, 8-bit, RGB, in sRGB.

    Transparency becomes white (what the picture looked like in the chat), animations give their first
    frame, and metadata is dropped: the result carries no EXIF, so no location leaks into outputs.
    """
    _check_limits(max_bytes, max_pixels)
    _check_bytes(data, max_bytes)
    with _quiet_pillow():
        image = _open(data, max_pixels)
        with image:
            fmt = _format_of(image)
            try:
                image.load()
            except MemoryError:
                raise
            except Exception as exc:
                raise _damaged(fmt) from exc
            rgb = _to_rgb(_upright(image))
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


# --- checks ---------------------------------------------------------------------------------------------


def _check_limits(max_bytes: int, max_pixels: int) -> None:
    if max_bytes <= 0 or max_pixels <= 0:
        raise ValueError(f"limits must be positive, got max_bytes={max_bytes}, max_pixels={max_pixels}")


def _check_bytes(data: bytes, max_bytes: int) -> None:
    if not data:
        raise InvalidImage(
            "That file is empty (0 bytes), so there is no picture in it.",
            hint="Send the picture again; the upload may have failed.",
        )
    if len(data) > max_bytes:
        size, limit = _pair(len(data) / 1_000_000, max_bytes / 1_000_000)
        raise InvalidImage(
            f"That image is {size} MB; the limit is {limit} MB.",
            hint="Send a smaller or more compressed version (a JPEG or a screenshot of it works).",
        )


def _check_pixels(width: int, height: int, max_pixels: int) -> None:
    pixels = width * height
    if pixels > max_pixels:
        mp, limit = _pair(pixels / 1_000_000, max_pixels / 1_000_000)
        raise InvalidImage(
            f"That image is {width}x{height} pixels ({mp} megapixels); the limit is {limit} megapixels.",
            hint="Send a smaller picture or a screenshot of it.",
        )
    if width < MIN_SIDE or height < MIN_SIDE:
        raise InvalidImage(
            f"That image is only {width}x{height} pixels, too small to animate; "
            f"both sides need at least {MIN_SIDE} pixels.",
            hint="Send a larger picture.",
        )


def _open(data: bytes, max_pixels: int) -> ImageFile.ImageFile:
    """Parse only the header, refusing anything too large before a decoder allocates for it."""
    # The WebP opener builds its decoder, canvas included, inside Image.open: check its size first.
    webp_size = _webp_size(data)
    if webp_size is not None:
        _check_pixels(*webp_size, max_pixels)
    try:
        image = Image.open(io.BytesIO(data), formats=_OPEN_FORMATS)
    except UnidentifiedImageError as exc:
        raise _not_an_image(data) from exc
    except Image.DecompressionBombError as exc:
        raise _bomb(exc, max_pixels) from exc
    except MemoryError:
        raise
    except Exception as exc:  # any parser failure on a recognised header means a broken file
        raise _damaged(_sniff_allowed(data)) from exc
    fmt = _format_of(image)
    if fmt not in ALLOWED_FORMATS:  # not reachable with _OPEN_FORMATS; kept so the two cannot drift
        image.close()
        raise InvalidImage(f"{fmt} images aren't supported.", hint=f"Send it as {_SUPPORTED_WORDS} instead.")
    try:
        _check_pixels(*image.size, max_pixels)
    except InvalidImage:
        image.close()
        raise
    return image


@contextmanager
def _quiet_pillow() -> Iterator[None]:
    """Keep Pillow's bomb warning (its global limit, not ours) and its complaints about a user's odd
    metadata out of the logs and out of warnings-as-errors test runs.

    ``catch_warnings`` swaps the process-wide filter list, so threads decoding at the same moment may see
    each other's filters; they only ever add these same "ignore" entries.
    """
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", Image.DecompressionBombWarning)
        warnings.filterwarnings("ignore", category=UserWarning, module=r"PIL(\.|$)")
        yield


def _format_of(image: Image.Image) -> str:
    fmt = (image.format or "").upper()
    return _FORMAT_ALIASES.get(fmt, fmt)


# --- orientation and colour -----------------------------------------------------------------------------


def _orientation(image: Image.Image) -> int:
    """EXIF orientation from the header only; broken EXIF counts as upright rather than as a bad image."""
    # A PNG's eXIf chunk may follow the pixel data, and Pillow decodes the whole image to reach it.
    if image.format == "PNG" and "exif" not in image.info:
        return 1
    try:
        value = image.getexif().get(ExifTags.Base.Orientation, 1)
    except Exception:
        log.debug("unreadable EXIF ignored", exc_info=True)
        return 1
    return value if isinstance(value, int) else 1


def _upright(image: Image.Image) -> Image.Image:
    try:
        return ImageOps.exif_transpose(image)
    except Exception:  # malformed EXIF must not cost the user their picture
        log.debug("unreadable EXIF orientation ignored", exc_info=True)
        return image.copy()


def _to_rgb(image: Image.Image) -> Image.Image:
    mode = image.mode
    icc = image.info.get("icc_profile")
    if mode in _SIXTEEN_BIT_MODES:
        return _stretch_to_8bit(image).convert("RGB")
    if mode == "CMYK":
        return _with_profile(image, icc, "CMYK") or image.convert("RGB")
    if mode in _ALPHA_MODES or "transparency" in image.info:
        rgba = image.convert("RGBA")  # applies palette / colour-key transparency as alpha
        white = Image.new("RGBA", rgba.size, (255, 255, 255, 255))
        rgb = Image.alpha_composite(white, rgba).convert("RGB")
    elif mode == "RGB":
        rgb = image
    else:
        try:
            rgb = image.convert("RGB")
        except ValueError as exc:
            raise InvalidImage(
                f"That image uses a colour format ({mode}) that can't be converted.",
                hint=f"Save it as an ordinary RGB {_SUPPORTED_WORDS} image and send it again.",
            ) from exc
    if mode in ("RGB", "RGBA", "P", "PA"):
        return _with_profile(rgb, icc, "RGB") or rgb
    return rgb


def _stretch_to_8bit(image: Image.Image) -> Image.Image:
    """Map the values actually present onto 0..255: Pillow's own convert clips 16-bit data to nearly white."""
    values = np.asarray(image).astype(np.float32)  # float32 is exact for 16-bit and half float64's memory
    if image.mode == "F":
        finite = np.isfinite(values)
        if not finite.all():
            if not finite.any():
                return Image.new("L", image.size, 0)
            values[~finite] = values[finite].min()
    lo, hi = float(values.min()), float(values.max())
    if hi > lo:
        values -= lo
        values *= 255.0 / (hi - lo)
    else:  # one flat value: place it by the mode's nominal range instead
        full = 65535.0 if image.mode.startswith("I;16") else 255.0
        values.fill(lo / full * 255.0)
    np.clip(values, 0, 255, out=values)
    return Image.fromarray(np.rint(values, out=values).astype(np.uint8))


def _with_profile(image: Image.Image, icc: bytes | None, space: str) -> Image.Image | None:
    """Convert through an embedded colour profile to sRGB; None when there is none or it cannot be used.

    This matters most for CMYK, where a naive conversion gives washed-out or wrong colours, and for
    wide-gamut phone photos (Display P3), which look dull when their numbers are read as sRGB.
    """
    if not icc or ImageCms is None:
        return None
    try:
        profile = ImageCms.ImageCmsProfile(io.BytesIO(icc))
        if profile.profile.xcolor_space.strip() != space:
            return None
        if space == "RGB" and "srgb" in ImageCms.getProfileDescription(profile).lower():
            return None  # already what everything downstream assumes
        srgb = ImageCms.createProfile("sRGB")
        return ImageCms.profileToProfile(
            image, profile, srgb, renderingIntent=ImageCms.Intent.PERCEPTUAL, outputMode="RGB"
        )
    except (ImageCms.PyCMSError, OSError, ValueError, TypeError):
        log.debug("embedded colour profile ignored", exc_info=True)
        return None


# --- telling the user what they sent --------------------------------------------------------------------


def _bomb(exc: Image.DecompressionBombError, max_pixels: int) -> InvalidImage:
    # Pillow refuses at twice its own limit before we see the size; it may be below the caller's limit.
    limit_pixels = max_pixels
    if Image.MAX_IMAGE_PIXELS:
        limit_pixels = min(max_pixels, 2 * Image.MAX_IMAGE_PIXELS)
    found = _BOMB_PIXELS.search(str(exc))
    if found:
        mp, limit = _pair(int(found.group(1)) / 1_000_000, limit_pixels / 1_000_000)
        message = f"That image is {mp} megapixels; the limit is {limit} megapixels."
    else:
        limit = _pair(limit_pixels / 1_000_000, 0)[0]
        message = f"That image has too many pixels; the limit is {limit} megapixels."
    return InvalidImage(message, hint="Send a smaller picture or a screenshot of it.")


def _damaged(fmt: str | None) -> InvalidImage:
    what = f"That {fmt} image" if fmt else "That image"
    return InvalidImage(
        f"{what} is damaged or incomplete, so it can't be read.",
        hint="Send it again; if the upload was cut off, a fresh upload usually fixes it.",
    )


_HEIF_BRANDS = {b"heic", b"heix", b"hevc", b"hevx", b"heim", b"heis", b"mif1", b"msf1"}
_AVIF_BRANDS = {b"avif", b"avis"}


def _not_an_image(data: bytes) -> InvalidImage:
    """Name what the upload is, since "not an image" alone leaves the user guessing what went wrong."""
    head = data[:64]
    allowed = _sniff_allowed(data)
    if allowed:
        return _damaged(allowed)
    if head[4:8] == b"ftyp":
        brand = head[8:12].lower()
        if brand in _HEIF_BRANDS or brand in _AVIF_BRANDS:
            name = "AVIF" if brand in _AVIF_BRANDS else "HEIC"
            return InvalidImage(
                f"That's a {name} photo, which isn't supported here.",
                hint="Send it as a JPEG or PNG instead. On an iPhone, Settings > Camera > Formats > "
                "Most Compatible does that, or send a screenshot of it.",
            )
        return _video()
    if head.startswith((b"\x1aE\xdf\xa3", b"OggS")) or (head[:4] == b"RIFF" and head[8:12] == b"AVI "):
        return _video()
    if head.startswith(b"%PDF"):
        return InvalidImage(
            "That's a PDF document, not a picture.",
            hint="Send the page as a PNG or JPEG, or take a screenshot of it.",
        )
    for magic, name in (
        ((b"II*\x00", b"MM\x00*"), "TIFF"),
        ((b"\x00\x00\x01\x00",), "ICO (icon)"),
        ((b"8BPS",), "Photoshop (PSD)"),
        ((b"\xff\x0a", b"\x00\x00\x00\x0cJXL "), "JPEG XL"),
        ((b"\x00\x00\x00\x0cjP  ", b"\xff\x4f\xff\x51"), "JPEG 2000"),
        ((b"qoif",), "QOI"),
        ((b"DDS ",), "DDS"),
        ((b"icns",), "ICNS (icon)"),
    ):
        if head.startswith(magic):
            return InvalidImage(
                f"{name} images aren't supported.", hint=f"Send it as {_SUPPORTED_WORDS} instead."
            )
    if head.startswith(b"PK\x03\x04"):
        return InvalidImage(
            "That's a ZIP archive or an Office document, not a picture.", hint=_SEND_SUPPORTED
        )
    text = _as_text(data[:2048])
    if text is not None:
        if "<svg" in text.lower():
            return InvalidImage(
                "SVG drawings aren't supported.",
                hint=f"Export it as {_SUPPORTED_WORDS}, or send a screenshot of it.",
            )
        return InvalidImage("That's text, not a picture.", hint=_SEND_SUPPORTED)
    return InvalidImage("That file isn't a picture that can be read.", hint=_SEND_SUPPORTED)


def _video() -> InvalidImage:
    return InvalidImage(
        "That's a video file, not a picture.",
        hint=f"Send a still photo ({_SUPPORTED_WORDS}); a screenshot of the frame you want works.",
    )


def _sniff_allowed(data: bytes) -> str | None:
    """The allowed format this file claims to be by its first bytes, to call a failure "damaged"."""
    head = data[:16]
    if head.startswith(b"\x89PNG\r\n\x1a\n"):
        return "PNG"
    if head.startswith(b"\xff\xd8\xff"):
        return "JPEG"
    if head.startswith((b"GIF87a", b"GIF89a")):
        return "GIF"
    if head[:4] == b"RIFF" and head[8:12] == b"WEBP":
        return "WebP"
    if head.startswith(b"BM") and len(data) >= 26:
        return "BMP"
    return None


def _as_text(chunk: bytes) -> str | None:
    text = chunk.decode("utf-8", errors="ignore")
    if len(text.encode("utf-8")) < len(chunk) - 3:  # more than a character cut at the end: binary
        return None
    printable = sum(ch.isprintable() or ch in "\r\n\t" for ch in text)
    return text if text and printable >= 0.95 * len(text) else None


def _webp_size(data: bytes) -> tuple[int, int] | None:
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


def _pair(value: float, limit: float) -> tuple[str, str]:
    """Format a measurement and its limit with just enough decimals that they never read as equal."""
    first = 0 if value >= 100 else 1
    for decimals in range(first, 7):
        shown, shown_limit = f"{value:.{decimals}f}", f"{limit:.{decimals}f}"
        if shown != shown_limit:
            break
    return _trim(shown), _trim(shown_limit)


def _trim(number: str) -> str:
    return number.rstrip("0").rstrip(".") if "." in number else number

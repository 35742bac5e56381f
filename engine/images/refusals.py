"""Telling the user what they sent: every refusal as an :class:`~engine.errors.InvalidImage` a person in a
chat can act on, naming what the file really is when it is not a picture we read."""

from __future__ import annotations

import re

from PIL import Image

from engine.errors import InvalidImage
from engine.words import N_, Text

SUPPORTED_WORDS = N_("PNG, JPEG, WebP, GIF or BMP")
SEND_SUPPORTED = N_("Send a photo or picture as {formats}.", formats=SUPPORTED_WORDS)
_BOMB_PIXELS = re.compile(r"\((\d+) pixels\)")


def bomb(exc: Image.DecompressionBombError, max_pixels: int) -> InvalidImage:
    # Pillow refuses at twice its own limit before we see the size; it may be below the caller's limit.
    limit_pixels = max_pixels
    if Image.MAX_IMAGE_PIXELS:
        limit_pixels = min(max_pixels, 2 * Image.MAX_IMAGE_PIXELS)
    found = _BOMB_PIXELS.search(str(exc))
    if found:
        mp, limit = pair(int(found.group(1)) / 1_000_000, limit_pixels / 1_000_000)
        message = N_("That image is {mp} megapixels; the limit is {limit} megapixels.", mp=mp, limit=limit)
    else:
        limit = pair(limit_pixels / 1_000_000, 0)[0]
        message = N_("That image has too many pixels; the limit is {limit} megapixels.", limit=limit)
    return InvalidImage(message, hint=N_("Send a smaller picture or a screenshot of it."))


def damaged(fmt: str | None) -> InvalidImage:
    said = (N_("That {format} image is damaged or incomplete, so it can't be read.", format=fmt) if fmt
            else N_("That image is damaged or incomplete, so it can't be read."))
    return InvalidImage(said, hint=N_("Send it again; if the upload was cut off, a fresh upload usually fixes it."))


_HEIF_BRANDS = {b"heic", b"heix", b"hevc", b"hevx", b"heim", b"heis", b"mif1", b"msf1"}
_AVIF_BRANDS = {b"avif", b"avis"}
# Formats named by their first bytes; the names are Text where they hold words ("icon").
_OTHER_FORMATS: tuple[tuple[tuple[bytes, ...], Text | str], ...] = (
    ((b"II*\x00", b"MM\x00*"), "TIFF"),
    ((b"\x00\x00\x01\x00",), N_("ICO (icon)")),
    ((b"8BPS",), "Photoshop (PSD)"),
    ((b"\xff\x0a", b"\x00\x00\x00\x0cJXL "), "JPEG XL"),
    ((b"\x00\x00\x00\x0cjP  ", b"\xff\x4f\xff\x51"), "JPEG 2000"),
    ((b"qoif",), "QOI"),
    ((b"DDS ",), "DDS"),
    ((b"icns",), N_("ICNS (icon)")),
)


def not_an_image(data: bytes) -> InvalidImage:
    """Name what the upload is, since "not an image" alone leaves the user guessing what went wrong."""
    head = data[:64]
    allowed = sniff_allowed(data)
    if allowed:
        return damaged(allowed)
    if head[4:8] == b"ftyp":
        brand = head[8:12].lower()
        if brand in _HEIF_BRANDS or brand in _AVIF_BRANDS:
            name = "AVIF" if brand in _AVIF_BRANDS else "HEIC"
            return InvalidImage(
                N_("That's a {format} photo, which isn't supported here.", format=name),
                hint=N_("Send it as a JPEG or PNG instead. On an iPhone, Settings > Camera > Formats > "
                        "Most Compatible does that, or send a screenshot of it."),
            )
        return video()
    if head.startswith((b"\x1aE\xdf\xa3", b"OggS")) or (head[:4] == b"RIFF" and head[8:12] == b"AVI "):
        return video()
    if head.startswith(b"%PDF"):
        return InvalidImage(
            N_("That's a PDF document, not a picture."),
            hint=N_("Send the page as a PNG or JPEG, or take a screenshot of it."),
        )
    for magic, kind in _OTHER_FORMATS:
        if head.startswith(magic):
            return InvalidImage(N_("{format} images aren't supported.", format=kind),
                                hint=N_("Send it as {formats} instead.", formats=SUPPORTED_WORDS))
    if head.startswith(b"PK\x03\x04"):
        return InvalidImage(N_("That's a ZIP archive or an Office document, not a picture."), hint=SEND_SUPPORTED)
    text = as_text(data[:2048])
    if text is not None:
        if "<svg" in text.lower():
            return InvalidImage(
                N_("SVG drawings aren't supported."),
                hint=N_("Export it as {formats}, or send a screenshot of it.", formats=SUPPORTED_WORDS),
            )
        return InvalidImage(N_("That's text, not a picture."), hint=SEND_SUPPORTED)
    return InvalidImage(N_("That file isn't a picture that can be read."), hint=SEND_SUPPORTED)


def video() -> InvalidImage:
    return InvalidImage(
        N_("That's a video file, not a picture."),
        hint=N_("Send a still photo ({formats}); a screenshot of the frame you want works.", formats=SUPPORTED_WORDS),
    )


def sniff_allowed(data: bytes) -> str | None:
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


def as_text(chunk: bytes) -> str | None:
    text = chunk.decode("utf-8", errors="ignore")
    if len(text.encode("utf-8")) < len(chunk) - 3:  # more than a character cut at the end: binary
        return None
    printable = sum(ch.isprintable() or ch in "\r\n\t" for ch in text)
    return text if text and printable >= 0.95 * len(text) else None


def pair(value: float, limit: float) -> tuple[str, str]:
    """Format a measurement and its limit with just enough decimals that they never read as equal."""
    first = 0 if value >= 100 else 1
    for decimals in range(first, 7):
        shown, shown_limit = f"{value:.{decimals}f}", f"{limit:.{decimals}f}"
        if shown != shown_limit:
            break
    return trim(shown), trim(shown_limit)


def trim(number: str) -> str:
    return number.rstrip("0").rstrip(".") if "." in number else number

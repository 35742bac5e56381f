"""Turning a decoded upload into what every backend accepts: upright, 8-bit, RGB, in sRGB."""

from __future__ import annotations

import io
import logging

import numpy as np
from PIL import ExifTags, Image, ImageOps

try:  # littlecms is optional in Pillow builds; without it colour profiles are ignored.
    from PIL import ImageCms
except ImportError:  # pragma: no cover - depends on the Pillow build
    ImageCms = None  # type: ignore[assignment]

from engine.errors import InvalidImage
from engine.images.refusals import SUPPORTED_WORDS
from engine.words import N_

log = logging.getLogger(__name__)

_SIXTEEN_BIT_MODES = frozenset({"I;16", "I;16L", "I;16B", "I;16N", "I", "F"})
_ALPHA_MODES = frozenset({"RGBA", "RGBa", "LA", "La", "PA"})


def orientation(image: Image.Image) -> int:
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


def upright(image: Image.Image) -> Image.Image:
    try:
        return ImageOps.exif_transpose(image)
    except Exception:  # malformed EXIF must not cost the user their picture
        log.debug("unreadable EXIF orientation ignored", exc_info=True)
        return image.copy()


def to_rgb(image: Image.Image) -> Image.Image:
    mode = image.mode
    icc = image.info.get("icc_profile")
    if mode in _SIXTEEN_BIT_MODES:
        return stretch_to_8bit(image).convert("RGB")
    if mode == "CMYK":
        return with_profile(image, icc, "CMYK") or image.convert("RGB")
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
                N_("That image uses a colour format ({mode}) that can't be converted.", mode=mode),
                hint=N_("Save it as an ordinary RGB {formats} image and send it again.", formats=SUPPORTED_WORDS),
            ) from exc
    if mode in ("RGB", "RGBA", "P", "PA"):
        return with_profile(rgb, icc, "RGB") or rgb
    return rgb


def stretch_to_8bit(image: Image.Image) -> Image.Image:
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


def with_profile(image: Image.Image, icc: bytes | None, space: str) -> Image.Image | None:
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

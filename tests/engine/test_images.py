"""engine.images: what a user gets back for the pictures people really send, and what they are told when
the upload cannot be used. Every image is built in memory; "large" images are hand-written headers only."""

from __future__ import annotations

import io
import random
import struct
import zlib

import numpy as np
import pytest
from PIL import Image, ImageCms

from engine.errors import InvalidImage
from engine.images import ALLOWED_FORMATS, ImageInfo, fit_image, inspect_image, load_image

MAX_BYTES = 5_000_000
MAX_PIXELS = 40_000_000

RED = (255, 0, 0)
GREEN = (0, 255, 0)
BLUE = (0, 0, 255)
WHITE = (255, 255, 255)
BLACK = (0, 0, 0)


# --- builders -------------------------------------------------------------------------------------------


def encode(image: Image.Image, fmt: str, **params: object) -> bytes:
    buf = io.BytesIO()
    image.save(buf, fmt, **params)
    return buf.getvalue()


def noise(width: int = 64, height: int = 64) -> Image.Image:
    rng = np.random.default_rng(7)
    return Image.fromarray(rng.integers(0, 256, (height, width, 3), dtype=np.uint8))


def png_chunk(kind: bytes, payload: bytes) -> bytes:
    return struct.pack(">I", len(payload)) + kind + payload + struct.pack(">I", zlib.crc32(kind + payload))


def png_header_only(width: int, height: int) -> bytes:
    """A structurally valid 1-bit PNG declaring any size, a few dozen bytes long: decoding it would fail,
    so a test passing with it proves the size was judged from the header alone."""
    ihdr = struct.pack(">IIBBBBB", width, height, 1, 0, 0, 0, 0)
    return (
        b"\x89PNG\r\n\x1a\n"
        + png_chunk(b"IHDR", ihdr)
        + png_chunk(b"IDAT", zlib.compress(b"\x00"))
        + png_chunk(b"IEND", b"")
    )


def webp_header_only(width: int, height: int) -> bytes:
    vp8x = b"\x00\x00\x00\x00" + (width - 1).to_bytes(3, "little") + (height - 1).to_bytes(3, "little")
    body = b"WEBP" + b"VP8X" + struct.pack("<I", len(vp8x)) + vp8x
    return b"RIFF" + struct.pack("<I", len(body)) + body


def mp4_header() -> bytes:
    ftyp = b"ftypmp42" + b"\x00\x00\x00\x00" + b"mp42isom"
    return struct.pack(">I", len(ftyp) + 4) + ftyp + b"\x00\x00\x00\x08free" + bytes(64)


def heic_header() -> bytes:
    ftyp = b"ftypheic" + b"\x00\x00\x00\x00" + b"mif1heic"
    return struct.pack(">I", len(ftyp) + 4) + ftyp + bytes(64)


def truncated(data: bytes) -> bytes:
    return data[: len(data) // 2]


def rgb_at(image: Image.Image, xy: tuple[int, int]) -> tuple[int, int, int]:
    return image.getpixel(xy)  # type: ignore[return-value]


def assert_close(actual: tuple[int, ...], expected: tuple[int, ...], tol: int = 12) -> None:
    assert all(abs(a - e) <= tol for a, e in zip(actual, expected, strict=True)), (actual, expected)


def load(data: bytes) -> Image.Image:
    image = load_image(data, max_bytes=MAX_BYTES, max_pixels=MAX_PIXELS)
    assert image.mode == "RGB"
    return image


# --- orientation ----------------------------------------------------------------------------------------


def exif_rotated_jpeg() -> bytes:
    """Stored 64x32 with a red top-left block; orientation 6 says "turn 90 degrees clockwise to view"."""
    stored = Image.new("RGB", (64, 32), BLUE)
    stored.paste(RED, (0, 0, 16, 16))
    exif = Image.Exif()
    exif[0x0112] = 6
    return encode(stored, "JPEG", quality=95, exif=exif.tobytes())


def test_exif_orientation_is_applied() -> None:
    image = load(exif_rotated_jpeg())
    assert image.size == (32, 64)
    # Turning clockwise carries the stored top-left corner to the top-right.
    assert_close(rgb_at(image, (24, 8)), RED, tol=30)
    assert_close(rgb_at(image, (8, 8)), BLUE, tol=30)
    assert_close(rgb_at(image, (24, 56)), BLUE, tol=30)


def test_inspect_reports_the_orientation_the_user_sees() -> None:
    info = inspect_image(exif_rotated_jpeg(), max_bytes=MAX_BYTES, max_pixels=MAX_PIXELS)
    assert info == ImageInfo(format="JPEG", width=32, height=64, mode="RGB")


def test_broken_exif_does_not_cost_the_user_their_picture() -> None:
    data = encode(Image.new("RGB", (32, 32), RED), "JPEG", quality=95, exif=b"Exif\x00\x00II*\x00garbage")
    assert inspect_image(data, max_bytes=MAX_BYTES, max_pixels=MAX_PIXELS).width == 32
    assert_close(rgb_at(load(data), (16, 16)), RED)


# --- modes ----------------------------------------------------------------------------------------------


def test_transparent_area_becomes_white_and_half_alpha_blends() -> None:
    rgba = Image.new("RGBA", (32, 32), (255, 0, 0, 255))
    rgba.paste((0, 0, 0, 0), (0, 0, 16, 32))  # transparent black: dropping alpha would show black
    rgba.paste((255, 0, 0, 128), (16, 16, 32, 32))
    image = load(encode(rgba, "PNG"))
    assert rgb_at(image, (4, 4)) == WHITE
    assert rgb_at(image, (24, 4)) == RED
    assert_close(rgb_at(image, (24, 24)), (255, 127, 127), tol=2)


def test_grey_with_alpha_becomes_white_where_transparent() -> None:
    la = Image.new("LA", (32, 32), (0, 255))
    la.paste((0, 0), (0, 0, 16, 32))
    image = load(encode(la, "PNG"))
    assert rgb_at(image, (4, 4)) == WHITE
    assert rgb_at(image, (24, 4)) == BLACK


def test_palette_transparency_becomes_white() -> None:
    pal = Image.new("P", (32, 32), 1)
    pal.putpalette([0, 0, 0, 0, 200, 0] + [0, 0, 0] * 254)
    pal.paste(0, (0, 0, 16, 32))
    image = load(encode(pal, "PNG", transparency=0))
    assert rgb_at(image, (4, 4)) == WHITE
    assert rgb_at(image, (24, 4)) == (0, 200, 0)


def test_palette_without_transparency_keeps_its_colours() -> None:
    pal = Image.new("P", (32, 32), 1)
    pal.putpalette([0, 0, 0, 0, 0, 200] + [0, 0, 0] * 254)
    assert rgb_at(load(encode(pal, "PNG")), (4, 4)) == (0, 0, 200)


def test_cmyk_jpeg_comes_back_in_rgb_colours() -> None:
    cmyk = Image.new("CMYK", (32, 32), (0, 255, 255, 0))  # full magenta + yellow = red
    data = encode(cmyk, "JPEG", quality=95)
    assert inspect_image(data, max_bytes=MAX_BYTES, max_pixels=MAX_PIXELS).mode == "CMYK"
    assert_close(rgb_at(load(data), (16, 16)), RED)


def test_cmyk_with_an_unusable_colour_profile_still_loads() -> None:
    cmyk = Image.new("CMYK", (32, 32), (0, 255, 255, 0))
    data = encode(cmyk, "JPEG", quality=95, icc_profile=b"not a real profile")
    assert_close(rgb_at(load(data), (16, 16)), RED)


def test_srgb_tagged_photo_keeps_its_colours() -> None:
    srgb = ImageCms.ImageCmsProfile(ImageCms.createProfile("sRGB")).tobytes()
    data = encode(Image.new("RGB", (32, 32), (200, 100, 50)), "PNG", icc_profile=srgb)
    assert rgb_at(load(data), (16, 16)) == (200, 100, 50)


def test_sixteen_bit_grey_keeps_dark_dark_and_bright_bright() -> None:
    values = np.zeros((16, 64), dtype="<u2")
    values[:, 16:32] = 1000  # very dark in 16-bit: must not become white (Pillow's convert clips)
    values[:, 32:48] = 32768
    values[:, 48:64] = 65535
    data = encode(Image.fromarray(values), "PNG")
    assert inspect_image(data, max_bytes=MAX_BYTES, max_pixels=MAX_PIXELS).mode == "I;16"
    image = load(data)
    assert rgb_at(image, (8, 8)) == BLACK
    assert max(rgb_at(image, (24, 8))) <= 10
    assert_close(rgb_at(image, (40, 8)), (128, 128, 128), tol=2)
    assert rgb_at(image, (56, 8)) == WHITE


def test_grey_image_becomes_grey_rgb() -> None:
    assert rgb_at(load(encode(Image.new("L", (32, 32), 100), "PNG")), (5, 5)) == (100, 100, 100)


def test_one_bit_bmp_becomes_black_and_white_rgb() -> None:
    bits = Image.new("1", (32, 32), 0)
    bits.paste(1, (16, 0, 32, 32))
    image = load(encode(bits, "BMP"))
    assert rgb_at(image, (4, 4)) == BLACK
    assert rgb_at(image, (24, 4)) == WHITE


def test_animated_gif_gives_its_first_frame() -> None:
    frames = [Image.new("RGB", (32, 32), colour) for colour in (RED, GREEN, BLUE)]
    data = encode(frames[0], "GIF", save_all=True, append_images=frames[1:], duration=100, loop=0)
    assert rgb_at(load(data), (16, 16)) == RED


def test_animated_webp_gives_its_first_frame() -> None:
    frames = [Image.new("RGB", (32, 32), colour) for colour in (GREEN, RED, BLUE)]
    data = encode(frames[0], "WEBP", save_all=True, append_images=frames[1:], duration=100, lossless=True)
    assert rgb_at(load(data), (16, 16)) == GREEN


def test_iphone_style_mpo_counts_as_jpeg() -> None:
    data = encode(noise(), "MPO", save_all=True, append_images=[noise()])
    info = inspect_image(data, max_bytes=MAX_BYTES, max_pixels=MAX_PIXELS)
    assert info.format == "JPEG" and info.format in ALLOWED_FORMATS
    assert load(data).size == (64, 64)


@pytest.mark.parametrize("fmt", ["PNG", "JPEG", "WEBP", "GIF", "BMP"])
def test_every_allowed_format_is_inspected_and_loaded(fmt: str) -> None:
    data = encode(Image.new("RGB", (48, 24), (10, 120, 240)), fmt)
    info = inspect_image(data, max_bytes=MAX_BYTES, max_pixels=MAX_PIXELS)
    assert (info.format, info.width, info.height) == (fmt, 48, 24)
    assert load(data).size == (48, 24)


def test_metadata_is_not_carried_into_the_result() -> None:
    exif = Image.Exif()
    exif[0x010F] = "PhoneMaker"
    data = encode(Image.new("RGB", (32, 32), RED), "JPEG", exif=exif.tobytes())
    assert "exif" not in load(data).info


# --- fit_image ------------------------------------------------------------------------------------------


def square_on_wide_canvas() -> Image.Image:
    """1000x500 blue with a 100x100 red square in the middle."""
    image = Image.new("RGB", (1000, 500), BLUE)
    image.paste(RED, (450, 200, 550, 300))
    return image


def red_box(image: Image.Image) -> tuple[int, int, int, int]:
    pixels = np.asarray(image).astype(int)
    red = (pixels[..., 0] > 180) & (pixels[..., 1] < 80) & (pixels[..., 2] < 80)
    ys, xs = np.nonzero(red)
    return int(xs.min()), int(ys.min()), int(xs.max()) + 1, int(ys.max()) + 1


@pytest.mark.parametrize(
    ("size", "scale"),
    [((1024, 576), 576 / 500), ((576, 1024), 1024 / 500)],
    ids=["landscape", "portrait"],
)
def test_fit_covers_crops_to_the_centre_and_does_not_distort(size: tuple[int, int], scale: float) -> None:
    fitted = fit_image(square_on_wide_canvas(), *size)
    assert fitted.size == size
    assert fitted.mode == "RGB"
    centre = (size[0] // 2, size[1] // 2)
    assert rgb_at(fitted, centre) == RED
    left, top, right, bottom = red_box(fitted)
    side = 100 * scale
    assert abs((right - left) - side) <= 2 and abs((bottom - top) - side) <= 2
    assert abs((right - left) - (bottom - top)) <= 1  # still a square
    assert abs((left + right) / 2 - centre[0]) <= 1 and abs((top + bottom) / 2 - centre[1]) <= 1
    # Cover, not contain: no letterbox bars, the frame edges show the picture itself.
    assert_close(rgb_at(fitted, (0, 0)), BLUE, tol=2)
    assert_close(rgb_at(fitted, (size[0] - 1, size[1] - 1)), BLUE, tol=2)


def test_fit_to_the_same_size_returns_an_equal_copy() -> None:
    source = square_on_wide_canvas()
    fitted = fit_image(source, 1000, 500)
    assert fitted is not source
    assert fitted.tobytes() == source.tobytes()


@pytest.mark.parametrize(("width", "height"), [(0, 576), (1024, 0), (-1, 576), (1024, -5)])
def test_fit_refuses_empty_or_negative_sizes(width: int, height: int) -> None:
    with pytest.raises(ValueError, match="positive size"):
        fit_image(square_on_wide_canvas(), width, height)


# --- bad uploads ----------------------------------------------------------------------------------------

BAD = [
    # id, data, expected words in the message, extra kwargs, also refused by inspect_image
    ("empty", lambda: b"", ["empty"], {}, True),
    ("random-bytes", lambda: random.Random(1).randbytes(4096), ["isn't a picture"], {}, True),
    ("text", lambda: b"Here is my cat, please make it dance!\n" * 20, ["text"], {}, True),
    ("truncated-png", lambda: truncated(encode(noise(), "PNG")), ["PNG", "damaged or incomplete"], {}, True),
    (
        "truncated-jpeg",
        lambda: truncated(encode(noise(), "JPEG")),
        ["JPEG", "damaged or incomplete"],
        {},
        False,  # only decoding finds a JPEG's missing tail
    ),
    (
        "over-max-bytes",
        lambda: b"\x89PNG\r\n\x1a\n" + bytes(1_499_992),
        ["1.5 MB", "limit is 1 MB"],
        {"max_bytes": 1_000_000},
        True,
    ),
    (
        "over-max-pixels",
        lambda: png_header_only(10_000, 5_000),
        ["10000x5000", "50 megapixels", "limit is 40 megapixels"],
        {},
        True,
    ),
    (
        "over-pillow-warning-limit",  # Pillow would warn here; the warning must not escape
        lambda: png_header_only(10_000, 10_000),
        ["10000x10000", "100 megapixels", "limit is 40 megapixels"],
        {},
        True,
    ),
    (
        "over-pillow-error-limit",  # Pillow refuses inside Image.open; still a user-facing message
        lambda: png_header_only(30_000, 30_000),
        ["900 megapixels", "limit is 40 megapixels"],
        {},
        True,
    ),
    (
        "webp-bomb",  # refused before the WebP decoder allocates its canvas
        lambda: webp_header_only(16_000, 16_000),
        ["16000x16000", "256 megapixels"],
        {},
        True,
    ),
    ("tiff", lambda: encode(Image.new("RGB", (32, 32), RED), "TIFF"), ["TIFF", "aren't supported"], {}, True),
    ("ico", lambda: encode(Image.new("RGB", (32, 32), RED), "ICO"), ["ICO", "aren't supported"], {}, True),
    ("psd", lambda: b"8BPS\x00\x01" + bytes(64), ["Photoshop"], {}, True),
    ("too-small", lambda: encode(Image.new("RGB", (8, 8), RED), "PNG"), ["8x8", "too small"], {}, True),
    ("too-thin", lambda: encode(Image.new("L", (400, 10)), "PNG"), ["400x10", "too small"], {}, True),
    (
        "pdf",
        lambda: b"%PDF-1.7\n%\xe2\xe3\xcf\xd3\n1 0 obj\n<< /Type /Catalog >>\nendobj\n",
        ["PDF"],
        {},
        True,
    ),
    ("mp4", mp4_header, ["video"], {}, True),
    ("heic", heic_header, ["HEIC"], {}, True),
    ("svg", lambda: b'<svg xmlns="http://www.w3.org/2000/svg" width="64" height="64"/>', ["SVG"], {}, True),
]


@pytest.mark.parametrize(("make", "words", "limits"), [b[1:4] for b in BAD], ids=[b[0] for b in BAD])
def test_bad_upload_is_refused_with_a_plain_reason(make, words: list[str], limits: dict[str, int]) -> None:
    kwargs = {"max_bytes": MAX_BYTES, "max_pixels": MAX_PIXELS} | limits
    with pytest.raises(InvalidImage) as refused:
        load_image(make(), **kwargs)
    for word in words:
        assert word in refused.value.message
    assert refused.value.hint, "every refusal says what to do next"
    assert refused.value.field == "image"


@pytest.mark.parametrize(
    ("make", "words", "limits"), [b[1:4] for b in BAD if b[4]], ids=[b[0] for b in BAD if b[4]]
)
def test_inspect_refuses_the_same_uploads(make, words: list[str], limits: dict[str, int]) -> None:
    kwargs = {"max_bytes": MAX_BYTES, "max_pixels": MAX_PIXELS} | limits
    with pytest.raises(InvalidImage) as refused:
        inspect_image(make(), **kwargs)
    for word in words:
        assert word in refused.value.message


def test_message_reads_like_the_brief_example() -> None:
    with pytest.raises(InvalidImage) as refused:
        inspect_image(png_header_only(12_000, 9_000), max_bytes=MAX_BYTES, max_pixels=MAX_PIXELS)
    assert refused.value.message == (
        "That image is 12000x9000 pixels (108 megapixels); the limit is 40 megapixels."
    )
    assert refused.value.hint == "Send a smaller picture or a screenshot of it."


def test_the_callers_pixel_limit_wins_over_pillows_global_one() -> None:
    before = Image.MAX_IMAGE_PIXELS
    info = inspect_image(png_header_only(10_000, 10_000), max_bytes=MAX_BYTES, max_pixels=150_000_000)
    assert (info.width, info.height) == (10_000, 10_000)
    assert Image.MAX_IMAGE_PIXELS == before

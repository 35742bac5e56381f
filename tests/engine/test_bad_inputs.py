"""Bad requests get a clear error naming the problem, and leave nothing behind: no job, no charge."""

from __future__ import annotations

import io
import struct
import zlib
from typing import Any

import pytest
from PIL import Image
from sqlalchemy import text

from engine.errors import InvalidInput
from engine.types import Options, Origin, SubmitRequest, UserRef


def png_header(width: int, height: int) -> bytes:
    """A tiny PNG that claims to be huge (a decompression bomb's calling card)."""
    ihdr = struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0)
    chunk = b"IHDR" + ihdr
    body = struct.pack(">I", len(ihdr)) + chunk + struct.pack(">I", zlib.crc32(chunk))
    idat = zlib.compress(b"\0" * 16)
    body += struct.pack(">I", len(idat)) + b"IDAT" + idat + struct.pack(">I", zlib.crc32(b"IDAT" + idat))
    return b"\x89PNG\r\n\x1a\n" + body


def picture(size: tuple[int, int], fmt: str = "PNG") -> bytes:
    buf = io.BytesIO()
    Image.new("RGB", size, (10, 200, 10)).save(buf, format=fmt)
    return buf.getvalue()


CASES: list[tuple[str, dict[str, Any], str]] = [
    ("empty prompt", {"prompt": ""}, "Describe the video"),
    ("blank prompt", {"prompt": "   \n "}, "Describe the video"),
    ("prompt too long", {"prompt": "cat " * 400}, "the limit is 1,000"),
    ("negative prompt too long", {"negative_prompt": "x" * 1001}, "negative prompt is 1,001"),
    ("zero frames", {"frames": 0}, "frames must be between 1 and 129"),
    ("too many frames", {"frames": 10_000}, "you asked for 10,000"),
    ("frames as text", {"frames": "25"}, "whole number"),
    ("frames as bool", {"frames": True}, "whole number"),
    ("zero fps", {"fps": 0}, "fps must be between 1 and 60"),
    ("fps too high", {"fps": 500}, "fps must be between 1 and 60"),
    ("negative seed", {"seed": -1}, "seed must be between 0"),
    ("seed too big", {"seed": 2**40}, "seed must be between 0"),
    ("zero steps", {"steps": 0}, "steps must be between 1 and 100"),
    ("too many steps", {"steps": 1000}, "steps must be between 1 and 100"),
    ("width without height", {"width": 512}, "both width and height"),
    ("width not multiple of 8", {"width": 100, "height": 64}, "multiple of 8"),
    ("frame too large", {"width": 4096, "height": 2048}, "the limit here is 921,600"),
    ("portrait and size", {"width": 512, "height": 512, "portrait": True}, "not both"),
    ("bad model name", {"model": "../../etc/passwd; rm"}, "is not a model name"),
    ("bad provider name", {"provider": "Not Valid!"}, "is not a provider name"),
    ("unknown provider", {"provider": "nowhere"}, "no provider called 'nowhere'"),
    ("image is text", {"image": b"hello, this is not a picture"}, "not"),
    ("image is empty", {"image": b""}, "empty"),
    ("decompression bomb", {"image": png_header(30000, 30000)}, "megapixels"),
    ("image too small", {"image": picture((8, 8))}, "too small"),
    ("image too many bytes", {"image": b"\x89PNG" + b"0" * (21 * 1024 * 1024)}, "MB"),
    ("image is a TIFF", {"image": picture((64, 64), "TIFF")}, "TIFF"),
    ("no user id", {"user": UserRef("test", "")}, "who sent it"),
]


@pytest.mark.parametrize(("name", "fields", "expected"), CASES, ids=[c[0] for c in CASES])
async def test_bad_input_is_refused_clearly_and_costs_nothing(app_factory, name, fields, expected):
    app = await app_factory()
    fields = dict(fields)
    prompt = fields.pop("prompt", "a cat surfing")
    image = fields.pop("image", None)
    user = fields.pop("user", UserRef("test", "u1"))
    request = SubmitRequest(user, prompt, Origin("test"), Options(**fields), image)
    with pytest.raises(InvalidInput) as err:
        await app.service.submit(request)
    assert expected.lower() in str(err.value).lower()
    assert err.value.field
    with app.db.transaction() as conn:
        counts = [conn.execute(text(f"SELECT count(*) FROM {t}")).scalar_one()
                  for t in ("jobs", "ledger", "attempts", "deliveries")]
    assert counts == [0, 0, 0, 0]
    assert not any(app.settings.uploads_dir.iterdir())

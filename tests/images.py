"""Pictures for tests, made on the spot."""

from __future__ import annotations

import io

from PIL import Image


def png(width: int = 320, height: int = 240, color: tuple[int, int, int] = (200, 80, 40)) -> bytes:
    out = io.BytesIO()
    Image.new("RGB", (width, height), color).save(out, format="PNG")
    return out.getvalue()

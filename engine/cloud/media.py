"""Input pictures in the form each provider takes: cropped to its frame, encoded, within its byte limit."""

from __future__ import annotations

import asyncio
import base64
import io
from pathlib import Path

from PIL import Image

from engine.errors import RejectedInput
from engine.images import fit_image
from engine.words import N_


async def prepared(path: Path, width: int, height: int, *, max_bytes: int, provider: str) -> bytes:
    """The stored upload cropped (never stretched) to ``width`` x ``height`` as JPEG, under ``max_bytes``.

    Quality steps down until it fits; a picture that cannot fit even so is refused with the limit named.
    The work runs in a thread: a large picture takes a while to resize and encode.
    """
    return await asyncio.to_thread(_prepared, path, width, height, max_bytes, provider)


def _prepared(path: Path, width: int, height: int, max_bytes: int, provider: str) -> bytes:
    with Image.open(path) as image:
        framed = fit_image(image.convert("RGB"), width, height)
    for quality in (92, 85, 75, 60):
        buffer = io.BytesIO()
        framed.save(buffer, format="JPEG", quality=quality)
        if buffer.tell() <= max_bytes:
            return buffer.getvalue()
    raise RejectedInput(
        N_("The picture is over the {kb:,} KB {provider} accepts, even compressed.", kb=max_bytes // 1024,
           provider=provider),
        backend=provider, hint=N_("Send a simpler or smaller picture."),
    )


def data_uri(data: bytes, mime: str = "image/jpeg") -> str:
    return f"data:{mime};base64,{base64.b64encode(data).decode('ascii')}"

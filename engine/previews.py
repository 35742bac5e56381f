"""The preview picture while a job runs: whether a place wants one, and how a cheap one is made.

Per place (a Discord server or DM, a Telegram chat), off by default, switched by the bot's admins with
``/preview on|off`` in that place. A job admitted from a place that has it on carries ``Options.preview``;
its backend then sends one small JPEG at about half-way with its progress (``RunContext.progress``), and the
front end puts it into the job's progress message. A local pipeline makes it from the denoiser's latents of
the middle frame with a fixed linear map to RGB (no VAE decode, no GPU time worth counting); the simulated
backend from its own frame; a cloud provider sends none unless it gives one.

The switches are read from the database once and kept: every submit asks, and a place's admins change them
through this process (as ``engine.chosen`` does for languages).
"""

from __future__ import annotations

import asyncio
import io
from typing import TYPE_CHECKING

import numpy as np
import PIL.Image

from engine.clock import utcnow
from engine.types import Origin

if TYPE_CHECKING:
    from storage.repo import Repository

PREVIEW_WIDTH = 320  # pixels: enough to see where the video goes, a few kilobytes
# Stable Diffusion's 4 latent channels to RGB, the approximation its community uses for live previews (the
# SD VAE family: SVD, zeroscope, AnimateDiff); other latents fall back to their first three channels.
_SD_LATENT_RGB = np.array([[0.298, 0.207, 0.208], [0.187, 0.286, 0.173], [-0.158, 0.189, 0.264],
                           [-0.184, -0.271, -0.473]], dtype=np.float32)


def place_of(origin: Origin) -> str:
    """The place a request comes from: its server or group (``Origin.scope``), else its chat."""
    return origin.scope or f"{origin.platform}:chat:{origin.chat_id}"


def halfway(step: int, total: int) -> bool:
    """Whether ``step`` (1-based) is the one at about half-way, where the one preview is made."""
    return step == max(1, (total + 1) // 2)


def jpeg(rgb: np.ndarray | PIL.Image.Image, width: int = PREVIEW_WIDTH) -> bytes:
    """A small JPEG of an RGB picture (uint8, or float 0-1), ``width`` wide at most."""
    if isinstance(rgb, PIL.Image.Image):
        image = rgb.convert("RGB")
    else:
        array = np.asarray(rgb)
        if np.issubdtype(array.dtype, np.floating):
            array = (np.clip(np.nan_to_num(array), 0.0, 1.0) * 255.0 + 0.5).astype(np.uint8)
        image = PIL.Image.fromarray(array[:, :, :3])
    if image.width != width:
        height = max(2, round(image.height * width / image.width))
        image = image.resize((width, height), PIL.Image.Resampling.BILINEAR)
    out = io.BytesIO()
    image.save(out, format="JPEG", quality=75)
    return out.getvalue()


def latents_to_rgb(latents: np.ndarray) -> np.ndarray:
    """One frame's latents (channels x height x width) as an RGB picture (height x width x 3, 0-1)."""
    channels = latents.shape[0]
    flat = latents.reshape(channels, -1).T.astype(np.float32)
    if channels == 4:
        rgb = flat @ _SD_LATENT_RGB
        rgb = (rgb + 1.0) / 2.0
    else:
        rgb = flat[:, :3] if channels >= 3 else np.repeat(flat[:, :1], 3, axis=1)
        low, high = float(rgb.min()), float(rgb.max())
        rgb = (rgb - low) / (high - low or 1.0)
    return np.clip(rgb.reshape(latents.shape[1], latents.shape[2], 3), 0.0, 1.0)


def latent_preview(latents: np.ndarray, *, frames_first: bool) -> bytes | None:
    """The JPEG preview of a video's latents at this step: the middle frame, mapped to RGB. ``latents``:
    batch x frames x channels x h x w (``frames_first``, as SVD keeps them) or batch x channels x frames x h
    x w (zeroscope, Wan); one picture's latents (batch x channels x h x w) are taken as they are. Packed
    latents (LTX-Video's tokens) have no picture shape: None."""
    array = np.asarray(latents)
    if array.ndim == 5:
        sample = array[0]
        frame = sample[sample.shape[0] // 2] if frames_first else sample[:, sample.shape[1] // 2]
    elif array.ndim == 4:
        frame = array[0]
    else:
        return None
    return jpeg(latents_to_rgb(frame))


class PreviewPlaces:
    def __init__(self, repo: Repository) -> None:
        self.repo = repo
        self._on: set[str] | None = None
        self._loading = asyncio.Lock()

    async def wanted(self, origin: Origin) -> bool:
        return place_of(origin) in await self._all()

    async def switch(self, origin: Origin, on: bool) -> None:
        place = place_of(origin)
        await self.repo.set_place_preview(place, on, utcnow())
        places = await self._all()
        if on:
            places.add(place)
        else:
            places.discard(place)

    async def _all(self) -> set[str]:
        async with self._loading:
            if self._on is None:
                self._on = await self.repo.preview_places()
        return self._on

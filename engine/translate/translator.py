"""The translator: one translation model, loaded on first use and then kept warm, run on its own thread.

Loading and translating block (torch), so both happen on the translator's single worker thread, never on the
event loop; one thread also means one call at a time on the model, which is not thread-safe. Every
translation is remembered per (text, language), so a prompt sent again (Retry, Same seed, a fallback) costs
nothing. A model that cannot be loaded is not asked again for ``retry_after_s``: jobs meanwhile go on at once
with their prompt as written.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections import OrderedDict
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

from engine.translate.model import TranslationModel, TranslationUnavailable, load_translation_model

log = logging.getLogger(__name__)
DEFAULT_MODEL = "Helsinki-NLP/opus-mt-ko-en"

Loader = Callable[..., TranslationModel]


class PromptTranslator:
    def __init__(
        self,
        model: str = DEFAULT_MODEL,
        *,
        device: str = "cpu",
        token: str | None = None,
        cache_dir: Path | None = None,
        offline: bool = False,
        load: Loader = load_translation_model,
        retry_after_s: float = 600.0,
        cache_size: int = 2000,
    ) -> None:
        self.model = model
        self.device = device
        self.token = token
        self.cache_dir = cache_dir
        self.offline = offline
        self.retry_after_s = retry_after_s
        self.cache_size = cache_size
        self._load = load
        self._loaded: TranslationModel | None = None
        self._broken: tuple[float, TranslationUnavailable] | None = None
        self._cache: OrderedDict[tuple[str, str], str] = OrderedDict()
        self._pool = ThreadPoolExecutor(max_workers=1, thread_name_prefix="reelbot-translate")

    async def translate(self, text: str, source: str) -> str:
        """``text``, written in ``source``, in English; :class:`TranslationUnavailable` when it cannot be."""
        key = (text, source)
        if (known := self._cache.get(key)) is not None:
            self._cache.move_to_end(key)
            return known
        english = await asyncio.get_running_loop().run_in_executor(self._pool, self._translate, text, source)
        self._cache[key] = english
        while len(self._cache) > self.cache_size:
            self._cache.popitem(last=False)
        return english

    @property
    def problem(self) -> TranslationUnavailable | None:
        """Why the model could not be loaded the last time it was tried (None: loaded, or not tried yet)."""
        return self._broken[1] if self._broken is not None and self._loaded is None else None

    @property
    def loaded(self) -> bool:
        return self._loaded is not None

    def close(self) -> None:
        self._pool.shutdown(wait=False, cancel_futures=True)

    # --- on the translator's thread ---

    def _translate(self, text: str, source: str) -> str:
        model = self._model()
        try:
            return model.translate(text, source)
        except TranslationUnavailable:
            raise
        except Exception as exc:  # a model that breaks on one prompt: that prompt goes as written
            log.exception("translating a prompt with %s failed", self.model)
            raise TranslationUnavailable(
                f"Translating with {self.model} failed: {type(exc).__name__}: {exc}") from exc

    def _model(self) -> TranslationModel:
        if self._loaded is not None:
            return self._loaded
        if self._broken is not None and time.monotonic() < self._broken[0]:
            raise self._broken[1]
        started = time.monotonic()
        try:
            self._loaded = self._load(self.model, device=self.device, token=self.token,
                                      cache_dir=self.cache_dir, offline=self.offline)
        except TranslationUnavailable as exc:
            self._broken = (time.monotonic() + self.retry_after_s, exc)
            log.warning("prompt translation is unavailable, prompts go as written: %s", exc)
            raise
        self._broken = None
        log.info("translation model %s loaded on %s in %.1f s", self.model, self.device,
                 time.monotonic() - started)
        return self._loaded

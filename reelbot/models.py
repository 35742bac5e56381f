"""`reelbot models list` and `reelbot models pull NAME`: the local models' weights, ahead of the first job.

``pull`` lists what the model needs from the Hub (the same plan a job's first load uses,
``engine/local/download.py``), refuses before fetching a byte when the disk cannot hold it (saying how much is
needed and how much is free), and downloads with a progress bar. ``list`` says for each model whether it reads
the prompt, and whether its weights are here, with their size.

Weights are fetched as the GPUs will load them: the fp16 variant where the model has one, unless
``GPUS=cpu`` or ``none`` (a CPU loads full precision).
"""

from __future__ import annotations

import asyncio
import sys
from pathlib import Path
from typing import TextIO

from bot.i18n import Words
from bot.render import progress_bar
from engine.errors import BackendError, InvalidInput, ModelUnavailable
from engine.local.download import (
    DiskFree,
    DownloadPlan,
    cache_root,
    check_disk,
    disk_free,
    download,
    is_hub_model,
    plan_download,
)
from engine.local.pipelines import explain_load_error
from engine.local.registry import ModelSpec, load_registry, resolve
from reelbot.settings import Settings


def _cache_dir(settings: Settings) -> Path | None:
    return settings.hf_home / "hub" if settings.hf_home else None


def _token(settings: Settings) -> str | None:
    return settings.hf_token.get_secret_value() if settings.hf_token else None


def _variant(settings: Settings, spec: ModelSpec) -> str | None:
    return None if settings.gpus.strip().lower() in ("cpu", "none") else spec.variant


def size_text(w: Words, size: int) -> str:
    if size >= 1e9:
        return w._("{size} GB", size=w.number(size / 1e9, 1))
    return w._("{size} MB", size=w.number(size / 1e6, 1))


def _plan(settings: Settings, spec: ModelSpec) -> DownloadPlan:
    try:
        return plan_download(spec, token=_token(settings), cache_dir=_cache_dir(settings),
                             variant=_variant(settings, spec))
    except Exception as exc:  # the Hub's refusal (gated, missing, unreachable), in the words load errors use
        raise explain_load_error(exc, spec, settings.hf_token is not None, settings.hf_hub_offline) from exc


def pull(settings: Settings, name: str, w: Words, *, out: TextIO | None = None, free: DiskFree = disk_free) -> int:
    """Download one model's weights; 0 when they are all here, 2 when refused (unknown, gated, no room)."""
    out = out or sys.stdout
    registry = load_registry(settings.local_models)
    try:
        spec = resolve(name, registry)
    except (InvalidInput, ModelUnavailable) as exc:
        print("reelbot: " + w.text(exc.text) + (" " + w.text(exc.hint_text) if exc.hint_text else ""), file=out)
        return 2
    if not is_hub_model(spec):
        print(w._("{model} is a folder on this machine ({folder}): nothing to download.", model=spec.name,
                  folder=spec.source), file=out)
        return 0
    if settings.hf_hub_offline:
        print("reelbot: " + w._("HF_HUB_OFFLINE is set, so nothing can be downloaded. Unset it to pull {model}.",
                                model=spec.name), file=out)
        return 2
    try:
        plan = _plan(settings, spec)
        if plan.complete:
            print(w._("{model} is already downloaded ({size}).", model=spec.name,
                      size=size_text(w, plan.total_bytes)), file=out)
            return 0
        check_disk(spec, plan, _cache_dir(settings), free)
    except BackendError as exc:
        print("reelbot: " + w.text(exc.text) + (" " + w.text(exc.hint_text) if exc.hint_text else ""), file=out)
        return 2
    print(w._("Downloading {model} from {repo}: {size} to fetch, into {where}.", model=spec.name,
              repo=spec.source, size=size_text(w, plan.missing_bytes), where=str(cache_root(_cache_dir(settings)))),
          file=out)
    bar = _Bar(w, out)
    try:
        download(spec, plan, token=_token(settings), cache_dir=_cache_dir(settings), progress=bar)
    except Exception as exc:
        bar.end()
        said = explain_load_error(exc, spec, settings.hf_token is not None, False)
        print("reelbot: " + w.text(said.text) + (" " + w.text(said.hint_text) if said.hint_text else ""), file=out)
        return 2
    bar.end()
    print(w._("{model} is downloaded ({size}). Its first job starts without waiting for it.", model=spec.name,
              size=size_text(w, plan.total_bytes)), file=out)
    return 0


class _Bar:
    """A live bar on a terminal; every tenth of the way, a line otherwise (logs, pipes)."""

    def __init__(self, w: Words, out: TextIO) -> None:
        self.w = w
        self.out = out
        self.live = out.isatty()
        self._tenth = -1

    def __call__(self, done: int, total: int) -> None:
        line = f"{progress_bar(done, total)} {size_text(self.w, done)} / {size_text(self.w, total)}"
        if self.live:
            self.out.write("\r" + line)
        elif (tenth := 10 * done // max(total, 1)) != self._tenth:
            self._tenth = tenth
            self.out.write(line + "\n")
        self.out.flush()

    def end(self) -> None:
        if self.live:
            self.out.write("\n")


def listing(settings: Settings, w: Words, *, out: TextIO | None = None) -> int:
    """Each local model: what it makes, whether it reads the words, and whether its weights are here."""
    out = out or sys.stdout
    registry = load_registry(settings.local_models)
    for spec in registry.values():
        kinds = w.join(w._("text-to-video") if k.value == "text-to-video" else w._("image-to-video")
                       for k in sorted(spec.kinds))
        words = w._("reads the prompt") if spec.uses_prompt else w._("takes no prompt")
        print(f"{spec.name}  ({kinds}; {words})  {spec.source}", file=out)
        print("    " + _where(settings, spec, w), file=out)
    print(w._("Download one ahead of its first job: reelbot models pull NAME"), file=out)
    return 0


def _where(settings: Settings, spec: ModelSpec, w: Words) -> str:
    if not is_hub_model(spec):
        return w._("a folder on this machine")
    on_disk = _on_disk(_cache_dir(settings), spec.source)
    if not settings.hf_hub_offline:
        try:
            plan = _plan(settings, spec)
        except BackendError:
            plan = None
        if plan is not None:
            if plan.complete:
                return w._("downloaded ({size})", size=size_text(w, plan.total_bytes))
            if plan.missing_bytes < plan.total_bytes and on_disk:
                return w._("partly downloaded: {done} of {size}", done=size_text(w, plan.total_bytes -
                                                                                   plan.missing_bytes),
                           size=size_text(w, plan.total_bytes))
            return w._("not downloaded ({size})", size=size_text(w, plan.total_bytes))
    if on_disk:
        return w._("{size} on disk (the Hub was not asked whether that is all of it)", size=size_text(w, on_disk))
    return w._("not downloaded")


def _on_disk(cache_dir: Path | None, repo: str) -> int:
    """Bytes this repo's weights take in the cache (its blobs), 0 if none."""
    blobs = cache_root(cache_dir) / f"models--{repo.replace('/', '--')}" / "blobs"
    if not blobs.is_dir():
        return 0
    return sum(p.stat().st_size for p in blobs.iterdir() if p.is_file() and not p.name.endswith(".incomplete"))


async def cmd_list(settings: Settings, w: Words) -> int:
    return await asyncio.to_thread(listing, settings, w)


async def cmd_pull(settings: Settings, name: str, w: Words) -> int:
    return await asyncio.to_thread(pull, settings, name, w)

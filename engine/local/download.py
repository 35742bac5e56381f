"""Downloading a model's weights from the Hugging Face Hub before loading them, with the bytes counted.

The first job for a model would otherwise sit silent for minutes while ``from_pretrained`` fetches
gigabytes. Here the files a pipeline needs are listed from the Hub's file listing (the pipeline's
``model_index.json`` names its component folders; within a folder the ``variant`` weights (fp16) are taken
when the folder has them, safetensors before pickles, as diffusers chooses), their sizes summed, the free
disk checked, and ``snapshot_download`` fetches them with a ``tqdm_class`` that reports the bytes written.
The pipeline is then loaded from the local snapshot. ``reelbot models pull`` uses the same plan ahead of
time, and ``reelbot models list`` asks what of it is on disk.

The Hub is asked at ``HF_ENDPOINT`` as it is at call time (:func:`hub_endpoint`), so that a process (or a
test) pointed at a mirror after huggingface_hub was imported still downloads from there.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import threading
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from engine.errors import ModelUnavailable
from engine.local.registry import ModelSpec
from engine.words import N_

# Bytes done, bytes in all: called on the downloading thread, at most about once per percent.
ByteProgress = Callable[[int, int], None]
DiskFree = Callable[[Path], int]
GB = 1e9
SPARE_BYTES = 500_000_000  # left free after a download: a full disk breaks the database and the videos

_WEIGHTS = (".safetensors", ".bin", ".ckpt", ".pt", ".pth", ".msgpack", ".onnx", ".h5", ".gguf", ".onnx_data")
_PICKLES = (".bin", ".ckpt", ".pt", ".pth")


@dataclass(frozen=True, slots=True)
class RepoFile:
    path: str
    size: int
    cached: bool  # already complete in the local cache


@dataclass(frozen=True, slots=True)
class RepoPlan:
    repo: str
    folder: Path  # its snapshot in the local cache (complete once every file is cached)
    files: tuple[RepoFile, ...]


@dataclass(frozen=True, slots=True)
class DownloadPlan:
    """What one model needs from the Hub: each repo (the pipeline, then a motion adapter) and its files."""

    repos: tuple[RepoPlan, ...]

    @property
    def total_bytes(self) -> int:
        return sum(f.size for r in self.repos for f in r.files)

    @property
    def missing_bytes(self) -> int:
        return sum(f.size for r in self.repos for f in r.files if not f.cached)

    @property
    def complete(self) -> bool:
        return all(f.cached for r in self.repos for f in r.files)


def hub_endpoint() -> str:
    """``HF_ENDPOINT`` now, else what huggingface_hub read at import."""
    from huggingface_hub import constants

    return os.environ.get("HF_ENDPOINT", "").rstrip("/") or constants.ENDPOINT


def disk_free(path: Path) -> int:
    """Free bytes on the disk that holds ``path`` (or its nearest existing parent)."""
    probe = Path(path).expanduser().resolve()
    while not probe.exists() and probe != probe.parent:
        probe = probe.parent
    return shutil.disk_usage(probe).free


def cache_root(cache_dir: Path | None) -> Path:
    if cache_dir is not None:
        return Path(cache_dir)
    from huggingface_hub import constants

    return Path(constants.HF_HUB_CACHE)


def is_hub_model(spec: ModelSpec) -> bool:
    from engine.local.pipelines import is_folder

    return not is_folder(spec.source)


def repos_of(spec: ModelSpec) -> list[str]:
    """The Hub repos a model's weights come from: the pipeline's, and its motion adapter's if any."""
    repos = [spec.source]
    if adapter := spec.options.get("motion_adapter"):
        repos.append(str(adapter))
    return repos


def plan_download(spec: ModelSpec, *, token: str | None, cache_dir: Path | None, variant: str | None) -> DownloadPlan:
    """The files ``spec`` needs and whether each is on disk, from the Hub's listing (raises the Hub's
    errors: gated, not found, unreachable)."""
    from huggingface_hub import HfApi
    from huggingface_hub.hf_api import RepoFile as HubFile

    endpoint = hub_endpoint()
    api = HfApi(endpoint=endpoint, token=token)
    planned = []
    for index, repo in enumerate(repos_of(spec)):
        info = api.repo_info(repo, token=token)
        listing = {f.path: int(f.size or 0) for f in api.list_repo_tree(repo, recursive=True, revision=info.sha,
                                                                        token=token) if isinstance(f, HubFile)}
        components = None
        if "model_index.json" in listing:
            from huggingface_hub import hf_hub_download

            index_file = hf_hub_download(repo, "model_index.json", revision=info.sha, cache_dir=cache_dir,
                                         token=token, endpoint=endpoint)
            components = _components(Path(index_file))
        # The adapter loads without a variant (as load_pipeline asks for it).
        chosen = pick_files(listing, components, variant if index == 0 else None)
        snapshot = cache_root(cache_dir) / f"models--{repo.replace('/', '--')}" / "snapshots" / str(info.sha)
        files = tuple(RepoFile(path, listing[path], (snapshot / path).is_file()) for path in chosen)
        planned.append(RepoPlan(repo, snapshot, files))
    return DownloadPlan(tuple(planned))


def _components(index_file: Path) -> list[str]:
    index = json.loads(index_file.read_text(encoding="utf-8"))
    return [name for name, value in index.items()
            if not name.startswith("_") and isinstance(value, list) and value and value[0] is not None]


def pick_files(listing: dict[str, int], components: list[str] | None, variant: str | None) -> list[str]:
    """The files diffusers loads: ``model_index.json`` and its component folders (a pipeline), or the root
    files (a single model such as a motion adapter); per folder one set of weights."""
    if components is None:
        folders: dict[str, list[str]] = {"": [p for p in listing if "/" not in p]}
        chosen: list[str] = []
    else:
        folders = {name: [p for p in listing if p.startswith(name + "/") and p.count("/") == 1]
                   for name in components}
        chosen = ["model_index.json"]
    for files in folders.values():
        chosen += _folder_files(files, variant)
    return sorted(chosen)


def _is_weight(path: str) -> bool:
    name = path.rsplit("/", 1)[-1]
    return name.endswith(_WEIGHTS) or ".index." in name and name.endswith(".json")


def _has_variant(path: str, variant: str) -> bool:
    return re.search(rf"[.\-]{re.escape(variant)}[.\-]", path.rsplit("/", 1)[-1]) is not None


def _folder_files(files: list[str], variant: str | None) -> list[str]:
    other = [f for f in files if not _is_weight(f) and not f.rsplit("/", 1)[-1].startswith(".")]
    weights = [f for f in files if _is_weight(f)]
    if variant and any(_has_variant(f, variant) and not f.endswith(".json") for f in weights):
        weights = [f for f in weights if _has_variant(f, variant)]
    else:
        weights = [f for f in weights if not (variant and _has_variant(f, variant))]
        weights = [f for f in weights if not re.search(r"[.\-](fp16|fp32|bf16)[.\-]", f.rsplit("/", 1)[-1])] or weights
    if any(".safetensors" in f for f in weights):
        weights = [f for f in weights if ".safetensors" in f]
    elif any(f.endswith(_PICKLES) for f in weights):
        weights = [f for f in weights if f.endswith(_PICKLES) or (".bin" in f and f.endswith(".json"))]
    return other + weights


def check_disk(spec: ModelSpec, plan: DownloadPlan, cache_dir: Path | None, free: DiskFree = disk_free) -> None:
    """Refuse before downloading when the disk cannot hold what is missing (plus a spare margin)."""
    root = cache_root(cache_dir)
    needed, available = plan.missing_bytes, free(root)
    if needed and needed + SPARE_BYTES > available:
        raise NotEnoughDisk(spec.name, needed, available, root)


class NotEnoughDisk(ModelUnavailable):
    def __init__(self, model: str, needed: int, free: int, where: Path) -> None:
        super().__init__(
            N_("Not enough disk space to download {model}: it needs {needed} GB and only {free} GB is free in "
               "{where}.", model=model, needed=_gb(needed + SPARE_BYTES), free=_gb(free), where=str(where)),
            backend="local",
            hint=N_("Free some space there, or set HF_HOME to a disk with more room."),
        )
        self.needed_bytes = needed
        self.free_bytes = free


def _gb(size: int) -> str:
    return f"{size / GB:.1f}"


def download(
    spec: ModelSpec,
    plan: DownloadPlan,
    *,
    token: str | None,
    cache_dir: Path | None,
    progress: ByteProgress,
) -> list[Path]:
    """Fetch what the plan lacks, reporting bytes; returns each repo's local snapshot folder."""
    from huggingface_hub import snapshot_download

    total = plan.total_bytes
    counter = _Counter(total - plan.missing_bytes, total, progress)
    folders = []
    for repo in plan.repos:
        folder = snapshot_download(
            repo.repo, allow_patterns=[f.path for f in repo.files], cache_dir=cache_dir, token=token,
            endpoint=hub_endpoint(), tqdm_class=counter.bar_class(),
        )
        counter.finish_repo(sum(f.size for f in repo.files if not f.cached))
        folders.append(Path(folder))
    progress(total, total)
    return folders


class _Counter:
    """Sums the bytes huggingface_hub writes (its aggregated per-snapshot byte bar), and reports at most
    once per percent."""

    def __init__(self, done: int, total: int, report: ByteProgress) -> None:
        self.base = done  # bytes of repos already finished (and files cached before)
        self.repo_done = 0
        self.total = total
        self.report = report
        self._lock = threading.Lock()
        self._said = -1
        report(done, total)

    def add(self, n: int) -> None:
        with self._lock:
            self.repo_done += n
            done = min(self.total, self.base + self.repo_done)
            step = 100 * done // max(self.total, 1)
            if step == self._said:
                return
            self._said = step
        self.report(done, self.total)

    def finish_repo(self, size: int) -> None:
        with self._lock:
            self.base += size
            self.repo_done = 0

    def bar_class(self) -> type:
        from huggingface_hub.utils import tqdm as hf_tqdm

        counter = self

        class CountingBar(hf_tqdm):  # type: ignore[misc]
            def __init__(self, *args: Any, **kwargs: Any) -> None:
                # snapshot_download's byte bar is named; the file-count bar and the transfer bar are not counted
                self._counts = kwargs.get("name") == "huggingface_hub.snapshot_download"
                kwargs["disable"] = True
                super().__init__(*args, **kwargs)

            def update(self, n: float | None = 1) -> bool | None:
                if self._counts and n:
                    counter.add(int(n))
                return super().update(n)

        return CountingBar

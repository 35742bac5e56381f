"""``torch.compile`` of the denoiser, paid for at worker start and never inside a job.

What is compiled: the repeated blocks of the denoiser where diffusers names them (``_repeated_blocks``:
Wan, LTX and the other transformers; regional compilation, seconds instead of minutes), else the whole
denoiser (the UNets of SVD, zeroscope, AnimateDiff). Shapes are static (``dynamic=False``): each size bucket
(model, kind, width, height, frames) gets its own graphs, compiled by the lane's warm-up for the registry's
default shapes (landscape and portrait, default frames). A job whose bucket was compiled runs the compiled
graphs; any other job (another size or frame count, an offloaded plan) runs the same modules uncompiled, so
no job ever waits for a compile.

Switching is per module (``nn.Module._compiled_call_impl`` is set or cleared on the lane's thread), not
through ``torch.compiler.set_stance``: the stance is process-wide, and another lane may be compiling.

Caches: TorchInductor's and Triton's on-disk caches live under the compile cache folder (MODEL_CACHE_DIR,
``torch-compile/``), and after each model's warm-up ``torch.compiler.save_cache_artifacts()`` (the
"mega-cache") is written there per model and loaded before its next warm-up, so a restart compiles from
cache in seconds.

A compile that fails (an unsupported model, no C compiler for Triton) leaves the module uncompiled, with a
note for the operator; the pipeline stays usable for every later job.
"""

from __future__ import annotations

import os
import re
import threading
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, TypeVar

from engine.backends.base import Cancelled, RunContext
from engine.local.registry import ModelSpec
from engine.types import JobKind, Options

R = TypeVar("R")
RECOMPILE_LIMIT = 64  # graphs per code object: every bucket of every block size of the biggest model fits


@dataclass(frozen=True, slots=True)
class Bucket:
    """A shape the denoiser is compiled for; a job of any other shape runs uncompiled."""

    model: str
    kind: JobKind
    width: int
    height: int
    frames: int

    def __str__(self) -> str:
        return f"{self.model} {self.width}x{self.height}x{self.frames}"


def job_size(spec: ModelSpec, options: Options) -> tuple[int, int]:
    """(width, height) of a job, as ``run_pipeline`` makes it (``--ar`` on the model's grid included)."""
    return spec.frame(options)


class WarmUpContext(RunContext):
    """The run of a warm-up: it compiles the bucket it runs at (a job's run never does)."""


@dataclass(eq=False)
class CompiledDenoiser:
    """One denoiser's compiled callables (one per compiled module), the buckets they were compiled for, and
    why compiling failed, if it did (then it is never tried again for this pipeline)."""

    modules: list[tuple[Any, Callable[..., Any]]]
    buckets: set[Bucket] = field(default_factory=set)
    failed: str | None = None

    def use(self, on: bool) -> None:
        for module, compiled in self.modules:
            module._compiled_call_impl = compiled if on else None


class Compiler:
    """Compiles denoisers for one backend. ``backend`` is torch.compile's ("inductor"; tests pass
    "aot_eager", which needs no C compiler); ``on_cpu``: compile on CPU lanes too (tests only: a CPU lane
    runs tiny models, where compiling buys nothing)."""

    def __init__(self, *, enabled: bool, backend: str | Callable[..., Any] = "inductor",
                 cache_dir: Path | None = None, on_cpu: bool = False) -> None:
        self.enabled = enabled
        self.backend = backend
        self.cache_dir = cache_dir
        self.on_cpu = on_cpu
        # Held through a model's warm-up: the mega-cache holds what the process compiled since it was cleared,
        # so one model's warm-up at a time makes each model's file its own (compiles are serialized anyway).
        self.lock = threading.RLock()

    def applies(self, device: str) -> bool:
        return self.enabled and (device.startswith("cuda") or (self.on_cpu and device == "cpu"))

    def state(self, pipe: Any) -> CompiledDenoiser | None:
        den = denoiser(pipe)
        return None if den is None else getattr(den, "_reelbot_compiled", None)

    def compiled_buckets(self, pipe: Any) -> frozenset[Bucket]:
        state = self.state(pipe)
        return frozenset(state.buckets) if state is not None and state.failed is None else frozenset()

    def run(self, pipe: Any, spec: ModelSpec, ctx: RunContext, frames: int, *, offloaded: bool,
            go: Callable[[], R]) -> R:
        """Run ``go`` (one generation on ``pipe``) compiled when its bucket is, else uncompiled. A warm-up's
        run (:class:`WarmUpContext`) compiles its bucket. Whatever a compiled run raises that is not a cancel
        or an out-of-memory turns compiling off for this pipeline, and the run is done again uncompiled."""
        lane = ctx.lane
        device = lane.device if lane is not None else "cpu"
        width, height = job_size(spec, ctx.job.options)
        bucket = Bucket(spec.name, ctx.job.kind, width, height, frames)
        warming = isinstance(ctx, WarmUpContext)
        state = self.state(pipe)
        if warming and state is None and self.applies(device) and not offloaded:
            state = self._wrap(pipe, ctx)
        on = (state is not None and state.failed is None and not offloaded
              and (warming or bucket in state.buckets))
        if state is not None:
            state.use(on)
            if not on and state.failed is None and not warming:
                ctx.note(f"{bucket} is not a compiled size" + (" (offloaded)" if offloaded else "")
                         + ": it runs uncompiled")
        if not on:
            return go()
        assert state is not None
        try:
            result = go()
        except Cancelled:
            raise
        except Exception as exc:
            if _is_oom(exc):
                raise
            state.failed = f"{type(exc).__name__}: {exc}"
            state.use(False)
            why = " ".join(str(exc).split()).split(" Set TORCHDYNAMO_VERBOSE")[0][:300]
            ctx.note(f"compiling {spec.name} failed ({type(exc).__name__}: {why}); it runs uncompiled")
            return go()
        if warming:
            state.buckets.add(bucket)
        return result

    def _wrap(self, pipe: Any, ctx: RunContext) -> CompiledDenoiser | None:
        """Wrap the denoiser's modules with torch.compile (nothing compiles until they are called)."""
        import torch

        den = denoiser(pipe)
        if den is None:
            return None
        self.use_caches()
        limit = "recompile_limit" if hasattr(torch._dynamo.config, "recompile_limit") else "cache_size_limit"
        setattr(torch._dynamo.config, limit, max(getattr(torch._dynamo.config, limit), RECOMPILE_LIMIT))
        blocks = set(getattr(den, "_repeated_blocks", None) or ())
        targets = [m for m in den.modules() if type(m).__name__ in blocks] if blocks else []
        regional = bool(targets)
        try:
            state = CompiledDenoiser([(m, torch.compile(m._call_impl, backend=self.backend, dynamic=False))
                                      for m in (targets or [den])])
        except Exception as exc:  # torch.compile itself refused (a backend that is not installed)
            state = CompiledDenoiser([], failed=f"{type(exc).__name__}: {exc}")
            ctx.note(f"compiling {type(den).__name__} failed ({type(exc).__name__}: {exc}); it runs uncompiled")
        else:
            ctx.note(f"{type(den).__name__}: {len(targets)} repeated blocks compiled" if regional
                     else f"{type(den).__name__} compiled whole")
        den._reelbot_compiled = state
        return state

    # --- caches ---

    def use_caches(self) -> None:
        """Point TorchInductor and Triton at the cache folder (unless the operator set them), before the
        first compile reads them."""
        if self.cache_dir is None:
            return
        os.environ.setdefault("TORCHINDUCTOR_CACHE_DIR", str(self.cache_dir / "inductor"))
        os.environ.setdefault("TRITON_CACHE_DIR", str(self.cache_dir / "triton"))

    def mega_cache(self, model: str, device: str) -> Path | None:
        """The file of ``model``'s cache artifacts, for this torch, compile backend and GPU kind."""
        if self.cache_dir is None:
            return None
        import torch

        gpu = "cpu"
        if device.startswith("cuda") and torch.cuda.is_available():
            major, minor = torch.cuda.get_device_capability(torch.device(device))
            gpu = f"sm{major}{minor}"
        backend = self.backend if isinstance(self.backend, str) else getattr(self.backend, "__name__", "custom")
        name = re.sub(r"[^A-Za-z0-9._-]+", "_", f"{model}-{torch.__version__}-{backend}-{gpu}")
        return self.cache_dir / "mega" / f"{name}.bin"

    def clear_cache_record(self) -> None:
        """Forget the artifacts recorded so far, so that the next save holds one model's only."""
        try:
            from torch.compiler._cache import CacheArtifactManager
        except ImportError:  # an older torch: its file may hold other models' artifacts too, which is harmless
            return
        CacheArtifactManager.clear()

    def load_cache(self, model: str, device: str) -> bool:
        """Load ``model``'s saved cache artifacts; whether there were any ("warm")."""
        path = self.mega_cache(model, device)
        if path is None or not path.is_file():
            return False
        import torch

        try:
            with self.lock:
                torch.compiler.load_cache_artifacts(path.read_bytes())
        except Exception:  # a torn or foreign file: compile from scratch, and write it again afterwards
            return False
        return True

    def save_cache(self, model: str, device: str) -> None:
        path = self.mega_cache(model, device)
        if path is None:
            return
        import torch

        with self.lock:
            saved = torch.compiler.save_cache_artifacts()
        if saved is None or not saved[0]:
            return
        path.parent.mkdir(parents=True, exist_ok=True)
        partial = path.with_suffix(".tmp")
        partial.write_bytes(saved[0])
        partial.replace(path)


def denoiser(pipe: Any) -> Any | None:
    return getattr(pipe, "unet", None) or getattr(pipe, "transformer", None)


def _is_oom(exc: BaseException) -> bool:
    import torch

    return isinstance(exc, torch.OutOfMemoryError) or (
        isinstance(exc, RuntimeError) and "out of memory" in str(exc).lower())

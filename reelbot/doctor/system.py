"""This machine: Python, torch and its GPUs, diffusers, the video encoder and the data folder.

The checks take what they look at as arguments (the torch module, or a fake with the same ``cuda`` and
``version``; a disk-usage function), so they can be run against any machine, a pretend one included.
"""

from __future__ import annotations

import platform
import shutil
import sys
import tempfile
import warnings
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Any

from engine.words import N_, Text
from reelbot.backends import cuda_devices
from reelbot.doctor.base import (
    LOCAL_EXTRA,
    Check,
    both,
    cloud_only,
    error_text,
    import_module,
    local_needed,
    not_needed,
    simulated,
)
from reelbot.gpu_fit import Nvidia, problems

if TYPE_CHECKING:
    from reelbot.settings import Settings

MIN_PYTHON = (3, 11)
MIN_FREE_VRAM_GIB = 8.0
MIN_FREE_DISK_GIB = 5.0
_GIB = 1024**3
ENCODER = N_("Video encoder")
DATA_FOLDER = N_("Data folder")

# ``disk_usage(folder)``: an object with a ``free`` attribute in bytes, like :func:`shutil.disk_usage`.
DiskUsage = Callable[[Path], Any]


def python() -> Check:
    version = platform.python_version()
    if sys.version_info[:2] >= MIN_PYTHON:
        return Check("Python", True, version)
    needed = ".".join(map(str, MIN_PYTHON))
    return Check(
        "Python",
        False,
        N_("{version} (reelbot needs {needed} or newer)", version=version, needed=needed),
        fix=N_("Install Python {needed} or newer.", needed=needed),
    )


def torch_installed(settings: Settings, torch: Any, error: BaseException | None) -> Check:
    """``torch``: the imported module, or None with the ``error`` its import raised."""
    if torch is not None:
        cuda = getattr(torch.version, "cuda", None)
        build = N_("CUDA {version} build", version=cuda) if cuda else N_("CPU-only build")
        return Check("torch", True, N_("{version} ({build})", version=torch.__version__, build=build))
    broken = not isinstance(error, ImportError)
    detail = N_("installed but fails to import: {error}", error=str(error)) if broken else N_("not installed")
    fix = (
        N_("pip install --force-reinstall torch (the build for your CUDA: https://pytorch.org/get-started/locally/)")
        if broken
        else N_("{command} for local GPU generation. A cloud-only install may ignore this (set GPUS=none).",
                command=LOCAL_EXTRA)
    )
    if not local_needed(settings):
        return Check("torch", None, both(detail, not_needed(settings)), fix=fix if broken else "")
    return Check("torch", False, detail, fix=fix)


def torch_fits(settings: Settings, torch: Any, error: BaseException | None, nvidia: Nvidia | None,
               os_name: str) -> Check:
    """The torch line (:func:`torch_installed`), made a problem with its fix when the build does not fit
    this machine's NVIDIA GPU or driver (``nvidia``: what the driver sees; ``os_name``: as
    :func:`platform.system`); see :mod:`reelbot.gpu_fit`."""
    line = torch_installed(settings, torch, error)
    if torch is None or not local_needed(settings) or settings.gpus.strip().lower() == "cpu":
        return line
    found = problems(torch, nvidia, os_name)
    if not found:
        return line
    detail, fix = line.detail, found[0].fix
    for problem in found:
        detail = both(detail, problem.detail)
    for problem in found[1:]:
        fix = N_("{first} Then: {second}", first=fix, second=problem.fix)
    return Check("torch", False, detail, fix=fix)


def cuda(settings: Settings, torch: Any) -> list[Check]:
    """The CUDA line and one line per GPU the ``GPUS`` setting picks, asked of ``torch`` (None: not there)."""
    if torch is None:
        return [Check("CUDA", None, N_("not checked: torch is not available"))]
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        available = bool(torch.cuda.is_available())
        visible = int(torch.cuda.device_count()) if available else 0
    notes = "; ".join(str(w.message).strip().splitlines()[0] for w in caught if str(w.message).strip())
    cuda_build = getattr(torch.version, "cuda", None)
    if cloud_only(settings):
        return [Check("CUDA", None, N_("GPUS=none: local GPUs are not used, cloud only ({visible} visible)",
                                       visible=visible))]

    try:
        devices = cuda_devices(settings.gpus, torch)
    except ValueError:
        return [
            Check(
                "CUDA",
                False,
                N_("GPUS={value} is not understood", value=repr(settings.gpus)),
                fix=N_("Set GPUS to auto, none, or a comma list of CUDA indices such as 0,1."),
            )
        ]
    if not devices:
        return [_no_gpu(settings, torch, available, visible, cuda_build, notes)]

    gpus: list[tuple[int, str, float | None, float | None, str]] = []
    for index, name in devices:
        try:
            free, total = torch.cuda.mem_get_info(index)
            gpus.append((index, name, free / _GIB, total / _GIB, ""))
        except Exception as exc:
            gpus.append((index, name, None, None, error_text(exc)))
    roomy = [str(i) for i, _, free, _, _ in gpus if free is not None and free >= MIN_FREE_VRAM_GIB]
    names = [name for _, name, _, _, _ in gpus]
    summary = f"{len(names)} × {names[0]}" if len(set(names)) == 1 and len(names) > 1 else ", ".join(names)
    detail: Text = N_("{count} GPU: {names}", count=len(gpus), names=summary) if len(gpus) == 1 else \
        N_("{count} GPUs: {names}", count=len(gpus), names=summary)
    if cuda_build:
        detail = N_("{found} (CUDA {version})", found=detail, version=cuda_build)
    if settings.gpus.strip().lower() != "auto":
        detail = both(detail, N_("GPUS={value} picks {count} of {visible} visible", value=settings.gpus,
                                 count=len(gpus), visible=visible))
    if simulated(settings):
        detail = N_("{found} (not used with LOCAL_BACKEND=simulated)", found=detail)
    checks = [Check("CUDA", True, detail)]
    low_ok = False if local_needed(settings) else None
    for index, name, free, total, error in gpus:
        others = ",".join(i for i in roomy if i != str(index))
        gpu = N_("GPU {index}", index=index)
        if free is None or total is None:
            checks.append(
                Check(
                    gpu,
                    low_ok,
                    N_("{name}: could not read its memory: {error}", name=name, error=error),
                    fix=N_("Check it with nvidia-smi (another process may hold it exclusively) or leave it out "
                           "with GPUS={others}.", others=others) if others
                    else N_("Check it with nvidia-smi (another process may hold it exclusively)."),
                )
            )
        elif free < MIN_FREE_VRAM_GIB:
            checks.append(
                Check(
                    gpu,
                    low_ok,
                    N_("{name}, {total:.1f} GiB total, only {free:.1f} GiB free", name=name, total=total, free=free),
                    fix=N_("SVD-XT needs about 10 GiB with offload (more without), at least {needed:g} GiB free: "
                           "stop what holds this GPU (see nvidia-smi) or leave it out with GPUS={others}.",
                           needed=MIN_FREE_VRAM_GIB, others=others) if others
                    else N_("SVD-XT needs about 10 GiB with offload (more without), at least {needed:g} GiB free: "
                            "stop what holds this GPU (see nvidia-smi).", needed=MIN_FREE_VRAM_GIB),
                )
            )
        else:
            checks.append(Check(gpu, True, N_("{name}, {total:.1f} GiB total, {free:.1f} GiB free", name=name,
                                              total=total, free=free)))
    return checks


def _no_gpu(
    settings: Settings, torch: Any, available: bool, visible: int, cuda_build: str | None, notes: str
) -> Check:
    detail: Text
    if not available:
        detail = N_("no CUDA GPU visible")
        if not cuda_build:
            detail = N_("{found} (torch {version} is a CPU-only build)", found=detail, version=torch.__version__)
        if notes:
            detail = N_("{found}: {notes}", found=detail, notes=notes)
    else:
        detail = N_("GPUS={value} matches none of the {visible} visible GPUs (0 to {last})", value=settings.gpus,
                    visible=visible, last=visible - 1)
    if not local_needed(settings):
        return Check("CUDA", None, both(detail, not_needed(settings)))
    fix = N_(
        "Check the NVIDIA driver (nvidia-smi), CUDA_VISIBLE_DEVICES and the GPUS setting (now {value}; auto uses "
        "every visible GPU). No GPU here? Cloud-only works: set GPUS=none and a provider key below; or "
        "LOCAL_BACKEND=simulated to try reelbot without one.", value=repr(settings.gpus)
    )
    if not cuda_build:
        fix = N_("Install a CUDA build of torch (https://pytorch.org/get-started/locally/). {then}", then=fix)
    return Check("CUDA", False, detail, fix=fix)


def diffusers(settings: Settings, torch: Any) -> list[Check]:
    if torch is None:
        return []  # torch's line already says what to install
    module, error = import_module("diffusers")
    if module is not None:
        version = getattr(module, "__version__", None)
        return [Check("diffusers", True, str(version) if version else N_("installed"))]
    detail = N_("not installed") if isinstance(error, ImportError) else \
        N_("installed but fails to import: {error}", error=str(error))
    fix = LOCAL_EXTRA if isinstance(error, ImportError) else "pip install --force-reinstall diffusers"
    if not local_needed(settings):
        return [Check("diffusers", None, both(detail, not_needed(settings)))]
    return [Check("diffusers", False, detail, fix=fix)]


def video_encoder() -> Check:
    """Encode a short clip with the engine's own encoder and read it back."""
    fix = "pip install --force-reinstall av"
    try:
        import av
        import numpy as np

        from engine.video import encode_frames, probe

        with tempfile.TemporaryDirectory(prefix="reelbot-doctor-") as tmp:
            frames = [np.full((64, 64, 3), i * 30, np.uint8) for i in range(8)]
            out = Path(tmp) / "check.mp4"
            encode_frames(frames, 8, out)
            info = probe(out)
    except Exception as exc:
        return Check(
            ENCODER, False, N_("a test clip failed: {error}", error=error_text(exc, with_type=True)), fix=fix
        )
    if info.frames != 8 or info.codec != "h264":
        return Check(
            ENCODER,
            False,
            N_("the test clip came back as {frames} frames of {codec}, not 8 of h264", frames=info.frames,
               codec=info.codec),
            fix=fix,
        )
    return Check(ENCODER, True, N_("libx264 via PyAV {version}", version=av.__version__))


def data_folder(settings: Settings, disk_usage: DiskUsage = shutil.disk_usage) -> Check:
    """DATA_DIR can be created and written, with room for the videos (``disk_usage`` measures it)."""
    folder = settings.data_dir.expanduser().resolve()
    try:
        folder.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        return Check(
            DATA_FOLDER,
            False,
            N_("{folder} cannot be created: {error}", folder=str(folder), error=error_text(exc)),
            fix=N_("Set DATA_DIR to a folder this user may create and write."),
        )
    try:
        with tempfile.NamedTemporaryFile(dir=folder, prefix=".doctor-") as probe_file:
            probe_file.write(b"ok")
            probe_file.flush()
    except OSError as exc:
        return Check(
            DATA_FOLDER,
            False,
            N_("{folder} is not writable: {error}", folder=str(folder), error=error_text(exc)),
            fix=N_("Give this user write access to {folder}, or set DATA_DIR to another folder.", folder=str(folder)),
        )
    free = disk_usage(folder).free / _GIB
    if free < MIN_FREE_DISK_GIB:
        return Check(
            DATA_FOLDER,
            False,
            N_("{folder}, only {free:.1f} GiB free", folder=str(folder), free=free),
            fix=N_(
                "Free up space on that disk (at least {needed:g} GiB; every video is kept in "
                "DATA_DIR/results) or set DATA_DIR to a folder on a bigger one.", needed=MIN_FREE_DISK_GIB
            ),
        )
    return Check(DATA_FOLDER, True, N_("{folder} ({free:.1f} GiB free)", folder=str(folder), free=free))

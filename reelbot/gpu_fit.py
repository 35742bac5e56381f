"""Does the installed torch fit this machine's NVIDIA GPU and driver? Told plainly, with the command that fixes it.

Three ways a torch install leaves a good NVIDIA card unused (``reelbot doctor``'s torch line says which, and
``reelbot run`` warns at start):

- **a CPU-only build** (``torch.version.cuda`` is None) on a machine where NVML or ``nvidia-smi`` sees an
  NVIDIA GPU: what ``pip install torch`` gives on Windows;
- **a build without kernels for the card**: ``torch.cuda.get_device_capability(i)`` is not covered by
  ``torch.cuda.get_arch_list()`` (an RTX 5070 is sm_120; cu124 builds stop at sm_90);
- **a driver older than the build**: the CUDA version the driver supports (NVML or ``nvidia-smi``'s "CUDA
  Version") is lower than ``torch.version.cuda``.

What is looked at comes in through seams, so tests pass fakes: the torch module, :class:`Nvidia` (from
:func:`find_nvidia`, which asks NVML, then ``nvidia-smi``, each behind its own seam) and the OS name
(:func:`platform.system`). This module imports neither torch nor pynvml itself unless asked to.
"""

from __future__ import annotations

import importlib
import importlib.util
import platform
import re
import subprocess
import sys
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from engine.words import N_, Text

if TYPE_CHECKING:
    from reelbot.settings import Settings

WHEELS = "https://download.pytorch.org/whl/"
DRIVER_PAGE = "https://www.nvidia.com/Download/index.aspx"
# The first driver branch of each CUDA release (CUDA Toolkit release notes, "CUDA Toolkit and Corresponding
# Driver Versions"): the driver a build of that CUDA needs.
FIRST_DRIVER: dict[tuple[int, int], int] = {
    (11, 8): 520, (12, 0): 525, (12, 1): 530, (12, 2): 535, (12, 3): 545, (12, 4): 550, (12, 5): 555,
    (12, 6): 560, (12, 8): 570, (12, 9): 575, (13, 0): 580,
}


@dataclass(frozen=True, slots=True)
class NvidiaGpu:
    name: str
    capability: tuple[int, int] | None = None  # (12, 0) for an RTX 5070; None where it could not be read


@dataclass(frozen=True, slots=True)
class Nvidia:
    """What the NVIDIA driver says about this machine, torch aside."""

    gpus: tuple[NvidiaGpu, ...]
    driver: str | None = None  # "580.65.06"
    cuda: tuple[int, int] | None = None  # the newest CUDA the driver supports: (13, 0)


@dataclass(frozen=True, slots=True)
class Problem:
    detail: Text  # what is wrong, in plain words
    fix: Text  # the exact thing to do


# --- what the driver says ---------------------------------------------------------------------------------


def _import_pynvml() -> Any:
    return importlib.import_module("pynvml")


def _run_nvidia_smi(args: Sequence[str]) -> str:
    return subprocess.run(["nvidia-smi", *args], capture_output=True, text=True, timeout=10, check=True).stdout


def _text(value: Any) -> str:
    return value.decode() if isinstance(value, bytes) else str(value)


def nvidia_from_nvml(load: Callable[[], Any] = _import_pynvml) -> Nvidia | None:
    """The GPUs and driver NVML (``nvidia-ml-py``, imported by ``load``) sees; None without NVML or GPUs."""
    try:
        nvml = load()
        nvml.nvmlInit()
    except Exception:
        return None
    try:
        gpus = []
        for i in range(int(nvml.nvmlDeviceGetCount())):
            handle = nvml.nvmlDeviceGetHandleByIndex(i)
            try:
                major, minor = nvml.nvmlDeviceGetCudaComputeCapability(handle)
                capability: tuple[int, int] | None = (int(major), int(minor))
            except Exception:
                capability = None
            gpus.append(NvidiaGpu(_text(nvml.nvmlDeviceGetName(handle)), capability))
        driver = _text(nvml.nvmlSystemGetDriverVersion())
        version = int(nvml.nvmlSystemGetCudaDriverVersion())  # 12080 for CUDA 12.8
        return Nvidia(tuple(gpus), driver, (version // 1000, version % 1000 // 10)) if gpus else None
    except Exception:
        return None
    finally:
        try:
            nvml.nvmlShutdown()
        except Exception:
            pass


def nvidia_from_smi(run: Callable[[Sequence[str]], str] = _run_nvidia_smi) -> Nvidia | None:
    """The same, from ``nvidia-smi`` (``run(args)`` returns its output): ``-L`` names the GPUs, the plain
    table's header says "Driver Version" and "CUDA Version", and ``--query-gpu=compute_cap`` (drivers
    since 2022) the capabilities. None without nvidia-smi or GPUs."""
    try:
        names = re.findall(r"^GPU \d+: (.+?)(?: \(UUID: [^)]*\))?$", run(["-L"]), re.MULTILINE)
    except Exception:
        return None
    if not names:
        return None
    driver: str | None = None
    cuda: tuple[int, int] | None = None
    capabilities: list[tuple[int, int] | None] = [None] * len(names)
    try:
        table = run([])
        if found := re.search(r"Driver Version:\s*([\d.]+)", table):
            driver = found.group(1)
        if found := re.search(r"CUDA Version:\s*(\d+)\.(\d+)", table):
            cuda = (int(found.group(1)), int(found.group(2)))
    except Exception:
        pass
    try:
        caps = run(["--query-gpu=compute_cap", "--format=csv,noheader"]).split()
        if len(caps) == len(names):
            capabilities = [(int(a), int(b)) for a, b in (cap.split(".") for cap in caps)]
    except Exception:
        pass
    return Nvidia(tuple(NvidiaGpu(n.strip(), c) for n, c in zip(names, capabilities, strict=True)), driver, cuda)


def find_nvidia(
    load_nvml: Callable[[], Any] = _import_pynvml, run_smi: Callable[[Sequence[str]], str] = _run_nvidia_smi
) -> Nvidia | None:
    """The NVIDIA GPUs and driver of this machine: NVML's answer, else ``nvidia-smi``'s; None: none seen."""
    return nvidia_from_nvml(load_nvml) or nvidia_from_smi(run_smi)


# --- the rules ------------------------------------------------------------------------------------------

_ARCH = re.compile(r"^(sm|compute)_(\d+)(\d)([af]?)$")


def covers(arch_list: Sequence[str], capability: tuple[int, int]) -> bool:
    """Whether a build compiled for ``arch_list`` (``torch.cuda.get_arch_list()``) has code that runs on a GPU
    of ``capability``. The rule is CUDA's own (CUDA C++ Programming Guide, "Binary Compatibility" and
    "Application Compatibility"):

    - ``sm_XY`` is a cubin, machine code: it runs on GPUs of the same major version X with minor >= Y
      (sm_86 runs on 8.9, not on 9.0). An ``a`` suffix (sm_90a) is for exactly that GPU; ``f`` (sm_100f) for
      its family, the same major with minor >= Y.
    - ``compute_XY`` is PTX, which the driver compiles (JIT) for any GPU of capability >= X.Y, newer majors
      included: that is how a build can run on a card newer than itself (slow first start, and only with a
      driver at least as new as the build; see :func:`problems`). ``compute_XYa`` is for exactly X.Y.

    torch's own warning looks at the sm_ entries only; PTX counts here because it does run."""
    for arch in arch_list:
        found = _ARCH.match(arch.strip())
        if found is None:
            continue
        kind, major, minor, suffix = found.group(1), int(found.group(2)), int(found.group(3)), found.group(4)
        if suffix == "a":
            if capability == (major, minor):
                return True
        elif kind == "sm":
            if capability[0] == major and capability[1] >= minor:
                return True
        elif capability >= (major, minor):
            return True
    return False


def _sm(capability: tuple[int, int]) -> str:
    return f"sm_{capability[0]}{capability[1]}"


def _version(text: str | None) -> tuple[int, int] | None:
    found = re.match(r"(\d+)\.(\d+)", text or "")
    return (int(found.group(1)), int(found.group(2))) if found else None


def _needs_cuda_12_8(gpu: NvidiaGpu) -> bool:
    """Blackwell (capability 10.x and 12.x: RTX 50-series, RTX PRO Blackwell, B200) has kernels from CUDA 12.8
    on. Without a capability, the name tells."""
    if gpu.capability is not None:
        return gpu.capability[0] >= 10
    return re.search(r"RTX 50\d0|Blackwell|\bB[12]00\b", gpu.name) is not None


# torch's CUDA wheel indexes, newest last (cu118 to cu126 cover Maxwell through Hopper; cu128 adds Blackwell).
INDEXES: dict[str, tuple[int, int]] = {"cu118": (11, 8), "cu124": (12, 4), "cu126": (12, 6), "cu128": (12, 8)}


def wheel_index(gpus: Sequence[NvidiaGpu], driver_cuda: tuple[int, int] | None = None) -> str:
    """The torch wheel index for these cards: cu128 (the first CUDA for Blackwell) where one is an RTX
    50-series or other Blackwell card; else the newest of cu118 to cu126 that the driver runs (cu126 when the
    driver is unknown or older than all of them: then the driver needs updating anyway)."""
    if any(_needs_cuda_12_8(gpu) for gpu in gpus):
        return "cu128"
    fitting = [name for name, cuda in INDEXES.items() if name != "cu128" and driver_cuda and cuda <= driver_cuda]
    return fitting[-1] if fitting else "cu126"


def pip_command(system: str, index: str) -> str:
    """The command that replaces torch with the build from ``index``, in the venv the README makes (.venv),
    for the shell of ``system`` (:func:`platform.system`): PowerShell on Windows, bash elsewhere."""
    pip = r".venv\Scripts\python -m pip" if system == "Windows" else ".venv/bin/pip"
    return f"{pip} install --force-reinstall torch --index-url {WHEELS}{index}"


def driver_fix(system: str, cuda: tuple[int, int]) -> Text:
    branch = FIRST_DRIVER.get(cuda) or min((d for c, d in FIRST_DRIVER.items() if c >= cuda), default=None)
    version = f"{cuda[0]}.{cuda[1]}"
    if branch is None:
        return N_("Update the NVIDIA driver to one that supports CUDA {version} ({page}).", version=version,
                  page=DRIVER_PAGE)
    if system == "Windows":
        return N_("Update the NVIDIA driver to {branch} or newer (R{branch} is the first with CUDA {version}): "
                  "{page} or the NVIDIA app, then restart Windows.", branch=branch, version=version, page=DRIVER_PAGE)
    return N_("Update the NVIDIA driver to {branch} or newer (R{branch} is the first with CUDA {version}): on "
              "Ubuntu `sudo apt install nvidia-driver-{branch}`, elsewhere {page}; then restart.", branch=branch,
              version=version, page=DRIVER_PAGE)


def problems(torch: Any, nvidia: Nvidia | None, system: str) -> list[Problem]:
    """What keeps ``torch`` (the module or a fake with ``version`` and ``cuda``) from using this machine's
    NVIDIA GPUs (``nvidia``: None where the driver sees none), each with its fix for ``system``."""
    if torch is None:
        return []
    build = getattr(torch.version, "cuda", None)
    if system == "Darwin":
        return [Problem(
            N_("macOS has no CUDA, and reelbot's local pipelines need an NVIDIA GPU (Apple's MPS is not "
               "supported)"),
            N_("Make videos in the cloud: set GPUS=none and a provider key (see .env.example); or "
               "LOCAL_BACKEND=simulated to try reelbot."),
        )]
    if nvidia is None:
        return []  # no NVIDIA GPU here: the CUDA line says what to do
    names = ", ".join(gpu.name for gpu in nvidia.gpus)
    index = wheel_index(nvidia.gpus, nvidia.cuda)
    found: list[Problem] = []  # the driver first: a new build needs it
    if not build:
        if nvidia.cuda is not None and nvidia.cuda < INDEXES[index]:
            found.append(_old_driver(nvidia, INDEXES[index], system, new_build=True))
        found.append(Problem(
            N_("torch {version} is a CPU-only build, but this computer has an NVIDIA GPU ({names}): it goes "
               "unused", version=torch.__version__, names=names),
            N_("Install the CUDA build of torch: {command}", command=pip_command(system, index)),
        ))
        return found
    replacement: tuple[int, int] | None = None  # the CUDA of the build the fixes below install instead
    if bool(torch.cuda.is_available()):
        arch_list = list(torch.cuda.get_arch_list())
        for i in range(int(torch.cuda.device_count())):
            capability = tuple(int(x) for x in torch.cuda.get_device_capability(i))
            if arch_list and not covers(arch_list, (capability[0], capability[1])):
                shown = [a for a in arch_list if a.startswith("sm_")] or arch_list
                better = "cu128" if capability[0] >= 10 else index
                found.append(Problem(
                    N_("torch {version} (CUDA {build}) has no kernels for GPU {index} {name} ({sm}); its "
                       "build stops at {newest}", version=torch.__version__, build=build, index=i,
                       name=torch.cuda.get_device_name(i), sm=_sm((capability[0], capability[1])),
                       newest=shown[-1]),
                    N_("Install the build for this card (CUDA 12.8 or newer for RTX 50-series): {command}",
                       command=pip_command(system, better)) if better == "cu128"
                    else N_("Install a build with kernels for this card: {command}",
                            command=pip_command(system, better)),
                ))
                replacement = max(replacement or INDEXES[better], INDEXES[better])
    wanted = replacement or _version(build)
    # The driver runs builds of its own CUDA version or older. A newer minor of the same major may start (CUDA's
    # minor version compatibility) but cannot JIT the build's PTX, which is what newer cards rely on, and
    # torch refuses older majors outright: either way the driver is the thing to update. Where the build is
    # to be replaced (above), the driver is measured against the replacement.
    if nvidia.cuda is not None and wanted is not None and nvidia.cuda < wanted:
        found.insert(0, _old_driver(nvidia, wanted, system, new_build=replacement is not None))
    return found


def _old_driver(nvidia: Nvidia, wanted: tuple[int, int], system: str, *, new_build: bool = False) -> Problem:
    """The driver is older than the CUDA of torch's build (``new_build``: of the build to install instead)."""
    assert nvidia.cuda is not None
    have = f"{nvidia.cuda[0]}.{nvidia.cuda[1]}"
    cuda = f"{wanted[0]}.{wanted[1]}"
    return Problem(
        N_("the NVIDIA driver {driver} supports CUDA up to {have}, older than the CUDA {wanted} the build for this "
           "card needs", driver=nvidia.driver or "?", have=have, wanted=cuda) if new_build
        else N_("the NVIDIA driver {driver} supports CUDA up to {have}, older than the CUDA {wanted} this torch "
                "needs", driver=nvidia.driver or "?", have=have, wanted=cuda),
        driver_fix(system, wanted),
    )


# --- at start -----------------------------------------------------------------------------------------


def _import_torch_if_installed() -> Any:
    """torch if it is installed: the one already imported (the GPU lanes import it), else imported now."""
    if "torch" in sys.modules:
        return sys.modules["torch"]
    if importlib.util.find_spec("torch") is None:
        return None
    return importlib.import_module("torch")


def startup_warnings(
    settings: Settings,
    *,
    import_torch: Callable[[], Any] = _import_torch_if_installed,
    nvidia: Callable[[], Nvidia | None] = find_nvidia,
    system: Callable[[], str] = platform.system,
) -> list[Text]:
    """The lines ``reelbot run`` says at start when torch does not fit the GPU; none when local GPUs are not
    wanted (GPUS=none or cpu, LOCAL_BACKEND=simulated) or torch is not installed. Never raises: a check that
    cannot run says nothing (``reelbot doctor`` tells more)."""
    if settings.gpus.strip().lower() in {"none", "cpu"} or settings.local_backend == "simulated":
        return []
    try:
        torch = import_torch()
        if torch is None:
            return []
        found = problems(torch, nvidia(), system())
    except Exception:
        return []
    return [N_("GPU warning: {problem}. To fix it: {fix}", problem=p.detail, fix=p.fix) for p in found]

"""GPU utilisation, memory and temperature from NVML, for /status.

torch numbers GPUs after CUDA_VISIBLE_DEVICES; NVML numbers all of them. They are matched by UUID, so
the figures shown for gpu0 are those of the card gpu0 really runs on.
"""

from __future__ import annotations

import logging
from typing import Any

from engine.lanes import GpuLane
from engine.status import GpuStats

log = logging.getLogger(__name__)


class NvmlStats:
    """Callable ``(lane) -> GpuStats | None``; None for CPU or simulated lanes, or when NVML is absent."""

    def __init__(self) -> None:
        self._nvml: Any = None
        self._handles: dict[str, Any] = {}
        try:
            import pynvml

            pynvml.nvmlInit()
            self._nvml = pynvml
        except Exception as exc:  # no driver, no library: stats are simply not shown
            log.info("GPU stats unavailable: %s", exc)

    def __call__(self, lane: GpuLane) -> GpuStats | None:
        if self._nvml is None or not lane.device.startswith("cuda"):
            return None
        try:
            handle = self._handle(lane.device)
            nvml = self._nvml
            util = nvml.nvmlDeviceGetUtilizationRates(handle)
            memory = nvml.nvmlDeviceGetMemoryInfo(handle)
            temp = nvml.nvmlDeviceGetTemperature(handle, nvml.NVML_TEMPERATURE_GPU)
        except Exception as exc:
            log.warning("could not read GPU stats for %s: %s", lane.name, exc)
            return None
        return GpuStats(float(util.gpu), memory.used / 2**20, memory.total / 2**20, float(temp))

    def _handle(self, device: str) -> Any:
        if device not in self._handles:
            import torch

            uuid = str(torch.cuda.get_device_properties(torch.device(device)).uuid)
            self._handles[device] = self._nvml.nvmlDeviceGetHandleByUUID(
                uuid if uuid.startswith("GPU-") else f"GPU-{uuid}"
            )
        return self._handles[device]

    def close(self) -> None:
        if self._nvml is not None:
            self._nvml.nvmlShutdown()
            self._nvml = None

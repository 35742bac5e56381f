"""NVML figures reach the right lane: torch's device numbers are matched to NVML's cards by UUID.

NVML is a C library with no seam of its own, so a stand-in module with NVML's API replaces it here.
"""

from __future__ import annotations

import sys
import types
import uuid
from typing import Any

import torch

from engine.lanes import GpuLane
from engine.local.gpu_stats import NvmlStats

CARD_A, CARD_B = uuid.UUID(int=1), uuid.UUID(int=2)


def fake_nvml() -> types.ModuleType:
    cards = {f"GPU-{CARD_A}": (97, 70 * 2**30, 80 * 2**30, 71), f"GPU-{CARD_B}": (3, 2 * 2**30, 80 * 2**30, 40)}
    nvml = types.ModuleType("pynvml")
    nvml.NVML_TEMPERATURE_GPU = 0
    nvml.nvmlInit = lambda: None
    nvml.nvmlShutdown = lambda: None
    nvml.nvmlDeviceGetHandleByUUID = lambda u: cards[u]
    nvml.nvmlDeviceGetUtilizationRates = lambda h: types.SimpleNamespace(gpu=h[0])
    nvml.nvmlDeviceGetMemoryInfo = lambda h: types.SimpleNamespace(used=h[1], total=h[2])
    nvml.nvmlDeviceGetTemperature = lambda h, sensor: h[3]
    return nvml


def test_each_lane_shows_its_own_card_and_cpu_lanes_show_none(monkeypatch):
    monkeypatch.setitem(sys.modules, "pynvml", fake_nvml())
    # CUDA_VISIBLE_DEVICES=1,0: torch's cuda:0 is NVML's second card.
    order = {0: CARD_B, 1: CARD_A}

    def properties(device: Any) -> Any:
        return types.SimpleNamespace(uuid=order[torch.device(device).index])

    monkeypatch.setattr(torch.cuda, "get_device_properties", properties)
    stats = NvmlStats()
    first, second = stats(GpuLane(0, device="cuda:0")), stats(GpuLane(1, device="cuda:1"))
    assert (first.utilization_pct, first.temperature_c) == (3.0, 40.0)
    assert (second.utilization_pct, second.memory_used_mib, second.memory_total_mib) == (97.0, 70 * 1024, 80 * 1024)
    assert stats(GpuLane(2, device="cpu")) is None
    stats.close()


def test_without_nvml_there_are_simply_no_figures(monkeypatch):
    monkeypatch.setitem(sys.modules, "pynvml", None)  # import fails, as on a machine without the driver
    assert NvmlStats()(GpuLane(0, device="cuda:0")) is None

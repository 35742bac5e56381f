"""The memory planner: the fastest plan that fits the lane's free VRAM, chosen before the run, and what each
card taught it.

A plan is the frame count, the VAE's decode chunk and whether model CPU offload is on (:class:`MemoryPlan`).
Its peak is predicted from the model's footprint and a formula (engine/local/fit.py), per stage. The candidates
are tried fastest first: everything on the GPU before offload, then decoding as many frames at a time as fit
(all of them on a large card; 8 is no cap), then, when the job left its length to the model and nothing else
fits, the model's shorter clip. The first one expected to fit is the plan; when none is, the one with the
smallest peak, and the out-of-memory ladder goes on from there.

An out-of-memory teaches it, per (GPU name, model, shape): the plan that ran out is recorded with the free VRAM
it ran out at (measured again once the failed try is freed, so a shortage another process caused is recorded
as the shortage it was), and when the formula said it fits, that stage's prediction is raised just above what
it ran out at. The plan that worked is recorded with the free VRAM it worked at. The next job on that card
skips a plan that ran out with at least as much memory free as it has, starts at one that worked with no more,
and otherwise goes by the corrected prediction: with more memory free than the failure had, the fast plan again.
On CUDA each stage's measured peak sets that stage's correction, so the prediction converges on the card's
truth. What it learned is kept in a small JSON file (written atomically) and survives restarts.
"""

from __future__ import annotations

import json
import logging
import os
import tempfile
import threading
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from engine.local.fit import MARGIN_GIB, Footprint, footprint_for
from engine.local.pipelines import MemoryPlan, Stage
from engine.local.registry import ModelSpec

log = logging.getLogger(__name__)

STATE_FILE = "memory_plans.json"  # under the folder given to the backend
STEP_GIB = 0.25  # how far above a failure's free VRAM a corrected prediction lands
CHUNKS = (16, 8, 4, 2, 1)  # decode chunks tried below "all frames at once"
CHUNKED_PIPELINES = frozenset({"StableVideoDiffusionPipeline", "AnimateDiffPipeline"})  # have decode_chunk_size


@dataclass(frozen=True, slots=True)
class Choice:
    """The plan chosen, its predicted peak and the free VRAM it was chosen for (GiB), and why, in words."""

    plan: MemoryPlan
    predicted_gib: float
    free_gib: float
    why: str

    def note(self, gpu: str = "", total_gib: float | None = None) -> str:
        """The operator's line on the attempt: the plan, predicted peak vs free, and why."""
        free = f"{self.free_gib:.1f}" + ("" if total_gib is None else f" of {total_gib:.1f}")
        return (f"memory plan{' on ' + gpu if gpu else ''}: {describe(self.plan)}; predicted peak "
                f"{self.predicted_gib:.1f} GiB, {free} GiB free: {self.why}")


def describe(plan: MemoryPlan) -> str:
    chunk = ("" if plan.decode_chunk_size is None else
             "decode all frames at once, " if plan.decode_chunk_size >= plan.frames else
             f"decode {plan.decode_chunk_size} frames at a time, ")
    return f"{plan.frames} frames, {chunk}offload {'on' if plan.offload else 'off'}"


def plan_id(plan: MemoryPlan) -> str:
    return f"{plan.frames}f-c{plan.decode_chunk_size or 0}-{'offload' if plan.offload else 'gpu'}"


def candidates(start: MemoryPlan, spec: ModelSpec, footprint: Footprint, *, default_frames: bool) -> list[MemoryPlan]:
    """Every plan the job may run on, fastest first. ``start`` says the frames and whether the pipeline has a
    decode chunk knob (None: it has not) or must be offloaded."""
    lengths = [(start.frames, start.fewer_frames)]
    fewer = spec.valid_frames(footprint.fewer_frames) if footprint.fewer_frames else start.frames
    if default_frames and fewer < start.frames and not start.fewer_frames:
        lengths.append((fewer, True))
    plans = []
    for frames, shorter in lengths:
        chunks: list[int | None] = ([None] if start.decode_chunk_size is None else
                                    [frames, *(c for c in CHUNKS if c < frames)])
        for offload in ((True,) if start.offload else (False, True)):
            plans += [MemoryPlan(frames, chunk, offload, shorter) for chunk in chunks]
    return plans


def plan_for(spec: ModelSpec, free_gib: float, width: int | None = None, height: int | None = None,
             frames: int | None = None, *, default_frames: bool | None = None) -> Choice | None:
    """What the planner chooses, with nothing learned yet, for ``spec`` at ``width`` x ``height`` and ``frames``
    (the model's defaults where None) with ``free_gib`` free; None for a model with no footprint. The bench's
    way to ask (``choice.plan``, ``choice.predicted_gib``); a job's frames count as left to the model when
    ``frames`` is None, unless ``default_frames`` says otherwise."""
    footprint = footprint_for(spec)
    if footprint is None:
        return None
    wanted = spec.valid_frames(frames or spec.frames)
    start = MemoryPlan(wanted, 8 if spec.pipeline in CHUNKED_PIPELINES else None)
    return Planner().choose("", spec, footprint, start, free_gib, width or spec.width, height or spec.height,
                            default_frames=frames is None if default_frames is None else default_frames)


class Planner:
    """The planner with what it learned, kept in ``path`` (None: in memory only). Thread-safe: every GPU lane's
    thread asks it."""

    def __init__(self, path: Path | None = None) -> None:
        self.path = path
        self._lock = threading.Lock()
        self._entries: dict[str, dict[str, Any]] = self._load()

    def choose(self, gpu: str, spec: ModelSpec, footprint: Footprint, start: MemoryPlan, free_gib: float,
               width: int, height: int, *, default_frames: bool) -> Choice:
        """The fastest candidate expected to fit ``free_gib`` on ``gpu``, by what was learned there and the
        corrected prediction; when none is, the one with the smallest predicted peak."""
        with self._lock:
            entry = self._entries.get(key(gpu, spec, width, height, start.frames), {})
            scales: Mapping[str, float] = entry.get("scales", {})
            failed, worked = entry.get("failed", {}), entry.get("worked", {})
            smallest: Choice | None = None
            for plan in candidates(start, spec, footprint, default_frames=default_frames):
                predicted = footprint.peak_gib(plan, width, height, scales)
                ran_out = failed.get(plan_id(plan))
                if ran_out is not None and free_gib <= ran_out["free_gib"]:
                    continue  # ran out with at least this much free
                fitted = worked.get(plan_id(plan))
                if fitted is not None and free_gib >= fitted["free_gib"]:
                    return Choice(plan, predicted, free_gib, f"it worked on this GPU with {fitted['free_gib']:.1f} "
                                                             "GiB free")
                if predicted <= free_gib:
                    return Choice(plan, predicted, free_gib, "the fastest plan predicted to fit" +
                                  (", as corrected on this GPU" if scales else ""))
                if smallest is None or predicted < smallest.predicted_gib:
                    smallest = Choice(plan, predicted, free_gib, "no plan is predicted to fit: the smallest peak")
            if smallest is None:  # every plan ran out with more free than now: the bottom one, for the ladder
                plan = candidates(start, spec, footprint, default_frames=default_frames)[-1]
                smallest = Choice(plan, footprint.peak_gib(plan, width, height, scales), free_gib,
                                  "every plan ran out of memory on this GPU with this much free: the smallest")
            return smallest

    def ran_out(self, gpu: str, spec: ModelSpec, footprint: Footprint, start: MemoryPlan, width: int, height: int,
                plan: MemoryPlan, stage: Stage, free_gib: float, peak_gib: float | None = None) -> None:
        """``plan`` ran out of memory in ``stage`` with ``free_gib`` free (measured after the failed try was
        freed, or the free VRAM planned for if less); ``peak_gib``: what it had allocated and asked for, where
        known. Records it and raises the stage's prediction above it if the formula said it fits."""
        with self._lock:
            entry = self._entry(key(gpu, spec, width, height, start.frames))
            needed = max(free_gib, peak_gib or 0.0)
            previous = entry["failed"].get(plan_id(plan), {}).get("free_gib", 0.0)
            entry["failed"][plan_id(plan)] = {"free_gib": round(max(previous, free_gib), 3), "stage": stage,
                                              "peak_gib": None if peak_gib is None else round(peak_gib, 3)}
            fitted = entry["worked"].get(plan_id(plan))
            if fitted is not None and fitted["free_gib"] <= free_gib:
                del entry["worked"][plan_id(plan)]  # it does not fit with that much after all
            parts = footprint.parts(plan, width, height)
            if stage in parts:
                weights, activations = parts[stage]
                scale = entry["scales"].get(stage, 1.0)
                if activations > 0 and weights + activations * scale + MARGIN_GIB <= needed:
                    entry["scales"][stage] = round((needed + STEP_GIB - MARGIN_GIB - weights) / activations, 4)
            self._save()

    def worked(self, gpu: str, spec: ModelSpec, footprint: Footprint, start: MemoryPlan, width: int, height: int,
               plan: MemoryPlan, free_gib: float, peaks: Mapping[str, float] | None = None) -> None:
        """``plan`` ran with ``free_gib`` free; ``peaks``: each stage's measured peak (CUDA), which sets that
        stage's correction."""
        with self._lock:
            entry = self._entry(key(gpu, spec, width, height, start.frames))
            previous = entry["worked"].get(plan_id(plan), {}).get("free_gib", free_gib)
            entry["worked"][plan_id(plan)] = {"free_gib": round(min(previous, free_gib), 3)}
            ran_out = entry["failed"].get(plan_id(plan))
            if ran_out is not None and ran_out["free_gib"] >= free_gib:
                del entry["failed"][plan_id(plan)]  # it fits with that much: the failure was a passing shortage
            parts = footprint.parts(plan, width, height)
            for stage, peak in (peaks or {}).items():
                if stage in parts and parts[stage][1] > 0:
                    weights, activations = parts[stage]
                    entry["scales"][stage] = round(min(5.0, max(0.2, (peak - weights) / activations)), 4)
            self._save()

    def learned(self) -> dict[str, dict[str, Any]]:
        """A copy of what was learned, by ``GPU|model|WxHxframes``."""
        with self._lock:
            return json.loads(json.dumps(self._entries))

    def _entry(self, name: str) -> dict[str, Any]:
        entry = self._entries.setdefault(name, {})
        for part in ("scales", "failed", "worked"):
            entry.setdefault(part, {})
        return entry

    def _load(self) -> dict[str, dict[str, Any]]:
        if self.path is None or not self.path.is_file():
            return {}
        try:
            data = json.loads(self.path.read_text(encoding="utf-8"))
            plans = data["plans"] if isinstance(data, dict) and data.get("version") == 1 else None
            if not isinstance(plans, dict):
                raise ValueError("not a reelbot memory plan file (version 1)")
            return {name: entry for name, entry in plans.items() if isinstance(entry, dict)}
        except (OSError, ValueError, KeyError) as exc:  # a torn or foreign file: start again, say so
            log.warning("memory plans in %s not used (%s); the planner starts afresh", self.path, exc)
            return {}

    def _save(self) -> None:
        """Write the file whole or not at all: a temporary file beside it, then a rename."""
        if self.path is None:
            return
        try:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            fd, tmp = tempfile.mkstemp(prefix=f".{self.path.name}.", dir=self.path.parent)
            try:
                with os.fdopen(fd, "w", encoding="utf-8") as out:
                    json.dump({"version": 1, "plans": self._entries}, out, indent=1, sort_keys=True)
                    out.flush()
                    os.fsync(out.fileno())
                os.replace(tmp, self.path)
            except BaseException:
                Path(tmp).unlink(missing_ok=True)
                raise
        except OSError as exc:  # a read-only disk costs the memory across restarts, not the job
            log.warning("could not save memory plans to %s: %s", self.path, exc)


def key(gpu: str, spec: ModelSpec, width: int, height: int, frames: int) -> str:
    return f"{gpu}|{spec.name}|{width}x{height}x{frames}"


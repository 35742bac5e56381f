"""The decode done apart from the denoise gives the frames of the pipeline's one call, bit for bit, for every
family's tiny model: what lets an out-of-memory decode be retried alone from the kept latents without the
video changing."""

from __future__ import annotations

import threading
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from engine.backends.base import RunContext
from engine.local.decode import can_split
from engine.local.pipelines import decode, denoise, first_plan, load_pipeline, run_pipeline
from engine.local.registry import BUILTIN, resolve
from engine.local.tiny import make_tiny
from engine.types import JobKind, JobSpec, Options

T2V, I2V = JobKind.TEXT_TO_VIDEO, JobKind.IMAGE_TO_VIDEO
CASES = [("svd-xt", I2V, 3), ("zeroscope", T2V, 3), ("animatediff", T2V, 3), ("wan", T2V, 5), ("ltx-video", T2V, 9),
         ("ltx-video", I2V, 9)]


@pytest.mark.parametrize(("family", "kind", "frames"), CASES, ids=[f"{c[0]}-{c[1]}" for c in CASES])
def test_the_split_run_makes_the_frames_of_the_one_call(tmp_path: Path, family: str, kind: JobKind, frames: int):
    import diffusers

    spec = resolve(str(make_tiny(family, tmp_path / family)), BUILTIN)
    pipe = load_pipeline(spec, "cpu", token=None, cache_dir=None, offline=True)
    if kind is I2V and spec.image_pipeline:
        pipe = getattr(diffusers, spec.image_pipeline).from_pipe(pipe)
    image = tmp_path / "photo.png"
    Image.new("RGB", (80, 60), (200, 90, 30)).save(image)
    job = JobSpec(id="j", kind=kind, prompt="a cat surfing", seed=11,
                  options=Options(width=32, height=32, frames=frames, steps=2),
                  image_path=image if kind is I2V else None)
    steps: list[int] = []

    def context() -> RunContext:
        return RunContext(job=job, workdir=tmp_path, cancel=threading.Event(),
                          progress_fn=lambda step, total, preview: steps.append(step))

    plan = first_plan(spec, pipe, frames, offload=False)
    assert can_split(pipe)
    one_call = run_pipeline(pipe, spec, context(), plan)
    kept = denoise(pipe, spec, context(), plan)
    split = decode(pipe, kept, plan)
    assert split.shape == (frames, 32, 32, 3) and np.array_equal(split, one_call)
    assert np.array_equal(decode(pipe, kept, plan), one_call)  # a retried decode draws the same noise
    assert steps == [1, 2, 1, 2]  # the denoise ran once for each path, the decodes took no step


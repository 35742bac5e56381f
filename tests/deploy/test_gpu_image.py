"""The GPU worker image runs on the cards people own now: its CUDA base and its torch wheels must both be
CUDA 12.8 or newer, the first builds with kernels for Blackwell (RTX 50-series, sm_120) next to Ampere,
Ada and Hopper (sm_80 to sm_90). A cu124 torch on an RTX 5070 fails at the first kernel."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

WORKER = Path(__file__).resolve().parents[2] / "deploy" / "Dockerfile.worker"
LEAST_CUDA = (12, 8)


def instructions(dockerfile: Path) -> list[str]:
    """The Dockerfile's instructions, continuation lines joined and comments dropped."""
    text = dockerfile.read_text()
    lines = [line for line in text.splitlines() if not line.lstrip().startswith("#")]
    return [" ".join(part.split()) for part in "\n".join(lines).replace("\\\n", " ").splitlines() if part.strip()]


def cuda_of_base(dockerfile: Path) -> tuple[int, int]:
    [base] = [line.split()[1] for line in instructions(dockerfile) if line.startswith("FROM ")]
    found = re.fullmatch(r"nvidia/cuda:(\d+)\.(\d+)(?:\.\d+)?-[\w.-]+", base)
    assert found, f"{dockerfile.name} is not built on an nvidia/cuda image: {base}"
    return int(found[1]), int(found[2])


def torch_indexes(dockerfile: Path) -> list[tuple[int, int]]:
    """The CUDA version of every wheel index torch is installed from (cu128 -> (12, 8))."""
    indexes = []
    for line in instructions(dockerfile):
        for command in re.split(r"&&|;", line):
            words = command.split()
            if "pip" in " ".join(words[:4]) and "install" in words and "torch" in words:
                found = re.search(r"--(?:extra-)?index-url[ =]https://download\.pytorch\.org/whl/cu(\d+)(\d)\b",
                                  command)
                assert found, f"{dockerfile.name} installs torch without a CUDA wheel index: {command.strip()}"
                indexes.append((int(found[1]), int(found[2])))
    return indexes


def test_the_worker_image_is_built_on_cuda_12_8_or_newer() -> None:
    assert cuda_of_base(WORKER) >= LEAST_CUDA


def test_the_worker_image_installs_torch_from_a_cuda_12_8_or_newer_index_before_reelbot() -> None:
    indexes = torch_indexes(WORKER)
    assert indexes and all(index >= LEAST_CUDA for index in indexes)
    # torch first: `pip install '.[local]'` then finds it satisfied instead of fetching PyPI's default build.
    steps = " ".join(instructions(WORKER))
    assert steps.index("download.pytorch.org/whl/cu") < steps.index(".[local]")


def test_torch_wheels_are_newer_than_the_base_only_where_the_driver_allows() -> None:
    """The wheels bring their own CUDA runtime; it must not be newer than the base the driver was checked
    against (a cu130 torch on a 12.8 base would want a CUDA 13 driver the image's notes do not ask for)."""
    base = cuda_of_base(WORKER)
    assert all(index[0] <= base[0] for index in torch_indexes(WORKER))


@pytest.mark.parametrize(("line", "cuda"), [
    ("FROM nvidia/cuda:12.4.1-cudnn-runtime-ubuntu22.04", (12, 4)),
    ("FROM nvidia/cuda:12.8.1-cudnn-runtime-ubuntu24.04", (12, 8)),
    ("FROM nvidia/cuda:13.0.0-runtime-ubuntu24.04", (13, 0)),
])
def test_the_check_reads_the_cuda_version_of_a_base(tmp_path: Path, line: str, cuda: tuple[int, int]) -> None:
    """The check itself tells the old image from the new one (a test that could not fail proves nothing)."""
    old = tmp_path / "Dockerfile"
    old.write_text(f"# a comment\n{line}\nRUN pip install --no-cache-dir torch \\\n"
                   "    --index-url https://download.pytorch.org/whl/cu124 && pip install '.[local]'\n")
    assert cuda_of_base(old) == cuda
    assert torch_indexes(old) == [(12, 4)]

"""`reelbot setup` as a creator runs it on their own PC: it finds the GPU (through torch, NVML or nvidia-smi,
here pretend ones at those very edges), proposes the `.env` that suits the card's memory with a reason per
setting, in the terminal's language, and writes it only when asked, keeping every value the creator chose.

What counts is what reelbot then does with the file: each test that writes reads it back through
:class:`Settings` and the model registry, as `reelbot run` would."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import pytest

from engine.local.registry import load_registry
from reelbot.languages import terminal_words
from reelbot.settings import Settings
from reelbot.setup import Scan, scan_gpus, setup

ROOT = Path(__file__).resolve().parents[2]
MIB = 2**20
# What the drivers report (MiB): a "12 GB" RTX 5070 shows 12227, a "24 GB" RTX 4090 24564.
RTX_4090 = ("NVIDIA GeForce RTX 4090", 24564)
RTX_4080 = ("NVIDIA GeForce RTX 4080", 16376)
RTX_5070 = ("NVIDIA GeForce RTX 5070", 12227)
RTX_3070 = ("NVIDIA GeForce RTX 3070", 8192)


class FakeTorch:
    """torch as reelbot asks it: ``__version__``, ``version.cuda`` and ``torch.cuda``'s device queries."""

    def __init__(self, *cards: tuple[str, int], version: str = "2.13.0+cu128") -> None:
        self.__version__ = version
        cpu_only = version.endswith("+cpu")
        self.version = SimpleNamespace(cuda=None if cpu_only else "12.8")
        devices = [] if cpu_only else [SimpleNamespace(name=name, total_memory=mib * MIB) for name, mib in cards]
        self.cuda = SimpleNamespace(
            is_available=lambda: bool(devices),
            device_count=lambda: len(devices),
            get_device_properties=lambda index: devices[index],
        )


class FakeNvml:
    """pynvml's calls, for a driver that sees ``cards`` (or none: no NVIDIA driver at all)."""

    def __init__(self, *cards: tuple[str, int]) -> None:
        self.cards = cards
        self.open = False

    def nvmlInit(self) -> None:  # noqa: N802 - pynvml's names
        if not self.cards:
            raise OSError("NVML Shared Library Not Found")
        self.open = True

    def nvmlShutdown(self) -> None:  # noqa: N802
        self.open = False

    def nvmlDeviceGetCount(self) -> int:  # noqa: N802
        return len(self.cards)

    def nvmlDeviceGetHandleByIndex(self, index: int) -> int:  # noqa: N802
        return index

    def nvmlDeviceGetName(self, handle: int) -> bytes:  # noqa: N802 - older pynvml returns bytes
        return self.cards[handle][0].encode()

    def nvmlDeviceGetMemoryInfo(self, handle: int) -> Any:  # noqa: N802
        return SimpleNamespace(total=self.cards[handle][1] * MIB)


def nvidia_smi(*cards: tuple[str, int]) -> Any:
    """subprocess.run for `nvidia-smi --query-gpu=name,memory.total --format=csv,noheader,nounits`."""
    def run(args: list[str], **kwargs: Any) -> subprocess.CompletedProcess[str]:
        assert args[0] == "nvidia-smi" and "--format=csv,noheader,nounits" in args
        if not cards:
            raise FileNotFoundError(2, "No such file or directory", "nvidia-smi")
        return subprocess.CompletedProcess(args, 0, "".join(f"{name}, {mib}\n" for name, mib in cards), "")
    return run


@pytest.fixture(autouse=True)
def no_settings_from_the_shell(monkeypatch: pytest.MonkeyPatch) -> None:
    """Settings read the environment too: only the .env under test may speak."""
    for name in Settings.model_fields:
        monkeypatch.delenv(name.upper(), raising=False)
    monkeypatch.delenv("HUGGINGFACE_HUB_TOKEN", raising=False)


def settings(**values: Any) -> Settings:
    return Settings(_env_file=None, **values)


def english() -> Any:
    return terminal_words(settings(), environ={"LANG": "C.UTF-8"})


def korean() -> Any:
    return terminal_words(settings(), environ={"LANG": "ko_KR.UTF-8"})


def run_setup(env: Path, scan: Scan, *, write: bool, words: Any = None, **values: Any) -> tuple[int, str]:
    said: list[str] = []
    code = setup(settings(**values), words or english(), env, write=write, scan=lambda: scan, say=said.append)
    return code, "\n".join(said)


def as_reelbot_reads(env: Path) -> tuple[Settings, Any]:
    """The settings and the SVD-XT entry `reelbot run` would start with from this `.env`."""
    read = Settings(_env_file=env)
    return read, load_registry(read.local_models)["svd-xt"]


# --- the four kinds of PC -------------------------------------------------------------------------------


def test_a_24_gb_card_keeps_svd_xt_as_it_comes(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)
    env = tmp_path / ".env"
    code, out = run_setup(env, scan_gpus(FakeTorch(RTX_4090), FakeNvml(RTX_4090), nvidia_smi(RTX_4090)), write=True)
    assert code == 0
    assert "GPU: NVIDIA GeForce RTX 4090 (24.0 GiB), seen by torch" in out
    assert "SVD-XT as it comes: 25 frames at 1024x576, decoded 8 frames at a time; 24 GB holds it" in out
    assert "LOCAL_MODELS" not in out and "wan and ltx-video also fit here" in out
    read, svd = as_reelbot_reads(env)
    assert read.gpus == "auto" and read.local_backend == "diffusers" and read.default_image_model == "svd-xt"
    assert (svd.frames, svd.width, svd.height, svd.options["decode_chunk_size"]) == (25, 1024, 576, 8)


def test_a_12_gb_rtx_5070_keeps_25_frames_at_1024x576_and_decodes_in_smaller_chunks(tmp_path: Path) -> None:
    env = tmp_path / ".env"
    code, out = run_setup(env, scan_gpus(FakeTorch(RTX_5070), None, None), write=False)
    assert code == 0
    assert "NVIDIA GeForce RTX 5070 (11.9 GiB), seen by torch" in out
    assert ("SVD-XT keeps 25 frames at 1024x576 and decodes 2 frames at a time instead of 8, to fit in 12 GB"
            in out)
    assert "reelbot keeps part of the model in main memory for that video (slower, same result) on its own" in out
    assert "wan and ltx-video need 16 GB or more" in out
    assert not env.exists() and "reelbot setup --write" in out  # proposed, not written

    code, out = run_setup(env, scan_gpus(FakeTorch(RTX_5070), None, None), write=True)
    assert code == 0 and f"Wrote {env}." in out
    _, svd = as_reelbot_reads(env)
    assert (svd.frames, svd.width, svd.height) == (25, 1024, 576)
    assert svd.options["decode_chunk_size"] == 2
    assert svd.options["motion_bucket_id"] == 127  # SVD-XT's other options are still there


def test_a_16_gb_card_seen_only_by_nvml_decodes_4_at_a_time(tmp_path: Path) -> None:
    env = tmp_path / ".env"
    code, out = run_setup(env, scan_gpus(None, FakeNvml(RTX_4080), None), write=True)
    assert "seen by NVML" in out and "decodes 4 frames at a time instead of 8, to fit in 16 GB" in out
    assert "(torch is not installed): run `reelbot doctor`" in out
    assert "wan and ltx-video also fit here" in out
    _, svd = as_reelbot_reads(env)
    assert (svd.frames, svd.options["decode_chunk_size"]) == (25, 4)


def test_an_8_gb_card_behind_a_cpu_only_torch_makes_14_frames_and_says_torch_cannot_use_it(tmp_path: Path) -> None:
    env = tmp_path / ".env"
    scan = scan_gpus(FakeTorch(RTX_3070, version="2.13.0+cpu"), FakeNvml(), nvidia_smi(RTX_3070))
    code, out = run_setup(env, scan, write=True)
    assert code == 0
    assert "NVIDIA GeForce RTX 3070 (8.0 GiB), seen by nvidia-smi" in out
    assert "SVD-XT makes 14 frames instead of 25 (a 2-second clip) and decodes 1 frame at a time, to fit in 8 GB" in out
    assert ("The torch installed here cannot use this GPU yet (torch 2.13.0+cpu does not see it): run "
            "`reelbot doctor`") in out
    _, svd = as_reelbot_reads(env)
    assert (svd.frames, svd.width, svd.height, svd.options["decode_chunk_size"]) == (14, 1024, 576, 1)


def test_no_gpu_goes_to_the_cloud_and_names_the_keys_to_add(tmp_path: Path) -> None:
    env = tmp_path / ".env"
    code, out = run_setup(env, scan_gpus(FakeTorch(version="2.13.0+cpu"), FakeNvml(), nvidia_smi()), write=True)
    assert code == 0
    assert "GPU: no NVIDIA GPU found (torch 2.13.0+cpu sees none either)" in out
    assert "GPUS=none" in out and "as test patterns by the simulated GPU until a cloud key is set" in out
    assert "add a cloud provider's key to .env: REPLICATE_API_TOKEN, FAL_KEY" in out
    read, _ = as_reelbot_reads(env)
    assert read.gpus == "none"


def test_no_gpu_with_a_cloud_key_says_where_videos_go(tmp_path: Path) -> None:
    code, out = run_setup(tmp_path / ".env", scan_gpus(None, None, None), write=False, fal_key="secret")
    assert "Cloud keys set: FAL_KEY. Videos go to those providers." in out and "secret" not in out


def test_two_cards_get_the_defaults_of_the_smaller_one(tmp_path: Path) -> None:
    code, out = run_setup(tmp_path / ".env", scan_gpus(FakeTorch(RTX_4090, RTX_5070), None, None), write=False)
    assert "The defaults below fit the smallest card, NVIDIA GeForce RTX 5070" in out
    assert "decodes 2 frames at a time" in out


# --- writing .env ---------------------------------------------------------------------------------------


USER_ENV = """# my bot
DISCORD_TOKEN=my-discord-token
GPUS=0
DEFAULT_TEXT_MODEL=zeroscope
LOCAL_MODELS='{"svd-xt": {"steps": 30}, "mine": {"pipeline": "TextToVideoSDPipeline", "source": "me/model", \
"kinds": ["text-to-video"], "width": 576, "height": 320, "frames": 24, "fps": 8, "steps": 40}}'
LOCAL_BACKEND=diffusers
"""


def test_write_keeps_the_creators_values_adds_the_rest_and_keeps_a_backup(tmp_path: Path) -> None:
    env = tmp_path / ".env"
    env.write_text(USER_ENV, encoding="utf-8")
    code, out = run_setup(env, scan_gpus(FakeTorch(RTX_5070), None, None), write=True)
    assert code == 0
    assert f"Wrote {env}; the old one is kept as {env}.bak." in out
    assert "added: DEFAULT_IMAGE_MODEL" in out and "updated: LOCAL_MODELS" in out
    assert "kept your GPUS=0 (proposed: auto); change it by hand if you want the proposal" in out
    assert (tmp_path / ".env.bak").read_text(encoding="utf-8") == USER_ENV
    text = env.read_text(encoding="utf-8")
    assert text.startswith("# my bot\nDISCORD_TOKEN=my-discord-token\nGPUS=0\n")
    assert text.count("GPUS=") == 1 and text.count("LOCAL_MODELS=") == 1  # updated in place, not repeated

    read, svd = as_reelbot_reads(env)
    assert read.discord_token is not None and read.discord_token.get_secret_value() == "my-discord-token"
    assert read.gpus == "0" and read.default_image_model == "svd-xt"
    assert svd.steps == 30 and svd.options["decode_chunk_size"] == 2  # theirs kept, the proposal added
    assert load_registry(read.local_models)["mine"].source == "me/model"

    # A second run finds nothing to do and leaves the file (and the backup) alone.
    before = env.read_text(encoding="utf-8")
    code, out = run_setup(env, scan_gpus(FakeTorch(RTX_5070), None, None), write=True)
    assert f"{env} already has these settings: nothing to change." in out
    assert env.read_text(encoding="utf-8") == before
    assert (tmp_path / ".env.bak").read_text(encoding="utf-8") == USER_ENV


def test_a_creators_own_decode_chunk_wins_over_the_proposal(tmp_path: Path) -> None:
    env = tmp_path / ".env"
    env.write_text("""LOCAL_MODELS={"svd-xt": {"options": {"decode_chunk_size": 3}}}\n""", encoding="utf-8")
    run_setup(env, scan_gpus(FakeTorch(RTX_5070), None, None), write=True)
    _, svd = as_reelbot_reads(env)
    assert svd.options["decode_chunk_size"] == 3 and svd.options["motion_bucket_id"] == 127


def test_a_broken_local_models_is_kept_as_it_is_and_said(tmp_path: Path) -> None:
    env = tmp_path / ".env"
    env.write_text("LOCAL_MODELS=not json\nGPUS=auto\n", encoding="utf-8")
    code, out = run_setup(env, scan_gpus(FakeTorch(RTX_3070), None, None), write=True)
    assert code == 0 and "kept your LOCAL_MODELS=not json" in out
    assert "LOCAL_MODELS=not json\n" in env.read_text(encoding="utf-8")


def test_a_new_env_starts_from_env_example_with_the_proposal_in_place(tmp_path: Path) -> None:
    (tmp_path / ".env.example").write_text((ROOT / ".env.example").read_text(encoding="utf-8"), encoding="utf-8")
    env = tmp_path / ".env"
    code, out = run_setup(env, scan_gpus(None, None, None), write=True)
    assert f"Wrote {env} (from {tmp_path / '.env.example'})." in out and "updated: GPUS" in out
    text = env.read_text(encoding="utf-8")
    assert text.count("\nGPUS=") == 1 and "\nGPUS=none\n" in text
    assert not (tmp_path / ".env.bak").exists()  # there was no .env to back up
    read, _ = as_reelbot_reads(env)
    assert read.gpus == "none"


def test_an_env_that_cannot_be_written_is_said_and_exits_2(tmp_path: Path) -> None:
    folder = tmp_path / "not a file"
    folder.mkdir()
    code, out = run_setup(folder, scan_gpus(None, None, None), write=True)
    assert code == 2 and f"Could not write {folder}" in out


# --- the terminal's language ----------------------------------------------------------------------------


def test_the_proposal_and_what_was_written_are_said_in_korean(tmp_path: Path) -> None:
    env = tmp_path / "내 설정" / ".env"  # a folder with a space and Hangul in its name
    env.parent.mkdir()
    env.write_text("GPUS=1\n", encoding="utf-8")
    code, out = run_setup(env, scan_gpus(FakeTorch(RTX_5070), None, None), write=True, words=korean())
    assert code == 0
    assert "GPU: NVIDIA GeForce RTX 5070 (11.9 GiB) (torch에서 찾음)" in out
    assert f"이 PC에 맞는 {env} 설정:" in out
    assert "SVD-XT는 1024x576, 25프레임을 그대로 유지하고, 12GB에 맞도록 한 번에 8프레임 대신 2프레임씩 디코딩해요" in out
    assert "직접 넣은 GPUS=1 값은 그대로 뒀어요 (제안: auto)" in out
    assert f"이전 파일은 {env}.bak에 남겨 뒀어요." in out and "추가: " in out
    assert "decodes" not in out and "Wrote" not in out  # nothing left in English


def test_reelbot_setup_from_the_terminal_proposes_and_writes_only_with_write(tmp_path: Path) -> None:
    """The real command on this machine (whatever GPU it has): it proposes in Korean and writes nothing;
    with --write it writes a .env reelbot reads."""
    env = {k: v for k, v in os.environ.items() if k not in ("LC_ALL", "LC_MESSAGES", "LANG", "DEFAULT_LANGUAGE")}
    env.update(LANG="ko_KR.UTF-8", PYTHONPATH=str(ROOT), PYTHONIOENCODING="utf-8")
    command = [sys.executable, "-m", "reelbot.cli", "setup"]
    done = subprocess.run(command, cwd=tmp_path, env=env, capture_output=True, text=True, encoding="utf-8",
                          timeout=120)
    assert done.returncode == 0, done.stderr
    assert "이 PC에 맞는 .env 설정:" in done.stdout and "reelbot setup --write" in done.stdout
    assert not (tmp_path / ".env").exists()
    done = subprocess.run([*command, "--write"], cwd=tmp_path, env=env, capture_output=True, text=True,
                          encoding="utf-8", timeout=120)
    assert done.returncode == 0, done.stderr
    assert ".env에 저장했어요." in done.stdout
    proposed = [line for line in done.stdout.splitlines() if line.startswith("  GPUS=")]
    assert Settings(_env_file=tmp_path / ".env").gpus == proposed[0].split("=", 1)[1]

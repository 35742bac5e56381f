"""`reelbot` as an operator runs it: real processes on the simulated GPU backend, in a scratch folder.

Each test checks what a person sees (exit code, the words on stdout and stderr, the files written) and what
the database holds afterwards; never how long anything took (timeouts only stop a hung process).
"""

from __future__ import annotations

import asyncio
import os
import re
import signal
import socket
import sqlite3
import subprocess
import sys
import threading
import time
import urllib.request
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from PIL import Image
from pydantic import AliasChoices

from engine.video import probe
from reelbot.settings import Settings
from tests.fakes.discord_api import FakeDiscord
from tests.fakes.telegram_api import FakeTelegram

DISCORD_GUILD = 700000000000000001

SCRIPT = Path(sys.executable).with_name("reelbot")
REELBOT = [str(SCRIPT)] if SCRIPT.exists() else [sys.executable, "-m", "reelbot.cli"]
TIMEOUT_S = 60  # a hung process fails the test instead of the whole run; never an assertion on speed


def _setting_env_names() -> set[str]:
    names = set()
    for name, field in Settings.model_fields.items():
        names.add(name.upper())
        if isinstance(field.validation_alias, AliasChoices):
            names.update(str(choice).upper() for choice in field.validation_alias.choices)
    return names


SETTING_NAMES = _setting_env_names()


@pytest.fixture
def data_dir(tmp_path: Path) -> Path:
    return tmp_path / "data"


@pytest.fixture
def env(data_dir: Path) -> dict[str, str]:
    """The caller's environment, minus any reelbot setting from their shell, plus a simulated set-up, on an
    English terminal (a test that wants another language says so)."""
    base = {k: v for k, v in os.environ.items()
            if k.upper() not in SETTING_NAMES and k not in ("LC_ALL", "LC_MESSAGES", "LANG", "LANGUAGE")}
    # What an operator gets under systemd, docker or `| tee`: stdout is a pipe and block-buffered.
    base.pop("PYTHONUNBUFFERED", None)
    base.update(
        DATA_DIR=str(data_dir),
        LOCAL_BACKEND="simulated",
        SIMULATED_GPUS="1",
        SIMULATED_SECONDS="0.2",
        SIMULATED_STEPS="4",
        LOG_LEVEL="WARNING",
        LANG="C.UTF-8",
        PROMPT_TRANSLATION="off",  # no Hub here: a Korean prompt would wait for the translation model's download
        WEB_PORT="0",  # `reelbot run` serves the console on a free port: tests run side by side
    )
    return base


def reelbot(cwd: Path, env: dict[str, str], *args: str, **extra_env: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [*REELBOT, *args], cwd=cwd, env={**env, **extra_env}, capture_output=True, text=True,
        timeout=TIMEOUT_S, check=False,
    )


def rows(data_dir: Path, sql: str, *params: object) -> list[tuple]:
    db = data_dir / "reelbot.db"
    if not db.exists():
        return []
    with sqlite3.connect(db) as conn:
        return conn.execute(sql, params).fetchall()


def png(path: Path, size: tuple[int, int] = (320, 240)) -> Path:
    Image.new("RGB", size, (200, 60, 40)).save(path)
    return path


def _ctrl_c_as_in_a_terminal() -> None:
    signal.signal(signal.SIGINT, signal.SIG_DFL)


class Running:
    """A long-lived `reelbot` process whose output lines are collected as they come."""

    def __init__(self, cwd: Path, env: dict[str, str], *args: str) -> None:
        # PYTHONFAULTHANDLER: a process that does not stop when told can be asked where it hangs (SIGABRT).
        # SIGINT as a terminal's foreground program has it: a shell starts background jobs (`pytest &`,
        # CI scripts) with SIGINT ignored, children inherit that, and Python then leaves Ctrl-C ignored.
        self.proc = subprocess.Popen(
            [*REELBOT, *args], cwd=cwd, env={**env, "PYTHONFAULTHANDLER": "1"}, stdout=subprocess.PIPE,
            stderr=subprocess.PIPE, text=True, preexec_fn=_ctrl_c_as_in_a_terminal,
        )
        self.out: list[str] = []
        self.err: list[str] = []
        self._changed = threading.Condition()
        self._readers = [
            threading.Thread(target=self._pump, args=(self.proc.stdout, self.out), daemon=True),
            threading.Thread(target=self._pump, args=(self.proc.stderr, self.err), daemon=True),
        ]
        for reader in self._readers:
            reader.start()

    def _pump(self, stream, lines: list[str]) -> None:  # type: ignore[no-untyped-def]
        for line in stream:
            with self._changed:
                lines.append(line)
                self._changed.notify_all()
        with self._changed:
            self._changed.notify_all()

    @property
    def stdout(self) -> str:
        with self._changed:
            return "".join(self.out)

    @property
    def stderr(self) -> str:
        with self._changed:
            return "".join(self.err)

    def wait_for(self, text: str, *, stream: str = "stdout", timeout: float = 30.0) -> None:
        lines = self.out if stream == "stdout" else self.err
        deadline = time.monotonic() + timeout
        with self._changed:
            while not any(text in line for line in lines):
                if self.proc.poll() is not None and not any(r.is_alive() for r in self._readers):
                    pytest.fail(f"reelbot exited ({self.proc.returncode}) before printing {text!r}:\n"
                                f"{''.join(self.out)}\n{''.join(self.err)}")
                left = deadline - time.monotonic()
                if left <= 0:
                    pytest.fail(f"reelbot never printed {text!r}:\n{''.join(self.out)}\n{''.join(self.err)}")
                self._changed.wait(min(left, 0.5))

    def stop(self, sig: int = signal.SIGTERM) -> int:
        """Send ``sig`` and return the exit code, with all the output read."""
        self.proc.send_signal(sig)
        try:
            code = self.proc.wait(timeout=TIMEOUT_S)
        except subprocess.TimeoutExpired:
            self.proc.send_signal(signal.SIGABRT)  # every thread's stack to stderr, then gone
            self.proc.wait(timeout=TIMEOUT_S)
            for reader in self._readers:
                reader.join(timeout=TIMEOUT_S)
            pytest.fail(f"reelbot did not stop within {TIMEOUT_S} s of signal {sig}; where it was:\n{self.stderr}")
        for reader in self._readers:
            reader.join(timeout=TIMEOUT_S)
        return code

    def close(self) -> None:
        if self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait(timeout=TIMEOUT_S)
        for reader in self._readers:
            reader.join(timeout=TIMEOUT_S)
        for stream in (self.proc.stdout, self.proc.stderr):
            if stream is not None:
                stream.close()


@pytest.fixture
def running() -> Iterator[list[Running]]:
    started: list[Running] = []
    yield started
    for proc in started:
        proc.close()


def wait_for_file(path: Path, timeout: float = 10.0) -> None:
    deadline = time.monotonic() + timeout
    while not path.exists():
        if time.monotonic() > deadline:
            pytest.fail(f"{path} never appeared")
        time.sleep(0.05)  # paced: a poll with a deadline


# --- generate -----------------------------------------------------------------------------------------------


def test_generate_writes_the_video_and_records_the_job(tmp_path: Path, env: dict[str, str], data_dir: Path) -> None:
    result = reelbot(tmp_path, env, "generate", "--prompt", "a cat surfing", "--frames", "12", "--fps", "6",
                     "--out", "cat.mp4")

    assert result.returncode == 0, result.stderr
    video = tmp_path / "cat.mp4"
    info = probe(video)
    assert (info.codec, info.frames, info.fps, info.pix_fmt) == ("h264", 12, 6.0, "yuv420p")

    (job_id, state, kind, prompt), = rows(data_dir, "SELECT id, state, kind, prompt FROM jobs")
    assert (state, kind, prompt) == ("succeeded", "text-to-video", "a cat surfing")
    assert str(video) in result.stdout
    assert f"Job {job_id}." in result.stdout
    assert "cost free" in result.stdout
    assert "Traceback" not in result.stderr
    assert "Running on local" in result.stderr  # progress goes to stderr, the result line to stdout

    assert rows(data_dir, "SELECT backend, outcome FROM attempts WHERE job_id = ?", job_id) == [
        ("local", "succeeded")
    ]
    ledger = rows(data_dir, "SELECT kind FROM ledger WHERE job_id = ? ORDER BY id", job_id)
    assert [kind for (kind,) in ledger] == ["reserve", "settle"]
    assert rows(data_dir, "SELECT platform, state FROM deliveries WHERE job_id = ?", job_id) == [
        ("cli", "delivered")
    ]
    assert not list(tmp_path.glob(".*.part")), "a half-written copy was left behind"


def test_generate_speaks_the_terminals_language(tmp_path: Path, env: dict[str, str], data_dir: Path) -> None:
    result = reelbot(tmp_path, env, "generate", "--prompt", "서핑하는 고양이", "--frames", "12", "--out", "cat.mp4",
                     LANG="ko_KR.UTF-8")

    assert result.returncode == 0, result.stderr
    [(job_id,)] = rows(data_dir, "SELECT id FROM jobs")
    video = (tmp_path / "cat.mp4").resolve()
    assert result.stdout.startswith(f"{video}에 저장했어요 (")
    assert "시드 " in result.stdout and "비용 무료" in result.stdout and f"작업 {job_id}." in result.stdout
    assert "local에서 만드는 중" in result.stderr  # the progress lines too
    assert "Wrote" not in result.stdout and "Running on" not in result.stderr


def test_default_language_wins_over_the_terminals(tmp_path: Path, env: dict[str, str]) -> None:
    english = reelbot(tmp_path, env, "generate", "--prompt", "x", "--frames", "4", "--out", "en.mp4",
                      LANG="ko_KR.UTF-8", DEFAULT_LANGUAGE="en")
    assert english.returncode == 0, english.stderr
    assert english.stdout.startswith(f"Wrote {(tmp_path / 'en.mp4').resolve()} (")

    korean = reelbot(tmp_path, env, "status", LC_ALL="C", DEFAULT_LANGUAGE="ko")
    assert korean.returncode == 0, korean.stderr
    assert korean.stdout.splitlines()[0] == "reelbot이 실행 중이 아니에요 (아래 GPU는 설정된 그대로이고 대기 상태예요)."


def test_a_refusal_is_said_in_the_terminals_language(tmp_path: Path, env: dict[str, str], data_dir: Path) -> None:
    result = reelbot(tmp_path, env, "generate", "--image", "nowhere.png", LANG="ko_KR.UTF-8")
    assert result.returncode == 2
    assert result.stderr == "reelbot: nowhere.png 파일을 읽을 수 없어요: No such file or directory.\n"

    bad = reelbot(tmp_path, env, "status", LANG="ko_KR.UTF-8", MAX_FRAMES="abc")
    assert bad.returncode == 2
    assert bad.stderr.startswith("reelbot: 설정(환경 변수 또는 .env)에 문제가 있어요:\n  MAX_FRAMES: ")
    assert bad.stderr.endswith("모든 설정과 그 뜻은 .env.example에서 볼 수 있어요.\n")


def test_generate_without_out_writes_into_the_working_folder(
    tmp_path: Path, env: dict[str, str], data_dir: Path
) -> None:
    result = reelbot(tmp_path, env, "generate", "--prompt", "waves at dusk", "--frames", "4")

    assert result.returncode == 0, result.stderr
    (video,) = tmp_path.glob("*.mp4")
    assert re.fullmatch(r"reelbot-\d{8}-\d{6}\.mp4", video.name), "the name --help promises"
    assert str(video) in result.stdout
    assert probe(video).frames == 4


def test_generate_from_an_image(tmp_path: Path, env: dict[str, str], data_dir: Path) -> None:
    png(tmp_path / "in.png")

    result = reelbot(tmp_path, env, "generate", "--image", "in.png", "--out", "v.mp4", "--frames", "8")

    assert result.returncode == 0, result.stderr
    info = probe(tmp_path / "v.mp4")
    assert (info.codec, info.frames) == ("h264", 8)
    assert rows(data_dir, "SELECT kind, state FROM jobs") == [("image-to-video", "succeeded")]
    assert "v.mp4" in result.stdout


def test_generate_refuses_a_text_file_as_image(tmp_path: Path, env: dict[str, str], data_dir: Path) -> None:
    (tmp_path / "notes.png").write_text("this is not a picture\n")

    result = reelbot(tmp_path, env, "generate", "--image", "notes.png", "--out", "v.mp4")

    assert result.returncode == 2
    assert result.stderr.startswith("reelbot: ")
    assert "picture" in result.stderr and "PNG" in result.stderr
    assert "Traceback" not in result.stderr
    assert not (tmp_path / "v.mp4").exists()
    assert rows(data_dir, "SELECT id FROM jobs") == []


def test_generate_with_a_missing_image(tmp_path: Path, env: dict[str, str], data_dir: Path) -> None:
    result = reelbot(tmp_path, env, "generate", "--image", "nowhere.png", "--out", "v.mp4")

    assert result.returncode == 2
    assert result.stderr == "reelbot: cannot read nowhere.png: No such file or directory.\n"
    assert rows(data_dir, "SELECT id FROM jobs") == []


@pytest.mark.parametrize(
    ("args", "words"),
    [
        (["--prompt", ""], "Describe the video you want."),
        (["--prompt", "   "], "Describe the video you want."),
        (["--prompt", "x", "--frames", "0"], "frames must be between 1 and 129"),
        (["--prompt", "x", "--frames", "999"], "frames must be between 1 and 129"),
        (["--prompt", "x", "--fps", "1000"], "fps must be between 1 and 60"),
        (["--prompt", "x", "--width", "100", "--height", "64"], "width must be a multiple of 8"),
        (["--prompt", "x", "--width", "256"], "Give both width and height"),
        (["--prompt", "x", "--portrait", "--width", "256", "--height", "256"], "either --portrait or"),
        (["--prompt", "x", "--seed", "-1"], "seed must be between 0 and"),
        (["--prompt", "x", "--steps", "0"], "steps must be between 1 and 100"),
        (["--prompt", "x", "--provider", "nonexistent"], "no provider called 'nonexistent'"),
        (["--prompt", "x", "--model", "bad name!"], "'bad name!' is not a model name"),
        (["--prompt", "x", "--ar", "4:3"], "'4:3' is not an aspect ratio I can make; use one of: 16:9, 9:16,"),
        (["--prompt", "x", "--quality", "ultra"], "'ultra' is not a quality; use one of: fast, normal, best."),
    ],
    ids=lambda v: " ".join(v) if isinstance(v, list) else None,
)
def test_generate_refuses_bad_input_in_plain_words(
    tmp_path: Path, env: dict[str, str], data_dir: Path, args: list[str], words: str
) -> None:
    result = reelbot(tmp_path, env, "generate", *args, "--out", "v.mp4")

    assert result.returncode == 2
    assert result.stderr.startswith("reelbot: ")
    assert words in result.stderr
    assert "Traceback" not in result.stderr
    assert result.stdout == ""
    assert rows(data_dir, "SELECT id FROM jobs") == []
    assert rows(data_dir, "SELECT id FROM ledger") == []
    assert not (tmp_path / "v.mp4").exists()


def test_generate_refuses_a_non_number_before_starting(tmp_path: Path, env: dict[str, str]) -> None:
    result = reelbot(tmp_path, env, "generate", "--prompt", "x", "--frames", "many")

    assert result.returncode == 2
    assert "--frames: invalid int value: 'many'" in result.stderr
    assert "Traceback" not in result.stderr


def test_generate_exits_1_when_the_job_fails(tmp_path: Path, env: dict[str, str], data_dir: Path) -> None:
    result = reelbot(tmp_path, env, "generate", "--prompt", "x", "--out", "v.mp4", SIMULATED_FAIL_EVERY="1")

    assert result.returncode == 1
    (job_id, state), = rows(data_dir, "SELECT id, state FROM jobs")
    assert state == "failed"
    assert result.stdout == f"Job {job_id}: Simulated failure. You were not charged.\n"
    assert "Traceback" not in result.stderr
    assert not (tmp_path / "v.mp4").exists()


def ctrl_c_during_generate(cwd: Path, env: dict[str, str], data_dir: Path, running: list[Running]) -> Running:
    """The operator presses Ctrl-C while `reelbot generate` runs: the job is cancelled, nothing is charged,
    no video is left, and reelbot exits 130. Returns the process, for what else a test checks."""
    proc = Running(cwd, {**env, "SIMULATED_SECONDS": "60"}, "generate", "--prompt", "x", "--out", "v.mp4")
    running.append(proc)
    proc.wait_for("Running on local", stream="stderr")

    assert proc.stop(signal.SIGINT) == 130
    (job_id, state), = rows(data_dir, "SELECT id, state FROM jobs")
    assert state == "cancelled"
    assert f"Job {job_id}: Cancelled. You were not charged." in proc.stderr
    assert not (cwd / "v.mp4").exists()
    return proc


def test_ctrl_c_cancels_the_job_and_exits_130(
    tmp_path: Path, env: dict[str, str], data_dir: Path, running: list[Running]
) -> None:
    proc = ctrl_c_during_generate(tmp_path, env, data_dir, running)

    assert "Traceback" not in proc.stderr


# --- settings -----------------------------------------------------------------------------------------------


@pytest.mark.parametrize("where", ["environment", ".env"])
def test_a_bad_setting_is_named_and_points_to_env_example(
    tmp_path: Path, env: dict[str, str], data_dir: Path, where: str
) -> None:
    if where == ".env":
        (tmp_path / ".env").write_text("MAX_FRAMES=abc\n")
        result = reelbot(tmp_path, env, "generate", "--prompt", "x")
    else:
        result = reelbot(tmp_path, env, "generate", "--prompt", "x", MAX_FRAMES="abc")

    assert result.returncode == 2
    assert "MAX_FRAMES" in result.stderr
    assert ".env.example" in result.stderr
    assert "Traceback" not in result.stderr
    assert not data_dir.exists()


def test_an_unknown_local_backend_lists_the_choices(tmp_path: Path, env: dict[str, str]) -> None:
    result = reelbot(tmp_path, env, "status", LOCAL_BACKEND="cuda")

    assert result.returncode == 2
    assert "LOCAL_BACKEND" in result.stderr
    assert "'diffusers' or 'simulated'" in result.stderr
    assert "Traceback" not in result.stderr


def test_no_command_prints_help(tmp_path: Path, env: dict[str, str]) -> None:
    result = reelbot(tmp_path, env)

    assert result.returncode == 2
    for command in ("run", "generate", "status", "doctor"):
        assert command in result.stdout


# --- status -------------------------------------------------------------------------------------------------


def test_status_when_not_running(tmp_path: Path, env: dict[str, str]) -> None:
    result = reelbot(tmp_path, env, "status", SIMULATED_GPUS="2")

    assert result.returncode == 0, result.stderr
    lines = result.stdout.splitlines()
    assert lines[0] == "reelbot is not running (GPUs below are as configured, idle)."
    assert "gpu0 (simulated GPU): idle, 0 waiting, warm: none" in lines
    assert "gpu1 (simulated GPU): idle, 0 waiting, warm: none" in lines
    assert "  local: ok" in lines
    assert "  replicate: unavailable: REPLICATE_API_TOKEN is not set" in lines
    assert "  huggingface: unavailable: HF_TOKEN is not set" in lines
    assert "Budget this month: $0.00 of $50.00 committed, $50.00 left" in lines
    assert "Traceback" not in result.stderr


def test_status_in_korean(tmp_path: Path, env: dict[str, str]) -> None:
    result = reelbot(tmp_path, env, "status", LANG="ko_KR.UTF-8")

    assert result.returncode == 0, result.stderr
    lines = result.stdout.splitlines()
    assert lines[0] == "reelbot이 실행 중이 아니에요 (아래 GPU는 설정된 그대로이고 대기 상태예요)."
    assert "gpu0 (simulated GPU): 대기, 대기 0개, 준비된 모델: 없음" in lines
    assert "이번 달 예산: $50.00 중 $0.00 사용 예정, $50.00 남음" in lines
    assert "Budget" not in result.stdout


def test_doctor_in_korean(tmp_path: Path, env: dict[str, str]) -> None:
    result = reelbot(tmp_path, env, "doctor", LANG="ko_KR.UTF-8")

    lines = result.stdout.splitlines()
    assert "– Telegram 토큰: 설정되지 않음 (Telegram 프런트엔드는 시작하지 않아요)" in lines
    assert "    해결 방법: 시작하려면 .env에 TELEGRAM_TOKEN 값을 설정하세요. 토큰은 Telegram의 @BotFather " \
           "(/newbot 또는 /token)에서 받을 수 있어요." in lines
    assert any(line.startswith("✓ 언어: English (en), 한국어 (ko); DEFAULT_LANGUAGE가 설정되지 않음") for line in lines)
    assert (lines[-1] == "모두 정상이에요.") if result.returncode == 0 else lines[-1].startswith("문제 ")
    assert "Traceback" not in result.stderr


# --- worker -------------------------------------------------------------------------------------------------


def test_a_worker_for_a_gpu_that_is_not_here_says_which_and_what_to_check(tmp_path: Path, env: dict[str, str]) -> None:
    result = reelbot(tmp_path, env, "worker", "--gpu", "3", LOCAL_BACKEND="diffusers", CUDA_VISIBLE_DEVICES="",
                     QUEUE="procrastinate", DATABASE_URL="postgresql+psycopg://postgres@127.0.0.1:5432/postgres")

    assert result.returncode == 2
    assert result.stderr.strip() == "reelbot: there is no CUDA GPU 3 here (check --gpu and CUDA_VISIBLE_DEVICES)."
    assert result.stdout == ""


# --- run ----------------------------------------------------------------------------------------------------


def test_run_owns_the_data_folder_until_stopped(
    tmp_path: Path, env: dict[str, str], data_dir: Path, running: list[Running]
) -> None:
    bot = Running(tmp_path, env, "run")
    running.append(bot)
    bot.wait_for("reelbot is running")

    assert "Discord: not started (DISCORD_TOKEN is not set)." in bot.stdout
    assert "Telegram: not started (TELEGRAM_TOKEN is not set).\n" in bot.stdout
    assert "GPUs: gpu0 (simulated GPU)" in bot.stdout
    # The console is up in the same process, with the operator's one-time link; the link signs in once.
    link = re.search(r"Web console: (http://127\.0\.0\.1:\d+/login/link/\S+) \(this link signs you in once", bot.stdout)
    assert link, bot.stdout
    browser = urllib.request.build_opener(urllib.request.HTTPCookieProcessor())
    with browser.open(link[1]) as page:  # signed in, and sent on to the make page
        assert "Make a video" in page.read().decode()

    wait_for_file(data_dir / "status.json")
    status = reelbot(tmp_path, env, "status")
    assert status.returncode == 0, status.stderr
    assert "not running" not in status.stdout
    assert "gpu0 (simulated GPU)" in status.stdout

    second = reelbot(tmp_path, env, "generate", "--prompt", "x", "--out", "v.mp4")
    assert second.returncode == 2
    assert f"Another reelbot (pid {bot.proc.pid}) is already running" in second.stderr
    assert "DATA_DIR" in second.stderr
    assert "Traceback" not in second.stderr
    assert rows(data_dir, "SELECT id FROM jobs") == []

    assert bot.stop(signal.SIGTERM) == 0
    assert "Stopping" in bot.stdout
    assert "Traceback" not in bot.stderr

    after = reelbot(tmp_path, env, "status")
    assert after.returncode == 0
    assert "reelbot is not running" in after.stdout


class FakeThread:
    """A fake server (the Bot API, Discord) on its own event loop, for a `reelbot run` process to talk to."""

    def __init__(self, fake: Any) -> None:
        self.loop = asyncio.new_event_loop()
        self.thread = threading.Thread(target=self.loop.run_forever, daemon=True)
        self.thread.start()
        self.fake = fake
        self.call(self.fake.start)

    def call(self, fn: Callable[..., Any], *args: Any, **kwargs: Any) -> Any:
        async def run() -> Any:
            result = fn(*args, **kwargs)
            return await result if asyncio.iscoroutine(result) else result

        return asyncio.run_coroutine_threadsafe(run(), self.loop).result(TIMEOUT_S)

    def wait_for(self, predicate: Callable[[], Any], timeout: float = 30.0) -> Any:
        return self.call(self.fake.wait_for, predicate, timeout=timeout)

    def close(self) -> None:
        self.call(self.fake.stop)
        self.loop.call_soon_threadsafe(self.loop.stop)
        self.thread.join(5)
        self.loop.close()


@pytest.fixture
def telegram() -> Iterator[FakeThread]:
    server = FakeThread(FakeTelegram())
    yield server
    server.close()
    assert server.fake.spec_errors == []


@pytest.fixture
def discord() -> Iterator[FakeThread]:
    fake = FakeDiscord()
    fake.guild(DISCORD_GUILD)
    server = FakeThread(fake)
    yield server
    server.close()
    assert server.fake.spec_errors == []


def test_run_starts_discord_and_telegram_and_never_prints_a_token(
    tmp_path: Path, env: dict[str, str], running: list[Running], telegram: FakeThread, discord: FakeThread
) -> None:
    fake, dc = telegram.fake, discord.fake
    secrets = {"DISCORD_TOKEN": dc.token, "TELEGRAM_TOKEN": fake.token}
    bot = Running(tmp_path, {**env, **secrets, "LOG_LEVEL": "DEBUG", "TELEGRAM_API_BASE_URL": fake.base_url,
                             "TELEGRAM_FILE_BASE_URL": fake.base_file_url, "DISCORD_API_BASE_URL": dc.api_url,
                             "DISCORD_GATEWAY_URL": dc.gateway_url,
                             "DISCORD_COMMAND_GUILDS": str(DISCORD_GUILD)}, "run")
    running.append(bot)
    bot.wait_for("reelbot is running")
    assert f"Telegram: running as @{fake.bot_username} (polling).\n" in bot.stdout
    assert "Discord: running as reelbot in 1 servers (commands registered in 1 servers).\n" in bot.stdout

    ann = telegram.call(fake.user, 77, "Ann")
    telegram.call(fake.send, telegram.call(fake.private_chat, ann), ann, "/video a red kite --frames 4")
    telegram.wait_for(lambda: fake.calls_to("sendVideo"))
    assert [c.params["chat_id"] for c in fake.calls_to("sendVideo")] == [77]
    inter = discord.call(dc.slash, "video", dc.user(88, "bo"), guild_id=DISCORD_GUILD,
                         options={"prompt": "a blue kite --frames 4"})
    discord.wait_for(lambda: (m := dc.original(inter)) and m.files)
    assert bot.stop(signal.SIGTERM) == 0
    assert "Traceback" not in bot.stderr
    for token in secrets.values():  # not even in DEBUG logs
        assert token not in bot.stdout
        assert token not in bot.stderr


def test_run_with_a_refused_telegram_token_says_what_to_do(
    tmp_path: Path, env: dict[str, str], telegram: FakeThread
) -> None:
    fake = telegram.fake
    result = reelbot(tmp_path, env, "run", TELEGRAM_TOKEN="999999:not-the-bots-token",
                     TELEGRAM_API_BASE_URL=fake.base_url, TELEGRAM_FILE_BASE_URL=fake.base_file_url)
    assert result.returncode == 2
    assert "Telegram refused TELEGRAM_TOKEN." in result.stderr
    assert "@BotFather" in result.stderr
    assert "not-the-bots-token" not in result.stderr + result.stdout
    assert "Traceback" not in result.stderr


def test_run_with_telegram_unreachable_says_so_without_the_token(tmp_path: Path, env: dict[str, str]) -> None:
    with socket.socket() as closed:  # a port nothing listens on once this block ends
        closed.bind(("127.0.0.1", 0))
        port = closed.getsockname()[1]
    token = "4242:AAH-token-that-must-stay-secret"
    result = reelbot(tmp_path, env, "run", TELEGRAM_TOKEN=token,
                     TELEGRAM_API_BASE_URL=f"http://127.0.0.1:{port}/bot",
                     TELEGRAM_FILE_BASE_URL=f"http://127.0.0.1:{port}/file/bot")
    assert result.returncode == 2
    assert f"Could not reach Telegram at http://127.0.0.1:{port}/bot" in result.stderr
    assert "TELEGRAM_API_BASE_URL" in result.stderr
    assert token not in result.stderr + result.stdout
    assert "Traceback" not in result.stderr
    assert rows(tmp_path / "data", "SELECT id FROM jobs") == []


def test_status_from_another_shell_shows_the_running_engines_gpu_figures(tmp_path):
    import json as _json
    import time as _time
    from dataclasses import asdict, replace

    from engine.status import GpuStats, LaneStatus, StatusReport
    from reelbot.cli import _with_snapshot

    lane = LaneStatus("gpu0", "NVIDIA H100", "cuda:0", "job1", 12.0, 2, ("svd-xt",), 5, None,
                      GpuStats(97.0, 70 * 1024, 80 * 1024, 71.0))
    snapshot = tmp_path / "status.json"
    snapshot.write_text(_json.dumps({"written": _time.time(), "lanes": [asdict(lane)], "backends": []}))
    idle = StatusReport(generated_at=None, lanes=(), backends=(), queued=0, running=0, jobs_by_state={},  # type: ignore[arg-type]
                        spend=(), budget_usd=None, committed_usd=0.0, top_users=())
    report, live = _with_snapshot(idle, snapshot)
    assert live and report.lanes == (lane,)
    stale = replace(idle)
    snapshot.write_text(_json.dumps({"written": _time.time() - 3600, "lanes": [asdict(lane)], "backends": []}))
    assert _with_snapshot(stale, snapshot) == (stale, False)


def test_run_with_a_refused_discord_token_says_what_to_do(
    tmp_path: Path, env: dict[str, str], discord: FakeThread
) -> None:
    dc = discord.fake
    result = reelbot(tmp_path, env, "run", DISCORD_TOKEN="MTA.not-the-bots-token",
                     DISCORD_API_BASE_URL=dc.api_url, DISCORD_GATEWAY_URL=dc.gateway_url)
    assert result.returncode == 2
    assert "Discord refused DISCORD_TOKEN." in result.stderr and "Reset Token" in result.stderr
    assert "not-the-bots-token" not in result.stderr + result.stdout
    assert "Traceback" not in result.stderr

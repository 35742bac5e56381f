"""reelbot on Windows, proven on Linux: the CLI runs where the POSIX-only stdlib modules cannot be imported and
the event loop cannot watch signals, as on Windows; every module's imports stay portable; paths have spaces and
Hangul in them, as ``C:\\Users\\김민수\\...`` does.

The "Windows" here is a ``sitecustomize.py`` put first on PYTHONPATH: Python imports it at start-up, before
reelbot, in every process the tests start.
"""

from __future__ import annotations

import ast
import os
import signal
import subprocess
import sys
import textwrap
from collections.abc import Iterator
from pathlib import Path

import pytest

from engine.video import probe
from tests.reelbot.test_cli import SETTING_NAMES, Running, ctrl_c_during_generate, reelbot, rows

ROOT = Path(__file__).resolve().parents[2]
PACKAGES = ("reelbot", "bot", "engine", "storage")
POSIX_ONLY = {"fcntl", "resource", "pwd", "grp", "termios", "tty", "pty", "posix", "syslog", "crypt"}
# Calls and names that do not exist (or do nothing useful) on Windows.
POSIX_ONLY_ATTRS = {
    "os": {"getuid", "geteuid", "getgid", "getegid", "fork", "setsid", "killpg", "getpgid", "setpgrp", "getpwnam",
           "mkfifo", "getloadavg", "sched_getaffinity", "statvfs", "uname", "nice", "getpriority"},
    "signal": {"SIGKILL", "SIGHUP", "SIGQUIT", "SIGUSR1", "SIGUSR2", "SIGALRM", "SIGCHLD", "SIGPIPE", "alarm",
               "pause", "setitimer", "SIGSTOP", "SIGCONT"},
}

LIKE_WINDOWS = '''
"""Test harness: this Python behaves as on Windows (written by tests/reelbot/test_portable.py)."""
import asyncio
import asyncio.unix_events
import importlib.abc
import signal
import sys

BLOCKED = {"fcntl", "resource", "pwd", "grp", "termios"}


class NoPosixModules(importlib.abc.MetaPathFinder):
    def find_spec(self, name, path=None, target=None):
        if name.partition(".")[0] in BLOCKED:
            raise ImportError(f"No module named {name!r} (as on Windows)", name=name)
        return None


sys.meta_path.insert(0, NoPosixModules())
for _name in list(sys.modules):
    if _name.partition(".")[0] in BLOCKED:
        del sys.modules[_name]


def _no_signal_handlers(self, sig, *args):
    raise NotImplementedError  # Windows' ProactorEventLoop


for _loop in (asyncio.unix_events._UnixSelectorEventLoop, asyncio.BaseEventLoop):
    _loop.add_signal_handler = _no_signal_handlers
    _loop.remove_signal_handler = _no_signal_handlers

# Ctrl-Break: a signal Linux does not have; SIGUSR2 stands in for it.
signal.SIGBREAK = signal.SIGUSR2
'''


@pytest.fixture
def home(tmp_path: Path) -> Path:
    """The user's folder, as on a Korean Windows PC: a space and Hangul in the path."""
    folder = tmp_path / "Users" / "김민수" / "내 영상"
    folder.mkdir(parents=True)
    return folder


@pytest.fixture
def data_dir(home: Path) -> Path:
    return home / "reelbot data"


@pytest.fixture
def windows_env(tmp_path: Path, data_dir: Path) -> dict[str, str]:
    """A simulated set-up, English terminal, in a Python where POSIX-only modules and loop signal handlers are
    missing; the user is named by USERNAME alone, as on Windows."""
    harness = tmp_path / "like windows"
    harness.mkdir()
    (harness / "sitecustomize.py").write_text(textwrap.dedent(LIKE_WINDOWS))
    base = {k: v for k, v in os.environ.items()
            if k.upper() not in SETTING_NAMES
            and k not in ("LC_ALL", "LC_MESSAGES", "LANG", "LANGUAGE", "USER", "LOGNAME", "LNAME", "PYTHONUNBUFFERED")}
    base.update(
        PYTHONPATH=os.pathsep.join([str(harness), *filter(None, [os.environ.get("PYTHONPATH", "")]), str(ROOT)]),
        USERNAME="김민수",
        DATA_DIR=str(data_dir),
        LOCAL_BACKEND="simulated",
        SIMULATED_GPUS="1",
        SIMULATED_SECONDS="0.2",
        SIMULATED_STEPS="4",
        LOG_LEVEL="WARNING",
        LANG="C.UTF-8",
        PROMPT_TRANSLATION="off",
        WEB_PORT="0",
    )
    return base


@pytest.fixture
def running() -> Iterator[list[Running]]:
    started: list[Running] = []
    yield started
    for proc in started:
        proc.close()


def _no_crash(stderr: str) -> None:
    assert "Traceback" not in stderr, stderr
    assert "ImportError" not in stderr and "ModuleNotFoundError" not in stderr, stderr


def test_the_harness_really_is_windows_like(home: Path, windows_env: dict[str, str]) -> None:
    """The proof below is only as good as its stand-in: in it, fcntl cannot be imported and the loop refuses
    signal handlers."""
    probe_script = textwrap.dedent("""
        import asyncio
        for name in ("fcntl", "resource", "pwd", "grp", "termios"):
            try:
                __import__(name)
                print(name, "imported")
            except ImportError:
                print(name, "missing")
        async def main():
            try:
                asyncio.get_running_loop().add_signal_handler(2, print)
                print("handlers work")
            except NotImplementedError:
                print("no handlers")
        asyncio.run(main())
    """)
    result = subprocess.run([sys.executable, "-c", probe_script], cwd=home, env=windows_env, capture_output=True,
                            text=True, timeout=60, check=False)
    assert result.stdout.split("\n")[:6] == [
        "fcntl missing", "resource missing", "pwd missing", "grp missing", "termios missing", "no handlers"
    ], result.stderr


def test_help_and_doctor_run_without_posix_modules(home: Path, windows_env: dict[str, str]) -> None:
    helped = reelbot(home, windows_env, "--help")
    assert helped.returncode == 0, helped.stderr
    assert "generate" in helped.stdout and "doctor" in helped.stdout
    _no_crash(helped.stderr)

    doctor = reelbot(home, windows_env, "doctor")
    assert doctor.returncode in (0, 1), doctor.stderr
    assert "Telegram token: not set" in doctor.stdout
    assert doctor.stdout.splitlines()[-1] == "All good." or doctor.stdout.splitlines()[-1].startswith("Problem")
    _no_crash(doctor.stderr)


def test_generate_writes_into_a_folder_with_spaces_and_hangul_on_a_cp1252_console(
    home: Path, windows_env: dict[str, str], data_dir: Path
) -> None:
    """A Korean user on classic PowerShell whose output is redirected in the ANSI code page: the words and the
    progress bar still come out (as UTF-8), and the video lands in their own folder."""
    out = home / "결과 영상" / "한강 위의 연 1.mp4"
    out.parent.mkdir()
    result = reelbot(home, windows_env, "generate", "--prompt", "한강 위의 연", "--frames", "6", "--out", str(out),
                     DEFAULT_LANGUAGE="ko", PYTHONIOENCODING="cp1252")

    assert result.returncode == 0, result.stderr
    assert probe(out).frames == 6
    [(job_id, user)] = rows(data_dir, "SELECT jobs.id, users.external_id FROM jobs JOIN users ON users.id = "
                                      "jobs.user_id")
    assert user == "김민수"
    assert result.stdout.startswith(f"{out}에 저장했어요 (")
    assert f"작업 {job_id}." in result.stdout
    assert "local에서 만드는 중" in result.stderr and "█" in result.stderr
    _no_crash(result.stderr)


def test_ctrl_c_cancels_generate_and_exits_130(
    home: Path, windows_env: dict[str, str], data_dir: Path, running: list[Running]
) -> None:
    proc = ctrl_c_during_generate(home, windows_env, data_dir, running)

    _no_crash(proc.stderr)


@pytest.mark.parametrize("key", [signal.SIGINT, signal.SIGUSR2], ids=["ctrl-c", "ctrl-break"])
def test_run_stops_cleanly_on_ctrl_c_and_ctrl_break_and_owns_its_folder(
    home: Path, windows_env: dict[str, str], data_dir: Path, running: list[Running], key: int
) -> None:
    bot = Running(home, windows_env, "run")
    running.append(bot)
    bot.wait_for("reelbot is running")

    second = reelbot(home, windows_env, "generate", "--prompt", "x", "--out", "v.mp4")
    assert second.returncode == 2
    assert "already running" in second.stderr and "DATA_DIR" in second.stderr
    _no_crash(second.stderr)

    assert bot.stop(key) == 0
    assert "Stopping: running jobs will be resumed at the next start." in bot.stdout
    _no_crash(bot.stderr)
    after = reelbot(home, windows_env, "status")  # the folder is free again
    assert after.returncode == 0, after.stderr
    assert "reelbot is not running" in after.stdout


# --- every module's imports -----------------------------------------------------------------------------------


def _guarded(node: ast.AST, parents: dict[ast.AST, ast.AST]) -> bool:
    """Inside ``if sys.platform ...`` / ``if os.name ...`` or a ``try`` that handles the ImportError."""
    child, parent = node, parents.get(node)
    while parent is not None:
        if isinstance(parent, ast.If) and any(
            isinstance(n, ast.Attribute) and n.attr in ("platform", "name") for n in ast.walk(parent.test)
        ):
            return True
        if isinstance(parent, ast.Try) and child in parent.body and parent.handlers:
            return True
        child, parent = parent, parents.get(parent)
    return False


def posix_only_uses(path: Path, root: Path = ROOT) -> list[str]:
    """``file:line: name`` of each unguarded import of a POSIX-only module or use of a POSIX-only call."""
    tree = ast.parse(path.read_text(encoding="utf-8"), str(path))
    parents = {child: node for node in ast.walk(tree) for child in ast.iter_child_nodes(node)}
    found: list[tuple[int, str]] = []
    for node in ast.walk(tree):
        names: list[str] = []
        if isinstance(node, ast.Import):
            names = [a.name for a in node.names if a.name.partition(".")[0] in POSIX_ONLY]
        elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
            names = [node.module] if node.module.partition(".")[0] in POSIX_ONLY else []
        elif (isinstance(node, ast.Attribute) and isinstance(node.value, ast.Name)
              and node.attr in POSIX_ONLY_ATTRS.get(node.value.id, ())):
            names = [f"{node.value.id}.{node.attr}"]
        if names and not _guarded(node, parents):
            found += [(node.lineno, name) for name in names]  # type: ignore[attr-defined]
    return [f"{path.relative_to(root)}:{line}: {name}" for line, name in sorted(found)]


def test_no_module_imports_a_posix_only_module_unguarded() -> None:
    files = [p for package in PACKAGES for p in sorted((ROOT / package).rglob("*.py"))]
    assert len(files) > 50  # the walk found the code
    offenders = [line for p in files for line in posix_only_uses(p)]
    assert offenders == [], "POSIX-only, unguarded (Windows cannot run this):\n" + "\n".join(offenders)


def test_the_walk_catches_what_it_must(tmp_path: Path) -> None:
    bad = tmp_path / "probe.py"
    bad.write_text(textwrap.dedent("""
        import sys
        def lock(f):
            import fcntl
            fcntl.flock(f, fcntl.LOCK_EX)
        from resource import getrlimit
        import os, signal
        uid = os.getuid()
        signal.signal(signal.SIGHUP, print)
        if sys.platform != "win32":
            import termios
        try:
            import pwd
        except ImportError:
            pwd = None
        signal.signal(signal.SIGINT, print)
    """), encoding="utf-8")
    found = [line.split(": ", 1)[1] for line in posix_only_uses(bad, tmp_path)]
    assert found == ["fcntl", "resource", "os.getuid", "signal.SIGHUP"]

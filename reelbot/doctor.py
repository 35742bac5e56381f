"""``reelbot doctor``: check the install and the settings, one plain line per thing, with the fix for each problem.

:func:`run_checks` runs every check in turn; one that fails (or crashes) never stops the others.
:func:`render_checks` turns the result into the text an operator reads. Secrets are never shown: a token is
"set (37 characters)", and every secret the settings hold is blanked out of every line as well, in case an
error message carries one.

Heavy or optional imports (torch, diffusers, huggingface_hub, PyAV, the engine) happen inside the checks, so a
broken or cloud-only install still gets its report.
"""

from __future__ import annotations

import functools
import importlib
import math
import os
import platform
import re
import shutil
import sys
import tempfile
import threading
import warnings
from collections.abc import Callable
from dataclasses import dataclass, replace
from pathlib import Path
from types import ModuleType
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from reelbot.settings import Settings

__all__ = ["Check", "HubUnreachable", "hub_access", "render_checks", "run_checks"]

# Short model names of the settings, and the Hugging Face repositories they load.
def _model_repos(local_models: str = "") -> dict[str, str]:
    """Registered model name -> Hugging Face repo, from the same registry the local backend uses."""
    from engine.local.registry import load_registry

    try:
        registry = load_registry(local_models)
    except ValueError:
        from engine.local.registry import BUILTIN as registry
    return {name: spec.source for name, spec in registry.items()}


MIN_PYTHON = (3, 11)
MIN_FREE_VRAM_GIB = 8.0
MIN_FREE_DISK_GIB = 5.0
_GIB = 1024**3
_LOCAL_EXTRA = "pip install 'reelbot[local]'"
_TOKENS_PAGE = "https://huggingface.co/settings/tokens"
_REPO_ID = re.compile(r"[A-Za-z0-9][\w.-]*/[\w.-]+")
_MARKS = {True: "✓", False: "✗", None: "–"}


@dataclass(frozen=True, slots=True)
class Check:
    name: str  # "Python", "torch", "CUDA", "GPU 0", "Model access: svd-xt", "replicate key", "Database", ...
    ok: bool | None  # True: fine; False: a problem; None: skipped or not applicable
    detail: str  # what was found, in plain words
    fix: str = ""  # the exact thing to do (for problems, and for skipped checks where it helps)


class HubUnreachable(Exception):
    """Raised by a hub check that could not ask the Hub at all (offline, timeout, Hub error): reported as
    skipped, not as a problem, since the model may be fine."""


KeyResults = dict[str, "str | None | BaseException"]


def run_checks(
    settings: Settings,
    *,
    hub_check: Callable[[str, str | None], str | None] | None = None,
    key_check: Callable[[Settings], KeyResults] | None = None,
    timeout_s: float = 10.0,
) -> list[Check]:
    """Every check, in order. ``hub_check(repo_id, token)`` returns None when the token (None: the Hub's own
    login, if any) may download the repository, or says why not; it may raise :class:`HubUnreachable`.
    ``key_check(settings)`` asks each cloud provider whose key is set whether it works (see
    :func:`provider_key_checks`). ``timeout_s`` bounds each network step (the Hub, the providers, the
    database connection)."""
    if hub_check is None:
        hub_check = functools.partial(hub_access, timeout_s=timeout_s)
    if key_check is None:
        key_check = functools.partial(provider_key_checks, timeout_s=timeout_s)
    doctor = _Doctor(settings, hub_check, timeout_s, key_check)
    steps: list[tuple[str, Callable[[], Check | list[Check]]]] = [
        ("Python", doctor.python),
        ("torch", doctor.torch_check),
        ("CUDA", doctor.cuda),
        ("diffusers", doctor.diffusers),
        ("Hugging Face token", doctor.hf_token),
        ("Model access", doctor.model_access),
        ("Provider keys", doctor.provider_keys),
        ("Can spend money", doctor.spending),
        ("Front ends", doctor.front_ends),
        ("Database", doctor.database),
        ("Video encoder", doctor.video_encoder),
        ("Data folder", doctor.data_folder),
    ]
    checks: list[Check] = []
    for name, step in steps:
        try:
            result = step()
        except Exception as exc:  # one broken check must not hide the others
            result = Check(
                name,
                False,
                f"the check itself failed: {_error_text(exc, with_type=True)}",
                fix="Re-install reelbot (pip install --force-reinstall -e .); if it stays, report this line.",
            )
        checks.extend([result] if isinstance(result, Check) else result)
    secrets = _secrets(settings)
    return [_scrub(check, secrets) for check in checks]


def render_checks(checks: list[Check]) -> str:
    """One line a check (its fix indented below it), then "N problems" or "All good."."""
    lines: list[str] = []
    for check in checks:
        lines.append(f"{_MARKS[check.ok]} {check.name}: {_one_line(check.detail)}")
        if check.fix:
            lines.append(f"    fix: {_one_line(check.fix)}")
    problems = sum(1 for check in checks if check.ok is False)
    lines.append("All good." if problems == 0 else f"{problems} problem{'' if problems == 1 else 's'}")
    return "\n".join(lines)


def hub_access(repo_id: str, token: str | None, *, timeout_s: float = 10.0) -> str | None:
    """The default ``hub_check``: ask the Hugging Face Hub whether ``token`` may download ``repo_id``.

    None when it may; "no access: ..." or "not found ..." when not; :class:`HubUnreachable` when the Hub
    cannot be asked (offline, no answer within ``timeout_s``, a server error). The request runs on a daemon
    thread so a hung connection costs at most ``timeout_s``.
    """
    outcome: dict[str, object] = {}

    def ask() -> None:
        try:
            outcome["answer"] = _ask_hub(repo_id, token)
        except BaseException as exc:
            outcome["error"] = exc

    thread = threading.Thread(target=ask, name="reelbot-doctor-hub", daemon=True)
    thread.start()
    thread.join(timeout_s)
    if thread.is_alive():
        raise HubUnreachable(f"could not reach the Hugging Face Hub (offline?): no answer in {timeout_s:g} s")
    error = outcome.get("error")
    if isinstance(error, BaseException):
        raise error
    answer = outcome.get("answer")
    return answer if isinstance(answer, str) else None


def provider_key_checks(settings: Settings, *, timeout_s: float = 10.0) -> KeyResults:
    """Ask every provider whose key is set, all at once, whether the key works: provider -> what was found
    (None: the provider has no call to check a key with), or the error (refused, unreachable, timed out)."""
    import asyncio

    from reelbot.app import build_providers

    async def ask_all() -> KeyResults:
        backends = build_providers(settings, {})

        async def ask(backend: Any) -> str | None:
            async with asyncio.timeout(timeout_s):
                return await backend.verify()

        try:
            answers = await asyncio.gather(*(ask(b) for b in backends.values()), return_exceptions=True)
        finally:
            for backend in backends.values():
                await backend.aclose()
        return dict(zip(backends, answers, strict=True))

    return asyncio.run(ask_all())


# --- the checks -----------------------------------------------------------------------------------------


class _Doctor:
    def __init__(
        self, settings: Settings, hub_check: Callable[[str, str | None], str | None], timeout_s: float,
        key_check: Callable[[Settings], KeyResults],
    ) -> None:
        self.settings = settings
        self.hub_check = hub_check
        self.timeout_s = timeout_s
        self.key_check = key_check
        self.cloud_only = settings.gpus.strip().lower() == "none"
        self.simulated = settings.local_backend == "simulated"
        # Local GPU generation is wanted: diffusers pipelines on GPUs the settings allow.
        self.local_needed = not self.simulated and not self.cloud_only
        self.torch, self.torch_error = _import("torch")

    def _not_needed(self) -> str:
        return "not needed with " + (
            "LOCAL_BACKEND=simulated" if self.simulated else "GPUS=none (cloud only)"
        )

    def python(self) -> Check:
        version = platform.python_version()
        if sys.version_info[:2] >= MIN_PYTHON:
            return Check("Python", True, version)
        needed = ".".join(map(str, MIN_PYTHON))
        return Check(
            "Python",
            False,
            f"{version} (reelbot needs {needed} or newer)",
            fix=f"Install Python {needed} or newer.",
        )

    def torch_check(self) -> Check:
        torch = self.torch
        if torch is not None:
            cuda = getattr(torch.version, "cuda", None)
            build = f"CUDA {cuda} build" if cuda else "CPU-only build"
            return Check("torch", True, f"{torch.__version__} ({build})")
        broken = not isinstance(self.torch_error, ImportError)
        detail = f"installed but fails to import: {self.torch_error}" if broken else "not installed"
        fix = (
            "pip install --force-reinstall torch (the build for your CUDA: https://pytorch.org/get-started/locally/)"
            if broken
            else f"{_LOCAL_EXTRA} for local GPU generation. A cloud-only install may ignore this (set GPUS=none)."
        )
        if not self.local_needed:
            return Check("torch", None, f"{detail}; {self._not_needed()}", fix=fix if broken else "")
        return Check("torch", False, detail, fix=fix)

    def cuda(self) -> list[Check]:
        torch = self.torch
        settings = self.settings
        if torch is None:
            return [Check("CUDA", None, "not checked: torch is not available")]
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always")
            available = bool(torch.cuda.is_available())
            visible = int(torch.cuda.device_count()) if available else 0
        notes = "; ".join(str(w.message).strip().splitlines()[0] for w in caught if str(w.message).strip())
        cuda_build = getattr(torch.version, "cuda", None)
        if self.cloud_only:
            return [
                Check("CUDA", None, f"GPUS=none: local GPUs are not used, cloud only ({visible} visible)")
            ]

        from reelbot.app import cuda_devices

        try:
            devices = cuda_devices(settings.gpus)
        except ValueError:
            return [
                Check(
                    "CUDA",
                    False,
                    f"GPUS={settings.gpus!r} is not understood",
                    fix="Set GPUS to auto, none, or a comma list of CUDA indices such as 0,1.",
                )
            ]
        if not devices:
            return [self._no_gpu(torch, available, visible, cuda_build, notes)]

        gpus: list[tuple[int, str, float | None, float | None, str]] = []
        for index, name in devices:
            try:
                free, total = torch.cuda.mem_get_info(index)
                gpus.append((index, name, free / _GIB, total / _GIB, ""))
            except Exception as exc:
                gpus.append((index, name, None, None, _error_text(exc)))
        roomy = [str(i) for i, _, free, _, _ in gpus if free is not None and free >= MIN_FREE_VRAM_GIB]
        names = [name for _, name, _, _, _ in gpus]
        summary = (
            f"{len(names)} × {names[0]}" if len(set(names)) == 1 and len(names) > 1 else ", ".join(names)
        )
        detail = f"{len(gpus)} GPU{'' if len(gpus) == 1 else 's'}: {summary}"
        if cuda_build:
            detail += f" (CUDA {cuda_build})"
        if settings.gpus.strip().lower() != "auto":
            detail += f"; GPUS={settings.gpus} picks {len(gpus)} of {visible} visible"
        if self.simulated:
            detail += " (not used with LOCAL_BACKEND=simulated)"
        checks = [Check("CUDA", True, detail)]
        low_ok = False if self.local_needed else None
        for index, name, free, total, error in gpus:
            others = [i for i in roomy if i != str(index)]
            leave_out = f" or leave it out with GPUS={','.join(others)}" if others else ""
            if free is None or total is None:
                checks.append(
                    Check(
                        f"GPU {index}",
                        low_ok,
                        f"{name}: could not read its memory: {error}",
                        fix=f"Check it with nvidia-smi (another process may hold it exclusively){leave_out}.",
                    )
                )
            elif free < MIN_FREE_VRAM_GIB:
                checks.append(
                    Check(
                        f"GPU {index}",
                        low_ok,
                        f"{name}, {total:.1f} GiB total, only {free:.1f} GiB free",
                        fix=(
                            f"SVD-XT needs about 10 GiB with offload (more without), at least "
                            f"{MIN_FREE_VRAM_GIB:g} GiB free: stop what holds this GPU (see nvidia-smi){leave_out}."
                        ),
                    )
                )
            else:
                checks.append(
                    Check(f"GPU {index}", True, f"{name}, {total:.1f} GiB total, {free:.1f} GiB free")
                )
        return checks

    def _no_gpu(
        self, torch: ModuleType, available: bool, visible: int, cuda_build: str | None, notes: str
    ) -> Check:
        settings = self.settings
        if not available:
            detail = "no CUDA GPU visible"
            if not cuda_build:
                detail += f" (torch {torch.__version__} is a CPU-only build)"
            if notes:
                detail += f": {notes}"
        else:
            detail = f"GPUS={settings.gpus} matches none of the {visible} visible GPUs (0 to {visible - 1})"
        if not self.local_needed:
            return Check("CUDA", None, f"{detail}; {self._not_needed()}")
        steps = []
        if not cuda_build:
            steps.append("Install a CUDA build of torch (https://pytorch.org/get-started/locally/).")
        steps.append(
            "Check the NVIDIA driver (nvidia-smi), CUDA_VISIBLE_DEVICES and the GPUS setting "
            f"(now {settings.gpus!r}; auto uses every visible GPU)."
        )
        steps.append(
            "No GPU here? Cloud-only works: set GPUS=none and a provider key below; "
            "or LOCAL_BACKEND=simulated to try reelbot without one."
        )
        return Check("CUDA", False, detail, fix=" ".join(steps))

    def diffusers(self) -> list[Check]:
        if self.torch is None:
            return []  # torch's line already says what to install
        module, error = _import("diffusers")
        if module is not None:
            return [Check("diffusers", True, str(getattr(module, "__version__", "installed")))]
        detail = (
            "not installed" if isinstance(error, ImportError) else f"installed but fails to import: {error}"
        )
        fix = _LOCAL_EXTRA if isinstance(error, ImportError) else "pip install --force-reinstall diffusers"
        if not self.local_needed:
            return [Check("diffusers", None, f"{detail}; {self._not_needed()}")]
        return [Check("diffusers", False, detail, fix=fix)]

    def hf_token(self) -> Check:
        token = _secret(self.settings.hf_token)
        if not token:
            return Check(
                "Hugging Face token",
                None,
                "not set (gated models need it)",
                fix=f"Set HF_TOKEN in .env (create one at {_TOKENS_PAGE}).",
            )
        return Check("Hugging Face token", True, f"set ({len(token)} characters)")

    def model_access(self) -> list[Check]:
        settings = self.settings
        wanted: dict[str, str] = {}
        for setting in ("default_text_model", "default_image_model"):
            wanted.setdefault(getattr(settings, setting), setting.upper())
        checks = []
        for model, setting in wanted.items():
            name = f"Model access: {model}"
            try:
                checks.append(self._model(name, model, setting))
            except Exception as exc:
                checks.append(
                    Check(
                        name,
                        False,
                        f"the check itself failed: {_error_text(exc, with_type=True)}",
                        fix=f"Check {setting}.",
                    )
                )
        return checks

    def _model(self, name: str, model: str, setting: str) -> Check:
        if not self.local_needed:
            return Check(name, None, f"not checked, {self._not_needed()}")
        repos = _model_repos(self.settings.local_models)
        folder = Path(model).expanduser()
        if model not in repos and folder.is_dir():
            if (folder / "model_index.json").is_file():
                return Check(name, True, f"local folder {folder.resolve()}")
            return Check(
                name,
                False,
                f"local folder {folder.resolve()} has no model_index.json",
                fix=f"Point {setting} at a folder written by a diffusers pipeline's save_pretrained().",
            )
        repo = repos.get(model) or (model if _REPO_ID.fullmatch(model) else None)
        if repo is None:
            return Check(
                name,
                False,
                f"unknown model {model!r} (not a known name, a Hugging Face repo id, or an existing folder)",
                fix=f"Set {setting} to one of {', '.join(repos)}, a repo id like owner/name, or a local folder.",
            )
        url = f"https://huggingface.co/{repo}"
        if _truthy(os.environ.get("HF_HUB_OFFLINE", "")):
            return Check(
                name, None, f"{repo}: not checked, HF_HUB_OFFLINE is set (only the local cache is used)"
            )
        token = _secret(self.settings.hf_token)
        try:
            problem = self.hub_check(repo, token)
        except HubUnreachable as exc:
            return Check(name, None, f"{repo}: {exc}")
        except ImportError as exc:
            return Check(
                name,
                None,
                f"{repo}: not checked, {exc.name or 'huggingface_hub'} is not installed",
                fix=_LOCAL_EXTRA,
            )
        except Exception as exc:
            return Check(
                name,
                False,
                f"{repo}: the access check failed: {_error_text(exc, with_type=True)}",
                fix=f"Check the network and HF_TOKEN, and that you can open {url} when logged in.",
            )
        if problem is None:
            return Check(name, True, f"{repo}: accessible" + (" with HF_TOKEN" if token else ""))
        if "not found" in problem.lower():
            fix = (
                f"Check that {url} exists (fix {setting} if not); if it is private, set HF_TOKEN to a token "
                f"of an account that can read it ({_TOKENS_PAGE})."
            )
        else:
            fix = (
                f"Request access on {url} (logged in to Hugging Face), then set HF_TOKEN in .env to a token "
                f"of that account ({_TOKENS_PAGE})."
            )
        return Check(name, False, f"{repo}: {problem}", fix=fix)

    def provider_keys(self) -> list[Check]:
        from engine.cloud.catalog import load_catalog
        from reelbot.app import PROVIDER_KEYS, spending_off

        settings = self.settings
        chains = set(settings.chain_text_to_video) | set(settings.chain_image_to_video)
        catalog = load_catalog(settings.cloud_models)
        off = spending_off(settings)
        answers: KeyResults | None = None
        checks = []
        for provider, key in PROVIDER_KEYS.items():
            name = f"{provider} key"
            if not _secret(getattr(settings, key, None)):
                checks.append(
                    Check(
                        name,
                        None,
                        "not set (provider left out of the chain)",
                        fix=f"Set {key.upper()} in .env to use {provider}.",
                    )
                )
            elif provider in off:
                checks.append(Check(name, None, f"set; not used for cloud jobs ({off[provider]})"))
            elif provider not in chains:
                checks.append(
                    Check(
                        name,
                        True,
                        "set, but the provider is in neither CHAIN_TEXT_TO_VIDEO nor CHAIN_IMAGE_TO_VIDEO",
                    )
                )
            else:
                if answers is None:
                    answers = self.key_check(settings)
                checks.append(_key_answer(name, key.upper(), answers.get(provider), catalog.get(provider, [])))
        return checks

    def spending(self) -> Check:
        """Which providers may spend the operator's money: those enabled on purpose, never a key that is
        there for something else (the same line /status shows)."""
        from bot.render import spending_line
        from reelbot.app import PROVIDER_KEYS, spending_off

        off = spending_off(self.settings)
        can = [p for p, key in PROVIDER_KEYS.items() if _secret(getattr(self.settings, key, None)) and p not in off]
        line = spending_line(can, list(off.items()))
        return Check("Can spend money", True if can else None, line.removeprefix("Can spend money: "))

    def front_ends(self) -> list[Check]:
        settings = self.settings
        return [
            _front_end(
                "Discord token",
                _secret(settings.discord_token),
                "DISCORD_TOKEN",
                "Discord",
                lambda token: token.count(".") == 2 and all(token.split(".")) and " " not in token,
                "three parts joined by dots",
                "https://discord.com/developers/applications > your app > Bot > Reset Token",
            ),
            _front_end(
                "Telegram token",
                _secret(settings.telegram_token),
                "TELEGRAM_TOKEN",
                "Telegram",
                lambda token: re.fullmatch(r"\d+:[\w-]+", token) is not None,
                "digits, a colon, then letters",
                "@BotFather in Telegram, /newbot or /token",
            ),
        ]

    def database(self) -> Check:
        from sqlalchemy import text
        from sqlalchemy.engine import make_url

        raw = self.settings.database_url
        generic_fix = (
            "Set DATABASE_URL to sqlite:///path/to/reelbot.db or postgresql://user:password@host:5432/dbname, "
            "or leave it empty for the SQLite file in DATA_DIR."
        )
        try:
            url = make_url(raw)
        except Exception as exc:
            return Check(
                "Database", False, f"DATABASE_URL cannot be read: {_error_text(exc)}", fix=generic_fix
            )
        backend = url.get_backend_name()
        if backend == "sqlite":
            dialect = "SQLite"
            where = (
                str(Path(url.database).resolve())
                if url.database and url.database != ":memory:"
                else "in memory"
            )
            fix = (
                f"Check that {where} (and its folder) is writable and not on a network share; if the file is "
                "damaged, move it aside and start again."
            )
        elif backend == "postgresql":
            dialect = "PostgreSQL"
            where = f"{url.host or 'localhost'}:{url.port or 5432}/{url.database or ''}"
            fix = (
                "Check DATABASE_URL (postgresql://user:password@host:5432/dbname), that the PostgreSQL server "
                "is running and reachable from here, and that the user, password and database are right."
            )
            if "connect_timeout" not in url.query:
                url = url.update_query_dict({"connect_timeout": str(max(2, math.ceil(self.timeout_s)))})
        elif backend == "postgres":
            return Check(
                "Database",
                False,
                f"{url.drivername}:// is not a dialect name",
                fix="Write the URL as postgresql://... (not postgres://).",
            )
        else:
            dialect, where, fix = backend, url.render_as_string(hide_password=True), generic_fix

        from storage.db import Database

        db = None
        try:
            db = Database(url.render_as_string(hide_password=False))
            db.migrate()
            with db.engine.connect() as conn:
                conn.execute(text("SELECT 1")).scalar_one()
                revision = conn.execute(text("SELECT version_num FROM alembic_version")).scalar()
        except Exception as exc:
            return Check("Database", False, f"{dialect} at {where}: {_error_text(exc)}", fix=fix)
        finally:
            if db is not None:
                db.close()
        return Check("Database", True, f"{dialect} at {where} (schema at revision {revision})")

    def video_encoder(self) -> Check:
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
                "Video encoder", False, f"a test clip failed: {_error_text(exc, with_type=True)}", fix=fix
            )
        if info.frames != 8 or info.codec != "h264":
            return Check(
                "Video encoder",
                False,
                f"the test clip came back as {info.frames} frames of {info.codec}, not 8 of h264",
                fix=fix,
            )
        return Check("Video encoder", True, f"libx264 via PyAV {av.__version__}")

    def data_folder(self) -> Check:
        folder = self.settings.data_dir.expanduser().resolve()
        try:
            folder.mkdir(parents=True, exist_ok=True)
        except OSError as exc:
            return Check(
                "Data folder",
                False,
                f"{folder} cannot be created: {_error_text(exc)}",
                fix="Set DATA_DIR to a folder this user may create and write.",
            )
        try:
            with tempfile.NamedTemporaryFile(dir=folder, prefix=".doctor-") as probe_file:
                probe_file.write(b"ok")
                probe_file.flush()
        except OSError as exc:
            return Check(
                "Data folder",
                False,
                f"{folder} is not writable: {_error_text(exc)}",
                fix=f"Give this user write access to {folder}, or set DATA_DIR to another folder.",
            )
        free = shutil.disk_usage(folder).free / _GIB
        if free < MIN_FREE_DISK_GIB:
            return Check(
                "Data folder",
                False,
                f"{folder}, only {free:.1f} GiB free",
                fix=(
                    f"Free up space on that disk (at least {MIN_FREE_DISK_GIB:g} GiB; every video is kept in "
                    "DATA_DIR/results) or set DATA_DIR to a folder on a bigger one."
                ),
            )
        return Check("Data folder", True, f"{folder} ({free:.1f} GiB free)")


# --- helpers --------------------------------------------------------------------------------------------


def _front_end(
    name: str,
    token: str | None,
    env: str,
    platform_name: str,
    looks_right: Callable[[str], bool],
    shape: str,
    where: str,
) -> Check:
    if not token:
        return Check(
            name,
            None,
            f"not set (the {platform_name} front end will not start)",
            fix=f"Set {env} in .env to start it; get one from {where}.",
        )
    if token.lower().startswith("bot "):
        return Check(
            name,
            False,
            f"set ({len(token)} characters), but starts with 'Bot '",
            fix=f"Put only the token itself in {env}, without 'Bot '.",
        )
    if not looks_right(token):
        return Check(
            name,
            False,
            f"set ({len(token)} characters), but it does not look like a {platform_name} bot token ({shape})",
            fix=f"Copy the token again from {where} into {env}.",
        )
    return Check(name, True, "set")


def _ask_hub(repo_id: str, token: str | None) -> str | None:
    from huggingface_hub import HfApi
    from huggingface_hub.errors import (
        GatedRepoError,
        HfHubHTTPError,
        OfflineModeIsEnabled,
        RepositoryNotFoundError,
    )

    no_access = f"no access: request access on https://huggingface.co/{repo_id} and set HF_TOKEN"
    try:
        HfApi().auth_check(repo_id, token=token)
    except GatedRepoError:  # a subclass of RepositoryNotFoundError: first
        return no_access
    except RepositoryNotFoundError:
        return "not found (or private, or HF_TOKEN is not valid)"
    except OfflineModeIsEnabled as exc:
        raise HubUnreachable("not checked, HF_HUB_OFFLINE is set") from exc
    except HfHubHTTPError as exc:
        status = getattr(getattr(exc, "response", None), "status_code", None)
        if status in (401, 403):
            return no_access
        raise HubUnreachable(f"could not check: the Hugging Face Hub answered HTTP {status}") from exc
    except Exception as exc:
        if _is_network_error(exc):
            raise HubUnreachable(
                f"could not reach the Hugging Face Hub (offline?): {_error_text(exc)}"
            ) from exc
        raise
    return None


def _is_network_error(exc: BaseException) -> bool:
    network = {"TransportError", "RequestError", "ConnectionError", "Timeout", "TimeoutException"}
    return isinstance(exc, OSError | TimeoutError) or any(
        cls.__name__ in network for cls in type(exc).__mro__
    )


def _import(name: str) -> tuple[ModuleType | None, BaseException | None]:
    """Import an optional heavy module quietly (its own deprecation warnings are not the operator's problem)."""
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            return importlib.import_module(name), None
    except Exception as exc:
        return None, exc


def _secret(value: object) -> str | None:
    if value is None:
        return None
    getter = getattr(value, "get_secret_value", None)
    text = getter() if callable(getter) else str(value)
    return text or None


def _secrets(settings: Settings) -> list[str]:
    """Every secret the settings hold, longest first, so none of them is ever printed."""
    found: set[str] = set()
    for field in type(settings).model_fields:
        value = getattr(settings, field, None)
        if hasattr(value, "get_secret_value"):
            secret = _secret(value)
            if secret:
                found.add(secret)
    try:
        from sqlalchemy.engine import make_url

        password = make_url(settings.database_url).password
        if password:
            found.add(str(password))
    except Exception:
        pass
    return sorted((s for s in found if len(s) >= 4), key=len, reverse=True)


def _scrub(check: Check, secrets: list[str]) -> Check:
    name, detail, fix = check.name, check.detail, check.fix
    for secret in secrets:
        name, detail, fix = (part.replace(secret, "***") for part in (name, detail, fix))
    if (name, detail, fix) == (check.name, check.detail, check.fix):
        return check
    return replace(check, name=name, detail=detail, fix=fix)


def _error_text(exc: BaseException, *, with_type: bool = False) -> str:
    """An exception as one short line; for SQLAlchemy errors, the driver's own message."""
    orig = getattr(exc, "orig", None)
    base = orig if isinstance(orig, BaseException) else exc
    text = re.sub(r"\(Background on this error at: [^)]*\)", "", str(base))
    text = " ".join(text.split())
    if with_type or not text:
        text = f"{type(base).__name__}: {text}" if text else type(base).__name__
    return text if len(text) <= 300 else text[:297] + "..."


def _one_line(text: str) -> str:
    return " ".join(text.split())


def _truthy(value: str) -> bool:
    return value.strip().lower() in {"1", "true", "yes", "on"}


def _key_answer(name: str, setting: str, answer: object, models: list[Any]) -> Check:
    """A provider's key check as a line: works (with what the provider said and the default models and
    prices), refused (a problem, with the fix), or could not be asked now (skipped)."""
    from engine.cloud.catalog import pick
    from engine.errors import AuthFailed, BackendError, BackendUnavailable
    from engine.types import JobKind

    offers = []
    for kind in JobKind:
        entry = pick(models, kind, None)
        if entry is not None:
            seconds = entry.durations[0] if entry.durations else entry.frames / max(entry.fps, 1)
            offers.append(f"{kind}: {entry.name} ≈ ${entry.cost(seconds):.3f}")
    menu = "; ".join(offers) or "no models (CLOUD_MODELS)"
    if isinstance(answer, AuthFailed | BackendUnavailable):
        return Check(name, False, f"set, but {answer.message}", fix=answer.hint or f"Check {setting} in .env.")
    if isinstance(answer, BackendError):
        return Check(name, None, f"set; could not check it now ({answer.message}); {menu}")
    if isinstance(answer, BaseException):
        why = "no answer in time" if isinstance(answer, TimeoutError) else _error_text(answer, with_type=True)
        return Check(name, None, f"set; could not check it now ({why}); {menu}")
    if answer is None:
        return Check(name, True, f"set (this provider has no key check: the first job will tell); {menu}")
    return Check(name, True, f"set, works ({answer}); {menu}")

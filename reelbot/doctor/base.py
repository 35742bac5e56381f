"""What every doctor check shares: the :class:`Check` line itself, the words for skipped local checks, and
small helpers that turn errors and secrets into safe plain text."""

from __future__ import annotations

import importlib
import re
import warnings
from collections.abc import Callable
from dataclasses import dataclass
from types import ModuleType
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from reelbot.settings import Settings

LOCAL_EXTRA = "pip install 'reelbot[local]'"
TOKENS_PAGE = "https://huggingface.co/settings/tokens"

KeyResults = dict[str, "str | None | BaseException"]
# ``hub_check(repo_id, token)``: None when the token may download the repository, else why not.
HubCheck = Callable[[str, "str | None"], "str | None"]
# ``key_check(settings)``: what each cloud provider whose key is set said about it.
KeyCheck = Callable[["Settings"], KeyResults]


@dataclass(frozen=True, slots=True)
class Check:
    name: str  # "Python", "torch", "CUDA", "GPU 0", "Model access: svd-xt", "replicate key", "Database", ...
    ok: bool | None  # True: fine; False: a problem; None: skipped or not applicable
    detail: str  # what was found, in plain words
    fix: str = ""  # the exact thing to do (for problems, and for skipped checks where it helps)


class HubUnreachable(Exception):
    """Raised by a hub check that could not ask the Hub at all (offline, timeout, Hub error): reported as
    skipped, not as a problem, since the model may be fine."""


# --- what the settings want from this machine ---------------------------------------------------------


def cloud_only(settings: Settings) -> bool:
    return settings.gpus.strip().lower() == "none"


def simulated(settings: Settings) -> bool:
    return settings.local_backend == "simulated"


def local_needed(settings: Settings) -> bool:
    """Local GPU generation is wanted: diffusers pipelines on GPUs the settings allow."""
    return not simulated(settings) and not cloud_only(settings)


def not_needed(settings: Settings) -> str:
    return "not needed with " + (
        "LOCAL_BACKEND=simulated" if simulated(settings) else "GPUS=none (cloud only)"
    )


# --- helpers --------------------------------------------------------------------------------------------


def import_quietly(load: Callable[[], Any]) -> tuple[Any, BaseException | None]:
    """Import an optional heavy module quietly (its own deprecation warnings are not the operator's problem):
    (the module, None), or (None, why it failed)."""
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            return load(), None
    except Exception as exc:
        return None, exc


def import_module(name: str) -> tuple[ModuleType | None, BaseException | None]:
    return import_quietly(lambda: importlib.import_module(name))


def secret(value: object) -> str | None:
    if value is None:
        return None
    getter = getattr(value, "get_secret_value", None)
    text = getter() if callable(getter) else str(value)
    return text or None


def error_text(exc: BaseException, *, with_type: bool = False) -> str:
    """An exception as one short line; for SQLAlchemy errors, the driver's own message."""
    orig = getattr(exc, "orig", None)
    base = orig if isinstance(orig, BaseException) else exc
    text = re.sub(r"\(Background on this error at: [^)]*\)", "", str(base))
    text = " ".join(text.split())
    if with_type or not text:
        text = f"{type(base).__name__}: {text}" if text else type(base).__name__
    return text if len(text) <= 300 else text[:297] + "..."


def one_line(text: str) -> str:
    return " ".join(text.split())


def truthy(value: str) -> bool:
    return value.strip().lower() in {"1", "true", "yes", "on"}

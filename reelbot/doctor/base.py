"""What every doctor check shares: the :class:`Check` line itself, the words for skipped local checks, and
small helpers that turn errors and secrets into safe plain text.

A check says its words as :class:`~engine.words.Text` (``N_("...")``), worded in the operator's language when
the report is rendered; what a check found as it is (a version, a path, a library's own error) is a value
in those words, or a plain string shown as it is."""

from __future__ import annotations

import importlib
import re
import warnings
from collections.abc import Callable
from dataclasses import dataclass
from types import ModuleType
from typing import TYPE_CHECKING, Any

from engine.words import N_, Text

if TYPE_CHECKING:
    from reelbot.settings import Settings

LOCAL_EXTRA = "pip install 'reelbot[local]'"
TOKENS_PAGE = "https://huggingface.co/settings/tokens"

KeyResults = dict[str, "str | None | BaseException"]
# ``hub_check(repo_id, token)``: None when the token may download the repository, else why not.
HubCheck = Callable[[str, "str | None"], "Text | str | None"]
# ``key_check(settings)``: what each cloud provider whose key is set said about it.
KeyCheck = Callable[["Settings"], KeyResults]


@dataclass(frozen=True, slots=True)
class Check:
    name: Text | str  # "Python", "torch", "CUDA", "GPU 0", "Model access: svd-xt", "replicate key", ...
    ok: bool | None  # True: fine; False: a problem; None: skipped or not applicable
    detail: Text | str  # what was found, in plain words
    fix: Text | str = ""  # the exact thing to do (for problems, and for skipped checks where it helps)


class HubUnreachable(Exception):
    """Raised by a hub check that could not ask the Hub at all (offline, timeout, Hub error): reported as
    skipped, not as a problem, since the model may be fine."""

    def __init__(self, message: Text | str) -> None:
        super().__init__(str(message))
        self.text = message


# --- what the settings want from this machine ---------------------------------------------------------


def cloud_only(settings: Settings) -> bool:
    return settings.gpus.strip().lower() == "none"


def simulated(settings: Settings) -> bool:
    return settings.local_backend == "simulated"


def local_needed(settings: Settings) -> bool:
    """Local GPU generation is wanted: diffusers pipelines on GPUs the settings allow."""
    return not simulated(settings) and not cloud_only(settings)


def not_needed(settings: Settings) -> Text:
    if simulated(settings):
        return N_("not needed with LOCAL_BACKEND=simulated")
    return N_("not needed with GPUS=none (cloud only)")


def both(first: Text | str, second: Text | str) -> Text:
    """Two things found, one after the other: "not installed; not needed with GPUS=none"."""
    return N_("{first}; {second}", first=first, second=second)


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

"""``reelbot doctor``: check the install and the settings, one plain line per thing, with the fix for each problem.

The checks are small functions, grouped by concern: :mod:`~reelbot.doctor.system` (Python, torch, GPUs,
diffusers, the video encoder, the data folder), :mod:`~reelbot.doctor.hub` (token, model access),
:mod:`~reelbot.doctor.translation` (the prompt translation model), :mod:`~reelbot.doctor.providers` (keys,
spending), :mod:`~reelbot.doctor.frontends`, :mod:`~reelbot.doctor.languages` and :mod:`~reelbot.doctor.database`.
:data:`CHECKS` lists them in the order the report shows them.

:func:`run_checks` runs every check in turn; one that fails (or crashes) never stops the others. What the
checks look at outside the settings (the Hub, the providers, torch, the disk, the environment) comes in as
:class:`Probes`, the real things by default. :func:`render_checks` turns the result into the text an operator
reads, in their language (the checks say their words as templates: see :mod:`~reelbot.doctor.base`). Secrets
are never shown: a token is "set (37 characters)", and every secret the settings hold is
blanked out of every line as well, in case an error message carries one.

Heavy or optional imports (torch, diffusers, huggingface_hub, PyAV, the engine) happen inside the checks, so a
broken or cloud-only install still gets its report.
"""

from __future__ import annotations

import functools
import importlib
import os
import platform
import shutil
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, replace
from typing import TYPE_CHECKING, Any

from bot.i18n import Words
from engine.words import N_, Text
from reelbot import gpu_fit
from reelbot.doctor import database, frontends, hub, languages, providers, system, translation
from reelbot.doctor.base import (
    Check,
    HubCheck,
    HubUnreachable,
    KeyCheck,
    KeyResults,
    error_text,
    import_quietly,
    local_needed,
    one_line,
    secret,
)
from reelbot.doctor.hub import hub_access
from reelbot.doctor.providers import provider_key_checks
from reelbot.doctor.system import DiskUsage
from reelbot.gpu_fit import Nvidia

if TYPE_CHECKING:
    from reelbot.settings import Settings

__all__ = [
    "CHECKS",
    "Check",
    "HubUnreachable",
    "KeyResults",
    "Probes",
    "Step",
    "hub_access",
    "provider_key_checks",
    "render_checks",
    "run_checks",
]

_MARKS = {True: "✓", False: "✗", None: "–"}


@dataclass(frozen=True, slots=True)
class Probes:
    """What the checks look at besides the settings: :func:`run_checks` fills it with the real things, or
    with what its caller passes instead."""

    hub_check: HubCheck
    key_check: KeyCheck
    timeout_s: float  # bounds each network step (the Hub, the providers, the database connection)
    torch: Any  # the torch module (or a torch-like fake); None when it cannot be imported
    torch_error: BaseException | None  # why it cannot
    disk_usage: DiskUsage
    environ: Mapping[str, str]
    nvidia: Nvidia | None = None  # what the NVIDIA driver sees (None: no NVIDIA GPU, or not asked)
    os_name: str = ""  # as platform.system(): "Windows", "Linux", "Darwin"


@dataclass(frozen=True, slots=True)
class Step:
    """One check: ``run`` gives its line(s); if it raises, the report says so under ``name``."""

    name: Text | str
    run: Callable[[Settings, Probes], Check | list[Check]]


CHECKS: tuple[Step, ...] = (
    Step("Python", lambda settings, probes: system.python()),
    Step(
        "torch",
        lambda settings, probes: system.torch_fits(settings, probes.torch, probes.torch_error, probes.nvidia,
                                                   probes.os_name),
    ),
    Step("CUDA", lambda settings, probes: system.cuda(settings, probes.torch)),
    Step("diffusers", lambda settings, probes: system.diffusers(settings, probes.torch)),
    Step(hub.TOKEN, lambda settings, probes: hub.hf_token(settings)),
    Step(
        N_("Model access"),
        lambda settings, probes: hub.model_access(settings, probes.hub_check, probes.environ),
    ),
    Step(translation.NAME,
         lambda settings, probes: translation.prompt_translation(settings, probes.environ)),
    Step(N_("Provider keys"), lambda settings, probes: providers.provider_keys(settings, probes.key_check)),
    Step(providers.SPENDING, lambda settings, probes: providers.spending(settings)),
    Step(N_("Front ends"), lambda settings, probes: frontends.front_ends(settings)),
    Step(languages.NAME, lambda settings, probes: languages.languages(settings)),
    Step(database.NAME, lambda settings, probes: database.database(settings, probes.timeout_s)),
    Step(system.ENCODER, lambda settings, probes: system.video_encoder()),
    Step(system.DATA_FOLDER, lambda settings, probes: system.data_folder(settings, probes.disk_usage)),
)


def _import_torch() -> Any:
    return importlib.import_module("torch")


def run_checks(
    settings: Settings,
    *,
    hub_check: HubCheck | None = None,
    key_check: KeyCheck | None = None,
    timeout_s: float = 10.0,
    import_torch: Callable[[], Any] = _import_torch,
    disk_usage: DiskUsage = shutil.disk_usage,
    environ: Mapping[str, str] | None = None,
    checks: Sequence[Step] = CHECKS,
    find_nvidia: Callable[[], Nvidia | None] = gpu_fit.find_nvidia,
    os_name: Callable[[], str] = platform.system,
) -> list[Check]:
    """Every check, in order. ``hub_check(repo_id, token)`` returns None when the token (None: the Hub's own
    login, if any) may download the repository, or says why not; it may raise :class:`HubUnreachable`.
    ``key_check(settings)`` asks each cloud provider whose key is set whether it works (see
    :func:`provider_key_checks`). ``timeout_s`` bounds each network step (the Hub, the providers, the
    database connection). ``import_torch`` returns the torch module (or a torch-like one) or raises
    ImportError; ``disk_usage`` measures DATA_DIR's disk (as :func:`shutil.disk_usage`); ``environ`` is the
    process environment (for HF_HUB_OFFLINE); ``checks`` are the checks to run (default :data:`CHECKS`);
    ``find_nvidia`` says what the NVIDIA driver sees (asked only when torch is there and local GPUs are
    wanted) and ``os_name`` names the OS, for the torch line (see :mod:`reelbot.gpu_fit`)."""
    if hub_check is None:
        hub_check = functools.partial(hub_access, timeout_s=timeout_s)
    if key_check is None:
        key_check = functools.partial(provider_key_checks, timeout_s=timeout_s)
    torch, torch_error = import_quietly(import_torch)
    nvidia = None
    if torch is not None and local_needed(settings):
        nvidia, _ = import_quietly(find_nvidia)
    probes = Probes(
        hub_check=hub_check,
        key_check=key_check,
        timeout_s=timeout_s,
        torch=torch,
        torch_error=torch_error,
        disk_usage=disk_usage,
        environ=os.environ if environ is None else environ,
        nvidia=nvidia,
        os_name=os_name(),
    )
    found: list[Check] = []
    for step in checks:
        try:
            result = step.run(settings, probes)
        except Exception as exc:  # one broken check must not hide the others
            result = Check(
                step.name,
                False,
                N_("the check itself failed: {error}", error=error_text(exc, with_type=True)),
                fix=N_("Re-install reelbot (pip install --force-reinstall -e .); if it stays, report this line."),
            )
        found.extend([result] if isinstance(result, Check) else result)
    secrets = _secrets(settings)
    return [_scrub(check, secrets) for check in found]


def render_checks(w: Words, checks: list[Check]) -> str:
    """One line a check (its fix indented below it), then "N problems" or "All good.", in ``w``'s language."""
    lines: list[str] = []
    for check in checks:
        lines.append(f"{_MARKS[check.ok]} {w.text(check.name)}: {one_line(w.text(check.detail))}")
        if check.fix:
            lines.append("    " + w._("fix: {fix}", fix=one_line(w.text(check.fix))))
    problems = sum(1 for check in checks if check.ok is False)
    lines.append(w._("All good.") if problems == 0 else w.n_("{n} problem", "{n} problems", problems))
    return "\n".join(lines)


def _secrets(settings: Settings) -> list[str]:
    """Every secret the settings hold, longest first, so none of them is ever printed."""
    found: set[str] = set()
    for field in type(settings).model_fields:
        value = getattr(settings, field, None)
        if hasattr(value, "get_secret_value"):
            text = secret(value)
            if text:
                found.add(text)
    try:
        from sqlalchemy.engine import make_url

        password = make_url(settings.database_url).password
        if password:
            found.add(str(password))
    except Exception:
        pass
    return sorted((s for s in found if len(s) >= 4), key=len, reverse=True)


def _scrub(check: Check, secrets: list[str]) -> Check:
    name, detail, fix = (_scrubbed(part, secrets) for part in (check.name, check.detail, check.fix))
    if (name, detail, fix) == (check.name, check.detail, check.fix):
        return check
    return replace(check, name=name, detail=detail, fix=fix)


def _scrubbed(said: Any, secrets: list[str]) -> Any:
    """``said`` with every secret blanked out: in a plain string, and in each value a ``Text`` carries (the
    templates are the code's own words, with no secrets in them)."""
    if isinstance(said, Text):
        return Text(said.template, {key: _scrubbed(value, secrets) for key, value in said.args.items()})
    if isinstance(said, str):
        for text in secrets:
            said = said.replace(text, "***")
    return said

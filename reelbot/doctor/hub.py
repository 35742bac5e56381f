"""The Hugging Face Hub: the token, and whether it may download each model the settings name.

:func:`hub_access` is the real question to the Hub; the model check takes any function with its shape, so
it can be answered without a network.
"""

from __future__ import annotations

import os
import re
import threading
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import TYPE_CHECKING

from engine.words import N_, Text
from reelbot.doctor.base import (
    LOCAL_EXTRA,
    TOKENS_PAGE,
    Check,
    HubCheck,
    HubUnreachable,
    error_text,
    local_needed,
    not_needed,
    secret,
    truthy,
)

if TYPE_CHECKING:
    from reelbot.settings import Settings

_REPO_ID = re.compile(r"[A-Za-z0-9][\w.-]*/[\w.-]+")

# ``auth_check(repo_id, token)``: returns when the token may read the repository, raises the Hub's error
# when not (the shape of ``huggingface_hub.HfApi().auth_check``).
AuthCheck = Callable[[str, "str | None"], object]

TOKEN = N_("Hugging Face token")


def hf_token(settings: Settings) -> Check:
    token = secret(settings.hf_token)
    if not token:
        return Check(
            TOKEN,
            None,
            N_("not set (gated models need it)"),
            fix=N_("Set HF_TOKEN in .env (create one at {page}).", page=TOKENS_PAGE),
        )
    return Check(TOKEN, True, N_("set ({length} characters)", length=len(token)))


def model_access(
    settings: Settings, hub_check: HubCheck, environ: Mapping[str, str] | None = None
) -> list[Check]:
    """One line for each default model: a local folder, or a Hub repository ``hub_check`` is asked about
    (not when ``environ`` says HF_HUB_OFFLINE)."""
    environ = os.environ if environ is None else environ
    wanted: dict[str, str] = {}
    for setting in ("default_text_model", "default_image_model"):
        wanted.setdefault(getattr(settings, setting), setting.upper())
    checks = []
    for model, setting in wanted.items():
        name = N_("Model access: {model}", model=model)
        try:
            checks.append(_model(settings, hub_check, environ, name, model, setting))
        except Exception as exc:
            checks.append(
                Check(
                    name,
                    False,
                    N_("the check itself failed: {error}", error=error_text(exc, with_type=True)),
                    fix=N_("Check {setting}.", setting=setting),
                )
            )
    return checks


def _model_repos(local_models: str = "") -> dict[str, str]:
    """Registered model name -> Hugging Face repo, from the same registry the local backend uses."""
    from engine.local.registry import load_registry

    try:
        registry = load_registry(local_models)
    except ValueError:
        from engine.local.registry import BUILTIN as registry
    return {name: spec.source for name, spec in registry.items()}


def _model(
    settings: Settings, hub_check: HubCheck, environ: Mapping[str, str], name: Text, model: str, setting: str
) -> Check:
    if not local_needed(settings):
        return Check(name, None, N_("not checked, {why}", why=not_needed(settings)))
    repos = _model_repos(settings.local_models)
    folder = Path(model).expanduser()
    if model not in repos and folder.is_dir():
        if (folder / "model_index.json").is_file():
            return Check(name, True, N_("local folder {folder}", folder=str(folder.resolve())))
        return Check(
            name,
            False,
            N_("local folder {folder} has no model_index.json", folder=str(folder.resolve())),
            fix=N_("Point {setting} at a folder written by a diffusers pipeline's save_pretrained().",
                   setting=setting),
        )
    repo = repos.get(model) or (model if _REPO_ID.fullmatch(model) else None)
    if repo is None:
        return Check(
            name,
            False,
            N_("unknown model {model} (not a known name, a Hugging Face repo id, or an existing folder)",
               model=repr(model)),
            fix=N_("Set {setting} to one of {names}, a repo id like owner/name, or a local folder.", setting=setting,
                   names=", ".join(repos)),
        )
    url = "https://huggingface.co/" + repo
    if truthy(environ.get("HF_HUB_OFFLINE", "")):
        return Check(name, None, _about(repo, N_("not checked, HF_HUB_OFFLINE is set (only the local cache is used)")))
    token = secret(settings.hf_token)
    try:
        problem = hub_check(repo, token)
    except HubUnreachable as exc:
        return Check(name, None, _about(repo, exc.text))
    except ImportError as exc:
        return Check(
            name,
            None,
            _about(repo, N_("not checked, {library} is not installed", library=exc.name or "huggingface_hub")),
            fix=LOCAL_EXTRA,
        )
    except Exception as exc:
        return Check(
            name,
            False,
            _about(repo, N_("the access check failed: {error}", error=error_text(exc, with_type=True))),
            fix=N_("Check the network and HF_TOKEN, and that you can open {url} when logged in.", url=url),
        )
    if problem is None:
        return Check(name, True, _about(repo, N_("accessible with HF_TOKEN") if token else N_("accessible")))
    fix: Text
    if "not found" in str(problem).lower():
        fix = N_(
            "Check that {url} exists (fix {setting} if not); if it is private, set HF_TOKEN to a token "
            "of an account that can read it ({page}).", url=url, setting=setting, page=TOKENS_PAGE
        )
    else:
        fix = N_(
            "Request access on {url} (logged in to Hugging Face), then set HF_TOKEN in .env to a token "
            "of that account ({page}).", url=url, page=TOKENS_PAGE
        )
    return Check(name, False, _about(repo, problem), fix=fix)


def _about(repo: str, said: Text | str) -> Text:
    return N_("{repo}: {said}", repo=repo, said=said)


# --- asking the Hub -------------------------------------------------------------------------------------


def hub_access(
    repo_id: str, token: str | None, *, timeout_s: float = 10.0, auth_check: AuthCheck | None = None
) -> Text | None:
    """The default ``hub_check``: ask the Hugging Face Hub whether ``token`` may download ``repo_id``.

    None when it may; "no access: ..." or "not found ..." when not; :class:`HubUnreachable` when the Hub
    cannot be asked (offline, no answer within ``timeout_s``, a server error). The request runs on a daemon
    thread so a hung connection costs at most ``timeout_s``. ``auth_check`` asks the Hub (default:
    ``huggingface_hub.HfApi().auth_check``).
    """
    outcome: dict[str, object] = {}

    def ask() -> None:
        try:
            outcome["answer"] = _ask_hub(repo_id, token, auth_check)
        except BaseException as exc:
            outcome["error"] = exc

    thread = threading.Thread(target=ask, name="reelbot-doctor-hub", daemon=True)
    thread.start()
    thread.join(timeout_s)
    if thread.is_alive():
        raise HubUnreachable(N_("could not reach the Hugging Face Hub (offline?): no answer in {seconds:g} s",
                                seconds=timeout_s))
    error = outcome.get("error")
    if isinstance(error, BaseException):
        raise error
    answer = outcome.get("answer")
    return answer if isinstance(answer, Text) else None


def _ask_hub(repo_id: str, token: str | None, auth_check: AuthCheck | None) -> Text | None:
    from huggingface_hub.errors import (
        GatedRepoError,
        HfHubHTTPError,
        OfflineModeIsEnabled,
        RepositoryNotFoundError,
    )

    if auth_check is None:
        from huggingface_hub import HfApi

        def auth_check(repo_id: str, token: str | None) -> None:
            HfApi().auth_check(repo_id, token=token)

    no_access = N_("no access: request access on {url} and set HF_TOKEN", url="https://huggingface.co/" + repo_id)
    try:
        auth_check(repo_id, token)
    except GatedRepoError:  # a subclass of RepositoryNotFoundError: first
        return no_access
    except RepositoryNotFoundError:
        return N_("not found (or private, or HF_TOKEN is not valid)")
    except OfflineModeIsEnabled as exc:
        raise HubUnreachable(N_("not checked, HF_HUB_OFFLINE is set")) from exc
    except HfHubHTTPError as exc:
        status = getattr(getattr(exc, "response", None), "status_code", None)
        if status in (401, 403):
            return no_access
        raise HubUnreachable(N_("could not check: the Hugging Face Hub answered HTTP {status}", status=status)) from exc
    except Exception as exc:
        if _is_network_error(exc):
            raise HubUnreachable(
                N_("could not reach the Hugging Face Hub (offline?): {error}", error=error_text(exc))
            ) from exc
        raise
    return None


def _is_network_error(exc: BaseException) -> bool:
    network = {"TransportError", "RequestError", "ConnectionError", "Timeout", "TimeoutException"}
    return isinstance(exc, OSError | TimeoutError) or any(
        cls.__name__ in network for cls in type(exc).__mro__
    )

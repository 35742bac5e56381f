"""Cloud providers: whether each key is set and works (asked of the provider itself), and who may spend the
operator's money."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from engine.words import N_, Text
from reelbot.doctor.base import Check, KeyCheck, KeyResults, error_text, secret

if TYPE_CHECKING:
    from reelbot.settings import Settings

SPENDING = N_("Can spend money")


def provider_keys(settings: Settings, key_check: KeyCheck) -> list[Check]:
    """One line per provider; ``key_check`` is asked (once, for all of them) only when a key is set and the
    provider is in a chain."""
    from engine.cloud.catalog import load_catalog
    from reelbot.backends import PROVIDER_KEYS, spending_off

    chains = set(settings.chain_text_to_video) | set(settings.chain_image_to_video)
    catalog = load_catalog(settings.cloud_models)
    off = spending_off(settings)
    answers: KeyResults | None = None
    checks = []
    for provider, key in PROVIDER_KEYS.items():
        name = N_("{provider} key", provider=provider)
        if not secret(getattr(settings, key, None)):
            checks.append(
                Check(
                    name,
                    None,
                    N_("not set (provider left out of the chain)"),
                    fix=N_("Set {setting} in .env to use {provider}.", setting=key.upper(), provider=provider),
                )
            )
        elif provider in off:
            checks.append(Check(name, None, N_("set; not used for cloud jobs ({why})", why=off[provider])))
        elif provider not in chains:
            checks.append(
                Check(
                    name,
                    True,
                    N_("set, but the provider is in neither CHAIN_TEXT_TO_VIDEO nor CHAIN_IMAGE_TO_VIDEO"),
                )
            )
        else:
            if answers is None:
                answers = key_check(settings)
            checks.append(_key_answer(name, key.upper(), answers.get(provider), catalog.get(provider, [])))
    return checks


def spending(settings: Settings) -> Check:
    """Which providers may spend the operator's money: those enabled on purpose, never a key that is
    there for something else (the same words as /status's line, ``bot.render.spending_line``)."""
    from reelbot.backends import PROVIDER_KEYS, spending_off

    off = spending_off(settings)
    can = [p for p, key in PROVIDER_KEYS.items() if secret(getattr(settings, key, None)) and p not in off]
    who: Text | str = ", ".join(can) or N_("no cloud provider")
    if off:
        which = ", ".join(f"{name} ({why})" for name, why in off.items())
        who = N_("{first} · {second}", first=who, second=N_("off: {which}", which=which))
    return Check(SPENDING, True if can else None, who)


def provider_key_checks(settings: Settings, *, timeout_s: float = 10.0) -> KeyResults:
    """The default ``key_check``: ask every provider whose key is set, all at once, whether the key works:
    provider -> what was found (None: the provider has no call to check a key with), or the error
    (refused, unreachable, timed out)."""
    import asyncio

    from reelbot.backends import build_providers

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


def _key_answer(name: Text, setting: str, answer: object, models: list[Any]) -> Check:
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
    menu: Text | str = "; ".join(offers) or N_("no models (CLOUD_MODELS)")
    if isinstance(answer, AuthFailed | BackendUnavailable):
        return Check(name, False, N_("set, but {problem}", problem=answer.text),
                     fix=answer.hint_text or N_("Check {setting} in .env.", setting=setting))
    if isinstance(answer, BackendError):
        return Check(name, None, N_("set; could not check it now ({why}); {models}", why=answer.text, models=menu))
    if isinstance(answer, BaseException):
        why = N_("no answer in time") if isinstance(answer, TimeoutError) else error_text(answer, with_type=True)
        return Check(name, None, N_("set; could not check it now ({why}); {models}", why=why, models=menu))
    if answer is None:
        return Check(name, True, N_("set (this provider has no key check: the first job will tell); {models}",
                                    models=menu))
    return Check(name, True, N_("set, works ({answer}); {models}", answer=answer, models=menu))

"""Per-user defaults: what ``/settings`` keeps for a person, and how it joins each of their jobs.

A person may give a default to each option in :data:`SETTABLE` (``Options`` fields by name); every job they
send gets it unless a flag of that job gives the field a value itself (flags win, field by field). A value is
checked when it is set, by the same validation as the flag (``engine.validation.validate``), so a stored
model nobody may pick, or frames over the limit, is refused then, with the value named and what to do.
:data:`DELIVERY` says where a finished video goes: into the chat where it was asked (``public``, the bot's
way) or to the person alone (``private``: a DM on Discord, the private chat on Telegram); the front end falls
back to the chat, with a note, when it cannot reach the person privately.

Settings are kept per user row (``storage/users.py``), so a person whose accounts are linked has one set.
A value stored earlier that no longer passes (an admin removed the model, lowered MAX_FRAMES) is left out
of the job, not refused: the person did not ask for it on this job.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Collection
from dataclasses import dataclass, fields, replace
from typing import Any

from engine.clock import utcnow
from engine.controls import check_aspect
from engine.errors import InvalidInput
from engine.types import Options, Origin, SubmitRequest, UserRef
from engine.validation import InputLimits, clean_text, validate
from engine.words import N_

log = logging.getLogger(__name__)

# The options a person may give a default to, by Options field name, and the type their value is read as.
# A new option is one line here (and its words in the front ends' setting names).
SETTABLE: dict[str, type] = {
    "model": str,
    "frames": int,
    "fps": int,
    "aspect": str,  # --ar (engine/controls.py)
    "motion": int,  # --motion 1-10
}
DELIVERY = "delivery"
PUBLIC, PRIVATE = "public", "private"
DELIVERIES = (PUBLIC, PRIVATE)
NAMES = (*SETTABLE, DELIVERY)  # every setting but the language (kept apart: every reply reads it)
_FIELD_DEFAULTS = {f.name: f.default for f in fields(Options)}


@dataclass(frozen=True, slots=True)
class Setting:
    """One setting as the person has it: ``value`` in force (None: the model's own default) and whether
    they chose it (``chosen``) or it is the bot's default."""

    name: str
    value: str | int | None
    chosen: bool


@dataclass(frozen=True, slots=True)
class UserSettings:
    """Everything ``/settings`` shows: each setting in :data:`NAMES` order, and the chosen language (None:
    the app's)."""

    settings: tuple[Setting, ...]
    language: str | None

    def get(self, name: str) -> Setting:
        return next(s for s in self.settings if s.name == name)

    @property
    def delivery(self) -> str:
        return str(self.get(DELIVERY).value)


class UserDefaults:
    """Reads, checks and keeps a person's settings, and applies them to their jobs."""

    def __init__(self, repo: Any, limits: InputLimits, models: Callable[[], Collection[str]]) -> None:
        self.repo = repo
        self.limits = limits
        self.models = models

    async def chosen(self, user: UserRef) -> dict[str, Any]:
        """What the person chose, by setting name (only the settings they chose)."""
        stored = await self.repo.user_settings(user.platform, user.user_id)
        return {name: value for name, value in stored.items() if name in NAMES}

    async def shown(self, user: UserRef, language: str | None) -> UserSettings:
        chosen = await self.chosen(user)
        settings = [Setting(name, chosen.get(name), name in chosen) for name in SETTABLE]
        settings.append(Setting(DELIVERY, chosen.get(DELIVERY, PUBLIC), DELIVERY in chosen))
        return UserSettings(tuple(settings), language)

    async def set(self, user: UserRef, name: str, value: object) -> Any:
        """Keep ``value`` for setting ``name`` (None: back to the default) once it passed the checks; returns
        the value as kept (``"25"`` is kept as 25)."""
        kept = None if value is None else self.check(user, name, value)
        if name == DELIVERY and kept == PUBLIC:
            kept = None  # the bot's way: nothing to keep
        await self.repo.change_user_settings(user.platform, user.user_id, clean_text(user.name).strip(),
                                             {check_name(name): kept}, utcnow())
        return kept

    async def reset(self, user: UserRef) -> None:
        """Every setting back to the bot's default (the language is the front end's to reset)."""
        await self.repo.change_user_settings(user.platform, user.user_id, clean_text(user.name).strip(), {},
                                             utcnow(), reset=True)

    def check(self, user: UserRef, name: str, value: object) -> Any:
        """The value as it would be kept, or :class:`InvalidInput` saying what is wrong and what to do."""
        name = check_name(name)
        if name == DELIVERY:
            choice = str(value).strip().lower()
            if choice not in DELIVERIES:
                raise InvalidInput(DELIVERY, N_("{value} is not a way to get results; choose public or private.",
                                                value=repr(str(value)[:40])))
            return choice
        typed = _typed(name, value)
        if name == "aspect":  # kept as the engine writes it: "16x9" is "16:9"
            typed = check_aspect(typed)
        try:  # the same checks as the flag, on a job that asks only for this
            validate(SubmitRequest(user, "-", Origin(user.platform), Options(**{name: typed})), self.limits,
                     self.models())
        except InvalidInput as exc:
            if exc.hint_text is not None:
                raise
            raise InvalidInput(exc.field, exc.text, reason=exc.reason,
                               hint=N_("Choose another value, or default to let each model choose.")) from None
        return typed

    async def apply(self, request: SubmitRequest) -> SubmitRequest:
        """The request with the person's defaults in every option it leaves unset, and their delivery in its
        origin. A stored value that no longer passes the checks is left out (and logged)."""
        chosen = await self.chosen(request.user)
        if not chosen:
            return request
        options, given = request.options, {}
        for name in SETTABLE:
            if name not in chosen or getattr(options, name) != _FIELD_DEFAULTS[name]:
                continue  # not chosen, or the job's own flag says otherwise
            try:
                given[name] = self.check(request.user, name, chosen[name])
            except InvalidInput as exc:
                log.info("the stored %s of %s no longer applies: %s", name, request.user.key, exc)
        origin = request.origin
        if chosen.get(DELIVERY) == PRIVATE:
            origin = replace(origin, delivery=PRIVATE)
        return replace(request, options=replace(options, **given), origin=origin)


def check_name(name: str) -> str:
    if name not in NAMES:
        raise InvalidInput("setting", N_("{name} is not a setting; the settings are: {names}.",
                                         name=repr(str(name)[:40]), names=", ".join(NAMES)))
    return name


def _typed(name: str, value: object) -> Any:
    """Text as the field's type where it reads as one; anything else goes on as it is, for the validation
    to name it ("frames must be a whole number, not 'lots'.")."""
    if SETTABLE[name] is int and isinstance(value, str):
        text = value.strip()
        return int(text) if text.isascii() and text.isdigit() and len(text) <= 12 else text
    if SETTABLE[name] is str:
        return clean_text(str(value)).strip()
    return value

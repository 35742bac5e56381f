"""``/models`` and the model pickers, worded once for every front end from ``Service.models_now``: what each
model makes, how long it typically takes and what a video costs where it would run first."""

from __future__ import annotations

from collections.abc import Sequence

from bot.i18n import Words
from engine.types import JobKind, ModelChoice

AUTOCOMPLETE_LIMIT = 25  # Discord shows at most 25 choices
CHOICE_NAME_LIMIT = 100  # and each choice's name is at most 100 characters


def kinds_word(w: Words, kinds: Sequence[JobKind]) -> str:
    """"from words", "from a picture", or both."""
    if JobKind.TEXT_TO_VIDEO in kinds and JobKind.IMAGE_TO_VIDEO in kinds:
        return w._("from words or a picture")
    return w._("from a picture") if JobKind.IMAGE_TO_VIDEO in kinds else w._("from words")


def model_line(w: Words, choice: ModelChoice) -> str:
    """"zeroscope — from words · local, ≈ 20 s · free"."""
    if choice.backend is None:
        where = w._("busy right now")
    elif choice.seconds is None:
        where = choice.backend
    else:
        where = w._("{backend}, ≈ {time}", backend=choice.backend, time=w.duration(choice.seconds))
    return f"{choice.name} — {kinds_word(w, choice.kinds)} · {where} · {w.money(choice.cost_usd)}"


def models_text(w: Words, choices: Sequence[ModelChoice]) -> str:
    """/models: one line per model, then how to pick one."""
    if not choices:
        return w._("No model can make videos here right now. An admin can run `reelbot doctor` to see why.")
    lines = [w._("Models you can use now (time and price of one video):")]
    lines += [f"• {model_line(w, choice)}" for choice in choices]
    lines.append(w._("Pick one with --model NAME, like --model {name}.", name=choices[0].name))
    return "\n".join(lines)


def autocomplete(w: Words, choices: Sequence[ModelChoice], typed: str) -> list[tuple[str, str]]:
    """(label, model name) for a picker as the user types: the models whose name contains what was typed,
    those starting with it first, at most :data:`AUTOCOMPLETE_LIMIT`."""
    typed = typed.strip().lower()
    found = [c for c in choices if typed in c.name.lower()]
    found.sort(key=lambda c: (not c.name.lower().startswith(typed), c.name))
    return [(_cut(model_line(w, c), CHOICE_NAME_LIMIT), c.name) for c in found[:AUTOCOMPLETE_LIMIT]]


def _cut(text: str, limit: int) -> str:
    return text if len(text) <= limit else text[: limit - 1] + "…"

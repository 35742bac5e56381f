"""Messages the engine says to people, kept as a template and its values until someone reads them.

The engine does not know who will read a refusal or a failure, nor in which language, so it never builds
the final sentence: it builds a :class:`Text` with ``N_("The queue is full ({size} jobs waiting).",
size=n)``. ``str(text)`` is the English sentence (for logs and the operator's terminal); a front end words
it in the reader's language from the gettext catalog (``bot.i18n``), where the English template is the
message id. The template is the catalog key, so it must be a literal at the call (``N_`` is what the
catalog's extractor looks for).

Values are kept raw so each language formats them its own way: a duration is a :class:`Seconds`, another
``Text`` is translated in turn, and everything else is formatted by the template's own ``{name:spec}``.
A ``Text`` survives the database and the distributed queue as JSON (:meth:`Text.to_json`).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any


@dataclass(frozen=True, slots=True)
class Seconds:
    """A duration in a message: each language says it its own way ("3 min 20 s", "3분 20초")."""

    seconds: float

    def __str__(self) -> str:
        return english_duration(self.seconds)


@dataclass(frozen=True, slots=True)
class Text:
    template: str
    args: Mapping[str, Any] = field(default_factory=dict)

    def __str__(self) -> str:
        return self.template.format(**{key: _english(value) for key, value in self.args.items()})

    def to_json(self) -> dict[str, Any]:
        return {"t": self.template, "a": {key: _dump(value) for key, value in self.args.items()}}

    @classmethod
    def from_json(cls, data: Any) -> Text | str:
        """A stored message; plain strings (rows written before messages were kept as templates) stay as
        they are."""
        if isinstance(data, dict) and "t" in data:
            return cls(str(data["t"]), {key: _load(value) for key, value in dict(data.get("a") or {}).items()})
        return str(data)


def N_(template: str, /, **args: Any) -> Text:  # noqa: N802 - gettext's name for "translate later"
    """A message for people, worded in their language when it is shown."""
    return Text(template, args)


def as_text(message: Text | str) -> Text:
    """A message as a ``Text``; a plain string is its own template (shown as it is where no catalog has it)."""
    return message if isinstance(message, Text) else Text(message.replace("{", "{{").replace("}", "}}"))


def english_duration(seconds: float | None) -> str:
    if seconds is None:
        return "?"
    seconds = max(0.0, seconds)
    if seconds < 60:
        return f"{seconds:.0f} s"
    minutes, secs = divmod(round(seconds), 60)
    if minutes < 60:
        return f"{minutes} min {secs:02d} s" if minutes < 10 else f"{minutes} min"
    hours, minutes = divmod(minutes, 60)
    if hours >= 48:
        return f"{round(hours / 24)} days"
    return f"{hours} h {minutes:02d} min"


def _english(value: Any) -> Any:
    return str(value) if isinstance(value, Text | Seconds) else value


def _dump(value: Any) -> Any:
    if isinstance(value, Text):
        return value.to_json()
    if isinstance(value, Seconds):
        return {"s": value.seconds}
    if value is None or isinstance(value, bool | int | float | str):
        return value
    return str(value)


def _load(value: Any) -> Any:
    if isinstance(value, dict) and "t" in value:
        return Text.from_json(value)
    if isinstance(value, dict) and "s" in value:
        return Seconds(float(value["s"]))
    return value

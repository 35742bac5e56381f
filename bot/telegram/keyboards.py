"""Inline buttons. Their callback data carries the action and the job id, so they work after a restart.

A job's buttons say ``action:job_id``; the language choices of ``/settings`` say ``lang:<code>`` and its
other buttons ``set:<setting>:<value>`` (``set:reset``), actions no job button has, so none is ever taken
for another.
"""

from __future__ import annotations

from dataclasses import dataclass

from telegram import InlineKeyboardButton, InlineKeyboardMarkup

from bot.core.actions import ACTIONS, CANCEL, CLOUD, DELETE, EXTEND, RETRY, SAME_SEED
from bot.core.language import AUTO, choices
from bot.i18n import Words
from engine.defaults import DELIVERY, PRIVATE, PUBLIC, UserSettings
from engine.types import CloudOffer

LANGUAGE = "lang"  # "lang:ko", "lang:auto": a choice under /settings language (no job action is "lang")
SETTING = "set"  # "set:delivery:private", "set:reset": the other buttons under /settings


@dataclass(frozen=True, slots=True)
class Press:
    action: str
    job_id: str


def parse_press(data: str | None) -> Press | None:
    action, _, job_id = (data or "").partition(":")
    if action not in ACTIONS or not job_id:
        return None
    return Press(action, job_id)


def _button(text: str, action: str, job_id: str) -> InlineKeyboardButton:
    return InlineKeyboardButton(text, callback_data=f"{action}:{job_id}")


def waiting(w: Words, job_id: str, offer: CloudOffer | None = None) -> InlineKeyboardMarkup:
    """While a job waits or runs: Cancel, and "Run on cloud now" when a cloud backend could take it."""
    row = [_button("✖ " + w._("Cancel"), CANCEL, job_id)]
    if offer is not None:
        row.append(_button("☁ " + w._("Run on cloud now ({backend} ≈ {cost})", backend=offer.backend,
                                      cost=w.money(offer.cost_usd)), CLOUD, job_id))
    return InlineKeyboardMarkup([row])


def finished(w: Words, job_id: str, *, video: bool = False) -> InlineKeyboardMarkup:
    """Under a result or a failure: make it again with a new seed, or with the same one; under a result
    (``video``) also make it longer; or delete it."""
    rows = [[_button("🔁 " + w._("Retry (new seed)"), RETRY, job_id), _button("🎯 " + w._("Same seed"), SAME_SEED, job_id)]]
    last = [_button("⏩ " + w._("Extend"), EXTEND, job_id)] if video else []
    rows.append([*last, _button("🗑 " + w._("Delete"), DELETE, job_id)])
    return InlineKeyboardMarkup(rows)


def languages(w: Words, chosen: str | None) -> InlineKeyboardMarkup:
    """/settings language: a button per language reelbot speaks (in that language), and "Automatic" (the
    Telegram app's); the one in use now is ticked (``chosen``: the stored choice, None for automatic)."""
    def tick(label: str, on: bool) -> str:
        return f"✓ {label}" if on else label

    row = [InlineKeyboardButton(tick(name, code == chosen), callback_data=f"{LANGUAGE}:{code}")
           for code, name in choices()]
    auto = InlineKeyboardButton(tick(w._("Automatic (my Telegram app's language)"), chosen is None),
                                callback_data=f"{LANGUAGE}:{AUTO[0]}")
    return InlineKeyboardMarkup([row, [auto]])


def parse_language(data: str | None) -> str | None:
    """The language a /settings button chose ("ko", "auto"), or None for any other button."""
    prefix, _, choice = (data or "").partition(":")
    return choice if prefix == LANGUAGE and choice else None


def settings(w: Words, shown: UserSettings) -> InlineKeyboardMarkup:
    """/settings: the language buttons, then where results go (the one in force ticked), then Reset."""
    def tick(label: str, on: bool) -> str:
        return f"✓ {label}" if on else label

    rows: list[list[InlineKeyboardButton]] = [list(row) for row in languages(w, shown.language).inline_keyboard]
    rows.append([InlineKeyboardButton(tick(w._("Results in the chat"), shown.delivery == PUBLIC),
                                      callback_data=f"{SETTING}:{DELIVERY}:{PUBLIC}"),
                 InlineKeyboardButton(tick(w._("Results to me privately"), shown.delivery == PRIVATE),
                                      callback_data=f"{SETTING}:{DELIVERY}:{PRIVATE}")])
    rows.append([InlineKeyboardButton("↺ " + w._("Reset all"), callback_data=f"{SETTING}:reset")])
    return InlineKeyboardMarkup(rows)


def parse_setting(data: str | None) -> tuple[str, str]:
    """(setting, value) a /settings button chose: ("delivery", "private"), ("reset", "")."""
    prefix, _, rest = (data or "").partition(":")
    name, _, value = rest.partition(":")
    return (name, value) if prefix == SETTING else ("", "")

"""Inline buttons. Their callback data carries the action and the job id, so they work after a restart."""

from __future__ import annotations

from dataclasses import dataclass

from telegram import InlineKeyboardButton, InlineKeyboardMarkup

from bot.core.actions import ACTIONS, CANCEL, CLOUD, RETRY, SAME_SEED
from bot.i18n import Words
from engine.types import CloudOffer


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


def finished(w: Words, job_id: str) -> InlineKeyboardMarkup:
    """Under a result or a failure: make it again with a new seed, or with the same one."""
    return InlineKeyboardMarkup(
        [[_button("🔁 " + w._("Retry (new seed)"), RETRY, job_id), _button("🎯 " + w._("Same seed"), SAME_SEED, job_id)]]
    )

"""Buttons on a job's message. Their custom ids (``reelbot:<action>:<job id>``) are stable, and discord.py
routes presses through :class:`JobButton` (a ``DynamicItem``), so buttons keep working after a restart."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Any

import discord

from bot.core.actions import CANCEL, CLOUD, DELETE, EXTEND, RETRY, SAME_SEED
from bot.i18n import Words
from engine.types import CloudOffer

Press = Callable[[discord.Interaction, str, str], Awaitable[None]]


class JobButton(discord.ui.DynamicItem[discord.ui.Button], template=r"reelbot:(?P<action>cancel|retry|same|cloud|extend|delete):(?P<job>[a-z0-9]{4,16})"):  # type: ignore[call-arg]  # noqa: E501
    def __init__(self, action: str, job_id: str, label: str = "", style: discord.ButtonStyle = discord.ButtonStyle.secondary) -> None:  # noqa: E501
        super().__init__(discord.ui.Button(label=label or action, style=style,
                                           custom_id=f"reelbot:{action}:{job_id}"))
        self.action = action
        self.job_id = job_id

    @classmethod
    async def from_custom_id(cls, interaction: discord.Interaction, item: discord.ui.Item[Any],
                             match: Any) -> JobButton:
        return cls(match["action"], match["job"])

    async def callback(self, interaction: discord.Interaction) -> None:
        press: Press | None = getattr(interaction.client, "reelbot_press", None)
        if press is not None:
            await press(interaction, self.action, self.job_id)


def waiting(w: Words, job_id: str, offer: CloudOffer | None = None) -> discord.ui.View:
    """While a job waits or runs: Cancel, and "Run on cloud now" with the price when the cloud could take it."""
    view = discord.ui.View(timeout=None)
    view.add_item(JobButton(CANCEL, job_id, w._("Cancel"), discord.ButtonStyle.danger))
    if offer is not None:
        view.add_item(JobButton(CLOUD, job_id, w._("Run on cloud now ({backend} ≈ {cost})", backend=offer.backend,
                                                   cost=w.money(offer.cost_usd)), discord.ButtonStyle.primary))
    return view


def finished(w: Words, job_id: str, *, video: bool = False) -> discord.ui.View:
    """Under a result (``video``: with Extend, to make it longer) or a failure."""
    view = discord.ui.View(timeout=None)
    view.add_item(JobButton(RETRY, job_id, w._("Retry (new seed)"), discord.ButtonStyle.secondary))
    view.add_item(JobButton(SAME_SEED, job_id, w._("Same seed"), discord.ButtonStyle.secondary))
    if video:
        view.add_item(JobButton(EXTEND, job_id, w._("Extend"), discord.ButtonStyle.secondary))
    view.add_item(JobButton(DELETE, job_id, w._("Delete"), discord.ButtonStyle.danger))
    return view

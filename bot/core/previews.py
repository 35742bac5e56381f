"""``/preview on|off``: the words both chats use for the per-place preview switch (the engine decides who
may flip it: the bot's admins)."""

from __future__ import annotations

from bot.i18n import Words

ON, OFF = "on", "off"
_SAID = {"on": True, "off": False, "켜기": True, "끄기": False, "true": True, "false": False}


def parse_switch(said: str | None) -> bool | None:
    """``on``/``off`` (or 켜기/끄기) as True/False; None for anything else."""
    return _SAID.get((said or "").strip().lower())


def switched_text(w: Words, on: bool) -> str:
    if on:
        return w._("Preview is on here: every job started here shows one picture at about half-way.")
    return w._("Preview is off here: jobs show only their progress.")


def usage_text(w: Words, name: str, on: bool) -> str:
    """How to use the command, and how it is set here now."""
    now = w._("It is on here now.") if on else w._("It is off here now.")
    return w._("Use {preview} on or {preview} off (bot admins only).", preview=name) + " " + now


def help_line(w: Words, name: str) -> str:
    return w._("{preview} on|off (bot admins): a preview picture at about half-way through each job here.",
               preview=name)

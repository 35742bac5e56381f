"""Telegram's own words: help, the command menu, and the last line of a job's message.

What a job's state or an error means is worded once in ``bot/render.py`` for every front end; this module
only arranges those lines for Telegram's messages, in the reader's words.
"""

from __future__ import annotations

from bot.core import lines as job_lines
from bot.core import previews
from bot.i18n import Words
from bot.parse import flags_help
from engine.types import JobView
from engine.words import N_, Text

# The command menu (setMyCommands), set once per language: a command is [a-z0-9_], its description words.
COMMANDS: tuple[tuple[str, Text], ...] = (
    ("video", N_("Make a video from a text prompt")),
    ("usage", N_("What you have used and what is left")),
    ("cancel", N_("Cancel your latest job (or /cancel <id>)")),
    ("job", N_("Look up a job: /job <id>")),
    ("settings", N_("Your defaults: model, frames, fps, language, delivery")),
    ("models", N_("The models you can use now, with speed and price")),
    ("status", N_("GPUs, queues and spend (admins)")),
    ("admin", N_("Bans, limits and blocked words (admins)")),
    ("help", N_("How to use this bot")),
    ("link", N_("One account on Discord, Telegram and the web: /link")),
    ("unlink", N_("Separate your linked accounts again")),
)


def commands(w: Words) -> list[tuple[str, str]]:
    """The menu in ``w``'s language: (command, description)."""
    return [(name, w.text(description)) for name, description in COMMANDS]


def help_text(w: Words) -> str:
    lines = (
        w._("Send me a photo and I turn it into a short video."),
        w._("A caption says what should happen: I use a model that reads it when one can run (such as --model "
            "ltx-video). SVD and SVD-XT move the picture without reading words; when one of them makes your video "
            "I say so."),
        w._("/video <prompt> makes a video from words alone (the prompt: the scene you want to see)."),
        w._("/usage shows what you have left, /cancel stops your latest job, /job <id> looks one up."),
        w._("/settings shows your settings; /settings frames 14, /settings model svd-xt, /settings delivery private "
            "or /settings language ko changes one for every video (a video's own options still win)."),
        w._("/models lists the models you can use now, with their speed and price; pick one with --model."),
        w._("Admins: /admin ban, unban, limit, block, unblock, blocklist (/admin alone explains them)."),
        previews.help_line(w, "/preview"),
        w._("/link gives a code to type on Discord or the web console: one account everywhere; /unlink "
            "separates them."),
        "",
        w._("Options, in the caption or after /video:"),
    )
    return "\n".join(lines) + "\n" + flags_help(w)


def hint_text(w: Words) -> str:
    """The answer to plain text in a private chat, which makes no video."""
    return w._("To make a video from words, use /video followed by what to show. To animate a picture, send it "
               "to me as a photo. /help lists the options.")


def last_line(w: Words, job: JobView) -> str:
    """What a job's message says once the job is over (the video itself is sent as its own message)."""
    return job_lines.last_line(w, job, _done)


def _done(w: Words, job: JobView) -> str:
    if job.backend:
        return w._("Done in {time} on {backend} · {cost}. The video is below.", time=w.duration(job.seconds_taken),
                   backend=job.backend, cost=w.money(job.charged_usd))
    return w._("Done in {time} · {cost}. The video is below.", time=w.duration(job.seconds_taken),
               cost=w.money(job.charged_usd))

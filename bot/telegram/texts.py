"""Telegram's own words: message headers, help, and the last line of a job's message.

What a job's state or an error means is worded once in ``bot/render.py`` for every front end; this module
only arranges those lines for Telegram's messages.
"""

from __future__ import annotations

from bot.core import lines as job_lines
from bot.i18n import ENGLISH, Words
from bot.parse import flags_help
from engine.types import JobView

HELP = (
    "Send me a photo and I turn it into a short video. Add a caption to say what should happen.\n"
    "/video <what to show> makes a video from words alone.\n"
    "/usage shows what you have left, /cancel stops your latest job, /job <id> looks one up.\n\n"
    "Options, in the caption or after /video:\n"
)

COMMANDS = (
    ("video", "Make a video from a text prompt"),
    ("usage", "What you have used and what is left"),
    ("cancel", "Cancel your latest job (or /cancel <id>)"),
    ("job", "Look up a job: /job <id>"),
    ("status", "GPUs, queues and spend (admins)"),
    ("help", "How to use this bot"),
)


def help_text() -> str:
    return HELP + flags_help(ENGLISH)


def last_line(w: Words, job: JobView) -> str:
    """What a job's message says once the job is over (the video itself is sent as its own message)."""
    return job_lines.last_line(w, job, _done)


def _done(w: Words, job: JobView) -> str:
    if job.backend:
        return w._("Done in {time} on {backend} · {cost}. The video is below.", time=w.duration(job.seconds_taken),
                   backend=job.backend, cost=w.money(job.charged_usd))
    return w._("Done in {time} · {cost}. The video is below.", time=w.duration(job.seconds_taken),
               cost=w.money(job.charged_usd))
